#!/usr/bin/python3
"""Enqueues FooJobs from Python (psycopg2, Debian's python3-psycopg2) inside
the client's own transactions, as a web application would. Run by
enqueue_sql_test: enqueue.py CONNINFO FOO_ID OTHER_FOO_ID. Exits 0 when every
check passed and prints the ids it committed as JSON."""
import json
import sys

import psycopg2
import psycopg2.errors
from psycopg2.extras import Json

conninfo, foo, other = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
conn = psycopg2.connect(conninfo)  # psycopg2 opens a transaction on the first statement
cur = conn.cursor()


def count_jobs():
    cur.execute("SELECT count(*) FROM job")
    return cur.fetchone()[0]


# A rolled-back enqueue leaves no job.
before = count_jobs()
cur.execute("SELECT jobrunner_enqueue(%s, %s, metadata => %s, priority => %s)",
            ("foo", foo, Json({"work_ms": 1}), 3))
rolled_back = cur.fetchone()[0]
conn.rollback()
assert count_jobs() == before, "the rolled-back job is still there"

# A committed one stays, with its metadata and priority.
cur.execute("SELECT jobrunner_enqueue(%s, %s, metadata => %s, priority => %s, requester => %s)",
            ("foo", foo, Json({"work_ms": 1}), 3, "python"))
kept = cur.fetchone()[0]
conn.commit()
assert kept != rolled_back
cur.execute("SELECT j.priority, j.requester, f.json_data FROM job AS j"
            " JOIN foojob AS f ON f.job = j.id WHERE j.id = %s", (kept,))
assert cur.fetchone() == (3, "python", {"work_ms": 1})
conn.commit()

# A duplicate is refused with 23505, naming the pending job; the client's
# transaction is then aborted and rolled back, as with any error.
try:
    cur.execute("SELECT jobrunner_enqueue('foo', %s)", (foo,))
    raise AssertionError("the duplicate was accepted")
except psycopg2.errors.UniqueViolation as e:
    assert e.pgcode == "23505"
    assert "already pending (job %d)" % kept in e.pgerror, e.pgerror
conn.rollback()

# An unknown target: 23503.
try:
    cur.execute("SELECT jobrunner_enqueue('foo', %s)", (other + 1000000,))
    raise AssertionError("the unknown foo was accepted")
except psycopg2.errors.ForeignKeyViolation as e:
    assert "there is no foo with id %d" % (other + 1000000) in e.pgerror, e.pgerror
conn.rollback()

# Bulk: a list of dicts in, the ids in the same order out; a bad element
# names its position and writes nothing.
before = count_jobs()
try:
    cur.execute("SELECT jobrunner_enqueue_many('foo', %s)",
                (Json([{"target": other}, {"target": foo}]),))
    raise AssertionError("the bulk duplicate was accepted")
except psycopg2.errors.UniqueViolation as e:
    assert "job 2 of 2: a FooJob for foo %d is already pending (job %d)" % (foo, kept) in e.pgerror, e.pgerror
conn.rollback()
assert count_jobs() == before

cur.execute("SELECT jobrunner_enqueue_many('noop', %s)",
            (Json([{"target": other, "metadata": {"n": i}} for i in range(3)]),))
bulk = cur.fetchone()[0]
conn.commit()
assert len(bulk) == 3 and bulk == sorted(bulk), bulk

print(json.dumps({"kept": kept, "bulk": bulk}))
