#!/usr/bin/env bash
# End-to-end chaos test: 10,000 FooJobs and 30,000 NoopJobs, 5 daemon runners of
# three kinds, one of them stopped about every second (SIGKILL two times in
# three, SIGTERM otherwise) and replaced by one of the same kind, and
# PostgreSQL restarted with "pg_ctl restart -m immediate" once, about a third
# of the way through. The runner kinds, by slot (CHAOS_RUNNERS slots, cycled):
#   run-foo-jobs  --concurrency 8 --prefetch 16
#   run-noop-jobs --concurrency 8 --prefetch 64
#   run-foo-jobs  --prefetch 0            (concurrency 1, claims for its free worker only)
#   run-noop-jobs --concurrency 8 --prefetch 64
#   run-foo-jobs                          (concurrency 1, the default --prefetch 64)
# all with --daemon --lease 2s --retry-delay 0s --grace 1s. The FooJobs exist
# from the start; the NoopJobs are enqueued while the chaos runs, with
# "jobctl enqueue noop --from", one chunk of CHAOS_NOOP_CHUNK each second, just
# before that second's signal, so that their runners hold prefetched jobs when
# they are stopped.
#
# Afterwards, checked with SQL and the runner logs: no job lost, none left
# RUNNING or WAITING; each COMPLETED FooJob has exactly one foo_frozzle (so its
# work ran once) and each FAILED one none; FAILED jobs are the "error" ones
# (and only jobs whose retries went to lost attempts besides); every extra
# attempt is explained by a planned retry, a rescue ("LeaseExpired" line in
# job.log) or an attempt a runner recorded as lost with its connection
# ("ConnectionLost"), and give-backs ("given back" lines) count none; every
# COMPLETED job was recorded COMPLETED once; every give-back a runner logged is
# in its job's log, and only runners sent SIGTERM gave jobs back; every
# refusal to record an attempt is explained (a rescue, a give-back by the same
# runner, or the PostgreSQL crash undoing a claim). NoopJobs have batch
# completions (their COMPLETED commits in the claim transaction, without
# waiting for the disk): they may run twice, so for them the checks are that
# each ends COMPLETED (or FAILED with its retries spent on lost attempts),
# recorded once, with every extra attempt explained. Prints the figures as a
# Markdown table.
#
# FooJob mix (by id, so the same on every run): id % 10 in 0..6 fast
# {"outcome":"success"}; 7 slow {"work_ms": 200..800}; 8 failing
# {"outcome":"error"}; 9 retrying {"outcome":"retry","succeed_on_attempt":2}.
#
# Run by scripts/test.sh (from the repo root, with PGHOST/PGPORT/PGUSER,
# JOBRUNNER_PG_DIR and JOBRUNNER_BIN_DIR exported). By hand:
#   source scripts/lib/pg-local.sh && pg_local_start dev
#   JOBRUNNER_BIN_DIR=$PWD/build/bin bash tests/scripts/20-chaos.sh
#   pg_local_stop
# Knobs (environment): CHAOS_JOBS (FooJobs, 10000), CHAOS_NOOP_JOBS (30000),
# CHAOS_NOOP_CHUNK (NoopJobs enqueued per second, 500), CHAOS_RUNNERS (5),
# CHAOS_DEADLINE (seconds for the jobs to finish, 1800), CHAOS_STALL (fail when
# no job finished for this many seconds, 60), CHAOS_SEED (which runner is
# stopped, and how), JOBRUNNER_KEEP_WORK=1 (keep the runner logs; they are
# kept on failure).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
# shellcheck source=SCRIPTDIR/../../scripts/lib/pg-local.sh
source "$repo/scripts/lib/pg-local.sh"

bin=${JOBRUNNER_BIN_DIR:-$repo/build/bin}
name=20-chaos
total=${CHAOS_JOBS:-10000}
noop_total=${CHAOS_NOOP_JOBS:-30000}
noop_chunk=${CHAOS_NOOP_CHUNK:-500}
want_runners=${CHAOS_RUNNERS:-5}
# The FooJob mix alone needs about 1000 slow jobs x 0.5 s / 17 workers = 30 s;
# the NoopJobs are enqueued over 60 s. A lost or stuck job shows as no progress
# (CHAOS_STALL) long before the deadline, which is only a backstop against a
# run that never ends: how fast the jobs finish is a figure printed below, not
# a check.
deadline_s=${CHAOS_DEADLINE:-1800}
stall_s=${CHAOS_STALL:-60}
seed=${CHAOS_SEED:-$$}
RANDOM=$seed
runner_args=(--daemon --poll-interval 200ms --lease 2s --retry-delay 0s --grace 1s --log-format json)
# The runner of each slot, cycled over the slots (see the header).
kinds=("run-foo-jobs --concurrency 8 --prefetch 16"
       "run-noop-jobs --concurrency 8 --prefetch 64"
       "run-foo-jobs --prefetch 0"
       "run-noop-jobs --concurrency 8 --prefetch 64"
       "run-foo-jobs")

# shellcheck source=SCRIPTDIR/lib/script.sh
source "$repo/tests/scripts/lib/script.sh"

[[ -n "${JOBRUNNER_PG_DIR:-}" ]] || fail "JOBRUNNER_PG_DIR is not set: start a server with pg_local_start first"
[[ -n "${PGHOST:-}" ]] || fail "PGHOST is not set: start a server with pg_local_start first"
for tool in run-foo-jobs run-noop-jobs jobctl; do
  [[ -x "$bin/$tool" ]] || fail "$bin/$tool not found: build first (scripts/build.sh)"
done
((total >= 30 && total % 10 == 0)) || fail "CHAOS_JOBS must be a multiple of 10, at least 30"
((noop_total >= 0 && noop_chunk > 0)) || fail "CHAOS_NOOP_JOBS must be at least 0, CHAOS_NOOP_CHUNK at least 1"
# Both types must have a runner slot.
((want_runners >= 2)) || fail "CHAOS_RUNNERS must be at least 2 (a FooJob and a NoopJob runner)"

db=chaos_$$
work=$(mktemp -d "${TMPDIR:-/tmp}/jobrunner-chaos.XXXXXX")
keep_work=${JOBRUNNER_KEEP_WORK:-0}

pids=()              # live runners, not stopping
declare -A log_of=() # runner pid -> its log file
declare -A slot_of=() # runner pid -> its slot (and so its kind)
stopping=()          # runners sent SIGTERM by this script, not yet ended
declare -A term_deadline=() # stopping runner pid -> when it must have ended (SECONDS)
termed_logs=()       # the logs of every runner sent SIGTERM (in the loop or at the end)
started=0            # runners started
kills=0              # runners killed with SIGKILL by this script
terms=0              # runners stopped with SIGTERM by this script during the chaos
exits75=0            # runners that exited 75 (database unavailable) by themselves or after SIGTERM
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
  ((${#pids[@]} + ${#stopping[@]} > 0)) || return 0
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  deadline=$((SECONDS + 60))
  for pid in "${pids[@]}" "${stopping[@]}"; do
    while alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
  done
  for pid in "${pids[@]}" "${stopping[@]}"; do
    if alive "$pid"; then
      say "runner $pid did not stop within 60 s of SIGTERM; killing it"
      { kill -KILL "$pid" 2>/dev/null; wait "$pid"; } 2>/dev/null || true
    fi
  done
}

cleanup() {
  local status=$?
  trap - EXIT
  if ((${#pids[@]} + ${#stopping[@]} > 0)); then
    stop_all_runners
    { wait "${pids[@]}" "${stopping[@]}"; } 2>/dev/null || true
    pids=()
    stopping=()
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


# start_runner SLOT: a runner of the slot's kind.
start_runner() {
  local slot=$1 log pid kind
  read -ra kind <<<"${kinds[slot % ${#kinds[@]}]}"
  started=$((started + 1))
  log=$(printf '%s/runner-%03d.log' "$work" "$started")
  "$bin/${kind[0]}" --db "dbname=$db" "${runner_args[@]}" "${kind[@]:1}" >/dev/null 2>"$log" &
  pid=$!
  pids+=("$pid")
  log_of[$pid]=$log
  slot_of[$pid]=$slot
}

# Starts a runner in every slot without a live one (a runner stopping after
# SIGTERM has left its slot: its replacement starts at once).
fill_slots() {
  local pid slot
  local -A taken=()
  for pid in "${pids[@]}"; do taken[${slot_of[$pid]}]=1; done
  for ((slot = 0; slot < want_runners; slot++)); do
    [[ -n "${taken[$slot]:-}" ]] || start_runner "$slot"
  done
}

# record_exit PID CODE: a runner that ended by itself.
record_exit() {
  if (($2 == 75)); then
    exits75=$((exits75 + 1))
  else
    odd_exits+=("runner $1 exited $2 (${log_of[$1]##*/}: $(tail -n 1 "${log_of[$1]}" 2>/dev/null))")
  fi
}

# Collect the runners that ended: by themselves (live ones), or after the
# SIGTERM this script sent (stopping ones, which must exit 0, or 75 when the
# database was gone as they stopped, within 60 s).
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
  keep=()
  for pid in "${stopping[@]}"; do
    if alive "$pid"; then
      if ((SECONDS < term_deadline[$pid])); then
        keep+=("$pid")
        continue
      fi
      say "runner $pid did not stop within 60 s of SIGTERM; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    code=0
    { wait "$pid"; } 2>/dev/null || code=$?
    if ((code == 75)); then
      exits75=$((exits75 + 1))
    elif ((code != 0)); then
      odd_exits+=("runner $pid exited $code after SIGTERM (${log_of[$pid]##*/}: $(tail -n 1 "${log_of[$pid]}" 2>/dev/null))")
    fi
  done
  stopping=("${keep[@]}")
}

# Stops a random live runner: SIGKILL two times in three, SIGTERM otherwise
# (only to a runner that has said it runs as a daemon, so that its handler is
# in place; a younger one gets SIGKILL instead). A SIGTERMed runner ends by
# itself (reap) while its replacement starts.
stop_random_runner() {
  local n=${#pids[@]} i pid code keep=() how
  ((n > 0)) || return 0
  i=$((RANDOM % n))
  how=$((RANDOM % 3))
  pid=${pids[i]}
  for ((n = 0; n < ${#pids[@]}; n++)); do
    ((n == i)) || keep+=("${pids[n]}")
  done
  pids=("${keep[@]}")
  if ((how == 0)) && grep -q 'running as a daemon' "${log_of[$pid]}"; then
    kill -TERM "$pid" 2>/dev/null || true
    terms=$((terms + 1))
    termed_logs+=("${log_of[$pid]}")
    term_deadline[$pid]=$((SECONDS + 60))
    stopping+=("$pid")
    return 0
  fi
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
}

now() { date +%s.%N; }

# ---- a fresh database with 10,000 FooJobs, in one statement ---------------------
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
# The NoopJobs take the ids after the FooJobs' (enqueued by jobctl).
q "SELECT setval(pg_get_serial_sequence('job', 'id'), $total)" >/dev/null ||
  fail "could not move the job id sequence past the FooJobs"
counts=$(q "SELECT (SELECT count(*) FROM job WHERE status = 0) || '|' || (SELECT count(*) FROM foojob)
                   || '|' || (SELECT count(*) FROM foo)")
[[ "$counts" == "$total|$total|$total" ]] ||
  fail "expected $total WAITING jobs, foojobs and foos, got (jobs|foojobs|foos) $counts"
# The NoopJobs' chunks, about the foos in turn, as jobctl enqueue --from reads them.
noop_chunks=()
for ((k = 0; k * noop_chunk < noop_total; k++)); do
  f=$(printf '%s/noop-%04d.jsonl' "$work" "$k")
  n=$((noop_total - k * noop_chunk))
  ((n <= noop_chunk)) || n=$noop_chunk
  awk -v first=$((k * noop_chunk)) -v n="$n" -v foos="$total" \
    'BEGIN { for (i = first; i < first + n; i++) printf "{\"target\": %d}\n", i % foos + 1 }' >"$f"
  noop_chunks+=("$f")
done
say "created $total FooJobs (70% fast, 10% slow, 10% error, 10% retry); $noop_total NoopJobs to enqueue in ${#noop_chunks[@]} chunks; seed $seed"

next_chunk=0
noop_enqueued=0
enqueue_noop_chunk() {
  ((next_chunk < ${#noop_chunks[@]})) || return 0
  local f=${noop_chunks[next_chunk]} n
  "$bin/jobctl" --db "dbname=$db" enqueue noop --from "$f" --max-retries 3 \
    >"$work/enqueue.out" 2>"$work/enqueue.err" ||
    fail "jobctl enqueue noop --from ${f##*/} failed: $(tail -n 3 "$work/enqueue.err")"
  n=$(wc -l <"$work/enqueue.out")
  (($(wc -l <"$f") == n)) || fail "jobctl enqueue noop --from ${f##*/} printed $n ids"
  noop_enqueued=$((noop_enqueued + n))
  next_chunk=$((next_chunk + 1))
}

# ---- chaos ------------------------------------------------------------------------
t_start=$(now)
start_s=$SECONDS
fill_slots
say "started $want_runners runners: ${runner_args[*]}, and by slot:$(
  for ((s = 0; s < want_runners; s++)); do printf ' [%s]' "${kinds[s % ${#kinds[@]}]}"; done)"

restarted=0
restart_at=""
declare -A restart_mark=() # runner log -> its number of lines when the restart began
finished=0
foo_finished=0
pending=$total
next_report=$((SECONDS + 10))
last_finished=0
progress_s=$SECONDS
while :; do
  sleep 1
  if counts=$(q "SELECT count(*) FILTER (WHERE status IN (0, 1)) || '|' ||
                        count(*) FILTER (WHERE status IN (2, 3)) || '|' ||
                        count(*) FILTER (WHERE status IN (2, 3) AND job_type = 'foo') FROM job" 2>/dev/null); then
    IFS='|' read -r pending finished foo_finished <<<"$counts"
    ((pending == 0 && next_chunk == ${#noop_chunks[@]})) && break
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
    say "$((SECONDS - start_s))s: $finished/$((total + noop_enqueued)) finished, $pending pending; kills $kills, SIGTERMs $terms, exits 75 $exits75, runners started $started"
    next_report=$((SECONDS + 10))
  fi
  reap
  # Just before the signal: its runners are likely to hold prefetched jobs.
  enqueue_noop_chunk
  # A third of the way through the FooJobs: some are running, with their
  # transactions open, and NoopJobs are being enqueued and run.
  if ((!restarted && foo_finished >= total / 3)); then
    restarted=1
    restart_at=$((SECONDS - start_s))
    # How far each runner's log had got: a refusal to record logged after
    # this, by a runner alive now, may be of a claim the crash undid.
    for pid in "${pids[@]}" "${stopping[@]}"; do
      restart_mark[${log_of[$pid]}]=$(wc -l <"${log_of[$pid]}")
    done
    say "${restart_at}s: $finished/$((total + noop_enqueued)) finished ($foo_finished/$total FooJobs): restarting PostgreSQL (immediate)"
    pg_local_ctl restart -m immediate -w >>"$work/pg_ctl.out" 2>&1 ||
      fail "pg_ctl restart -m immediate failed: $(tail -n 3 "$work/pg_ctl.out")"
    say "$((SECONDS - start_s))s: PostgreSQL is back"
  else
    stop_random_runner
  fi
  reap
  fill_slots
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
for pid in "${final[@]}"; do termed_logs+=("${log_of[$pid]}"); done
stop_all_runners
for pid in "${final[@]}"; do
  code=0
  { wait "$pid"; } 2>/dev/null || code=$?
  ((code == 0)) || odd_exits+=("runner $pid exited $code after SIGTERM (${log_of[$pid]##*/})")
done
pids=()
reap  # the runners stopped during the chaos that ended meanwhile
pids=()
stopping=()
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
# A COMPLETED recorded: by the job's own transaction (FooJob), or in a batch
# with the runner's claims (NoopJob).
completed_re='completed on attempt|completed \(recorded in a batch\)'
kind_sql="CASE WHEN j.job_type = 'noop' THEN 'noop'
               WHEN f.json_data->>'outcome' = 'error' THEN 'error'
               WHEN f.json_data->>'outcome' = 'retry' THEN 'retry'
               WHEN f.json_data ? 'work_ms' THEN 'slow' ELSE 'fast' END"
facts="SELECT j.id, j.job_type, j.status, j.attempt_count, coalesce(j.log, '') AS log, $kind_sql AS kind,
              (SELECT count(*) FROM foo_frozzle z WHERE z.job = j.id) AS frozzles,
              (SELECT count(*) FROM error_report e WHERE e.job = j.id) AS reports,
              regexp_count(coalesce(j.log, ''), 'LeaseExpired') AS rescues,
              regexp_count(coalesce(j.log, ''), 'ConnectionLost') AS connection_lost,
              regexp_count(coalesce(j.log, ''), '$lost_re') AS lost,
              regexp_count(coalesce(j.log, ''), 'RetryError') AS retries,
              regexp_count(coalesce(j.log, ''), '$completed_re') AS completions,
              regexp_count(coalesce(j.log, ''), 'given back') AS given_back,
              length(coalesce(j.log, '')) AS log_length,
              coalesce(j.log, '') ~ 'attempt 1: [^\n]*($lost_re)' AS first_rescued,
              CASE WHEN coalesce(j.log, '') ~ 'retries spent\): ($lost_re)' THEN 1 ELSE 0 END
                AS spent_rescue
       FROM job AS j LEFT JOIN foojob AS f ON f.job = j.id"
# Computed once: every check below reads this table.
q "CREATE TABLE chaos_facts AS $facts" >/dev/null || fail "could not collect the facts about the jobs"
facts="SELECT * FROM chaos_facts"

check "jobs lost (expected $total FooJobs with their foojob rows, $noop_total NoopJobs with their noopjob rows)" \
  "SELECT 'foo jobs=' || (SELECT count(*) FROM job WHERE job_type = 'foo')
          || ' foojobs=' || (SELECT count(*) FROM foojob)
          || ' noop jobs=' || (SELECT count(*) FROM job WHERE job_type = 'noop')
          || ' noopjobs=' || (SELECT count(*) FROM noopjob)
          || ' others=' || (SELECT count(*) FROM job WHERE job_type NOT IN ('foo', 'noop'))
   WHERE (SELECT count(*) FROM job WHERE job_type = 'foo') <> $total
      OR (SELECT count(*) FROM foojob) <> $total
      OR (SELECT count(*) FROM job WHERE job_type = 'noop') <> $noop_total
      OR (SELECT count(*) FROM noopjob) <> $noop_total
      OR (SELECT count(*) FROM job WHERE job_type NOT IN ('foo', 'noop')) <> 0"
check "jobs neither COMPLETED nor FAILED (id status)" \
  "SELECT id || ' ' || status FROM job WHERE status NOT IN (2, 3) ORDER BY id"
# The log keeps its newest kJobLogLimit (8,000) characters: a job with a log
# that long may have lost the lines that explain its attempts.
check "jobs whose log may have been cut at 8,000 characters, so that its lines cannot be counted (id length)" \
  "SELECT id || ' ' || log_length FROM ($facts) t WHERE log_length >= 7900 ORDER BY id"
check "COMPLETED FooJobs without exactly one foo_frozzle (id frozzles)" \
  "SELECT id || ' ' || frozzles FROM ($facts) t WHERE job_type = 'foo' AND status = 2 AND frozzles <> 1 ORDER BY id"
check "FAILED FooJobs with a foo_frozzle (id frozzles)" \
  "SELECT id || ' ' || frozzles FROM ($facts) t WHERE job_type = 'foo' AND status = 3 AND frozzles <> 0 ORDER BY id"
check "frozzles of another foo than their job's (frozzle job)" \
  "SELECT z.id || ' ' || z.job FROM foo_frozzle z LEFT JOIN foojob f ON f.job = z.job
   WHERE f.job IS NULL OR z.foo <> f.foo"
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
# attempt; a lost attempt that spends the retries fails the job instead; a
# give-back takes its attempt back.
check "unexplained attempts: attempt_count <> 1 + retries + lost - final lost (id kind attempts retries lost final given_back)" \
  "SELECT id || ' ' || kind || ' ' || attempt_count || ' ' || retries || ' ' || lost || ' ' || spent_rescue
          || ' ' || given_back
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

# Give-backs: a runner gives jobs back only when it stops after a SIGTERM
# (prefetched ones at once, running ones after --grace); each one it logs
# committed first (durably), so it is in the job's log. (A give-back whose
# commit was not acknowledged, at the crash, is in the job's log only.)
# job_ids TEXT LOG: the ids of the jobs of LOG's "job N: TEXT" lines.
job_ids() { sed -n 's/.*"msg":"job \([0-9]*\): '"$1"'.*/\1/p' "$2"; }
for f in "$work"/runner-*.log; do
  job_ids 'given back' "$f" | awk -v f="${f##*/}" '{ print f, $1 }'
done >"$work/given-back.txt"
declare -A termed=()
for f in "${termed_logs[@]}"; do termed[${f##*/}]=1; done
not_termed=$(awk '{ print $1 }' "$work/given-back.txt" | sort -u | while read -r f; do
  [[ -n "${termed[$f]:-}" ]] || printf '%s\n' "$f"
done | paste -sd ' ' -)
[[ -z "$not_termed" ]] ||
  problems+=("jobs given back by runners never sent SIGTERM (their logs): $not_termed")
q "CREATE TABLE chaos_given_back (log text, job bigint)" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c "\\copy chaos_given_back FROM '$work/given-back.txt' WITH (DELIMITER ' ')" ||
  fail "could not load the give-backs of the runner logs"
check "jobs given back (runner logs) more often than their log says (id logged_by_runners in_job_log)" \
  "SELECT g.job || ' ' || g.n || ' ' || coalesce(t.given_back, 0)
   FROM (SELECT job, count(*) AS n FROM chaos_given_back GROUP BY job) g
   LEFT JOIN chaos_facts t ON t.id = g.job
   WHERE coalesce(t.given_back, 0) < g.n ORDER BY g.job"

# A runner refuses to record an attempt only when its lease was taken from it:
# here (no operator moves) by a rescue, logged in the job's log; by the same
# runner's give-back when it stopped (a running job past --grace); or by the
# PostgreSQL crash, which can undo a claim (claims commit without waiting for
# the disk; a NoopJob's batched COMPLETED with them), so that the job ran
# again as if never claimed (or was rescued), which the other checks cover.
# Such a refusal comes after the restart began, from a runner alive then (it
# made the claim): logged after that runner's mark in restart-marks.
# (The runner logs a give-back and a refusal of the same job from two threads,
# in either order.)
for f in "$work"/runner-*.log; do
  awk -v m="${restart_mark[$f]:--1}" '
    NR == FNR { given[$1] = 1; next }
    { split($0, a, ":"); line = a[1]; id = a[2]
      if (id in given) why = "given-back"; else if (m >= 0 && line > m) why = "crash"; else why = "other"
      print id, why }' \
    <(echo -; job_ids 'given back' "$f") \
    <(grep -n 'refused to record' "$f" | sed -n 's/^\([0-9]*\):.*"msg":"job \([0-9]*\): refused to record.*/\1:\2/p')
done >"$work/refused.txt"
refused_jobs=$(awk '$2 == "other" { print $1 }' "$work/refused.txt" | sort -un | paste -sd, -)
if [[ -n "$refused_jobs" ]]; then
  check "jobs whose runner refused to record an attempt, not after a give-back or the crash, without a rescue in their log (id)" \
    "SELECT id FROM job WHERE id IN ($refused_jobs) AND coalesce(log, '') NOT LIKE '%LeaseExpired%'"
fi
check "jobs still holding a lease (id)" \
  "SELECT id FROM job WHERE lease_token IS NOT NULL OR lease_expires IS NOT NULL ORDER BY id"

# ---- figures ------------------------------------------------------------------------
IFS='|' read -r jobs completed failed rescues connection_lost extra duplicates reports given_back \
  given_back_jobs < <(q "
  SELECT count(*), count(*) FILTER (WHERE status = 2), count(*) FILTER (WHERE status = 3),
         sum(rescues), sum(connection_lost), sum(attempt_count - 1),
         count(*) FILTER (WHERE frozzles > 1 OR completions > 1)
           + (SELECT count(*) FROM error_report WHERE message ILIKE '%duplicate key%'),
         sum(reports), sum(given_back), count(*) FILTER (WHERE given_back > 0)
  FROM ($facts) t")
IFS='|' read -r noop_completed noop_failed noop_rescues noop_extra < <(q "
  SELECT count(*) FILTER (WHERE status = 2), count(*) FILTER (WHERE status = 3), sum(rescues),
         sum(attempt_count - 1)
  FROM ($facts) t WHERE job_type = 'noop'")
refused=$(wc -l <"$work/refused.txt")
refused_by=$(awk '{ n[$2]++ } END { printf "%d after a give-back, %d after the crash, %d others", n["given-back"], n["crash"], n["other"] }' "$work/refused.txt")
wall=$(awk -v a="$t_start" -v b="$t_end" 'BEGIN { printf "%.1f", b - a }')
rate=$(awk -v n="$jobs" -v a="$t_start" -v b="$t_end" 'BEGIN { printf "%.0f", n / (b - a) }')
IFS='|' read -r retries_planned spent < <(q "SELECT sum(retries), sum(spent_rescue) FROM ($facts) t")
IFS='|' read -r foo_last noop_last < <(q "
  SELECT round(extract(epoch FROM max(date_finished) FILTER (WHERE job_type = 'foo')) - $t_start, 1),
         round(extract(epoch FROM max(date_finished) FILTER (WHERE job_type = 'noop')) - $t_start, 1)
  FROM job")
runners_by_kind=$(for ((s = 0; s < want_runners; s++)); do
  printf '%s\n' "${kinds[s % ${#kinds[@]}]}"; done | sort | uniq -c | awk '{ n = $1; $1 = ""; printf "%s%d x%s", sep, n, $0; sep = ", " }')

cat <<TABLE
$name: summary
| figure | value |
|---|---|
| jobs | $jobs ($total FooJobs, $noop_total NoopJobs) |
| completed | $completed ($noop_completed NoopJobs) |
| failed | $failed ($noop_failed NoopJobs) |
| runners (started) | $want_runners: $runners_by_kind ($started) |
| kills (SIGKILL) | $kills |
| stops (SIGTERM, during the chaos) | $terms |
| runner exits with 75 | $exits75 |
| PostgreSQL restarts | 1 (at ${restart_at} s) |
| rescues (LeaseExpired lines) | $rescues ($noop_rescues of NoopJobs) |
| attempts lost with a connection (ConnectionLost lines) | $connection_lost |
| extra attempts | $extra ($retries_planned planned retries + $((rescues + connection_lost - spent)) lost attempts that requeued; $noop_extra of NoopJobs) |
| give-backs (attempts not counted) | $given_back, of $given_back_jobs jobs |
| "refused to record" (lost leases, give-backs, claims undone by the crash) | $refused ($refused_by) |
| error reports | $reports |
| duplicates | $duplicates |
| wall time | $wall s (the last FooJob finished at $foo_last s, the last NoopJob at ${noop_last:-} s) |
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
