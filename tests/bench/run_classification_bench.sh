#!/usr/bin/env bash
# Benchmarks the classification service on a stack of its own: GetTier from the Redis cache next
# to the gRPC health check of the same server (1, 8 and 32 calls in flight), event-to-tier
# latency (RecordPayment answered -> GetTier shows the new evaluation) under orders and payments
# at 500, 1,000 and 2,000 events/s, and full reclassification of 100,000 and 1,000,000 customers
# next to the plain SQL that reads the same metrics sorted by revenue.
#
# Usage: tests/bench/run_classification_bench.sh [driver flags...]
#   driver flags  passed to tierwise-bench-classification, e.g. --customers=2000
#                 --rates=250,500,1000,2000 --rate_duration_s=30 --reclassify_sizes=100000
#                 --scenarios=get_tier,event --json (see its --help).
#
# Starts, on free loopback ports and in a scratch directory, PostgreSQL and Redis (with the
# helpers of deploy/local/lib.sh), then the profile, credit and classification services: one
# database with a schema each, one Redis prefix, the classification service without periodic
# full reclassification (--reclassify_interval_s=0) and all three logging at level warn. Builds
# the binaries that are missing. The driver creates its customers through the profile service;
# for the reclassification sizes it inserts customers, orders, metrics and tiers by SQL straight
# into the classification schema (the service has no bulk path). Everything is stopped and the
# scratch directory removed on exit. Exit code: the driver's (0 all calls succeeded, 1 some
# failed, 2 could not run).
#
# Environment: TIERWISE_BUILD_DIR (default build/, relative to the repo root);
# TIERWISE_BENCH_DIR, the scratch directory (default a new one under $TMPDIR or /tmp; one that is
# given is kept, with the services' logs in logs/); TW_PG_FAST=1 runs PostgreSQL without fsync
# (default: with, as deployed).
set -euo pipefail

# shellcheck source=deploy/local/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/deploy/local/lib.sh"

case "${1:-}" in
  -h | --help)
    tw_usage "${BASH_SOURCE[0]}"
    exit 0
    ;;
esac

build_dir="$(tw_build_dir)"
driver="${build_dir}/tests/bench/tierwise-bench-classification"
cli="${build_dir}/services/cli/tierwise"
services=(profile credit classification)
targets=()
for svc in "${services[@]}"; do
  [ -x "${build_dir}/services/${svc}/tierwise-${svc}" ] || targets+=("tierwise_${svc}")
done
[ -x "$driver" ] || targets+=(tierwise_bench_classification)
if [ "${#targets[@]}" -gt 0 ]; then
  if [ ! -f "${build_dir}/CMakeCache.txt" ]; then
    cmake -S "$TW_REPO_ROOT" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo
  fi
  cmake --build "$build_dir" --target "${targets[@]}"
fi

keep_dir=""
if [ -n "${TIERWISE_BENCH_DIR:-}" ]; then
  dir="$TIERWISE_BENCH_DIR"
  mkdir -p "$dir"
  keep_dir=1
else
  dir="$(mktemp -d "${TMPDIR:-/tmp}/tierwise-classification-bench.XXXXXX")"
fi
dir="$(cd "$dir" && pwd -P)"
# PostgreSQL runs as the postgres user when we are root: it must traverse the directory.
chmod 755 "$dir"
mkdir -p "${dir}/logs"

declare -A pids=()
# shellcheck disable=SC2317  # invoked by the trap
cleanup() {
  local rc=$? svc pid
  trap - EXIT INT TERM
  for svc in classification credit profile; do
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
  if [ -z "$keep_dir" ]; then
    rm -rf -- "$dir"
  else
    tw_log "kept ${dir} (logs in ${dir}/logs)"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pg_port="$(tw_free_port)"
tw_pg_start "${dir}/pg" "$pg_port" "${dir}/logs/postgresql.log"
redis_port="$(tw_free_port)"
tw_redis_start "${dir}/redis" "$redis_port" no "${dir}/logs/redis.log"
pg_uri="$(tw_pg_uri "$pg_port")"

new_token() { head -c 24 /dev/urandom | base64 | tr -d '/+=\n'; }
admin_token="$(new_token)"
erp_token="$(new_token)"
(
  umask 077
  printf '%s\n' "# <principal> <role> <token>" "admin admin ${admin_token}" \
    "erp.adapter erp_adapter ${erp_token}" >"${dir}/tokens"
)
# The CLI (health checks) must not read a developer's .tierwise/local.env.
: >"${dir}/empty.env"

declare -A ports=()
for svc in "${services[@]}"; do ports[$svc]="$(tw_free_port)"; done

# wait_healthy SVC: until the server answers SERVING (or, without the CLI, accepts connections).
wait_healthy() {
  local svc="$1" deadline=$((SECONDS + 60))
  while :; do
    tw_pid_running "${pids[$svc]}" || {
      tail -n 30 "${dir}/logs/${svc}.log" >&2
      tw_die "${svc} exited during start-up"
    }
    if [ -x "$cli" ]; then
      "$cli" --env "${dir}/empty.env" --addr "127.0.0.1:${ports[$svc]}" --timeout 2 health \
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

for svc in "${services[@]}"; do
  flags=("--listen=127.0.0.1:${ports[$svc]}")
  if [ "$svc" = classification ]; then flags+=(--reclassify_interval_s=0); fi
  tw_log "${svc}: starting on 127.0.0.1:${ports[$svc]}"
  env "TIERWISE_PG_URI=${pg_uri}" "TIERWISE_REDIS_ADDR=127.0.0.1:${redis_port}" \
    "TIERWISE_REDIS_PREFIX=bench" "TIERWISE_TOKENS_FILE=${dir}/tokens" "TIERWISE_LOG_FORMAT=text" \
    "TIERWISE_LOG_LEVEL=warn" "TIERWISE_METRICS_LISTEN=127.0.0.1:0" \
    "${build_dir}/services/${svc}/tierwise-${svc}" "${flags[@]}" \
    >>"${dir}/logs/${svc}.log" 2>&1 </dev/null &
  pids[$svc]=$!
  wait_healthy "$svc"
done

tw_log "running the driver ($(nproc 2>/dev/null || echo '?') CPUs here, load $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?'))"
set +e
# The tokens go through the environment, not the command line, where ps would show them.
TIERWISE_ADMIN_TOKEN="$admin_token" TIERWISE_ERP_ADAPTER_TOKEN="$erp_token" "$driver" \
  --profile_addr="127.0.0.1:${ports[profile]}" \
  --credit_addr="127.0.0.1:${ports[credit]}" \
  --classification_addr="127.0.0.1:${ports[classification]}" \
  --redis_addr="127.0.0.1:${redis_port}" --redis_prefix=bench \
  --pg_uri="$pg_uri" --classification_schema=classification "$@"
rc=$?
set -e
exit "$rc"
