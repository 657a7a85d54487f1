#!/usr/bin/env bash
# Build with -Werror and run every test against a throwaway PostgreSQL 15: the ctest
# suite, then the end-to-end scripts in tests/scripts/. This is what CI runs (.ci/run).
# Needs no terminal; runs all suites even after a failure, then reports them all.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)

echo "==== install-deps ===="
bash "$repo/scripts/install-deps.sh" --tests

echo "==== build ===="
bash "$repo/scripts/build.sh"

echo "==== PostgreSQL ===="
# shellcheck source=SCRIPTDIR/lib/pg-local.sh
source "$repo/scripts/lib/pg-local.sh"
trap pg_local_stop EXIT
pg_local_start test
# No dbname: tests create their own databases; "jobrunner" exists as the default.
export JOBRUNNER_TEST_DSN="host=$PGHOST port=$PGPORT user=jobrunner"
export JOBRUNNER_BIN_DIR="$repo/build/bin"

failed=()

echo "==== ctest ===="
ctest_status=ok
if ! ctest --test-dir "$repo/build" --output-on-failure -j2 --timeout 300; then
  ctest_status=FAILED
  failed+=(ctest)
fi

scripts_total=0
scripts_passed=0
# Sort with LC_ALL=C so the order is the same on every machine, whatever its locale.
scripts=()
if [[ -d "$repo/tests/scripts" ]]; then
  mapfile -t scripts < <(find "$repo/tests/scripts" -maxdepth 1 -type f -name '*.sh' | LC_ALL=C sort)
fi
for script in "${scripts[@]}"; do
  scripts_total=$((scripts_total + 1))
  echo "==== ${script#"$repo/"} ===="
  # Subshell from the repo root: a script's cd or set cannot affect the next one.
  if (cd "$repo" && bash "$script"); then
    scripts_passed=$((scripts_passed + 1))
  else
    echo "FAILED: ${script#"$repo/"}"
    failed+=("${script#"$repo/"}")
  fi
done

echo "==== summary ===="
echo "test.sh: ctest $ctest_status; tests/scripts $scripts_passed/$scripts_total passed"
if ((${#failed[@]} > 0)); then
  echo "test.sh: FAILED: ${failed[*]}"
  exit 1
fi
echo "test.sh: all tests passed"
