#!/usr/bin/env bash
# End-to-end: a runner cut off from the database notices, lets go of its
# job, and goes on working once the link is back.
#
# A daemon (concurrency 1, --lease 3s) connects over TCP on loopback as a
# dedicated OS user (jobrunner-cut). While its FooJob runs, an nftables rule
# drops every packet that user sends to the server's port: no RST, no FIN,
# the link simply goes silent, as when a network path dies. Then:
#  - the runner logs why (its lease extensions fail), and once its lease has
#    certainly expired it abandons the attempt; the job's own connection
#    gives up within tcp_user_timeout (10 s) instead of TCP's ~15 minutes;
#  - a second daemon, on the unix socket, rescues the job and completes it;
#  - after the rule is removed the first daemon reconnects and runs a new job;
#  - each job has exactly one frozzle; the interrupted one two attempts.
#
# Needs root (nft, and setpriv to run as another user) and the nftables
# package (scripts/install-deps.sh). Starts its own PostgreSQL listening on a
# free loopback port, so it leaves the suite's server alone. A trap always
# removes the rule. By hand, as root:
#   JOBRUNNER_BIN_DIR=$PWD/build/bin bash tests/scripts/30-network-cut.sh
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
# shellcheck source=SCRIPTDIR/../../scripts/lib/pg-local.sh
source "$repo/scripts/lib/pg-local.sh"

bin=${JOBRUNNER_BIN_DIR:-$repo/build/bin}
name=30-network-cut
cut_user=jobrunner-cut
table=jobrunner_network_cut_$$  # one per run: nft tables are host-wide
work_ms=6000
lease=3s

# shellcheck source=SCRIPTDIR/lib/script.sh
source "$repo/tests/scripts/lib/script.sh"

((EUID == 0)) || fail "must run as root (nft, setpriv)"
command -v nft >/dev/null || fail "nft not found: run scripts/install-deps.sh (package nftables)"
for tool in run-foo-jobs jobctl; do
  [[ -x "$bin/$tool" ]] || fail "$bin/$tool not found: build first (scripts/build.sh)"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/jobrunner-netcut.XXXXXX")
chmod 0755 "$work"
cut_pid=
other_pid=

cleanup() {
  local status=$?
  trap - EXIT
  nft delete table inet "$table" 2>/dev/null || true
  local pid
  for pid in "$cut_pid" "$other_pid"; do
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  pg_local_stop
  end_script "$status" 40
}
on_exit cleanup

started_at=$SECONDS

# ---- a server on a free loopback port, a user whose packets can be dropped ---
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=
for candidate in $(seq 25432 25532); do
  if ! port_in_use "$candidate"; then
    port=$candidate
    break
  fi
done
[[ -n "$port" ]] || fail "no free loopback port in 25432-25532"
JOBRUNNER_PG_ROOT=$work pg_local_start netcut "$port" >"$work/pg-start.out" 2>&1 ||
  fail "pg_local_start failed: $(tail -n 5 "$work/pg-start.out")"
if ! id -u "$cut_user" >/dev/null 2>&1; then
  useradd --system --no-create-home --shell /usr/sbin/nologin "$cut_user" 2>/dev/null ||
    id -u "$cut_user" >/dev/null 2>&1 || fail "cannot create user $cut_user"
fi
cut_uid=$(id -u "$cut_user")
cut_gid=$(id -g "$cut_user")
# The runner as that user may not reach the build tree (e.g. under /root).
install -m 0755 "$bin/run-foo-jobs" "$work/run-foo-jobs"

db=jobrunner
tcp="host=127.0.0.1 port=$port dbname=$db user=jobrunner"
"$bin/jobctl" --db "dbname=$db" db upgrade >"$work/upgrade.log" 2>&1 ||
  fail "jobctl db upgrade failed: $(tail -n 5 "$work/upgrade.log")"
enqueue() { # enqueue WORK_MS: prints the job id
  local foo
  foo=$(q "INSERT INTO foo (name) VALUES ('netcut') RETURNING id")
  "$bin/jobctl" --db "dbname=$db" enqueue foo --foo "$foo" --json "{\"work_ms\": $1}" \
    2>>"$work/enqueue.log" | grep -o '[0-9]\+' | head -n 1
}
first=$(enqueue "$work_ms")
[[ -n "$first" ]] || fail "enqueue failed: $(cat "$work/enqueue.log")"

# ---- the daemon to be cut off: TCP, as jobrunner-cut -----------------------
touch "$work/cut.log"
chown "$cut_user" "$work/cut.log"
setpriv --reuid="$cut_uid" --regid="$cut_gid" --clear-groups -- \
  "$work/run-foo-jobs" --db "$tcp" --daemon --concurrency 1 --lease "$lease" \
  --poll-interval 1s >/dev/null 2>>"$work/cut.log" &
cut_pid=$!
running_on_cut() { [[ "$(q "SELECT lease_owner FROM job WHERE id = $first AND status = 1")" == *":$cut_pid" ]]; }
wait_until 60 "job $first to be RUNNING on the daemon to be cut off (pid $cut_pid)" running_on_cut

nft add table inet "$table"
nft add chain inet "$table" output '{ type filter hook output priority 0; policy accept; }'
nft add rule inet "$table" output meta skuid "$cut_uid" ip daddr 127.0.0.1 tcp dport "$port" drop
cut_at=$SECONDS
say "job $first RUNNING on pid $cut_pid; dropping every packet uid $cut_uid sends to 127.0.0.1:$port"

# ---- a second daemon on the unix socket rescues and completes it ----------
"$bin/run-foo-jobs" --db "dbname=$db" --daemon --lease "$lease" --poll-interval 1s \
  >/dev/null 2>"$work/other.log" &
other_pid=$!

completed() { [[ "$(q "SELECT status FROM job WHERE id = $1")" == 2 ]]; }
wait_until 120 "the second daemon to rescue and complete job $first" completed "$first"
say "the second daemon rescued and completed job $first"

logged() { grep -q -- "$1" "$work/cut.log"; }
wait_until 120 "the cut-off daemon to abandon job $first's attempt" \
  logged "job $first: abandoning attempt 1: its lease ($lease) has certainly expired"
wait_until 120 "the cut-off daemon's job $first to give up its connection" \
  logged "job $first: abandoned attempt 1 \(lost its connection\|ended\)"
gave_up_after=$((SECONDS - cut_at))
kill -0 "$cut_pid" 2>/dev/null || fail "the cut-off daemon died"
logged "cannot extend the leases of 1 job(s)" ||
  fail "the cut-off daemon did not log why it could not extend its lease"
say "the cut-off daemon abandoned the attempt and its connection gave up within ${gave_up_after}s of the cut"

nft delete table inet "$table"
say "link restored; stopping the second daemon"
kill -TERM "$other_pid"
other_status=0
wait "$other_pid" || other_status=$?
other_pid=
((other_status == 0)) || fail "the second daemon exited with $other_status after SIGTERM, expected 0"

# ---- the cut-off daemon goes on working -------------------------------------
second=$(enqueue 0)
[[ -n "$second" ]] || fail "enqueue failed: $(cat "$work/enqueue.log")"
wait_until 180 "the formerly cut-off daemon to complete job $second" completed "$second"
logged "job $second: completed on attempt 1" ||
  fail "job $second was completed, but not by the formerly cut-off daemon"
kill -TERM "$cut_pid"
cut_status=0
wait "$cut_pid" || cut_status=$?
cut_pid=
((cut_status == 0)) || fail "the formerly cut-off daemon exited with $cut_status after SIGTERM, expected 0"

# ---- exactly once -----------------------------------------------------------
bad=$(q "SELECT string_agg(j.id::text || ': ' || (SELECT count(*) FROM foo_frozzle z WHERE z.job = j.id), ', ')
         FROM job j WHERE (SELECT count(*) FROM foo_frozzle z WHERE z.job = j.id) <> 1")
[[ -z "$bad" ]] || fail "jobs without exactly one foo_frozzle (job: frozzles): $bad"
[[ "$(q "SELECT attempt_count FROM job WHERE id = $first")" == 2 ]] ||
  fail "job $first has attempt_count $(q "SELECT attempt_count FROM job WHERE id = $first"), expected 2"
[[ "$(q "SELECT attempt_count FROM job WHERE id = $second")" == 1 ]] ||
  fail "job $second ran more than once"
log=$(q "SELECT log FROM job WHERE id = $first")
grep -q 'attempt 1: .*LeaseExpired' <<<"$log" ||
  fail "the log of job $first does not show the rescue of attempt 1 (LeaseExpired): $log"
reports=$(q "SELECT count(*) FROM error_report")
[[ "$reports" == 0 ]] || fail "$reports error reports were filed; expected none"

cat <<SUMMARY
$name: summary
| figure | value |
|---|---|
| lease | $lease (job of ${work_ms} ms) |
| attempt abandoned and connection given up, after the cut | ${gave_up_after} s |
| job $first | rescued and completed by the other daemon, attempt_count 2 |
| job $second (after the link was back) | completed by the formerly cut-off daemon |
| foo_frozzle rows | $(q "SELECT count(*) FROM foo_frozzle") for $(q "SELECT count(*) FROM job") jobs |
| wall time | $((SECONDS - started_at)) s |
$name: PASS
SUMMARY
