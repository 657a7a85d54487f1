#!/usr/bin/env bash
# End-to-end chaos test: 10,000 FooJobs, 4 daemon runners, one of them killed
# with SIGKILL about every second (and replaced), and PostgreSQL restarted with
# "pg_ctl restart -m immediate" once, about a third of the way through.
#
# Afterwards, checked with SQL: no job lost, none left RUNNING or WAITING; each
# COMPLETED job has exactly one foo_frozzle and each FAILED job none; FAILED
# jobs are the "error" ones (and only jobs whose retries went to rescues
# besides); every extra attempt is explained by a planned retry, a rescue
# ("LeaseExpired" line in job.log) or an attempt a runner recorded as lost with
# its connection ("ConnectionLost"); every COMPLETED job was recorded COMPLETED
# once. Prints the figures as a Markdown table.
#
# Job mix (by id, so the same on every run): id % 10 in 0..6 fast
# {"outcome":"success"}; 7 slow {"work_ms": 200..800}; 8 failing
# {"outcome":"error"}; 9 retrying {"outcome":"retry","succeed_on_attempt":2}.
#
# Run by scripts/test.sh (from the repo root, with PGHOST/PGPORT/PGUSER,
# JOBRUNNER_PG_DIR and JOBRUNNER_BIN_DIR exported). By hand:
#   source scripts/lib/pg-local.sh && pg_local_start dev
#   JOBRUNNER_BIN_DIR=$PWD/build/bin bash tests/scripts/20-chaos.sh
#   pg_local_stop
# Knobs (environment): CHAOS_JOBS (10000), CHAOS_RUNNERS (4), CHAOS_DEADLINE
# (seconds for the jobs to finish, 1800), CHAOS_STALL (fail when no job finished
# for this many seconds, 60), CHAOS_SEED (which runner is killed),
# JOBRUNNER_KEEP_WORK=1 (keep the runner logs; they are kept on failure).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
# shellcheck source=SCRIPTDIR/../../scripts/lib/pg-local.sh
source "$repo/scripts/lib/pg-local.sh"

bin=${JOBRUNNER_BIN_DIR:-$repo/build/bin}
name=20-chaos
total=${CHAOS_JOBS:-10000}
want_runners=${CHAOS_RUNNERS:-4}
# The job mix alone needs about 1000 slow jobs x 0.5 s / 4 runners = 125 s; a
# 2-core machine with a 4 ms fsync takes 3.5 to 4.5 minutes in all, a loaded
# one longer. A lost or stuck job shows as no progress (CHAOS_STALL) long
# before the deadline, which is only a backstop against a run that never ends:
# how fast the jobs finish is a figure printed below, not a check.
deadline_s=${CHAOS_DEADLINE:-1800}
stall_s=${CHAOS_STALL:-60}
seed=${CHAOS_SEED:-$$}
RANDOM=$seed
runner_args=(--daemon --poll-interval 200ms --lease 2s --retry-delay 0s --grace 1s --log-format json)

# shellcheck source=SCRIPTDIR/lib/script.sh
source "$repo/tests/scripts/lib/script.sh"

[[ -n "${JOBRUNNER_PG_DIR:-}" ]] || fail "JOBRUNNER_PG_DIR is not set: start a server with pg_local_start first"
[[ -n "${PGHOST:-}" ]] || fail "PGHOST is not set: start a server with pg_local_start first"
for tool in run-foo-jobs jobctl; do
  [[ -x "$bin/$tool" ]] || fail "$bin/$tool not found: build first (scripts/build.sh)"
done
((total >= 30 && total % 10 == 0)) || fail "CHAOS_JOBS must be a multiple of 10, at least 30"

db=chaos_$$
work=$(mktemp -d "${TMPDIR:-/tmp}/jobrunner-chaos.XXXXXX")
keep_work=${JOBRUNNER_KEEP_WORK:-0}

pids=()              # live runners
declare -A log_of=() # runner pid -> its log file
started=0            # runners started
kills=0              # runners killed with SIGKILL by this script
exits75=0            # runners that exited 75 (database unavailable) by themselves
odd_exits=()         # any other exit: a bug

# alive PID: the process exists and is not a zombie.
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ "${stat%% *}" != Z ]]
}

stop_all_runners() {
  local pid deadline
  ((${#pids[@]} > 0)) || return 0
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  deadline=$((SECONDS + 60))
  for pid in "${pids[@]}"; do
    while alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
  done
  for pid in "${pids[@]}"; do
    if alive "$pid"; then
      say "runner $pid did not stop within 60 s of SIGTERM; killing it"
      { kill -KILL "$pid" 2>/dev/null; wait "$pid"; } 2>/dev/null || true
    fi
  done
}

cleanup() {
  local status=$?
  trap - EXIT
  if ((${#pids[@]} > 0)); then
    stop_all_runners
    { wait "${pids[@]}"; } 2>/dev/null || true
    pids=()
  fi
  # A failure during the restart must not leave the server down for the
  # scripts that run after this one.
  if ! pg_local_ctl status >/dev/null 2>&1; then
    say "starting PostgreSQL again (it was left stopped)"
    pg_local_ctl start -w >/dev/null 2>&1 || say "warning: could not start PostgreSQL again"
  fi
  dropdb --if-exists --force "$db" >/dev/null 2>&1 || say "warning: could not drop database $db"
  if ((status != 0)); then
    local f
    for f in $(find "$work" -name 'runner-*.log' -printf '%T@ %p\n' | sort -rn | head -n 3 | cut -d' ' -f2-); do
      printf -- '--- %s (last 10 lines) ---\n' "${f##*/}" >&2
      tail -n 10 "$f" >&2
    done
    keep_work=1
  fi
  if ((keep_work)); then say "logs kept in $work"; else rm -rf -- "$work"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM


start_runner() {
  local log pid
  started=$((started + 1))
  log=$(printf '%s/runner-%03d.log' "$work" "$started")
  "$bin/run-foo-jobs" --db "dbname=$db" "${runner_args[@]}" >/dev/null 2>"$log" &
  pid=$!
  pids+=("$pid")
  log_of[$pid]=$log
}

# record_exit PID CODE: a runner that ended by itself.
record_exit() {
  if (($2 == 75)); then
    exits75=$((exits75 + 1))
  else
    odd_exits+=("runner $1 exited $2 (${log_of[$1]##*/}: $(tail -n 1 "${log_of[$1]}" 2>/dev/null))")
  fi
}

# Collect the runners that ended by themselves.
reap() {
  local keep=() pid code
  for pid in "${pids[@]}"; do
    if alive "$pid"; then
      keep+=("$pid")
      continue
    fi
    code=0
    { wait "$pid"; } 2>/dev/null || code=$?
    record_exit "$pid" "$code"
  done
  pids=("${keep[@]}")
}

kill_random_runner() {
  local n=${#pids[@]} i pid code keep=()
  ((n > 0)) || return 0
  i=$((RANDOM % n))
  pid=${pids[i]}
  # Waited for once: a runner that ended by itself since the last reap (a
  # zombie takes the signal too) reports its own exit code, not 137.
  kill -KILL "$pid" 2>/dev/null || true
  code=0
  { wait "$pid"; } 2>/dev/null || code=$?
  if ((code == 137)); then
    kills=$((kills + 1))
  else
    record_exit "$pid" "$code"
  fi
  for ((n = 0; n < ${#pids[@]}; n++)); do
    ((n == i)) || keep+=("${pids[n]}")
  done
  pids=("${keep[@]}")
}

now() { date +%s.%N; }

# ---- a fresh database with 10,000 jobs, in one statement -----------------------
createdb "$db" || fail "createdb $db failed"
"$bin/jobctl" --db "dbname=$db" db upgrade >"$work/upgrade.log" 2>&1 ||
  fail "jobctl db upgrade failed: $(tail -n 5 "$work/upgrade.log")"

q "WITH spec AS (
     SELECT i, CASE i % 10
                 WHEN 7 THEN jsonb_build_object('work_ms', 200 + (i * 7919) % 601)
                 WHEN 8 THEN '{\"outcome\": \"error\"}'::jsonb
                 WHEN 9 THEN '{\"outcome\": \"retry\", \"succeed_on_attempt\": 2}'::jsonb
                 ELSE '{\"outcome\": \"success\"}'::jsonb
               END AS meta
     FROM generate_series(1, $total) AS i
   ), new_foo AS (
     INSERT INTO foo (id, name) SELECT i, 'chaos ' || i FROM spec RETURNING id
   ), new_job AS (
     INSERT INTO job (id, job_type, max_retries) SELECT i, 'foo', 3 FROM spec RETURNING id
   )
   INSERT INTO foojob (job, foo, job_type, json_data)
   SELECT s.i, s.i, 0, s.meta
   FROM spec AS s JOIN new_foo AS f ON f.id = s.i JOIN new_job AS j ON j.id = s.i" ||
  fail "could not create the jobs"
counts=$(q "SELECT (SELECT count(*) FROM job WHERE status = 0) || '|' || (SELECT count(*) FROM foojob)
                   || '|' || (SELECT count(*) FROM foo)")
[[ "$counts" == "$total|$total|$total" ]] ||
  fail "expected $total WAITING jobs, foojobs and foos, got (jobs|foojobs|foos) $counts"
say "created $total FooJobs (70% fast, 10% slow, 10% error, 10% retry); seed $seed"

# ---- chaos ------------------------------------------------------------------------
t_start=$(now)
start_s=$SECONDS
for ((i = 0; i < want_runners; i++)); do start_runner; done
say "started $want_runners runners: run-foo-jobs ${runner_args[*]}"

restarted=0
restart_at=""
finished=0
pending=$total
next_report=$((SECONDS + 10))
last_finished=0
progress_s=$SECONDS
while :; do
  sleep 1
  if counts=$(q "SELECT count(*) FILTER (WHERE status IN (0, 1)) || '|' ||
                        count(*) FILTER (WHERE status IN (2, 3)) FROM job" 2>/dev/null); then
    pending=${counts%|*}
    finished=${counts#*|}
    ((pending == 0)) && break
  fi
  ((SECONDS - start_s < deadline_s)) ||
    fail "deadline: after ${deadline_s}s, $pending jobs are still WAITING or RUNNING ($finished finished)"
  if ((finished != last_finished)); then
    last_finished=$finished
    progress_s=$SECONDS
  fi
  ((SECONDS - progress_s < stall_s)) ||
    fail "no job finished for ${stall_s}s: $pending jobs are still WAITING or RUNNING ($finished finished)"
  if ((SECONDS >= next_report)); then
    say "$((SECONDS - start_s))s: $finished/$total finished, $pending pending; kills $kills, exits 75 $exits75, runners started $started"
    next_report=$((SECONDS + 10))
  fi
  reap
  if ((!restarted && finished >= total / 3)); then
    restarted=1
    restart_at=$((SECONDS - start_s))
    say "${restart_at}s: $finished/$total finished: restarting PostgreSQL (immediate)"
    pg_local_ctl restart -m immediate -w >>"$work/pg_ctl.out" 2>&1 ||
      fail "pg_ctl restart -m immediate failed: $(tail -n 3 "$work/pg_ctl.out")"
    say "$((SECONDS - start_s))s: PostgreSQL is back"
  else
    kill_random_runner
  fi
  reap
  while ((${#pids[@]} < want_runners)); do start_runner; done
done
t_end=$(now)
((restarted)) || fail "all jobs finished before PostgreSQL could be restarted"
loop_end_s=$SECONDS
say "all jobs finished after $((SECONDS - start_s))s; stopping the runners with SIGTERM"

# ---- stop the runners ---------------------------------------------------------------
# A runner started a moment ago may not have its SIGTERM handler yet: wait until
# each has said it runs as a daemon (or has ended) before signalling.
reap
for pid in "${pids[@]}"; do
  wait_until=$((SECONDS + 60))
  until grep -q 'running as a daemon' "${log_of[$pid]}" || ! alive "$pid"; do
    ((SECONDS < wait_until)) || break
    sleep 0.1
  done
done
reap
final=("${pids[@]}")
stop_all_runners
for pid in "${final[@]}"; do
  code=0
  { wait "$pid"; } 2>/dev/null || code=$?
  ((code == 0)) || odd_exits+=("runner $pid exited $code after SIGTERM (${log_of[$pid]##*/})")
done
pids=()
leftover=$(pgrep -f -- "--db dbname=$db " || true)
[[ -z "$leftover" ]] || fail "runner processes left behind: $leftover"

# ---- assertions -------------------------------------------------------------------
problems=()
check() { # check DESCRIPTION SQL: SQL returns the offending rows, as one line each
  local rows n more=""
  rows=$(q "$2") || fail "query failed: $1"
  [[ -n "$rows" ]] || return 0
  n=$(wc -l <<<"$rows")
  ((n <= 10)) || more=" ... ($n in all)"
  problems+=("$1: $(head -n 10 <<<"$rows" | paste -sd ';' -)$more")
}

# An attempt lost with its runner: found by a rescue after the lease expired,
# or recorded at once by a runner whose worker lost its connection mid-job.
lost_re='LeaseExpired|ConnectionLost'
kind_sql="CASE WHEN f.json_data->>'outcome' = 'error' THEN 'error'
               WHEN f.json_data->>'outcome' = 'retry' THEN 'retry'
               WHEN f.json_data ? 'work_ms' THEN 'slow' ELSE 'fast' END"
facts="SELECT j.id, j.status, j.attempt_count, coalesce(j.log, '') AS log, $kind_sql AS kind,
              (SELECT count(*) FROM foo_frozzle z WHERE z.job = j.id) AS frozzles,
              (SELECT count(*) FROM error_report e WHERE e.job = j.id) AS reports,
              regexp_count(coalesce(j.log, ''), 'LeaseExpired') AS rescues,
              regexp_count(coalesce(j.log, ''), 'ConnectionLost') AS connection_lost,
              regexp_count(coalesce(j.log, ''), '$lost_re') AS lost,
              regexp_count(coalesce(j.log, ''), 'RetryError') AS retries,
              regexp_count(coalesce(j.log, ''), 'completed on attempt') AS completions,
              coalesce(j.log, '') ~ 'attempt 1: [^\n]*($lost_re)' AS first_rescued,
              CASE WHEN coalesce(j.log, '') ~ 'retries spent\): ($lost_re)' THEN 1 ELSE 0 END
                AS spent_rescue
       FROM job AS j JOIN foojob AS f ON f.job = j.id"
# Computed once: every check below reads this table.
q "CREATE TABLE chaos_facts AS $facts" >/dev/null || fail "could not collect the facts about the jobs"
facts="SELECT * FROM chaos_facts"

check "jobs lost (expected $total jobs with their foojob rows)" \
  "SELECT 'jobs=' || (SELECT count(*) FROM job) || ' foojobs=' || (SELECT count(*) FROM foojob)
   WHERE (SELECT count(*) FROM job) <> $total OR (SELECT count(*) FROM foojob) <> $total"
check "jobs neither COMPLETED nor FAILED (id status)" \
  "SELECT id || ' ' || status FROM job WHERE status NOT IN (2, 3) ORDER BY id"
check "COMPLETED jobs without exactly one foo_frozzle (id frozzles)" \
  "SELECT id || ' ' || frozzles FROM ($facts) t WHERE status = 2 AND frozzles <> 1 ORDER BY id"
check "FAILED jobs with a foo_frozzle (id frozzles)" \
  "SELECT id || ' ' || frozzles FROM ($facts) t WHERE status = 3 AND frozzles <> 0 ORDER BY id"
check "frozzles of another foo than their job's (frozzle job)" \
  "SELECT z.id || ' ' || z.job FROM foo_frozzle z JOIN foojob f ON f.job = z.job WHERE z.foo <> f.foo"
check "error reports about a duplicate key (report job message)" \
  "SELECT id || ' ' || job || ' ' || message FROM error_report WHERE message ILIKE '%duplicate key%'"
check "job logs about a duplicate key (id)" \
  "SELECT id FROM job WHERE log ILIKE '%duplicate key%'"
check "\"error\" jobs that are not FAILED (id status)" \
  "SELECT id || ' ' || status FROM ($facts) t WHERE kind = 'error' AND status <> 3 ORDER BY id"
check "FAILED jobs that are not \"error\" jobs and did not spend their retries on lost attempts (id kind log)" \
  "SELECT id || ' ' || kind || ' ' || replace(log, E'\n', ' / ') FROM ($facts) t
   WHERE status = 3 AND kind <> 'error' AND spent_rescue = 0 ORDER BY id"
check "FAILED jobs without exactly one error report (id reports)" \
  "SELECT id || ' ' || reports FROM ($facts) t WHERE status = 3 AND reports <> 1 ORDER BY id"
check "\"error\" jobs whose error report is not the job's std::logic_error (id error_type)" \
  "SELECT e.job || ' ' || e.error_type FROM error_report e JOIN foojob f ON f.job = e.job
   WHERE f.json_data->>'outcome' = 'error' AND e.error_type <> 'std::logic_error'
     AND e.message !~ '$lost_re' AND e.error_type !~ '$lost_re'"
check "COMPLETED jobs with an error report (id reports)" \
  "SELECT id || ' ' || reports FROM ($facts) t WHERE status = 2 AND reports <> 0 ORDER BY id"
# Each planned retry and each lost attempt that requeues the job adds one
# attempt; a lost attempt that spends the retries fails the job instead.
check "unexplained attempts: attempt_count <> 1 + retries + lost - final lost (id kind attempts retries lost final)" \
  "SELECT id || ' ' || kind || ' ' || attempt_count || ' ' || retries || ' ' || lost || ' ' || spent_rescue
   FROM ($facts) t WHERE attempt_count <> 1 + retries + lost - spent_rescue ORDER BY id"
check "retries (RetryError) of jobs that never ask for one (id kind retries)" \
  "SELECT id || ' ' || kind || ' ' || retries FROM ($facts) t WHERE kind <> 'retry' AND retries <> 0 ORDER BY id"
check "retrying jobs without their one planned retry, unless attempt 1 was lost (id retries first_rescued)" \
  "SELECT id || ' ' || retries || ' ' || first_rescued FROM ($facts) t
   WHERE kind = 'retry' AND status = 2 AND retries + (CASE WHEN first_rescued THEN 1 ELSE 0 END) <> 1 ORDER BY id"
# A success writes no log line (migration 0009): COMPLETED is told by its
# status, date_finished and its one frozzle (above).
check "jobs with a 'completed on attempt' line, which a success no longer writes (id lines)" \
  "SELECT id || ' ' || completions FROM ($facts) t WHERE completions <> 0 ORDER BY id"
check "COMPLETED jobs without date_finished (id)" \
  "SELECT j.id FROM job j WHERE j.status = 2 AND j.date_finished IS NULL ORDER BY j.id"
# A runner refuses to record an attempt only when its lease was taken from it:
# here (no operator moves) that must be a rescue, logged in the job's log, or
# the PostgreSQL crash, which can undo a claim (claims commit without waiting
# for the disk) whose attempt the runner then records as lost with its
# connection ("recording attempt N as lost"): that job ran again as if never
# claimed, which the other checks cover.
job_ids_logged() {
  cat "$work"/runner-*.log | { grep -o "job [0-9]*: $1" || true; } | awk '{ print $2 }' |
    tr -d ':' | sort -u
}
refused_jobs=$(comm -23 <(job_ids_logged 'refused to record') \
  <(job_ids_logged 'recording attempt [0-9]* as lost') | paste -sd, -)
if [[ -n "$refused_jobs" ]]; then
  check "jobs whose runner refused to record an attempt, without a rescue in their log (id)" \
    "SELECT id FROM job WHERE id IN ($refused_jobs) AND coalesce(log, '') NOT LIKE '%LeaseExpired%'"
fi
check "jobs still holding a lease (id)" \
  "SELECT id FROM job WHERE lease_token IS NOT NULL OR lease_expires IS NOT NULL ORDER BY id"

# ---- figures ------------------------------------------------------------------------
IFS='|' read -r jobs completed failed rescues connection_lost extra duplicates reports < <(q "
  SELECT count(*), count(*) FILTER (WHERE status = 2), count(*) FILTER (WHERE status = 3),
         sum(rescues), sum(connection_lost), sum(attempt_count - 1),
         count(*) FILTER (WHERE frozzles > 1 OR completions > 1)
           + (SELECT count(*) FROM error_report WHERE message ILIKE '%duplicate key%'),
         sum(reports)
  FROM ($facts) t")
refused=$(cat "$work"/runner-*.log | grep -c 'refused to record' || true)
wall=$(awk -v a="$t_start" -v b="$t_end" 'BEGIN { printf "%.1f", b - a }')
rate=$(awk -v n="$jobs" -v a="$t_start" -v b="$t_end" 'BEGIN { printf "%.0f", n / (b - a) }')
IFS='|' read -r retries_planned spent < <(q "SELECT sum(retries), sum(spent_rescue) FROM ($facts) t")

cat <<TABLE
$name: summary
| figure | value |
|---|---|
| jobs | $jobs |
| completed | $completed |
| failed | $failed |
| runners (started) | $want_runners ($started) |
| kills (SIGKILL) | $kills |
| runner exits with 75 | $exits75 |
| PostgreSQL restarts | 1 (at ${restart_at} s) |
| rescues (LeaseExpired lines) | $rescues |
| attempts lost with a connection (ConnectionLost lines) | $connection_lost |
| extra attempts | $extra ($retries_planned planned retries + $((rescues + connection_lost - spent)) lost attempts that requeued) |
| "refused to record" (lost leases, claims undone by the crash) | $refused |
| error reports | $reports |
| duplicates | $duplicates |
| wall time | $wall s |
| script time | $SECONDS s (setup $start_s s, stop and checks $((SECONDS - loop_end_s)) s) |
| jobs/s | $rate |
TABLE

((duplicates == 0)) || problems+=("duplicates: $duplicates (must be 0)")
for odd in "${odd_exits[@]}"; do problems+=("unexpected runner exit: $odd"); done
if ((${#problems[@]} > 0)); then
  for problem in "${problems[@]}"; do printf '%s: FAIL: %s\n' "$name" "$problem" >&2; done
  exit 1
fi
say "PASS"
