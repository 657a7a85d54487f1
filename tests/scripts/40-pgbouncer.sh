#!/usr/bin/env bash
# End-to-end: runners behind PgBouncer in transaction pooling mode.
#
# A pooler in transaction mode gives each transaction whichever server
# connection is free, so nothing tied to a session (an advisory lock, LISTEN)
# survives it. The cron lock of a job type is therefore a leased row
# (runner_lock). Through a real PgBouncer (pool_mode = transaction, a pool of
# two server connections) this script checks:
#  1. a second cron run while the first is busy exits 69 and does nothing;
#  2. a cron run killed with SIGKILL leaves its lock until the lease expires;
#     the next run then takes it over, rescues the job and runs it;
#  3. a daemon with --no-listen runs jobs enqueued through the pooler.
# Every job ends COMPLETED with exactly one frozzle.
#
# Run by scripts/test.sh (with PGHOST/PGPORT/PGUSER and JOBRUNNER_BIN_DIR
# exported, as root: PgBouncer runs as the server's unprivileged user). By hand:
#   source scripts/lib/pg-local.sh && pg_local_start dev
#   JOBRUNNER_BIN_DIR=$PWD/build/bin bash tests/scripts/40-pgbouncer.sh
#   pg_local_stop
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
# shellcheck source=SCRIPTDIR/../../scripts/lib/pg-local.sh
source "$repo/scripts/lib/pg-local.sh"

bin=${JOBRUNNER_BIN_DIR:-$repo/build/bin}
name=40-pgbouncer
pooler_port=6432

# shellcheck source=SCRIPTDIR/lib/script.sh
source "$repo/tests/scripts/lib/script.sh"

[[ -n "${PGHOST:-}" ]] || fail "PGHOST is not set: start a server with pg_local_start first"
command -v pgbouncer >/dev/null || fail "pgbouncer not found: run scripts/install-deps.sh"
for tool in run-foo-jobs jobctl; do
  [[ -x "$bin/$tool" ]] || fail "$bin/$tool not found: build first (scripts/build.sh)"
done

db=pgbouncer_$$
work=$(mktemp -d "${TMPDIR:-/tmp}/jobrunner-pgbouncer.XXXXXX")
chmod 0755 "$work"
pids=()
blocker_pid=

cleanup() {
  local status=$?
  trap - EXIT
  local pid
  for pid in "${pids[@]}" "$blocker_pid"; do
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  if [[ -f "$work/pgbouncer.pid" ]]; then
    kill -TERM "$(cat "$work/pgbouncer.pid")" 2>/dev/null || true
  fi
  dropdb --if-exists --force "$db" >/dev/null 2>&1 || say "warning: could not drop database $db"
  end_script "$status" 30
}
on_exit cleanup

started_at=$SECONDS
createdb "$db" || fail "createdb $db failed"
# Migrations take a session-level advisory lock: run them on a direct
# connection, never through a transaction pooler (docs/pgbouncer.md).
"$bin/jobctl" --db "dbname=$db" db upgrade >"$work/upgrade.log" 2>&1 ||
  fail "jobctl db upgrade failed: $(tail -n 5 "$work/upgrade.log")"

# ---- PgBouncer, transaction pooling, two server connections -----------------
mkdir -m 0755 "$work/socket"
cat >"$work/pgbouncer.ini" <<INI
[databases]
* = host=$PGHOST port=$PGPORT
[pgbouncer]
unix_socket_dir = $work/socket
listen_port = $pooler_port
auth_type = trust
auth_file = $work/users.txt
pool_mode = transaction
default_pool_size = 2
max_client_conn = 100
logfile = $work/pgbouncer.log
pidfile = $work/pgbouncer.pid
admin_users = ${PGUSER:-jobrunner}
INI
printf '"%s" ""\n' "${PGUSER:-jobrunner}" >"$work/users.txt"
touch "$work/pgbouncer.log"
as_server_user=()
if ((EUID == 0)); then
  owner=$(stat -c %U "$PGHOST")
  chown -R "$owner" "$work/socket" "$work/pgbouncer.log"
  chmod 0777 "$work"  # the pid file
  as_server_user=(setpriv --reuid="$(id -u "$owner")" --regid="$(id -g "$owner")" --clear-groups --)
fi
"${as_server_user[@]}" pgbouncer -d "$work/pgbouncer.ini" >"$work/pgbouncer-start.log" 2>&1 ||
  fail "pgbouncer did not start: $(tail -n 5 "$work/pgbouncer-start.log")"
pooled="host=$work/socket port=$pooler_port dbname=$db user=${PGUSER:-jobrunner}"
pooler_up() { psql -X -q -At -d "$pooled" -c "SELECT 1" >/dev/null 2>&1; }
wait_until 30 "PgBouncer to accept connections" pooler_up
[[ "$(psql -X -At -d "host=$work/socket port=$pooler_port dbname=pgbouncer user=${PGUSER:-jobrunner}" \
      -c 'SHOW CONFIG' | grep '^pool_mode|' | cut -d'|' -f2)" == transaction ]] ||
  fail "PgBouncer is not in transaction pooling mode"
say "PgBouncer in transaction pooling mode on $work/socket:$pooler_port"

enqueue() { # enqueue WORK_MS, through the pooler: prints the job id
  local foo
  foo=$(q "INSERT INTO foo (name) VALUES ('pooled') RETURNING id")
  "$bin/jobctl" --db "$pooled" enqueue foo --foo "$foo" --json "{\"work_ms\": $1}" \
    2>>"$work/enqueue.log" | grep -o '[0-9]\+' | head -n 1
}

# The first job's work blocks on its INSERT into foo_frozzle while this
# psql holds the table, so a run is certainly busy for as long as needed.
block_frozzles() {
  mkfifo "$work/blocker.in"
  psql -X -q -d "$db" <"$work/blocker.in" >"$work/blocker.log" 2>&1 &
  blocker_pid=$!
  exec 7>"$work/blocker.in"
  echo "BEGIN; LOCK TABLE foo_frozzle IN EXCLUSIVE MODE;" >&7
  wait_until 30 "the blocker to hold foo_frozzle" frozzles_blocked granted
}
unblock_frozzles() {
  echo "COMMIT;" >&7
  exec 7>&-
  wait "$blocker_pid" || true
  blocker_pid=
  rm -f "$work/blocker.in"
}
frozzles_blocked() { # granted|waiting: a lock on foo_frozzle in that state exists
  local granted=true
  [[ "$1" == waiting ]] && granted=false
  [[ "$(q "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
           WHERE c.relname = 'foo_frozzle' AND l.granted = $granted")" -ge 1 ]]
}
status_of() { q "SELECT status FROM job WHERE id = $1"; }
is_status() { [[ "$(status_of "$1")" == "$2" ]]; }

# ---- 1. a second cron run while the first is busy: 69, nothing done --------
first=$(enqueue 0)
second=$(enqueue 0)
block_frozzles
# --prefetch 0: run A claims only the job it runs, so job $second stays
# WAITING unless the overlapping run B touches it.
"$bin/run-foo-jobs" --db "$pooled" --lease 10s --prefetch 0 >/dev/null 2>"$work/run-a.log" &
run_a=$!
pids+=("$run_a")
wait_until 60 "job $first to be RUNNING and blocked" frozzles_blocked waiting
b_status=0
timeout 120 "$bin/run-foo-jobs" --db "$pooled" --lease 10s >/dev/null 2>"$work/run-b.log" || b_status=$?
((b_status == 69)) || fail "the overlapping run exited with $b_status, expected 69"
grep -q "holds the lock of job type 'foo'" "$work/run-b.log" ||
  fail "the overlapping run did not log that the lock is held"
[[ "$(q "SELECT attempt_count FROM job WHERE id = $second")" == 0 ]] ||
  fail "the overlapping run touched job $second"
say "an overlapping cron run through the pooler exited 69 and did nothing"
unblock_frozzles
a_status=0
wait "$run_a" || a_status=$?
((a_status == 0)) || fail "the first run exited with $a_status, expected 0"
is_status "$first" 2 && is_status "$second" 2 || fail "the first run did not complete both jobs"
[[ "$(q "SELECT count(*) FROM runner_lock")" == 0 ]] || fail "the first run did not release its lock"

# ---- 2. a run killed mid-job: its lock lapses and is taken over ------------
third=$(enqueue 0)
block_frozzles
"$bin/run-foo-jobs" --db "$pooled" --lease 3s >/dev/null 2>"$work/run-killed.log" &
killed=$!
pids+=("$killed")
wait_until 60 "job $third to be RUNNING and blocked" frozzles_blocked waiting
kill -KILL "$killed"
wait "$killed" 2>/dev/null || true
say "killed the run holding the lock (pid $killed) in the middle of job $third"
lapsed() {
  [[ "$(q "SELECT count(*) FROM runner_lock WHERE expires_at > now()")" == 0 &&
     "$(q "SELECT count(*) FROM job WHERE status = 1 AND lease_expires > now()")" == 0 ]]
}
wait_until 60 "the killed run's lock and lease to expire" lapsed
[[ "$(q "SELECT holder FROM runner_lock")" == *":$killed" ]] ||
  fail "the killed run's lock row is not there: $(q "SELECT holder FROM runner_lock")"
unblock_frozzles
c_status=0
timeout 120 "$bin/run-foo-jobs" --db "$pooled" --lease 10s >/dev/null 2>"$work/run-c.log" || c_status=$?
((c_status == 0)) || fail "the run after the kill exited with $c_status, expected 0"
grep -q "took over the lock of job type 'foo' from .*:$killed" "$work/run-c.log" ||
  fail "the run after the kill did not log taking over the lock"
grep -q 'Rescued 1 FooJobs' "$work/run-c.log" || fail "the run after the kill did not rescue job $third"
is_status "$third" 2 || fail "job $third is not COMPLETED after the next run"
[[ "$(q "SELECT attempt_count FROM job WHERE id = $third")" == 2 ]] ||
  fail "job $third has attempt_count $(q "SELECT attempt_count FROM job WHERE id = $third"), expected 2"
say "the next run took over the lapsed lock, rescued job $third and ran it"

# ---- 3. a polling daemon through the pooler --------------------------------
"$bin/run-foo-jobs" --db "$pooled" --daemon --no-listen --poll-interval 200ms \
  >/dev/null 2>"$work/daemon.log" &
daemon=$!
pids+=("$daemon")
fourth=$(enqueue 0)
wait_until 60 "the daemon to complete job $fourth" is_status "$fourth" 2
kill -TERM "$daemon"
d_status=0
wait "$daemon" || d_status=$?
((d_status == 0)) || fail "the daemon exited with $d_status after SIGTERM, expected 0"
say "a daemon with --no-listen ran job $fourth enqueued through the pooler"

# ---- every job once ----------------------------------------------------------
bad=$(q "SELECT string_agg(j.id::text || ' (' || j.status || ', ' ||
                (SELECT count(*) FROM foo_frozzle z WHERE z.job = j.id) || ' frozzles)', ', ')
         FROM job j WHERE j.status <> 2 OR (SELECT count(*) FROM foo_frozzle z WHERE z.job = j.id) <> 1")
[[ -z "$bad" ]] || fail "jobs not COMPLETED with exactly one frozzle: $bad"
[[ "$(q "SELECT count(*) FROM error_report")" == 0 ]] || fail "error reports were filed"

cat <<SUMMARY
$name: summary
| figure | value |
|---|---|
| pool | PgBouncer $(pgbouncer --version | head -n 1 | grep -o '[0-9.]\+' | head -n 1), transaction mode, 2 server connections |
| overlapping cron run | exit 69, nothing done |
| killed run's lock | taken over after its lease, job rescued (attempt_count 2) |
| polling daemon | ran a job enqueued through the pooler |
| jobs | $(q "SELECT count(*) FROM job") COMPLETED, $(q "SELECT count(*) FROM foo_frozzle") frozzles |
| wall time | $((SECONDS - started_at)) s |
$name: PASS
SUMMARY
