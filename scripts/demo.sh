#!/usr/bin/env bash
# End-to-end demo: build, start a throwaway PostgreSQL, create the schema, enqueue one
# "foo" job per outcome and run the runner as cron would until no job is waiting.
# Runs from any directory, as often as you like; the database is deleted on exit.
# --web: at the end, serve the dashboard on http://127.0.0.1:8080/ (jobctl web
# --allow-actions, docs/dashboard.md) against the demo's database until Ctrl-C:
# open it, retry the FAILED job from its page, and see the change.
set -euo pipefail

web=0
for arg in "$@"; do
  case "$arg" in
    --web) web=1 ;;
    *) echo "usage: $0 [--web]" >&2; exit 64 ;;
  esac
done

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
bin="$repo/build/bin"
dbname=jobrunner_demo

section() { printf '\n==== %s ====\n' "$*"; }

# Show each command before running it, the way a user would type it.
run() {
  local arg shown=()
  for arg in "$@"; do
    arg=${arg#"$repo/"}
    if [[ "$arg" =~ ^[A-Za-z0-9_./=:,@+-]+$ ]]; then
      shown+=("$arg")
    elif [[ "$arg" != *"'"* ]]; then
      shown+=("'$arg'")
    elif [[ "$arg" != *[\"\$\`\\]* ]]; then
      shown+=("\"$arg\"")
    else
      shown+=("$(printf '%q' "$arg")")
    fi
  done
  printf '$ %s\n' "${shown[*]}"
  "$@"
}


section "Installing dependencies (skipped when present)"
bash "$repo/scripts/install-deps.sh"

section "Building"
# Only what the demo runs: a newcomer waits for three executables, not the suite.
bash "$repo/scripts/build.sh" jobctl run-foo-jobs run-noop-jobs

section "Starting a throwaway PostgreSQL 15"
# shellcheck source=SCRIPTDIR/lib/pg-local.sh
source "$repo/scripts/lib/pg-local.sh"
# Always remove the throwaway server; say which way the demo ended, keeping its status.
on_exit() {
  local rc=$?
  pg_local_stop
  if ((rc != 0)); then
    echo "demo: FAILED (exit status $rc); see the output above" >&2
  fi
  exit "$rc"
}
trap on_exit EXIT
pg_local_start demo
run createdb "$dbname"
export PGDATABASE=$dbname

section "Creating the schema and the least-privileged runner role"
run "$bin/jobctl" db upgrade
run "$bin/jobctl" db permissions

section "Inserting five foo rows (ids 1..5)"
# -X: ignore ~/.psqlrc, which could change what psql prints or does.
run psql -X -v ON_ERROR_STOP=1 -q -c "INSERT INTO foo (name) VALUES ('alpha'),('bravo'),('charlie'),('delta'),('echo')"

section "Enqueueing one job per outcome"
run "$bin/jobctl" enqueue foo --foo 1 --json '{"outcome":"success","work_ms":100}'
run "$bin/jobctl" enqueue foo --foo 2 --json '{"outcome":"retry","succeed_on_attempt":3}' --max-retries 5
run "$bin/jobctl" enqueue foo --foo 3 --json '{"outcome":"user_error"}'
run "$bin/jobctl" enqueue foo --foo 4 --json '{"outcome":"error"}'
run "$bin/jobctl" enqueue foo --foo 5 --json '{"outcome":"suspend"}'

section "Running run-foo-jobs as cron would (as role jobrunner_foo_runner)"
waiting=-1
for tick in $(seq 1 15); do
  echo "== cron tick $tick =="
  run "$bin/run-foo-jobs" --db "dbname=$dbname user=jobrunner_foo_runner" --retry-delay 1s
  # status 0 = WAITING: stop once no job is ready or scheduled for a retry.
  waiting=$(psql -X -v ON_ERROR_STOP=1 -tAc "SELECT count(*) FROM job WHERE status = 0")
  if [[ "$waiting" == 0 ]]; then
    break
  fi
  echo "($waiting job(s) still waiting; next tick in 1s)"
  sleep 1
done

section "Jobs"
run "$bin/jobctl" list

section "OOPS reports (failures recorded for operators)"
run "$bin/jobctl" oops list

if [[ "$waiting" != 0 ]]; then
  echo "demo: FAILED: $waiting job(s) still waiting after 15 cron ticks" >&2
  exit 1
fi

section "A recurring schedule: a NoopJob every 5 minutes, due now"
# --due-now: its first occurrence is the latest one (at most 5 minutes ago),
# so the tick enqueues it without waiting; runners of the type tick too.
run "$bin/jobctl" schedule add noop-every-5-minutes --type noop --target 1 --cron '*/5 * * * *' \
  --zone Europe/Berlin --due-now
run "$bin/jobctl" schedule next noop-every-5-minutes -n 3
run "$bin/jobctl" schedule tick
run "$bin/jobctl" schedule list

section "A daemon: run-noop-jobs --daemon --concurrency 4, then 1000 NoopJobs in one statement"
"$bin/run-noop-jobs" --db "dbname=$dbname user=jobrunner_noop_runner" --daemon --concurrency 4 \
  --log-level warn &
daemon=$!
until psql -X -tAc "SELECT count(*) FROM runner_run WHERE job_type = 'noop'" | grep -q 1; do
  sleep 0.1
done
# The job ids it prints, one per line: show the last.
seq 1 1000 | sed 's/.*/{"foo": 1}/' | run "$bin/jobctl" enqueue noop --from - | tail -n 1
for _ in $(seq 1 300); do
  left=$(psql -X -v ON_ERROR_STOP=1 -tAc "SELECT count(*) FROM job WHERE job_type = 'noop' AND status <> 2")
  [[ "$left" == 0 ]] && break
  sleep 0.1
done
kill -TERM "$daemon"
wait "$daemon" || { echo "demo: FAILED: the daemon exited with $?" >&2; exit 1; }
run psql -X -v ON_ERROR_STOP=1 -c "SELECT count(*) AS noop_jobs_completed,
  round(extract(epoch FROM max(date_finished) - min(date_created))::numeric, 2) AS seconds
  FROM job WHERE job_type = 'noop' AND status = 2"
if [[ "$left" != 0 ]]; then
  echo "demo: FAILED: $left NoopJob(s) not completed by the daemon" >&2
  exit 1
fi
if ((web)); then
  section "The dashboard: open http://127.0.0.1:8080/ (Ctrl-C stops it and ends the demo)"
  echo "The FAILED FooJob (foo 4) has a Retry button on its page; the overview shows the queue."
  run "$bin/jobctl" web --listen 127.0.0.1:8080 --allow-actions || true
fi
section "Demo finished; the throwaway database is being removed"
