#!/usr/bin/env bash
# Install what jobrunner needs on Debian 12: to build it and run its demo, and
# with --tests also what only the test suite uses (real servers: Prometheus,
# PgBouncer, SMTP, a browser), so a newcomer's demo does not wait for Chromium.
# Idempotent: when every package is already installed it prints one line and never
# touches apt, so demo.sh and test.sh can call it on every run at no cost.
set -euo pipefail

with_tests=false
case "${1-}" in
  "") ;;
  --tests) with_tests=true ;;
  -h|--help)
    echo "usage: install-deps.sh [--tests]"
    echo "  installs the Debian 12 packages to build jobrunner and run its demo;"
    echo "  --tests: also those the test suite needs (scripts/test.sh passes it)"
    exit 0 ;;
  *) echo "install-deps: error: unknown argument '$1' (usage: install-deps.sh [--tests])" >&2
     exit 64 ;;
esac

packages=(
  build-essential cmake pkg-config git ca-certificates
  libpqxx-dev libpq-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  # Time zones of cron schedules: Howard Hinnant's date/tz (libdate-tz, which
  # reads the system's tzdata; g++ 12 has no C++20 <chrono> zones).
  libhowardhinnant-date-dev tzdata
  # A daemon's /metrics (--metrics-listen): cpp-httplib, header and library.
  libcpp-httplib-dev
  postgresql-15 postgresql-client-15
  # pg-local.sh needs ps/kill (procps), runuser (util-linux) and useradd (passwd).
  procps util-linux passwd
  # run-webhook-jobs (jobs/webhook/): HTTP(S) through libcurl, built against
  # OpenSSL, whose libcrypto also computes the HMAC-SHA256 signatures
  # (libcurl4-openssl-dev pulls in libssl-dev).
  libcurl4-openssl-dev libssl-dev
)

test_packages=(
  # tests/scripts/60-prometheus.sh and the metrics tests: a real Prometheus
  # server scrapes a daemon; promtool checks every metrics output.
  prometheus
  # tests/scripts: a real PgBouncer, and nft to drop a runner's packets.
  pgbouncer nftables
  # tests/clients/enqueue.py: enqueue from Python, a second language's client;
  # tests/servers/: the loopback servers the job types' tests talk to.
  python3 python3-psycopg2
  # The webhook and mail tests make a test CA with the openssl command.
  openssl
  # run-mail-jobs (jobs/mail/) sends through the same libcurl (smtp, smtps,
  # STARTTLS); its tests run a real SMTP relay on loopback,
  # tests/servers/smtp_receiver.py, on Debian's aiosmtpd (run by
  # /usr/bin/python3, the interpreter that sees Debian's packages).
  python3-aiosmtpd
  # tests/browser/dashboard_test.py: jobctl web tested in a real browser,
  # headless Chromium driven by Selenium through chromedriver.
  chromium chromium-driver python3-selenium
)
if $with_tests; then
  packages+=("${test_packages[@]}")
fi

missing=()
for pkg in "${packages[@]}"; do
  # "install ok installed" is the only state in which the files are really there;
  # half-configured or removed-but-config-kept packages count as missing.
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

echo "install-deps: missing packages: ${missing[*]}"

if ((EUID != 0)); then
  echo "install-deps: error: not running as root, cannot install packages." >&2
  echo "install-deps: run 'sudo $0' or install these packages yourself:" >&2
  echo "  ${missing[*]}" >&2
  exit 1
fi

# Non-interactive so CI (no tty) never blocks on a debconf prompt; no recommends
# keeps a minbase image small. Install the full list so apt resolves them together.
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${packages[@]}"
echo "install-deps: done"
