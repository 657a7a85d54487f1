#!/usr/bin/env bash
# End-to-end: the database stops in the middle of a run.
#
# A cron-mode run-foo-jobs is working on the first of 3 FooJobs when
# PostgreSQL is stopped with "pg_ctl stop -m immediate". The runner must exit
# 75 (EX_TEMPFAIL) with one clear "database unavailable" line. After the
# server is back, nothing is lost and no job is COMPLETED or has its work
# (foo_frozzle) half-done; the next run then runs everything, so every job ends
# COMPLETED exactly once with exactly one frozzle and no error report.
#
# The claim of the interrupted job commits without waiting for the WAL flush
# (synchronous_commit = off, docs/crash-safety.md "Claims are not durable"),
# so the immediate stop may or may not undo it. Both outcomes are what the
# design promises, and the script says which one it saw and checks it exactly:
#   claim survived: the job is RUNNING (attempt 1, the first run's lease); the
#     next run, once the lease has expired, rescues it (attempt 1 logged as
#     LeaseExpired) and completes it on attempt 2;
#   claim undone:   the job is WAITING exactly as it was enqueued (attempt 0,
#     no lease, nothing in its log); the next run rescues nothing and completes
#     it on attempt 1.
# Any other state is a failure. So that only these two can happen, whatever
# the machine's load, a psql session holds a SHARE lock on foo_frozzle during
# the first run: the interrupted job blocks on inserting its frozzle, so it
# cannot complete (and the runner cannot claim a second job) before the stop.
#
# Run by scripts/test.sh (from the repo root, with PGHOST/PGPORT/PGUSER,
# JOBRUNNER_PG_DIR and JOBRUNNER_BIN_DIR exported). By hand:
#   source scripts/lib/pg-local.sh && pg_local_start dev
#   JOBRUNNER_BIN_DIR=$PWD/build/bin bash tests/scripts/10-outage.sh
#   pg_local_stop
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
# shellcheck source=SCRIPTDIR/../../scripts/lib/pg-local.sh
source "$repo/scripts/lib/pg-local.sh"

bin=${JOBRUNNER_BIN_DIR:-$repo/build/bin}
name=10-outage
jobs_count=${OUTAGE_JOBS:-3}
work_ms=3000
lease=2s

# shellcheck source=SCRIPTDIR/lib/script.sh
source "$repo/tests/scripts/lib/script.sh"

[[ -n "${JOBRUNNER_PG_DIR:-}" ]] || fail "JOBRUNNER_PG_DIR is not set: start a server with pg_local_start first"
[[ -n "${PGHOST:-}" ]] || fail "PGHOST is not set: start a server with pg_local_start first"
for tool in run-foo-jobs jobctl; do
  [[ -x "$bin/$tool" ]] || fail "$bin/$tool not found: build first (scripts/build.sh)"
done

db=outage_$$
work=$(mktemp -d "${TMPDIR:-/tmp}/jobrunner-outage.XXXXXX")
runner_pid=
lock_pid=

cleanup() {
  local status=$?
  trap - EXIT
  if [[ -n "$runner_pid" ]] && kill -0 "$runner_pid" 2>/dev/null; then
    kill -KILL "$runner_pid" 2>/dev/null || true
    wait "$runner_pid" 2>/dev/null || true
  fi
  if [[ -n "$lock_pid" ]] && kill -0 "$lock_pid" 2>/dev/null; then
    kill -TERM "$lock_pid" 2>/dev/null || true
    wait "$lock_pid" 2>/dev/null || true
  fi
  # A failure while the server was stopped must not leave it stopped for the
  # scripts that run after this one.
  if ! pg_local_ctl status >/dev/null 2>&1; then
    say "starting PostgreSQL again (it was left stopped)"
    pg_local_ctl start -w >/dev/null 2>&1 || say "warning: could not start PostgreSQL again"
  fi
  dropdb --if-exists --force "$db" >/dev/null 2>&1 || say "warning: could not drop database $db"
  end_script "$status" 30
}
on_exit cleanup

started_at=$SECONDS

# ---- a fresh database with jobs ----------------------------------------------
createdb "$db" || fail "createdb $db failed"
"$bin/jobctl" --db "dbname=$db" db upgrade >"$work/upgrade.log" 2>&1 ||
  fail "jobctl db upgrade failed: $(tail -n 5 "$work/upgrade.log")"

mapfile -t foos < <(q "INSERT INTO foo (name) SELECT 'outage ' || i FROM generate_series(1, $jobs_count) AS i RETURNING id")
((${#foos[@]} == jobs_count)) || fail "expected $jobs_count foo rows, got ${#foos[@]}"
for foo in "${foos[@]}"; do
  "$bin/jobctl" --db "dbname=$db" enqueue foo --foo "$foo" --json "{\"work_ms\": $work_ms}" \
    >>"$work/enqueue.out" 2>>"$work/enqueue.log" || fail "jobctl enqueue foo --foo $foo failed"
done
[[ "$(q "SELECT count(*) FROM job WHERE status = 0")" == "$jobs_count" ]] ||
  fail "expected $jobs_count WAITING jobs after enqueue"
say "enqueued $jobs_count FooJobs of ${work_ms} ms each"

# Every column a claim, a finish or a rescue could change, per job.
job_state_sql="SELECT coalesce(string_agg(row(id, status, attempt_count, lease_expires, lease_owner,
                 lease_token, date_started, date_finished, scheduled_start, log, json_data)::text,
                 E'\n' ORDER BY id), '') FROM job"
first_job=$(q "SELECT id FROM job ORDER BY priority, id LIMIT 1") # the claim's order
job_enqueued=$(q "${job_state_sql/FROM job/FROM job WHERE id = $first_job}")
others_enqueued=$(q "${job_state_sql/FROM job/FROM job WHERE id <> $first_job}")
first_job_log=$(q "SELECT coalesce(log, '') FROM job WHERE id = $first_job") # a claim writes no line

# ---- the outage ----------------------------------------------------------------
# The lock that keeps the first job from completing before the stop (see the
# top of this file). It dies with the server.
lock_app=jobrunner-outage-lock-$$
PGAPPNAME=$lock_app psql -X -q -d "$db" -v ON_ERROR_STOP=1 \
  -c "BEGIN; LOCK TABLE foo_frozzle IN SHARE MODE; SELECT pg_sleep(600);" \
  >"$work/lock-holder.out" 2>"$work/lock-holder.log" &
lock_pid=$!
lock_held() {
  [[ "$(q "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
           WHERE a.application_name = '$lock_app' AND l.relation = 'foo_frozzle'::regclass
             AND l.mode = 'ShareLock' AND l.granted")" == 1 ]]
}
wait_until 60 "the SHARE lock on foo_frozzle" lock_held

# --prefetch 0: the first run claims job 1 alone, so the two outcomes below
# are the only ones (prefetched jobs would be claimed in the same commit).
"$bin/run-foo-jobs" --db "dbname=$db" --lease "$lease" --prefetch 0 >"$work/run1.out" 2>"$work/run1.log" &
runner_pid=$!
first_run_pid=$runner_pid

job_running() { [[ "$(q "SELECT count(*) FROM job WHERE status = 1" 2>/dev/null)" -ge 1 ]]; }
wait_until 60 "a job to be RUNNING" job_running
running_job=$(q "SELECT coalesce(string_agg(id::text, ','), '') FROM job WHERE status = 1")
[[ "$running_job" == "$first_job" ]] ||
  fail "expected the first run to claim job $first_job alone (the first in claim order), found RUNNING: '$running_job'"
# Visible to psql is not flushed: the claim committed with synchronous_commit
# off, so the stop below may still undo it.
say "job $running_job is RUNNING; stopping PostgreSQL (immediate)"
pg_local_ctl stop -m immediate -w >"$work/pg_ctl.out" 2>&1 || fail "pg_ctl stop -m immediate failed"

runner_gone() { ! kill -0 "$runner_pid" 2>/dev/null; }
wait_until 60 "the runner to exit after the database stopped" runner_gone
runner_status=0
wait "$runner_pid" || runner_status=$?
runner_pid=
((runner_status == 75)) ||
  fail "the runner exited with $runner_status, expected 75 (EX_TEMPFAIL: database unavailable)"
unavailable_lines=$(grep -ci 'database unavailable' "$work/run1.log" || true)
((unavailable_lines == 1)) ||
  fail "expected exactly one 'database unavailable' line in the runner's log, found $unavailable_lines"
unavailable_line=$(grep -i 'database unavailable' "$work/run1.log")
say "runner exited 75 and logged: ${unavailable_line}"
lock_gone() { ! kill -0 "$lock_pid" 2>/dev/null; }
wait_until 60 "the lock holder to exit with the server" lock_gone
wait "$lock_pid" 2>/dev/null || true # it fails: the server closed its connection
lock_pid=

say "starting PostgreSQL again"
pg_local_ctl start -w >>"$work/pg_ctl.out" 2>&1 || fail "pg_ctl start failed"
db_up() { q "SELECT 1" >/dev/null 2>&1; }
wait_until 60 "PostgreSQL to accept connections" db_up

# ---- after the restart: nothing lost, nothing half-done, one of two states ---
[[ "$(q "SELECT count(*) FROM job")" == "$jobs_count" ]] ||
  fail "jobs lost: $(q "SELECT count(*) FROM job") jobs in the database, expected $jobs_count"
[[ "$(q "SELECT count(*) FROM job j JOIN foojob f ON f.job = j.id")" == "$jobs_count" ]] ||
  fail "a job lost its foojob row"
frozzles=$(q "SELECT count(*) FROM foo_frozzle")
[[ "$frozzles" == 0 ]] ||
  fail "$frozzles foo_frozzle rows after the outage, expected none (no job could complete): $(q "SELECT string_agg(job::text, ', ') FROM foo_frozzle")"
reports=$(q "SELECT count(*) FROM error_report")
[[ "$reports" == 0 ]] || fail "$reports error reports were filed by the outage; expected none"
# Every job but the interrupted one is exactly as it was enqueued.
others_now=$(q "${job_state_sql/FROM job/FROM job WHERE id <> $running_job}")
[[ "$others_now" == "$others_enqueued" ]] ||
  fail "jobs other than $running_job changed during the outage (they were never claimed):
enqueued:
$others_enqueued
after the restart:
$others_now"
job_now=$(q "${job_state_sql/FROM job/FROM job WHERE id = $running_job}")
claim_survived=$(q "SELECT count(*) FROM job WHERE id = $running_job AND status = 1
                      AND attempt_count = 1 AND lease_token IS NOT NULL
                      AND lease_owner LIKE '%:$first_run_pid' AND lease_expires IS NOT NULL
                      AND date_started IS NOT NULL AND date_finished IS NULL")
if [[ "$job_now" == "$job_enqueued" ]]; then
  outcome="claim undone"
  say "case: claim undone: the crash undid the unflushed claim; job $running_job is WAITING as enqueued (attempt 0, no lease, empty log)"
elif [[ "$claim_survived" == 1 && "$(q "SELECT coalesce(log, '') FROM job WHERE id = $running_job")" == "$first_job_log" ]]; then
  outcome="claim survived"
  say "case: claim survived: job $running_job is RUNNING, attempt 1, under the first run's lease"
else
  fail "job $running_job is in neither state the design allows after the outage (RUNNING on attempt 1 under the first run's lease, or WAITING exactly as enqueued):
enqueued:
$job_enqueued
after the restart:
$job_now"
fi
say "after the outage: $(q "SELECT count(*) FILTER (WHERE status = 0) || ' WAITING, ' ||
                               count(*) FILTER (WHERE status = 1) || ' RUNNING, ' ||
                               count(*) FILTER (WHERE status = 2) || ' COMPLETED' FROM job"); nothing lost"

# ---- the next run finishes everything -----------------------------------------
if [[ "$outcome" == "claim survived" ]]; then
  lease_expired() {
    [[ "$(q "SELECT count(*) FROM job WHERE status = 1 AND lease_expires >= now()")" == 0 ]]
  }
  wait_until 60 "the lease of job $running_job to expire" lease_expired
  say "lease of job $running_job expired; running run-foo-jobs again"
else
  say "running run-foo-jobs again (nothing to rescue)"
fi
# The first run could not release its cron lock (the server was gone): the
# next run may take it once it lapses (--lease, here 2 s after its last
# extension). The lock is taken with a synchronous commit, so it survived.
lock_lapsed() {
  [[ "$(q "SELECT count(*) FROM runner_lock WHERE expires_at >= now()")" == 0 ]]
}
wait_until 60 "the first run's cron lock to lapse" lock_lapsed
[[ "$(q "SELECT count(*) FROM runner_lock")" == 1 ]] ||
  fail "the first run's cron lock is not there after the outage"

run2_status=0
timeout 300 "$bin/run-foo-jobs" --db "dbname=$db" >"$work/run2.out" 2>"$work/run2.log" || run2_status=$?
((run2_status == 0)) || fail "the second run exited with $run2_status, expected 0"
grep -q "took over the lock of job type 'foo'" "$work/run2.log" ||
  fail "the second run did not log taking over the first run's lapsed cron lock"
[[ "$(q "SELECT count(*) FROM runner_lock")" == 0 ]] || fail "the second run did not release its lock"
rescued_lines=$(grep -c 'Rescued [0-9]* FooJobs' "$work/run2.log" || true)
if [[ "$outcome" == "claim survived" ]]; then
  [[ "$rescued_lines" == 1 ]] && grep -q 'Rescued 1 FooJobs' "$work/run2.log" ||
    fail "the second run did not log 'Rescued 1 FooJobs whose runner had died.' (claim survived)"
else
  [[ "$rescued_lines" == 0 ]] ||
    fail "the second run logged a rescue, but no job was RUNNING (claim undone): $(grep 'Rescued' "$work/run2.log")"
fi
grep -q "Ran $jobs_count FooJobs\." "$work/run2.log" ||
  fail "the second run did not log 'Ran $jobs_count FooJobs.'"
grep -q "0 FooJobs did not complete\." "$work/run2.log" ||
  fail "the second run did not log '0 FooJobs did not complete.'"

bad=$(q "SELECT string_agg(id::text || ' (' || status || ')', ', ') FROM job WHERE status <> 2")
[[ -z "$bad" ]] || fail "jobs not COMPLETED after the second run (id (status)): $bad"
bad=$(q "SELECT string_agg(j.id::text || ': ' || (SELECT count(*) FROM foo_frozzle z WHERE z.job = j.id), ', ')
         FROM job j WHERE (SELECT count(*) FROM foo_frozzle z WHERE z.job = j.id) <> 1")
[[ -z "$bad" ]] || fail "jobs without exactly one foo_frozzle (job: frozzles): $bad"
frozzles=$(q "SELECT count(*) FROM foo_frozzle")
[[ "$frozzles" == "$jobs_count" ]] || fail "$frozzles foo_frozzle rows, expected $jobs_count"
bad=$(q "SELECT string_agg(z.job::text, ', ') FROM foo_frozzle z JOIN foojob f ON f.job = z.job
         WHERE z.foo <> f.foo")
[[ -z "$bad" ]] || fail "frozzles of the wrong foo for jobs: $bad"
reports=$(q "SELECT count(*) FROM error_report")
[[ "$reports" == 0 ]] || fail "$reports error reports were filed; expected none"

# Each job's log, one line per attempt that did not simply succeed (the
# timestamp cut off); a success writes none.
log_of() { q "SELECT regexp_replace(coalesce(log, ''), '^\S+ ', '', 'gn') FROM job WHERE id = $1"; }
attempts=$(q "SELECT attempt_count FROM job WHERE id = $running_job")
log=$(q "SELECT log FROM job WHERE id = $running_job")
lines=$(log_of "$running_job")
if [[ "$outcome" == "claim survived" ]]; then
  [[ "$attempts" == 2 ]] ||
    fail "job $running_job (claim survived) has attempt_count $attempts, expected 2"
  # A success writes no log line: the rescue's is the only one.
  [[ "$(wc -l <<<"$lines")" == 1 ]] &&
    grep -q '^attempt 1: .*LeaseExpired' <<<"$lines" ||
    fail "the log of job $running_job (claim survived) is not the one line of the rescue of attempt 1 (LeaseExpired): $log"
else
  [[ "$attempts" == 1 ]] ||
    fail "job $running_job (claim undone) has attempt_count $attempts, expected 1 (the undone attempt is not counted)"
  [[ -z "$lines" ]] ||
    fail "the log of job $running_job (claim undone) is not empty (a success writes no line): $log"
fi
for job in $(q "SELECT id FROM job WHERE id <> $running_job ORDER BY id"); do
  other_attempts=$(q "SELECT attempt_count FROM job WHERE id = $job")
  [[ "$other_attempts" == 1 ]] ||
    fail "job $job was not interrupted but has attempt_count $other_attempts, expected 1"
  [[ -z "$(log_of "$job")" ]] ||
    fail "the log of job $job is not empty (a success writes no line): $(q "SELECT log FROM job WHERE id = $job")"
done

elapsed=$((SECONDS - started_at))
say "job $running_job log:"
while IFS= read -r line; do printf '    %s\n' "$line"; done <<<"$log"
cat <<SUMMARY
$name: summary
| figure | value |
|---|---|
| jobs | $jobs_count (work_ms $work_ms, lease $lease) |
| interrupted job | $running_job |
| case seen | $outcome |
| runner exit code during the outage | $runner_status |
| "database unavailable" lines | $unavailable_lines |
| rescued by the next run | $([[ "$outcome" == "claim survived" ]] && echo 1 || echo 0) |
| COMPLETED | $(q "SELECT count(*) FROM job WHERE status = 2")/$jobs_count |
| foo_frozzle rows | $(q "SELECT count(*) FROM foo_frozzle") |
| attempt_count of job $running_job | $attempts |
| wall time | ${elapsed} s |
$name: PASS
SUMMARY
