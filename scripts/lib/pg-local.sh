# shellcheck shell=bash
# Throwaway local PostgreSQL 15 for the demo and the tests (GUIDE.md section 6).
#
# Source this file, then:
#   pg_local_start NAME [TCP_PORT]
#                         # initdb + start in ${JOBRUNNER_PG_ROOT:-/tmp}/jobrunner-pg-NAME,
#                         # exports PGHOST, PGPORT, PGUSER, JOBRUNNER_PG_DIR; with TCP_PORT
#                         # it also listens on 127.0.0.1:TCP_PORT (trust, loopback only)
#   pg_local_ctl ARGS...  # pg_ctl on that cluster as its owner (e.g. "restart -m fast")
#   pg_local_stop         # stop it and delete the directory; safe to call any time
#
# Layout of the data root (0700, owned by the unprivileged server user):
#   data/        the cluster
#   socket/      unix socket directory (no TCP unless a TCP_PORT is given)
#   server.log   server log, initdb.log  initdb output
#
# Functions only, no shell options changed: callers may or may not use set -e, so
# every function checks its own errors and returns non-zero instead of exiting.

JOBRUNNER_PG_BIN=${JOBRUNNER_PG_BIN:-/usr/lib/postgresql/15/bin}
# PostgreSQL refuses to run as root; this system user owns the cluster when we are root.
JOBRUNNER_PG_OS_USER=jobrunner-pg

_pg_local_log() { printf 'pg-local: %s\n' "$*" >&2; }

# Find an sbin tool even when PATH lacks /usr/sbin (common for non-login CI shells).
_pg_local_sbin() {
  command -v "$1" 2>/dev/null || printf '/usr/sbin/%s\n' "$1"
}

# Run a command as USER (root only may switch). cd / first: the server tools
# complain when the caller's cwd (e.g. /root) is unreadable to the target user.
_pg_local_run_as() {
  local user=$1
  shift
  if ((EUID == 0)) && [[ "$user" != root ]]; then
    (cd / && "$(_pg_local_sbin runuser)" -u "$user" -- "$@")
  else
    (cd / && "$@")
  fi
}

# The user the cluster runs as: jobrunner-pg when we are root, else ourselves.
_pg_local_owner() {
  if ((EUID == 0)); then
    printf '%s\n' "$JOBRUNNER_PG_OS_USER"
  else
    id -un
  fi
}

_pg_local_ensure_user() {
  ((EUID == 0)) || return 0
  id -u "$JOBRUNNER_PG_OS_USER" >/dev/null 2>&1 && return 0
  # A concurrent run may create the user between the check and useradd: re-check.
  "$(_pg_local_sbin useradd)" --system --no-create-home --shell /usr/sbin/nologin \
    "$JOBRUNNER_PG_OS_USER" >/dev/null 2>&1 ||
    id -u "$JOBRUNNER_PG_OS_USER" >/dev/null 2>&1 || {
    _pg_local_log "error: could not create system user $JOBRUNNER_PG_OS_USER"
    return 1
  }
}

# Stop whatever server may be running in ROOT/data (ignore errors) and delete ROOT.
# Used both for leftovers of a crashed run and by pg_local_stop.
_pg_local_destroy() {
  local root=$1 mode=${2:-immediate} owner
  [[ -n "$root" && -d "$root" ]] || return 0
  if [[ -f "$root/data/postmaster.pid" ]]; then
    # Stop as the user that owns the cluster, which may differ from this run's
    # owner (e.g. a previous run as another user); only root can switch users.
    owner=$(stat -c %U "$root/data" 2>/dev/null || echo UNKNOWN)
    if [[ "$owner" == UNKNOWN ]] || ! id -u "$owner" >/dev/null 2>&1; then
      owner=$(_pg_local_owner)
    fi
    if ! _pg_local_run_as "$owner" "$JOBRUNNER_PG_BIN/pg_ctl" -D "$root/data" \
      stop -m "$mode" -w >/dev/null 2>&1; then
      if [[ "$mode" != immediate ]]; then
        _pg_local_run_as "$owner" "$JOBRUNNER_PG_BIN/pg_ctl" -D "$root/data" \
          stop -m immediate -w >/dev/null 2>&1 || true
      fi
    fi
  fi
  rm -rf -- "$root" 2>/dev/null || true
  if [[ -e "$root" ]]; then
    _pg_local_log "error: cannot remove $root (owned by $(stat -c %U "$root" 2>/dev/null));" \
      "remove it as root, or set JOBRUNNER_PG_ROOT to another directory"
    return 1
  fi
}

pg_local_start() {
  local name=${1:-} tcp_port=${2:-}
  if [[ ! "$name" =~ ^[A-Za-z0-9_-]+$ ]]; then
    _pg_local_log "usage: pg_local_start NAME [TCP_PORT]   (NAME: letters, digits, _ or -)"
    return 64
  fi
  if [[ -n "$tcp_port" && ! "$tcp_port" =~ ^[0-9]+$ ]]; then
    _pg_local_log "usage: pg_local_start NAME [TCP_PORT]   (TCP_PORT: a number)"
    return 64
  fi
  local parent=${JOBRUNNER_PG_ROOT:-/tmp}
  [[ "$parent" == /* ]] || parent="$PWD/$parent"
  local root="$parent/jobrunner-pg-$name"
  local data="$root/data" sock="$root/socket" port=${tcp_port:-5432} owner
  local listen=''
  [[ -n "$tcp_port" ]] && listen=127.0.0.1
  # The quoted value goes into postgresql.conf; and a unix socket path is limited to
  # 107 bytes (sun_path), including the "/.s.PGSQL.5432" file name.
  if [[ "$root" == *"'"* || "$root" == *\\* ]]; then
    _pg_local_log "error: data root path must not contain quotes or backslashes: $root"
    return 78
  fi
  if ((${#sock} + 15 > 107)); then
    _pg_local_log "error: socket path too long (${#sock} chars): $sock; use a shorter JOBRUNNER_PG_ROOT"
    return 78
  fi
  if [[ ! -x "$JOBRUNNER_PG_BIN/initdb" ]]; then
    _pg_local_log "error: $JOBRUNNER_PG_BIN/initdb not found; run scripts/install-deps.sh"
    return 69
  fi

  _pg_local_destroy "$root" immediate || return 1
  _pg_local_ensure_user || return 1
  owner=$(_pg_local_owner)

  if ! { mkdir -p -- "$parent" && mkdir -m 0700 -- "$root"; }; then
    _pg_local_log "error: cannot create $root"
    return 1
  fi
  if ((EUID == 0)); then
    chown "$owner:" "$root" || return 1
    # The server user needs search permission on every parent directory.
    if ! _pg_local_run_as "$owner" test -w "$root"; then
      _pg_local_log "error: user $owner cannot reach $root (a parent directory is not" \
        "searchable by it); set JOBRUNNER_PG_ROOT to a directory such as /tmp"
      rm -rf -- "$root"
      return 1
    fi
  fi
  # Record the directory now so pg_local_stop cleans up even if a later step fails.
  export JOBRUNNER_PG_DIR=$root

  # C.UTF-8 gives UTF-8 character semantics with byte-order collation (stable
  # tests); fall back to plain C on systems that lack that locale.
  local locale
  for locale in C.UTF-8 C; do
    rm -rf -- "$data"
    if _pg_local_run_as "$owner" "$JOBRUNNER_PG_BIN/initdb" -D "$data" -U jobrunner \
      --auth=trust -E UTF8 --locale="$locale" --no-instructions \
      >"$root/initdb.log" 2>&1; then
      break
    fi
    if [[ "$locale" == C ]]; then
      _pg_local_log "error: initdb failed; output:"
      tail -n 30 "$root/initdb.log" >&2
      return 1
    fi
    _pg_local_log "initdb with --locale=$locale failed, retrying with --locale=C"
  done

  if ! _pg_local_run_as "$owner" mkdir -m 0700 "$sock"; then
    _pg_local_log "error: cannot create socket directory $sock"
    return 1
  fi
  # Appended settings override the defaults earlier in the file. fsync stays on.
  if ! cat >>"$data/postgresql.conf" <<CONF
# --- jobrunner pg-local.sh ---
listen_addresses = '$listen'
unix_socket_directories = '$sock'
port = $port
max_connections = 200
shared_buffers = 128MB
CONF
  then
    _pg_local_log "error: cannot write $data/postgresql.conf"
    return 1
  fi

  if ! _pg_local_run_as "$owner" "$JOBRUNNER_PG_BIN/pg_ctl" -D "$data" -w \
    -l "$root/server.log" start >/dev/null; then
    _pg_local_log "error: PostgreSQL failed to start; tail of $root/server.log:"
    tail -n 30 "$root/server.log" >&2 || true
    return 1
  fi

  export PGHOST=$sock PGPORT=$port PGUSER=jobrunner
  # Nothing from the caller's environment may redirect our clients elsewhere
  # (PGHOSTADDR and PGSERVICE would override PGHOST).
  unset PGDATABASE DATABASE_URL PGPASSWORD PGHOSTADDR PGSERVICE PGOPTIONS

  # libpq's default database is the user name: create it so that a bare
  # "user=jobrunner" DSN (and plain psql) connects.
  if ! "$JOBRUNNER_PG_BIN/createdb" jobrunner; then
    _pg_local_log "error: createdb jobrunner failed; tail of $root/server.log:"
    tail -n 30 "$root/server.log" >&2 || true
    return 1
  fi
  _pg_local_log "PostgreSQL 15 running as $owner, socket $sock, data $data"
}

# pg_ctl on the running cluster as its owner, for tests that restart or kill it.
pg_local_ctl() {
  if [[ -z "${JOBRUNNER_PG_DIR:-}" ]]; then
    _pg_local_log "error: no local PostgreSQL started (JOBRUNNER_PG_DIR unset)"
    return 1
  fi
  _pg_local_run_as "$(_pg_local_owner)" "$JOBRUNNER_PG_BIN/pg_ctl" \
    -D "$JOBRUNNER_PG_DIR/data" -l "$JOBRUNNER_PG_DIR/server.log" "$@"
}

# Always returns 0: it runs from EXIT traps, where a failure (under set -e) would
# replace the script's real exit status.
pg_local_stop() {
  local root=${JOBRUNNER_PG_DIR:-}
  [[ -n "$root" ]] || return 0
  _pg_local_destroy "$root" fast || true
  unset JOBRUNNER_PG_DIR
  return 0
}
