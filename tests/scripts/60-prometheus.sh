#!/usr/bin/env bash
# End-to-end: a real Prometheus server scrapes a running daemon while jobs
# flow (issue 13, docs/metrics.md).
#
# A run-foo-jobs daemon serves /metrics on a port it picks itself
# (--metrics-listen 127.0.0.1:0; the port is read from its log). Debian's
# prometheus is started on loopback with its own storage directory, scraping
# the daemon every second. While 30 FooJobs are enqueued one by one and run,
# the script reads values back through Prometheus's HTTP API
# (/api/v1/query): the target is up, the daemon's completed counter reaches
# 30, its histogram counted 30 runs, and the queue families are there. Every
# wait is for a condition, with a bound; nothing sleeps as synchronisation.
# Everything the script started is stopped at the end.
#
# Run by scripts/test.sh (from the repo root, with PGHOST/PGPORT/PGUSER,
# JOBRUNNER_PG_DIR and JOBRUNNER_BIN_DIR exported). By hand:
#   source scripts/lib/pg-local.sh && pg_local_start dev
#   JOBRUNNER_BIN_DIR=$PWD/build/bin bash tests/scripts/60-prometheus.sh
#   pg_local_stop
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
bin=${JOBRUNNER_BIN_DIR:-$repo/build/bin}
name=60-prometheus
jobs_count=30

# shellcheck source=SCRIPTDIR/lib/script.sh
source "$repo/tests/scripts/lib/script.sh"

[[ -n "${PGHOST:-}" ]] || fail "PGHOST is not set: start a server with pg_local_start first"
for tool in run-foo-jobs jobctl; do
  [[ -x "$bin/$tool" ]] || fail "$bin/$tool not found: build first (scripts/build.sh)"
done
for tool in prometheus promtool python3; do
  command -v "$tool" >/dev/null || fail "$tool not found: run scripts/install-deps.sh"
done

db=prometheus_$$
work=$(mktemp -d "${TMPDIR:-/tmp}/jobrunner-prometheus.XXXXXX")
daemon_pid=
prometheus_pid=

stop_process() { # PID SIGNAL: signals it and reaps it (bounded)
  local pid=$1 signal=$2 deadline=$((SECONDS + 30))
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill "-$signal" "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local status=$?
  trap - EXIT
  stop_process "$prometheus_pid" TERM
  stop_process "$daemon_pid" TERM
  dropdb --if-exists --force "$db" >/dev/null 2>&1 || say "warning: could not drop database $db"
  end_script "$status" 30
}
on_exit cleanup

# http_get URL: the body, or fails (exit 1) without output.
http_get() {
  python3 - "$1" <<'EOF'
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
        sys.stdout.write(r.read().decode())
except Exception:
    sys.exit(1)
EOF
}

# prom_value QUERY: the value of the instant query's only sample, or nothing
# (no sample yet, Prometheus not answering).
prom_value() {
  python3 - "http://127.0.0.1:$prom_port/api/v1/query" "$1" <<'EOF'
import json, sys, urllib.parse, urllib.request
url = sys.argv[1] + "?" + urllib.parse.urlencode({"query": sys.argv[2]})
try:
    with urllib.request.urlopen(url, timeout=5) as r:
        body = json.load(r)
except Exception:
    sys.exit(0)
result = body.get("data", {}).get("result", [])
if body.get("status") == "success" and len(result) == 1:
    print(result[0]["value"][1])
EOF
}

# prom_equals QUERY VALUE: true once Prometheus answers VALUE.
prom_equals() { [[ "$(prom_value "$1")" == "$2" ]]; }

# ---- the database and the daemon ---------------------------------------------
createdb "$db" || fail "createdb $db failed"
"$bin/jobctl" --db "dbname=$db" db upgrade >"$work/upgrade.log" 2>&1 ||
  fail "jobctl db upgrade failed: $(tail -n 5 "$work/upgrade.log")"

"$bin/run-foo-jobs" --db "dbname=$db" --daemon --concurrency 2 --metrics-listen 127.0.0.1:0 \
  --metrics-interval 1s >"$work/daemon.out" 2>"$work/daemon.log" &
daemon_pid=$!
metrics_logged() { grep -q 'serving metrics on http://127.0.0.1:[0-9]*/metrics' "$work/daemon.log" 2>/dev/null; }
wait_until 60 "the daemon to log its metrics address" metrics_logged
metrics_port=$(sed -n 's|.*serving metrics on http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$work/daemon.log" | head -n 1)
say "the daemon serves http://127.0.0.1:$metrics_port/metrics"
http_get "http://127.0.0.1:$metrics_port/metrics" >"$work/first-scrape.prom" ||
  fail "cannot fetch the daemon's /metrics"
promtool check metrics <"$work/first-scrape.prom" >"$work/promtool.log" 2>&1 ||
  fail "promtool check metrics refused the daemon's /metrics: $(cat "$work/promtool.log")"

# ---- Prometheus, on loopback, scraping every second --------------------------
# A free port: bound by the kernel's choice, then released for Prometheus
# (another process could take it in between; then Prometheus fails to start
# and the script says so).
prom_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: jobrunner
    static_configs:
      - targets: ['127.0.0.1:$metrics_port']
EOF
promtool check config "$work/prometheus.yml" >"$work/promtool-config.log" 2>&1 ||
  fail "promtool check config: $(cat "$work/promtool-config.log")"
prometheus --config.file "$work/prometheus.yml" --storage.tsdb.path "$work/tsdb" \
  --web.listen-address "127.0.0.1:$prom_port" >"$work/prometheus.out" 2>"$work/prometheus.log" &
prometheus_pid=$!
prometheus_ready() {
  kill -0 "$prometheus_pid" 2>/dev/null || fail "prometheus exited: $(tail -n 5 "$work/prometheus.log")"
  http_get "http://127.0.0.1:$prom_port/-/ready" >/dev/null
}
wait_until 60 "Prometheus to be ready on 127.0.0.1:$prom_port" prometheus_ready
wait_until 60 "Prometheus to scrape the daemon (up == 1)" prom_equals 'up{job="jobrunner"}' 1
say "Prometheus on 127.0.0.1:$prom_port scrapes the daemon"

# ---- jobs flow while Prometheus scrapes ---------------------------------------
mapfile -t foos < <(psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" \
  -c "INSERT INTO foo (name) SELECT 'prometheus ' || i FROM generate_series(1, $jobs_count) AS i RETURNING id")
((${#foos[@]} == jobs_count)) || fail "expected $jobs_count foo rows, got ${#foos[@]}"
for foo in "${foos[@]}"; do
  "$bin/jobctl" --db "dbname=$db" enqueue foo --foo "$foo" --json '{"work_ms": 100}' \
    >>"$work/enqueue.out" 2>>"$work/enqueue.log" || fail "jobctl enqueue foo --foo $foo failed"
done
say "enqueued $jobs_count FooJobs of 100 ms each"

completed='jobrunner_jobs_completed_total{job="jobrunner",job_type="foo"}'
wait_until 120 "Prometheus to read $jobs_count completed jobs" prom_equals "$completed" "$jobs_count"
runs='jobrunner_job_run_duration_seconds_count{job="jobrunner",job_type="foo"}'
wait_until 60 "Prometheus to read $jobs_count timed runs" prom_equals "$runs" "$jobs_count"
# The queue families, read from the database at most every --metrics-interval.
waiting='jobrunner_queue_jobs{job="jobrunner",job_type="foo",status="WAITING"}'
wait_until 60 "Prometheus to read an empty queue" prom_equals "$waiting" 0
# A rate over the scrapes: jobs did flow while Prometheus watched.
seen=$(prom_value "max_over_time(${completed}[5m]) - min_over_time(${completed}[5m])")
say "Prometheus read: completed $(prom_value "$completed"), runs $(prom_value "$runs"), WAITING $(prom_value "$waiting"), completed while scraped: $seen"
[[ "$(psql -X -q -At -d "$db" -c "SELECT count(*) FROM job WHERE status = 2")" == "$jobs_count" ]] ||
  fail "not every job is COMPLETED in the database"

# ---- the daemon stops cleanly ---------------------------------------------------
kill -TERM "$daemon_pid"
daemon_gone() { ! kill -0 "$daemon_pid" 2>/dev/null; }
wait_until 60 "the daemon to exit on SIGTERM" daemon_gone
daemon_status=0
wait "$daemon_pid" || daemon_status=$?
daemon_pid=
((daemon_status == 0)) || fail "the daemon exited $daemon_status on SIGTERM, expected 0"
say "ok"
