#!/usr/bin/env bash
# Measure jobrunner on this machine (docs/performance.md): install what is
# missing, build jobrunner-bench, run-noop-jobs and run-foo-jobs into
# <repo>/build-bench, start a throwaway PostgreSQL 15 under
# /tmp/jobrunner-pg-bench, run the bench against it, and write every figure
# as JSON. The server is stopped and removed when the script ends.
#
# Usage: scripts/bench.sh [--json FILE] [jobrunner-bench options]
#   --json FILE   where the figures go (default: ./bench-results.json)
#   anything else goes to jobrunner-bench, e.g. --quick, --only a,c, --jobs N
#
# Exit status: jobrunner-bench's: 0 when every measurement was made (even if
# a target was missed), 1 when one could not be made; or the failing step's.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
build="$repo/build-bench"
json="$PWD/bench-results.json"
bench_args=()
while (($# > 0)); do
  case "$1" in
    --json)
      if (($# < 2)); then
        echo "bench.sh: --json needs a FILE" >&2
        exit 64
      fi
      json=$2
      shift 2
      ;;
    --json=*)
      json=${1#--json=}
      shift
      ;;
    -h | --help)
      # The comment block at the top of this file.
      awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
      echo "jobrunner-bench's own options: $build/bin/jobrunner-bench --help (once built)"
      exit 0
      ;;
    *)
      bench_args+=("$1")
      shift
      ;;
  esac
done
# The bench runs with another working directory in mind: make the path absolute.
[[ "$json" == /* ]] || json="$PWD/$json"

echo "==== install-deps ===="
bash "$repo/scripts/install-deps.sh"

echo "==== build ===="
# Only the executables the bench needs, without the test suite.
cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DJOBRUNNER_WERROR=ON \
  -DJOBRUNNER_BUILD_TESTS=OFF
cmake --build "$build" -j"$(nproc)" --target jobrunner-bench run-noop-jobs run-foo-jobs

echo "==== PostgreSQL ===="
# shellcheck source=SCRIPTDIR/lib/pg-local.sh
source "$repo/scripts/lib/pg-local.sh"
trap pg_local_stop EXIT
pg_local_start bench

echo "==== jobrunner-bench ===="
# The bench creates and drops its own database (jobrunner_bench) on this server.
rm -f -- "$json"
status=0
"$build/bin/jobrunner-bench" --db "host=$PGHOST port=$PGPORT user=jobrunner" \
  --json "$json" "${bench_args[@]}" || status=$?
if [[ -f "$json" ]]; then
  echo "bench.sh: figures written to $json"
fi
exit "$status"
