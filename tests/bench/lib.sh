#!/usr/bin/env bash
# What the benchmark scripts that bring their own stack share: building what is missing, a
# scratch directory, PostgreSQL and Redis on free loopback ports (deploy/local/lib.sh), a tokens
# file, starting services and waiting until they serve, the CPU probes the drivers read, and
# stopping everything on exit. Source it, then:
#
#   bench_prepare NAME DRIVER_TARGET SERVICE...   # builds, scratch dir, PostgreSQL, Redis, trap
#   bench_token admin admin                       # prints the new token of a new principal
#   bench_start_service SERVICE [ENV=VALUE...] [-- FLAG...]
#   bench_cpu_probes                              # "svc=pid,...,postgres=pid,redis=pid"
#
# Sets: build_dir, driver, dir (scratch), pg_uri, redis_port, ports[SERVICE], pids[SERVICE].
# Environment: TIERWISE_BUILD_DIR; TIERWISE_BENCH_DIR (a scratch directory to keep, with the
# services' logs in logs/); TW_PG_FAST=1 runs PostgreSQL without fsync (default: with).

# shellcheck source=deploy/local/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/deploy/local/lib.sh"

declare -A ports=()
declare -A pids=()
BENCH_SERVICES=()
BENCH_KEEP_DIR=""

# bench_prepare NAME DRIVER_TARGET SERVICE...
bench_prepare() {
  local name="$1" target="$2" svc
  shift 2
  BENCH_SERVICES=("$@")
  build_dir="$(tw_build_dir)"
  driver="${build_dir}/tests/bench/$(printf '%s' "$target" | sed 's/^tierwise_bench_/tierwise-bench-/')"
  BENCH_CLI="${build_dir}/services/cli/tierwise"
  local targets=()
  for svc in "${BENCH_SERVICES[@]}"; do
    [ -x "${build_dir}/services/${svc}/tierwise-${svc}" ] || targets+=("tierwise_${svc}")
  done
  [ -x "$driver" ] || targets+=("$target")
  if [ "${#targets[@]}" -gt 0 ]; then
    if [ ! -f "${build_dir}/CMakeCache.txt" ]; then
      cmake -S "$TW_REPO_ROOT" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo
    fi
    cmake --build "$build_dir" --target "${targets[@]}"
  fi

  if [ -n "${TIERWISE_BENCH_DIR:-}" ]; then
    dir="$TIERWISE_BENCH_DIR"
    mkdir -p "$dir"
    BENCH_KEEP_DIR=1
  else
    dir="$(mktemp -d "${TMPDIR:-/tmp}/tierwise-${name}-bench.XXXXXX")"
  fi
  dir="$(cd "$dir" && pwd -P)"
  # PostgreSQL runs as the postgres user when we are root: it must traverse the directory.
  chmod 755 "$dir"
  mkdir -p "${dir}/logs"
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  local pg_port
  pg_port="$(tw_free_port)"
  tw_pg_start "${dir}/pg" "$pg_port" "${dir}/logs/postgresql.log"
  redis_port="$(tw_free_port)"
  tw_redis_start "${dir}/redis" "$redis_port" no "${dir}/logs/redis.log"
  pg_uri="$(tw_pg_uri "$pg_port")"
  (
    umask 077
    echo "# <principal> <role> <token>" >"${dir}/tokens"
  )
  # The CLI (health checks) must not read a developer's .tierwise/local.env.
  : >"${dir}/empty.env"
  for svc in "${BENCH_SERVICES[@]}"; do ports[$svc]="$(tw_free_port)"; done
}

# shellcheck disable=SC2317  # invoked by the trap
bench_cleanup() {
  local rc=$? i svc pid
  trap - EXIT INT TERM
  # Stop in reverse start order: callers before the services they call.
  for ((i = ${#BENCH_SERVICES[@]} - 1; i >= 0; i--)); do
    svc="${BENCH_SERVICES[$i]}"
    pid="${pids[$svc]:-}"
    [ -n "$pid" ] || continue
    kill -TERM "$pid" 2>/dev/null || true
    if ! tw_wait_exit "$pid" 15; then
      tw_warn "${svc} (pid ${pid}) still running 15 s after SIGTERM; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
  tw_redis_stop "${dir}/redis" "${redis_port:-}" || true
  tw_pg_stop "${dir}/pg" || true
  if [ -z "$BENCH_KEEP_DIR" ]; then
    rm -rf -- "$dir"
  else
    tw_log "kept ${dir} (logs in ${dir}/logs)"
  fi
  exit "$rc"
}

# bench_token NAME ROLE: adds a principal with a fresh token to the tokens file, prints the token.
bench_token() {
  local token
  token="$(head -c 24 /dev/urandom | base64 | tr -d '/+=\n')"
  printf '%s %s %s\n' "$1" "$2" "$token" >>"${dir}/tokens"
  printf '%s\n' "$token"
}

# bench_wait_healthy SVC: until the server answers SERVING (or, without the CLI, accepts
# connections); 60 s at most.
bench_wait_healthy() {
  local svc="$1" deadline=$((SECONDS + 60))
  while :; do
    tw_pid_running "${pids[$svc]}" || {
      tail -n 30 "${dir}/logs/${svc}.log" >&2
      tw_die "${svc} exited during start-up"
    }
    if [ -x "$BENCH_CLI" ]; then
      "$BENCH_CLI" --env "${dir}/empty.env" --addr "127.0.0.1:${ports[$svc]}" --timeout 2 health \
        >/dev/null 2>&1 && return 0
    elif tw_port_in_use "${ports[$svc]}"; then
      return 0
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 30 "${dir}/logs/${svc}.log" >&2
      tw_die "${svc} not healthy on 127.0.0.1:${ports[$svc]} after 60 s"
    fi
    sleep 0.3
  done
}

# bench_start_service SVC [ENV=VALUE...] [-- FLAG...]: starts the service on its port against the
# scratch PostgreSQL and Redis (prefix "bench"), logging at level warn so that per-call log lines
# do not weigh on the figures, and waits until it serves. Secrets go in ENV, not FLAGs (ps shows
# command lines).
bench_start_service() {
  local svc="$1"
  shift
  local env=(env "TIERWISE_PG_URI=${pg_uri}" "TIERWISE_REDIS_ADDR=127.0.0.1:${redis_port}"
    "TIERWISE_REDIS_PREFIX=bench" "TIERWISE_TOKENS_FILE=${dir}/tokens" "TIERWISE_LOG_FORMAT=text"
    "TIERWISE_LOG_LEVEL=warn" "TIERWISE_METRICS_LISTEN=127.0.0.1:0")
  while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
    env+=("$1")
    shift
  done
  [ "${1:-}" != "--" ] || shift
  tw_log "${svc}: starting on 127.0.0.1:${ports[$svc]}"
  "${env[@]}" "${build_dir}/services/${svc}/tierwise-${svc}" "--listen=127.0.0.1:${ports[$svc]}" \
    "$@" >>"${dir}/logs/${svc}.log" 2>&1 </dev/null &
  pids[$svc]=$!
  bench_wait_healthy "$svc"
}

# bench_cpu_probes: the --cpu_pids value for the drivers (services, PostgreSQL, Redis).
bench_cpu_probes() {
  local svc pid probes=()
  for svc in "${BENCH_SERVICES[@]}"; do
    [ -n "${pids[$svc]:-}" ] && probes+=("${svc}=${pids[$svc]}")
  done
  pid="$(head -n 1 "${dir}/pg/postmaster.pid" 2>/dev/null || true)"
  if [[ "$pid" =~ ^[0-9]+$ ]]; then probes+=("postgres=${pid}"); fi
  pid="$(cat "${dir}/redis/redis.pid" 2>/dev/null || true)"
  if [[ "$pid" =~ ^[0-9]+$ ]]; then probes+=("redis=${pid}"); fi
  (
    IFS=,
    echo "${probes[*]}"
  )
}

# bench_log_load: one line about the machine before the driver runs.
bench_log_load() {
  tw_log "running the driver ($(nproc 2>/dev/null || echo '?') CPUs here, load $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?'))"
}
