#!/usr/bin/env bash
# End-to-end: the database stops in the middle of a run.
#
# A cron-mode run-foo-jobs is working on a 3-second FooJob when PostgreSQL is
# stopped with "pg_ctl stop -m immediate". The runner must exit 75 (EX_TEMPFAIL)
# with one clear "database unavailable" line; after the server is back nothing
# is lost and no job is COMPLETED without its work (foo_frozzle); once the lease
# has expired, the next run rescues the interrupted job and runs everything, so
# every job ends COMPLETED with exactly one frozzle, the interrupted one on its
# second attempt.
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

say() { printf '%s: %s\n' "$name" "$*"; }
fail() {
  printf '%s: FAIL: %s\n' "$name" "$*" >&2
  exit 1
}

[[ -n "${JOBRUNNER_PG_DIR:-}" ]] || fail "JOBRUNNER_PG_DIR is not set: start a server with pg_local_start first"
[[ -n "${PGHOST:-}" ]] || fail "PGHOST is not set: start a server with pg_local_start first"
for tool in run-foo-jobs jobctl; do
  [[ -x "$bin/$tool" ]] || fail "$bin/$tool not found: build first (scripts/build.sh)"
done

db=outage_$$
work=$(mktemp -d "${TMPDIR:-/tmp}/jobrunner-outage.XXXXXX")
runner_pid=
keep_work=${JOBRUNNER_KEEP_WORK:-0}

cleanup() {
  local status=$?
  trap - EXIT
  if [[ -n "$runner_pid" ]] && kill -0 "$runner_pid" 2>/dev/null; then
    kill -KILL "$runner_pid" 2>/dev/null || true
    wait "$runner_pid" 2>/dev/null || true
  fi
  # A failure while the server was stopped must not leave it stopped for the
  # scripts that run after this one.
  if ! pg_local_ctl status >/dev/null 2>&1; then
    say "starting PostgreSQL again (it was left stopped)"
    pg_local_ctl start -w >/dev/null 2>&1 || say "warning: could not start PostgreSQL again"
  fi
  dropdb --if-exists --force "$db" >/dev/null 2>&1 || say "warning: could not drop database $db"
  if ((status != 0)); then
    local f
    for f in "$work"/*.log; do
      [[ -s "$f" ]] || continue
      printf -- '--- %s (last 30 lines) ---\n' "${f##*/}" >&2
      tail -n 30 "$f" >&2
    done
  fi
  if ((keep_work)); then say "kept $work"; else rm -rf -- "$work"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }

# wait_until SECONDS WHAT COMMAND...: poll COMMAND every 0.1 s until it succeeds.
wait_until() {
  local seconds=$1 what=$2 deadline
  shift 2
  deadline=$((SECONDS + seconds))
  until "$@"; do
    ((SECONDS < deadline)) || fail "timed out after ${seconds}s waiting for $what"
    sleep 0.1
  done
}

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

# ---- the outage ----------------------------------------------------------------
"$bin/run-foo-jobs" --db "dbname=$db" --lease "$lease" >"$work/run1.out" 2>"$work/run1.log" &
runner_pid=$!

job_running() { [[ "$(q "SELECT count(*) FROM job WHERE status = 1" 2>/dev/null)" -ge 1 ]]; }
wait_until 60 "a job to be RUNNING" job_running
running_job=$(q "SELECT id FROM job WHERE status = 1 ORDER BY id LIMIT 1")
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

say "starting PostgreSQL again"
pg_local_ctl start -w >>"$work/pg_ctl.out" 2>&1 || fail "pg_ctl start failed"
db_up() { q "SELECT 1" >/dev/null 2>&1; }
wait_until 60 "PostgreSQL to accept connections" db_up

# ---- nothing lost, nothing half-done -------------------------------------------
[[ "$(q "SELECT count(*) FROM job")" == "$jobs_count" ]] ||
  fail "jobs lost: $(q "SELECT count(*) FROM job") jobs in the database, expected $jobs_count"
[[ "$(q "SELECT count(*) FROM job j JOIN foojob f ON f.job = j.id")" == "$jobs_count" ]] ||
  fail "a job lost its foojob row"
bad=$(q "SELECT string_agg(j.id::text, ', ') FROM job j
         WHERE j.status = 2 AND NOT EXISTS (SELECT 1 FROM foo_frozzle z WHERE z.job = j.id)")
[[ -z "$bad" ]] || fail "COMPLETED jobs without their foo_frozzle row: $bad"
bad=$(q "SELECT string_agg(DISTINCT z.job::text, ', ') FROM foo_frozzle z JOIN job j ON j.id = z.job
         WHERE j.status <> 2")
[[ -z "$bad" ]] || fail "jobs that are not COMPLETED but have a foo_frozzle row (half-done work): $bad"
bad=$(q "SELECT string_agg(id::text || ' (' || status || ')', ', ') FROM job WHERE status NOT IN (0, 1, 2)")
[[ -z "$bad" ]] || fail "jobs FAILED or SUSPENDED by the outage (id (status)): $bad"
running_after=$(q "SELECT coalesce(string_agg(id::text, ','), '') FROM job WHERE status = 1")
[[ "$running_after" == "$running_job" ]] ||
  fail "expected job $running_job alone to be RUNNING after the outage, found RUNNING: '${running_after}'"
say "after the outage: $(q "SELECT count(*) FILTER (WHERE status = 0) || ' WAITING, ' ||
                               count(*) FILTER (WHERE status = 1) || ' RUNNING, ' ||
                               count(*) FILTER (WHERE status = 2) || ' COMPLETED' FROM job"); nothing lost"

# ---- the lease expires; the next run rescues and finishes everything ----------
lease_expired() {
  [[ "$(q "SELECT count(*) FROM job WHERE status = 1 AND lease_expires >= now()")" == 0 ]]
}
wait_until 60 "the lease of job $running_job to expire" lease_expired
say "lease of job $running_job expired; running run-foo-jobs again"

run2_status=0
timeout 300 "$bin/run-foo-jobs" --db "dbname=$db" >"$work/run2.out" 2>"$work/run2.log" || run2_status=$?
((run2_status == 0)) || fail "the second run exited with $run2_status, expected 0"
grep -q 'Rescued 1 FooJobs' "$work/run2.log" ||
  fail "the second run did not log 'Rescued 1 FooJobs whose runner had died.'"

bad=$(q "SELECT string_agg(id::text || ' (' || status || ')', ', ') FROM job WHERE status <> 2")
[[ -z "$bad" ]] || fail "jobs not COMPLETED after the second run (id (status)): $bad"
bad=$(q "SELECT string_agg(j.id::text || ': ' || (SELECT count(*) FROM foo_frozzle z WHERE z.job = j.id), ', ')
         FROM job j WHERE (SELECT count(*) FROM foo_frozzle z WHERE z.job = j.id) <> 1")
[[ -z "$bad" ]] || fail "jobs without exactly one foo_frozzle (job: frozzles): $bad"
bad=$(q "SELECT string_agg(z.job::text, ', ') FROM foo_frozzle z JOIN foojob f ON f.job = z.job
         WHERE z.foo <> f.foo")
[[ -z "$bad" ]] || fail "frozzles of the wrong foo for jobs: $bad"
attempts=$(q "SELECT attempt_count FROM job WHERE id = $running_job")
[[ "$attempts" == 2 ]] || fail "job $running_job (RUNNING during the outage) has attempt_count $attempts, expected 2"
bad=$(q "SELECT string_agg(id::text || ': ' || attempt_count, ', ') FROM job
         WHERE id <> $running_job AND attempt_count <> 1")
[[ -z "$bad" ]] || fail "jobs that were not interrupted but ran more than once (job: attempts): $bad"
log=$(q "SELECT log FROM job WHERE id = $running_job")
grep -q 'attempt 1: .*LeaseExpired' <<<"$log" ||
  fail "the log of job $running_job does not show the rescue of attempt 1 (LeaseExpired): $log"
grep -q 'attempt 2: completed on attempt 2' <<<"$log" ||
  fail "the log of job $running_job does not show 'completed on attempt 2': $log"
reports=$(q "SELECT count(*) FROM error_report")
[[ "$reports" == 0 ]] || fail "$reports error reports were filed; expected none"

elapsed=$((SECONDS - started_at))
say "job $running_job log:"
while IFS= read -r line; do printf '    %s\n' "$line"; done <<<"$log"
cat <<SUMMARY
$name: summary
| figure | value |
|---|---|
| jobs | $jobs_count (work_ms $work_ms, lease $lease) |
| interrupted job | $running_job |
| runner exit code during the outage | $runner_status |
| "database unavailable" lines | $unavailable_lines |
| rescued by the next run | 1 |
| COMPLETED | $(q "SELECT count(*) FROM job WHERE status = 2")/$jobs_count |
| foo_frozzle rows | $(q "SELECT count(*) FROM foo_frozzle") |
| attempt_count of job $running_job | $attempts |
| wall time | ${elapsed} s |
$name: PASS
SUMMARY
