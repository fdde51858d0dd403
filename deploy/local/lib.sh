# shellcheck shell=bash
#
# Shared helpers for deploy/local/up.sh, deploy/local/down.sh and tests/run.sh.
#
# Source it from bash; it sets no shell options of its own (callers use
# `set -euo pipefail`) and every function is safe under them. Functions report
# progress on stderr with a "[tierwise]" prefix and stop the calling script
# through tw_die on errors a user has to fix.
#
# Assumes a Debian 12 machine (apt, postgresql-15, redis-server). When run as
# root, PostgreSQL runs as the `postgres` system user (initdb refuses root).

# Globals below are used by the scripts that source this file.
# Repository root, whatever the caller's working directory.
TW_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
# State of the local deployment (git-ignored).
# shellcheck disable=SC2034
TW_STATE_DIR="${TW_REPO_ROOT}/.tierwise"
# Services in start order, as <name>:<default port>. Binaries that are not built
# yet are skipped, so adding a service is a one-word change here.
# shellcheck disable=SC2034
TW_SERVICES="profile:50051 interaction:50052 credit:50053 classification:50054"

# Debian packages needed to build, test and run Tierwise locally.
# (make: cmake only recommends it, and recommends are not installed.)
TW_PACKAGES=(
  cmake make g++ pkg-config ccache libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev
  protobuf-compiler libabsl-dev libhiredis-dev libpqxx-dev libspdlog-dev libgtest-dev
  libgmock-dev libbenchmark-dev grpc-proto libssl-dev
  postgresql-15 redis-server redis-tools openssl python3 tzdata
)

tw_log() { printf '[tierwise] %s\n' "$*" >&2; }
tw_warn() { printf '[tierwise] WARNING: %s\n' "$*" >&2; }
tw_die() {
  printf '[tierwise] ERROR: %s\n' "$*" >&2
  exit 1
}

tw_is_root() { [ "$(id -u)" -eq 0 ]; }

# tw_usage <script>: prints the comment block at the top of <script> (its --help text).
tw_usage() {
  awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$1"
}

# Runs a command as root: directly, or through sudo (non-interactive without a terminal).
tw_as_root() {
  if tw_is_root; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    if [ -t 0 ]; then sudo "$@"; else sudo -n "$@"; fi
  else
    tw_die "need root to run '$*' (not root and no sudo); install the packages by hand"
  fi
}

# Build directory: $TIERWISE_BUILD_DIR (relative paths are taken from the repo root) or build/.
tw_build_dir() {
  local dir="${TIERWISE_BUILD_DIR:-build}"
  case "$dir" in
    /*) printf '%s\n' "$dir" ;;
    *) printf '%s\n' "${TW_REPO_ROOT}/${dir}" ;;
  esac
}

# tw_install_deps: installs the Debian packages that are missing (apt-get update once).
tw_install_deps() {
  if ! command -v dpkg-query >/dev/null 2>&1; then
    tw_warn "not a Debian system (no dpkg-query); make sure these are installed:" \
      "${TW_PACKAGES[*]}"
    return 0
  fi
  local pkg missing=()
  for pkg in "${TW_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$pkg")
    fi
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    return 0
  fi
  tw_log "installing missing packages: ${missing[*]}"
  tw_as_root env DEBIAN_FRONTEND=noninteractive apt-get update </dev/null
  tw_as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}" </dev/null
}

# tw_build <build_dir>: configures (first time only) and builds the whole tree.
tw_build() {
  local build_dir="$1"
  if [ ! -f "${build_dir}/CMakeCache.txt" ]; then
    tw_log "configuring ${build_dir}"
    cmake -S "$TW_REPO_ROOT" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo
  fi
  tw_log "building ${build_dir}"
  # ccache keyed on paths relative to the checkout: a second clone (CI's clean one) reuses the
  # objects the first one compiled instead of rebuilding everything.
  CCACHE_BASEDIR="$TW_REPO_ROOT" CCACHE_NOHASHDIR=true cmake --build "$build_dir" -j2
}

# tw_port_in_use <port>: true when something accepts TCP connections on 127.0.0.1:<port>.
tw_port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# tw_free_port: prints a TCP port that is free on 127.0.0.1 right now.
tw_free_port() {
  if command -v python3 >/dev/null 2>&1; then
    if python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()' 2>/dev/null; then
      return 0
    fi
  fi
  local port
  for _ in $(seq 1 200); do
    port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    if ! tw_port_in_use "$port"; then
      printf '%s\n' "$port"
      return 0
    fi
  done
  tw_die "could not find a free TCP port on 127.0.0.1"
}

# tw_pid_running <pid>: the process exists and is not a zombie.
tw_pid_running() {
  local pid="$1" state=""
  case "$pid" in '' | *[!0-9]*) return 1 ;; esac
  kill -0 "$pid" 2>/dev/null || return 1
  if [ -r "/proc/${pid}/stat" ]; then
    state="$(sed -n 's/^.*) \(.\).*$/\1/p' "/proc/${pid}/stat" 2>/dev/null || true)"
  fi
  [ "$state" != "Z" ]
}

# tw_pidfile_pid <pidfile> <pattern>: prints the pid recorded in <pidfile> when that process
# runs and its command line contains <pattern> (guards against recycled pids).
tw_pidfile_pid() {
  local pidfile="$1" pattern="$2" pid
  [ -s "$pidfile" ] || return 1
  pid="$(head -n 1 "$pidfile" | tr -d '[:space:]')"
  tw_pid_running "$pid" || return 1
  if [ -r "/proc/${pid}/cmdline" ]; then
    tr '\0' ' ' <"/proc/${pid}/cmdline" | grep -qF -- "$pattern" || return 1
  fi
  printf '%s\n' "$pid"
}

# tw_wait_exit <pid> <seconds>: waits for <pid> to exit; false on timeout.
tw_wait_exit() {
  local pid="$1" tenths=$(($2 * 10))
  while tw_pid_running "$pid"; do
    [ "$tenths" -gt 0 ] || return 1
    tenths=$((tenths - 1))
    sleep 0.1
  done
}

# tw_stop_pidfile <pidfile> <pattern> <seconds>: SIGTERM, wait up to <seconds>, then SIGKILL.
# Removes the pid file. Quiet and successful when nothing runs.
tw_stop_pidfile() {
  local pidfile="$1" pattern="$2" seconds="$3" pid
  if pid="$(tw_pidfile_pid "$pidfile" "$pattern")"; then
    tw_log "stopping ${pattern} (pid ${pid})"
    kill -TERM "$pid" 2>/dev/null || true
    if ! tw_wait_exit "$pid" "$seconds"; then
      tw_warn "${pattern} (pid ${pid}) still running after ${seconds}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      tw_wait_exit "$pid" 5 || tw_warn "${pattern} (pid ${pid}) did not exit"
    fi
  fi
  rm -f "$pidfile"
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL

# tw_pg_bindir [datadir]: directory of initdb/pg_ctl/psql. $TIERWISE_PG_BINDIR wins; then the
# Debian directory matching an existing cluster's version; then pg_ctl on PATH; then the newest
# /usr/lib/postgresql/<version>/bin.
tw_pg_bindir() {
  local datadir="${1:-}" version dir
  if [ -n "${TIERWISE_PG_BINDIR:-}" ]; then
    printf '%s\n' "$TIERWISE_PG_BINDIR"
    return 0
  fi
  if [ -n "$datadir" ] && [ -r "${datadir}/PG_VERSION" ]; then
    version="$(cat "${datadir}/PG_VERSION")"
    if [ -x "/usr/lib/postgresql/${version}/bin/pg_ctl" ]; then
      printf '%s\n' "/usr/lib/postgresql/${version}/bin"
      return 0
    fi
  fi
  if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
    # Resolve symlinks: psql is looked up next to the real pg_ctl.
    dirname "$(readlink -f "$(command -v pg_ctl)")"
    return 0
  fi
  dir="$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/pg_ctl' 2>/dev/null |
    sort -V | tail -n 1)"
  if [ -n "$dir" ]; then
    dirname "$dir"
    return 0
  fi
  tw_die "PostgreSQL server binaries not found: install postgresql-15 or set TIERWISE_PG_BINDIR"
}

# Runs a PostgreSQL server command as `postgres` when we are root, else as ourselves. The working
# directory is / so that tools do not complain about an unreadable current directory.
tw_as_pg() {
  if tw_is_root; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

# tw_pg_check_traversal <path>: as root, makes sure the `postgres` user can reach <path>, i.e.
# traverse every directory above it. Directories inside the repository get o+x; for any other
# directory we stop with the command that fixes it.
tw_pg_check_traversal() {
  local path="$1" dir
  tw_is_root || return 0
  dir="$(dirname "$path")"
  local dirs=()
  while :; do
    dirs=("$dir" "${dirs[@]}")
    [ "$dir" != "/" ] || break
    dir="$(dirname "$dir")"
  done
  for dir in "${dirs[@]}"; do
    if runuser -u postgres -- test -x "$dir" 2>/dev/null; then
      continue
    fi
    case "$dir/" in
      "${TW_REPO_ROOT}/"*)
        tw_log "chmod o+x ${dir} (PostgreSQL runs as the postgres user and must traverse it)"
        chmod o+x "$dir"
        ;;
      *)
        tw_die "PostgreSQL runs as the 'postgres' user, which cannot enter ${dir}
  ($(stat -c '%A %U:%G' "$dir")). Fix it with:  chmod o+x ${dir}
  or put the repository (or TMPDIR for tests) under a directory postgres can traverse,
  or run this script as a normal user."
        ;;
    esac
  done
}

# tw_pg_uri <port>: connection URI of the `tierwise` database of a local instance.
tw_pg_uri() { printf 'postgresql://postgres@127.0.0.1:%s/tierwise\n' "$1"; }

# tw_pg_running <datadir>: a postmaster serves <datadir>.
tw_pg_running() {
  local datadir="$1"
  [ -f "${datadir}/postmaster.pid" ] || return 1
  tw_as_pg "$(tw_pg_bindir "$datadir")/pg_ctl" -D "$datadir" status >/dev/null 2>&1
}

# tw_pg_start <datadir> <port> [logfile]: starts (creating the cluster when <datadir> is empty)
# a PostgreSQL listening on 127.0.0.1:<port> only, trust authentication, superuser `postgres`,
# and creates database `tierwise`. Keeps an instance that already serves <datadir> on <port>;
# restarts one that runs on another port. Log: [logfile] or <parent of datadir>/postgresql.log.
# Set TW_PG_FAST=1 for throw-away test instances (no fsync).
tw_pg_start() {
  local datadir="$1" port="$2" logfile="${3:-}" bindir sockdir locale opts running_port
  mkdir -p "$datadir"
  datadir="$(cd "$datadir" && pwd -P)"
  [ -n "$logfile" ] || logfile="$(dirname "$datadir")/postgresql.log"
  mkdir -p "$(dirname "$logfile")"
  touch "$logfile"
  bindir="$(tw_pg_bindir "$datadir")"

  if tw_is_root; then
    id -u postgres >/dev/null 2>&1 ||
      tw_die "running as root but there is no 'postgres' user (is postgresql-15 installed?)"
    if [ "$(stat -c %U "$datadir")" != "postgres" ]; then
      chown -R postgres:postgres "$datadir"
    fi
    chown postgres:postgres "$logfile"
    tw_pg_check_traversal "$datadir"
    tw_pg_check_traversal "$logfile"
  fi
  chmod 700 "$datadir"

  if tw_pg_running "$datadir"; then
    running_port="$(sed -n 4p "${datadir}/postmaster.pid" 2>/dev/null | tr -d '[:space:]')"
    if [ "$running_port" = "$port" ]; then
      tw_log "PostgreSQL already running on 127.0.0.1:${port}"
      tw_pg_create_db "$bindir" "$port"
      return 0
    fi
    tw_log "PostgreSQL runs on port ${running_port}, restarting it on ${port}"
    tw_pg_stop "$datadir"
  fi

  if [ ! -s "${datadir}/PG_VERSION" ]; then
    if [ -n "$(ls -A "$datadir")" ]; then
      tw_die "${datadir} is neither empty nor a PostgreSQL data directory"
    fi
    locale=C
    if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then
      locale=C.UTF-8
    fi
    tw_log "initdb ${datadir}"
    if ! tw_as_pg "${bindir}/initdb" -D "$datadir" --auth=trust -U postgres --encoding=UTF8 \
      --locale="$locale" >>"$logfile" 2>&1; then
      tail -n 20 "$logfile" >&2
      tw_die "initdb failed (log: ${logfile})"
    fi
  fi

  if tw_port_in_use "$port"; then
    tw_die "port ${port} on 127.0.0.1 is already in use; stop what listens there or choose another port"
  fi

  # Unix socket next to the data when the path is short and plain (sockets have a ~107-byte
  # limit); otherwise TCP only.
  sockdir="$datadir"
  if [ "${#datadir}" -gt 80 ] || [[ "$datadir" =~ [^A-Za-z0-9_./-] ]]; then
    sockdir=""
  fi
  opts="-c listen_addresses=127.0.0.1 -c port=${port} -c unix_socket_directories='${sockdir}'"
  if [ "${TW_PG_FAST:-0}" = "1" ]; then
    opts="${opts} -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    opts="${opts} -c max_connections=200"
  fi

  tw_log "starting PostgreSQL on 127.0.0.1:${port} (log: ${logfile})"
  if ! tw_as_pg "${bindir}/pg_ctl" -D "$datadir" -l "$logfile" -w -t 60 -o "$opts" start \
    >/dev/null; then
    tail -n 30 "$logfile" >&2
    tw_die "PostgreSQL did not start (log: ${logfile})"
  fi
  tw_pg_create_db "$bindir" "$port"
}

# tw_pg_create_db <bindir> <port>: creates database `tierwise` when missing.
tw_pg_create_db() {
  local bindir="$1" port="$2" exists psql="$1/psql"
  [ -x "$psql" ] || psql="psql"
  exists="$("$psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -tA \
    -c "SELECT 1 FROM pg_database WHERE datname = 'tierwise'")" ||
    tw_die "cannot connect to PostgreSQL on 127.0.0.1:${port}"
  if [ "$exists" != "1" ]; then
    tw_log "creating database tierwise"
    "$psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres \
      -v ON_ERROR_STOP=1 -c "CREATE DATABASE tierwise" >/dev/null
  fi
}

# tw_pg_stop <datadir>: fast shutdown (rolls back open transactions). Quiet when nothing runs.
tw_pg_stop() {
  local datadir="$1"
  [ -f "${datadir}/postmaster.pid" ] || return 0
  tw_pg_running "$datadir" || return 0
  tw_log "stopping PostgreSQL (${datadir})"
  tw_as_pg "$(tw_pg_bindir "$datadir")/pg_ctl" -D "$datadir" -m fast -w -t 60 stop >/dev/null
}

# ---------------------------------------------------------------------------------------------
# Redis

# tw_redis_ping <port>: true when a Redis on 127.0.0.1:<port> answers PONG.
tw_redis_ping() {
  [ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = "PONG" ]
}

# tw_redis_start <dir> <port> [appendonly yes|no] [logfile]: starts a daemonized redis-server
# bound to 127.0.0.1:<port> with its data and pid file (redis.pid) in <dir>; no RDB snapshots,
# append-only file as asked (default yes). Log: [logfile] or <dir>/redis.log. Keeps an instance
# from <dir> that already answers on <port>; restarts one that runs elsewhere.
tw_redis_start() {
  local dir="$1" port="$2" appendonly="${3:-yes}" logfile="${4:-}" pidfile pid
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd -P)"
  [ -n "$logfile" ] || logfile="${dir}/redis.log"
  mkdir -p "$(dirname "$logfile")"
  pidfile="${dir}/redis.pid"
  command -v redis-server >/dev/null 2>&1 || tw_die "redis-server not found (install redis-server)"

  if pid="$(tw_pidfile_pid "$pidfile" redis-server)"; then
    if tw_redis_ping "$port" && tw_redis_pid_matches "$port" "$pid"; then
      tw_log "Redis already running on 127.0.0.1:${port}"
      return 0
    fi
    tw_log "Redis from ${dir} runs elsewhere; restarting it on ${port}"
    tw_redis_stop "$dir" ""
  fi
  rm -f "$pidfile"
  if tw_port_in_use "$port"; then
    tw_die "port ${port} on 127.0.0.1 is already in use; stop what listens there or choose another port"
  fi

  tw_log "starting Redis on 127.0.0.1:${port} (log: ${logfile})"
  redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --daemonize yes \
    --pidfile "$pidfile" --logfile "$logfile" --save "" --appendonly "$appendonly" >/dev/null ||
    tw_die "redis-server failed to start (log: ${logfile})"
  for _ in $(seq 1 100); do
    if tw_redis_ping "$port"; then
      return 0
    fi
    sleep 0.1
  done
  tail -n 20 "$logfile" >&2 || true
  tw_die "Redis did not answer PING on 127.0.0.1:${port} within 10s (log: ${logfile})"
}

# tw_redis_pid_matches <port> <pid>: the Redis answering on <port> is process <pid>.
tw_redis_pid_matches() {
  redis-cli -h 127.0.0.1 -p "$1" info server 2>/dev/null | tr -d '\r' | grep -qx "process_id:$2"
}

# tw_redis_stop <dir> <port>: stops the redis-server whose pid file is in <dir>: SHUTDOWN NOSAVE
# when it answers on <port>, else SIGTERM; SIGKILL after 10 s. Quiet when nothing runs.
tw_redis_stop() {
  local dir="$1" port="${2:-}" pidfile pid
  pidfile="${dir}/redis.pid"
  if ! pid="$(tw_pidfile_pid "$pidfile" redis-server)"; then
    rm -f "$pidfile"
    return 0
  fi
  tw_log "stopping Redis (pid ${pid})"
  if [ -n "$port" ] && tw_redis_pid_matches "$port" "$pid"; then
    redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
  else
    kill -TERM "$pid" 2>/dev/null || true
  fi
  if ! tw_wait_exit "$pid" 10; then
    tw_warn "Redis (pid ${pid}) still running after 10s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    tw_wait_exit "$pid" 5 || tw_warn "Redis (pid ${pid}) did not exit"
  fi
  rm -f "$pidfile"
}
