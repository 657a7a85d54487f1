#!/usr/bin/env bash
# Configure and build jobrunner into <repo>/build with warnings as errors:
# everything, or only the targets named (scripts/build.sh jobctl run-foo-jobs).
# Executed: runs under set -euo pipefail. Sourced (e.g. from demo.sh/test.sh or an
# interactive shell): builds too, but leaves the caller's shell options alone and
# returns the status instead of exiting.

jobrunner_build() {
  # Locate the repo from this file, not from $PWD, so any cwd works.
  local repo
  repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P) || return 1
  local targets=()
  (($# == 0)) || targets=(--target "$@")
  cmake -S "$repo" -B "$repo/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DJOBRUNNER_WERROR=ON &&
    cmake --build "$repo/build" -j"$(nproc)" "${targets[@]}"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  jobrunner_build "$@"
else
  jobrunner_build
fi
