#!/usr/bin/env bash
# Remakes the dashboard's pictures, docs/images/dashboard-overview.png and
# docs/images/dashboard-job.png (README.md, docs/dashboard.md): builds jobctl,
# starts a throwaway PostgreSQL 15, and runs the browser test
# (tests/browser/dashboard_test.py, headless Chromium) with --screenshots,
# which saves them from its seeded database. Everything it starts it stops.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
bash "$repo/scripts/install-deps.sh" --tests
bash "$repo/scripts/build.sh" jobctl

# shellcheck source=SCRIPTDIR/lib/pg-local.sh
source "$repo/scripts/lib/pg-local.sh"
trap pg_local_stop EXIT
pg_local_start screenshots
export JOBRUNNER_TEST_DSN="host=$PGHOST port=$PGPORT user=jobrunner"
export JOBRUNNER_BIN_DIR="$repo/build/bin"
/usr/bin/python3 "$repo/tests/browser/dashboard_test.py" --screenshots "$repo/docs/images"
echo "screenshots: wrote docs/images/dashboard-overview.png and docs/images/dashboard-job.png"
