# shellcheck shell=bash
# What the end-to-end scripts in tests/scripts/ share. Source it after
# setting `name` (the script's name, for every line it prints); `q` runs
# against the database in `db`.

say() { printf '%s: %s\n' "$name" "$*"; }

fail() {
  printf '%s: FAIL: %s\n' "$name" "$*" >&2
  exit 1
}

# q SQL: one statement on $db, unaligned, tuples only; stops on an error.
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }

# wait_until SECONDS WHAT COMMAND...: polls COMMAND every 0.1 s until it
# succeeds; fails the script after SECONDS. The condition itself is waited
# for, so how long it takes (a busy machine) decides nothing but the wait.
wait_until() {
  local seconds=$1 what=$2 deadline
  shift 2
  deadline=$((SECONDS + seconds))
  until "$@"; do
    ((SECONDS < deadline)) || fail "timed out after ${seconds}s waiting for $what"
    sleep 0.1
  done
}

# show_logs DIR LINES: the last LINES lines of every non-empty DIR/*.log, on
# stderr (for a failed run's cleanup).
show_logs() {
  local f
  for f in "$1"/*.log; do
    [[ -s "$f" ]] || continue
    printf -- '--- %s (last %s lines) ---\n' "${f##*/}" "$2" >&2
    tail -n "$2" "$f" >&2
  done
}

# end_script STATUS LOG_LINES: the last step of a script's EXIT trap. On
# failure, the tails of $work/*.log; then $work is removed (kept when
# JOBRUNNER_KEEP_WORK=1); exits with STATUS.
end_script() {
  (($1 == 0)) || show_logs "$work" "$2"
  if ((${JOBRUNNER_KEEP_WORK:-0})); then say "kept $work"; else rm -rf -- "$work"; fi
  exit "$1"
}

# on_exit FUNCTION: FUNCTION runs when the script ends, also on SIGINT or
# SIGTERM (which end it with 130 or 143).
on_exit() {
  trap "$1" EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
