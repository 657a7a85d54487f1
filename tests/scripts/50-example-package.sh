#!/usr/bin/env bash
# End-to-end: a job type that lives outside the tree (examples/bar-job), built
# and run the way docs/implementing-a-job-type.md tells a new user to:
#  0. check that docs/implementing-a-job-type.md shows the example's files
#     as they are;
#  1. install the built jobrunner into a temporary prefix (cmake --install)
#     and check that it has everything a user needs;
#  2. copy examples/bar-job out of the tree, configure and build it against
#     that prefix only (find_package, -Werror), run its own GoogleTest test,
#     and build its runner once more with g++ and pkg-config only;
#  3. install it into the prefix; migrate a fresh database with the INSTALLED
#     jobctl, which finds the installed bar package (and, on a second
#     database, the package named with --migrations-dir alone); db permissions;
#  4. enqueue BarJobs with jobctl enqueue bar --target N and --bar N, and with
#     SELECT jobrunner_enqueue('bar', N) (and jobrunner_enqueue_many) from
#     psql as the enqueuer role; a second pending job for a bar is refused;
#  5. run run-bar-jobs as the runner role, then check in the database that
#     every job is COMPLETED and did its work exactly once (a second run, of
#     the pkg-config build, finds nothing to do); jobctl list and show;
#  6. add a schedule of BarJobs with jobctl and let run-bar-jobs, as the
#     runner role, tick it at a simulated time: its job is enqueued and run.
#
# Run by scripts/test.sh (from the repo root, with PGHOST/PGPORT/PGUSER,
# JOBRUNNER_PG_DIR and JOBRUNNER_BIN_DIR exported; the tree built in
# $JOBRUNNER_BIN_DIR/.., or $JOBRUNNER_BUILD_DIR). By hand:
#   source scripts/lib/pg-local.sh && pg_local_start dev
#   JOBRUNNER_BIN_DIR=$PWD/build/bin bash tests/scripts/50-example-package.sh
#   pg_local_stop
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)

bin=${JOBRUNNER_BIN_DIR:-$repo/build/bin}
build=${JOBRUNNER_BUILD_DIR:-$(dirname "$bin")}
name=50-example-package

# shellcheck source=SCRIPTDIR/lib/script.sh
source "$repo/tests/scripts/lib/script.sh"

[[ -n "${JOBRUNNER_PG_DIR:-}" ]] || fail "JOBRUNNER_PG_DIR is not set: start a server with pg_local_start first"
[[ -n "${PGHOST:-}" ]] || fail "PGHOST is not set: start a server with pg_local_start first"
[[ -f "$build/cmake_install.cmake" ]] || fail "$build is not a configured build tree: build first (scripts/build.sh)"
[[ -x "$bin/jobctl" ]] || fail "$bin/jobctl not found: build first (scripts/build.sh)"
for tool in cmake g++ pkg-config; do
  command -v "$tool" >/dev/null || fail "$tool not found: run scripts/install-deps.sh"
done
# The installed jobctl must find the installed packages, not another data directory.
unset JOBRUNNER_DATA_DIR

db=example_$$
db2=example_dir_$$
work=$(mktemp -d "${TMPDIR:-/tmp}/jobrunner-example.XXXXXX")
prefix=$work/prefix
src=$work/bar-job
bar_build=$work/bar-build

cleanup() {
  local status=$?
  trap - EXIT
  local d
  for d in "$db" "$db2"; do
    dropdb --if-exists --force "$d" >/dev/null 2>&1 || say "warning: could not drop database $d"
  done
  end_script "$status" 40
}
on_exit cleanup

started_at=$SECONDS

# ---- 0. the guide shows the example's files as they are -----------------------
guide=$repo/docs/implementing-a-job-type.md
example_files=(CMakeLists.txt migrations/0001-bar.sql security.cfg src/bar_job.hpp src/bar_job.cpp
  src/main.cpp tests/bar_job_test.cpp)
for f in "${example_files[@]}"; do
  # The fenced block after the line `examples/bar-job/FILE`:
  awk -v want="\`examples/bar-job/$f\`:" '
    $0 == want { state = 1; next }
    state == 1 && /^```/ { state = 2; next }
    state == 2 && /^```$/ { exit }
    state == 2 { print }' "$guide" >"$work/guide-block"
  diff -u "$repo/examples/bar-job/$f" "$work/guide-block" >"$work/guide-diff.log" ||
    fail "docs/implementing-a-job-type.md does not show examples/bar-job/$f as it is (diff in guide-diff.log)"
done
rm "$work/guide-diff.log"
say "docs/implementing-a-job-type.md shows the example's ${#example_files[@]} files as they are"

# ---- 1. install jobrunner into a temporary prefix ----------------------------
cmake --install "$build" --prefix "$prefix" >"$work/install.log" 2>&1 ||
  fail "cmake --install $build failed: $(tail -n 5 "$work/install.log")"
for f in bin/jobctl \
  include/jobrunner/runtime/runnable_job.hpp include/jobrunner/app/runner_main.hpp \
  include/jobrunner/version.hpp \
  lib/cmake/jobrunner/jobrunnerConfig.cmake lib/cmake/jobrunner/jobrunnerConfigVersion.cmake \
  lib/cmake/jobrunner/jobrunnerTargets.cmake lib/cmake/jobrunner/JobrunnerPackage.cmake \
  lib/pkgconfig/jobrunner.pc share/jobrunner/sql/security.cfg; do
  [[ -f "$prefix/$f" ]] || fail "cmake --install did not install $f"
done
for layer in core pg runtime app; do
  compgen -G "$prefix/lib/libjobrunner_$layer.*" >/dev/null ||
    fail "cmake --install did not install the library jobrunner_$layer"
done
grep -qxF "prefix=$prefix" "$prefix/lib/pkgconfig/jobrunner.pc" ||
  fail "jobrunner.pc does not name the install prefix: $(grep '^prefix=' "$prefix/lib/pkgconfig/jobrunner.pc")"
installed_files=$(find "$prefix" -type f | wc -l)
say "installed jobrunner into a temporary prefix ($installed_files files)"

# ---- 2. build the example outside the tree, against the prefix only -----------
cp -R "$repo/examples/bar-job" "$src"
cmake -S "$src" -B "$bar_build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_INSTALL_PREFIX="$prefix" \
  -DCMAKE_COMPILE_WARNING_AS_ERROR=ON >"$work/configure.log" 2>&1 ||
  fail "configuring bar-job failed: $(tail -n 10 "$work/configure.log")"
found=$(sed -n 's/^jobrunner_DIR:PATH=//p' "$bar_build/CMakeCache.txt")
[[ "$found" == "$prefix/lib/cmake/jobrunner" ]] ||
  fail "find_package(jobrunner) found '$found', not the temporary prefix"
cmake --build "$bar_build" -j2 >"$work/build.log" 2>&1 ||
  fail "building bar-job failed: $(grep -m 5 -E 'error|warning' "$work/build.log")"
# Nothing of the build refers to jobrunner's tree: only the prefix.
if grep -rqsF --include='*.make' --include='*.txt' --include='*.cmake' -- "$repo" "$bar_build"; then
  fail "the bar-job build refers to jobrunner's tree: $(grep -rlsF --include='*.make' --include='*.txt' --include='*.cmake' -- "$repo" "$bar_build" | head -n 3)"
fi
BAR_TEST_DSN="host=$PGHOST port=$PGPORT user=$PGUSER" \
  ctest --test-dir "$bar_build" --output-on-failure -j2 >"$work/ctest.log" 2>&1 ||
  fail "bar-job's own test failed: $(grep -E 'Failed|tests passed' "$work/ctest.log" | head -n 5)"
test_summary=$(grep -m 1 'tests passed' "$work/ctest.log")
# Six test cases; none skipped.
[[ "$test_summary" == "100% tests passed, 0 tests failed out of 7" ]] ||
  fail "bar-job's test: expected 7 tests to pass, got: $test_summary"
say "built bar-job against the prefix (-Werror); its test: $test_summary"

# The same runner, built without CMake.
# shellcheck disable=SC2046 # pkg-config's output is a list of words
PKG_CONFIG_PATH=$prefix/lib/pkgconfig g++ -std=c++20 -Wall -Wextra -Wno-missing-field-initializers -Werror \
  -o "$work/run-bar-jobs-pc" "$src/src/main.cpp" "$src/src/bar_job.cpp" \
  $(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs jobrunner) \
  >"$work/pkg-config-build.log" 2>&1 ||
  fail "g++ \$(pkg-config --cflags --libs jobrunner) failed: $(head -n 5 "$work/pkg-config-build.log")"
"$work/run-bar-jobs-pc" --help >"$work/help.out" 2>"$work/help.log" ||
  fail "the pkg-config build of run-bar-jobs failed to run --help"
say "built run-bar-jobs with g++ \$(pkg-config --cflags --libs jobrunner)"

# ---- 3. install it; migrate with the installed jobctl ----------------------------
cmake --install "$bar_build" >"$work/bar-install.log" 2>&1 ||
  fail "cmake --install of bar-job failed: $(tail -n 5 "$work/bar-install.log")"
for f in bin/run-bar-jobs share/jobrunner/migrations/bar/0001-bar.sql share/jobrunner/security.d/bar.cfg; do
  [[ -f "$prefix/$f" ]] || fail "bar-job's install did not install $f"
done
jobctl=$prefix/bin/jobctl

createdb "$db" || fail "createdb $db failed"
"$jobctl" --db "dbname=$db" db status >"$work/status-before.out" 2>"$work/status-before.log" ||
  fail "jobctl db status failed: $(tail -n 3 "$work/status-before.log")"
grep -q 'bar/0001-bar.sql.* pending' "$work/status-before.out" ||
  fail "the installed jobctl does not list the installed package's patch as pending: $(cat "$work/status-before.out")"
"$jobctl" --db "dbname=$db" db upgrade >"$work/upgrade.out" 2>"$work/upgrade.log" ||
  fail "jobctl db upgrade failed: $(tail -n 5 "$work/upgrade.log")"
grep -q 'applied schema patch bar/0001-bar.sql' "$work/upgrade.log" ||
  fail "jobctl db upgrade did not apply bar/0001-bar.sql: $(tail -n 5 "$work/upgrade.log")"
"$jobctl" --db "dbname=$db" db status >"$work/status.out" 2>"$work/status.log" ||
  fail "jobctl db status failed after the upgrade"
! grep -qE ' (pending|CHANGED) ' "$work/status.out" ||
  fail "patches are still pending after the upgrade: $(grep -E ' (pending|CHANGED) ' "$work/status.out")"
[[ "$(q "SELECT package FROM job_type WHERE name = 'bar'")" == bar ]] ||
  fail "the migration did not register job type bar for package bar"
"$jobctl" --db "dbname=$db" db permissions >"$work/permissions.out" 2>"$work/permissions.log" ||
  fail "jobctl db permissions failed: $(tail -n 5 "$work/permissions.log")"
[[ "$(q "SELECT count(*) FROM information_schema.role_table_grants
         WHERE grantee = 'jobrunner_bar_runner' AND table_name = 'bar_polish' AND privilege_type = 'INSERT'")" == 1 ]] ||
  fail "jobctl db permissions did not apply the installed security.d/bar.cfg"
say "installed jobctl: db upgrade applied bar/0001-bar.sql, db permissions the roles of bar.cfg"

# The package named with --migrations-dir alone (nothing installed to find).
mkdir "$work/no-packages"
createdb "$db2" || fail "createdb $db2 failed"
JOBRUNNER_DATA_DIR=$work/no-packages "$jobctl" --db "dbname=$db2" db upgrade \
  --migrations-dir "$bar_build/jobrunner-package/bar" >"$work/upgrade-dir.out" 2>"$work/upgrade-dir.log" ||
  fail "jobctl db upgrade --migrations-dir failed: $(tail -n 5 "$work/upgrade-dir.log")"
grep -q 'applied schema patch bar/0001-bar.sql' "$work/upgrade-dir.log" ||
  fail "jobctl db upgrade --migrations-dir did not apply bar/0001-bar.sql"
[[ "$(db=$db2 q "SELECT count(*) FROM job_type WHERE name = 'bar' AND package = 'bar'")" == 1 ]] ||
  fail "--migrations-dir: job type bar is not registered for package bar"
dropdb --force "$db2"
say "--migrations-dir $(basename "$bar_build")/jobrunner-package/bar: the same patch, without the install"

# ---- 4. enqueue ---------------------------------------------------------------------
mapfile -t bars < <(q "INSERT INTO bar (name) SELECT 'bar ' || i FROM generate_series(1, 6) AS i RETURNING id")
((${#bars[@]} == 6)) || fail "expected 6 bar rows, got ${#bars[@]}"
enqueue() { "$jobctl" --db "dbname=$db" enqueue bar "$@" 2>>"$work/enqueue.log"; }
job_a=$(enqueue --target "${bars[0]}" --json '{"coats": 2}') || fail "jobctl enqueue bar --target failed"
job_b=$(enqueue --bar "${bars[1]}") || fail "jobctl enqueue bar --bar failed"
job_c=$(enqueue --bar "${bars[2]}" --json '{"coats": 3}') || fail "jobctl enqueue bar --bar --json failed"
duplicate=0
enqueue --bar "${bars[1]}" >/dev/null || duplicate=$?
((duplicate == 65)) || fail "a second pending BarJob for bar ${bars[1]}: expected exit 65, got $duplicate"
# From SQL, as an application connects: the enqueuer role of bar.cfg.
as_enqueuer() { psql -X -q -At -v ON_ERROR_STOP=1 -U jobrunner_bar_enqueuer -d "$db" -c "$1"; }
job_d=$(as_enqueuer "SELECT jobrunner_enqueue('bar', ${bars[3]})" 2>>"$work/enqueue.log") ||
  fail "SELECT jobrunner_enqueue('bar', ${bars[3]}) as jobrunner_bar_enqueuer failed"
job_e=$(as_enqueuer "SELECT jobrunner_enqueue('bar', ${bars[4]}, '{\"coats\": 4}')" 2>>"$work/enqueue.log") ||
  fail "SELECT jobrunner_enqueue('bar', ${bars[4]}, ...) as jobrunner_bar_enqueuer failed"
job_f=$(as_enqueuer "SELECT (jobrunner_enqueue_many('bar', '[{\"target\": ${bars[5]}, \"metadata\": {\"coats\": 5}}]'))[1]" 2>>"$work/enqueue.log") ||
  fail "SELECT jobrunner_enqueue_many('bar', ...) as jobrunner_bar_enqueuer failed"
[[ "$job_d $job_e $job_f" =~ ^[0-9]+\ [0-9]+\ [0-9]+$ ]] || fail "the enqueue functions returned '$job_d', '$job_e', '$job_f'"
if as_enqueuer "SELECT jobrunner_enqueue('bar', ${bars[3]})" >/dev/null 2>"$work/duplicate-sql.err"; then
  fail "SELECT jobrunner_enqueue('bar', ${bars[3]}) a second time was not refused"
fi
grep -q "already pending (job $job_d)" "$work/duplicate-sql.err" ||
  fail "a second pending BarJob from SQL: expected 'already pending (job $job_d)', got: $(cat "$work/duplicate-sql.err")"
enqueued=6
say "enqueued BarJobs $job_a, $job_b, $job_c with jobctl (--target, --bar; a second one for a bar exits 65), $job_d, $job_e, $job_f with jobrunner_enqueue() and jobrunner_enqueue_many() as jobrunner_bar_enqueuer (a second one: refused)"
[[ "$(q "SELECT count(*) FROM job WHERE job_type = 'bar' AND status = 0")" == "$enqueued" ]] ||
  fail "expected $enqueued WAITING BarJobs"

# ---- 5. run, check, inspect ------------------------------------------------------------
"$prefix/bin/run-bar-jobs" --db "dbname=$db user=jobrunner_bar_runner" >"$work/run.out" 2>"$work/run.log" ||
  fail "run-bar-jobs exited $? (as jobrunner_bar_runner)"
grep -q "Ran $enqueued BarJobs" "$work/run.log" ||
  fail "run-bar-jobs did not log 'Ran $enqueued BarJobs': $(tail -n 3 "$work/run.log")"
# Every job COMPLETED once, its polish recorded once with its coats, and
# the bar's count equal to them.
check_work() {
  [[ "$(q "SELECT count(*) FROM job WHERE job_type = 'bar' AND (status <> 2 OR attempt_count <> 1)")" == 0 ]] ||
    fail "$1: BarJobs not COMPLETED on their first attempt: $(q "SELECT string_agg(id || ':' || status || '/' || attempt_count, ' ') FROM job WHERE status <> 2 OR attempt_count <> 1")"
  [[ "$(q "SELECT count(*) FROM barjob AS b
           JOIN bar_polish AS p ON p.job = b.job AND p.bar = b.bar
           JOIN bar ON bar.id = b.bar
           WHERE p.coats = coalesce((b.json_data->>'coats')::int, 1) AND bar.polish_count = p.coats")" == "$enqueued" ]] ||
    fail "$1: not every BarJob polished its bar exactly once"
  [[ "$(q "SELECT count(*) FROM bar_polish")" == "$enqueued" ]] || fail "$1: bar_polish has extra rows"
  [[ "$(q "SELECT count(*) FROM bar WHERE polish_count > 0")" == "$enqueued" ]] ||
    fail "$1: a bar without a job was polished"
  [[ "$(q "SELECT count(*) FROM error_report")" == 0 ]] || fail "$1: error reports were filed"
}
check_work "after run-bar-jobs"
"$work/run-bar-jobs-pc" --db "dbname=$db user=jobrunner_bar_runner" >"$work/run2.out" 2>"$work/run2.log" ||
  fail "the second run (pkg-config build) exited $?"
grep -q "Ran 0 BarJobs" "$work/run2.log" ||
  fail "the second run did not log 'Ran 0 BarJobs': $(tail -n 3 "$work/run2.log")"
check_work "after a second run"
say "run-bar-jobs (as jobrunner_bar_runner): $enqueued BarJobs COMPLETED, each bar polished once; a second run did nothing"

"$jobctl" --db "dbname=$db" list --type bar >"$work/list.out" 2>"$work/list.log" || fail "jobctl list --type bar failed"
listed=$(grep -c 'COMPLETED' "$work/list.out" || true)
((listed == enqueued)) || fail "jobctl list --type bar shows $listed COMPLETED jobs, expected $enqueued"
"$jobctl" --db "dbname=$db" show "$job_a" >"$work/show.out" 2>"$work/show.log" || fail "jobctl show $job_a failed"
grep -q 'COMPLETED' "$work/show.out" || fail "jobctl show $job_a does not say COMPLETED"
grep -q '"coats": *2' "$work/show.out" || fail "jobctl show $job_a does not show the job's metadata"
say "jobctl list --type bar: $listed COMPLETED; jobctl show $job_a: COMPLETED, metadata {\"coats\": 2}"

# ---- 6. a schedule, ticked by run-bar-jobs as its runner role ------------------------
at() { JOBRUNNER_TEST_NOW=$1 JOBRUNNER_ALLOW_TEST_CLOCK=1 "${@:2}"; }
bar_s=$(q "INSERT INTO bar (name) VALUES ('scheduled bar') RETURNING id")
at 2026-01-05T09:30:00Z "$jobctl" --db "dbname=$db" schedule add polish-hourly --type bar \
  --target "$bar_s" --cron '@hourly' >"$work/schedule.out" 2>"$work/schedule.log" ||
  fail "jobctl schedule add failed: $(tail -n 3 "$work/schedule.log")"
at 2026-01-05T10:00:05Z "$prefix/bin/run-bar-jobs" --db "dbname=$db user=jobrunner_bar_runner" \
  >"$work/run3.out" 2>"$work/run3.log" || fail "run-bar-jobs (ticking its schedule) exited $?"
grep -q "schedule 'polish-hourly' 2026-01-05T10:00:00Z: enqueued bar job" "$work/run3.log" ||
  fail "run-bar-jobs did not enqueue the 10:00 occurrence: $(tail -n 5 "$work/run3.log")"
grep -q "Ran 1 BarJobs" "$work/run3.log" ||
  fail "run-bar-jobs did not run the scheduled BarJob: $(tail -n 3 "$work/run3.log")"
enqueued=$((enqueued + 1))
check_work "after the scheduled run"
say "jobctl schedule add polish-hourly; run-bar-jobs (as jobrunner_bar_runner, test clock 10:00:05) enqueued its 10:00 BarJob and ran it"

say "PASS: installed prefix, bar-job built (CMake and pkg-config), its test, installed jobctl, $enqueued BarJobs (one scheduled) run once each, in $((SECONDS - started_at))s"
