#!/usr/bin/env bash
# Benchmarks ledger ingestion and credit checks of the local stack (start it with
# ./deploy/local/up.sh).
#
# Usage: tests/bench/run_credit_bench.sh [driver flags...]
#   driver flags  passed to tierwise-bench-credit, e.g. --customers=500 --duration_s=30
#                 --batch_sizes=1,100,1000 --streams=4 --baseline=multirow,per_row --json
#                 (see its --help).
#
# Reads .tierwise/local.env (TIERWISE_PROFILE_ADDR and TIERWISE_CREDIT_ADDR, TIERWISE_ADMIN_TOKEN
# to create customers and check credit, TIERWISE_ERP_ADAPTER_TOKEN to ingest, TIERWISE_PG_URI for
# the raw INSERT baseline), builds the driver when it is missing, and runs it: it creates
# BENCH-<run-id>-<i> customers through the profile service, waits until the credit service knows
# them, then prints events/s and per-batch p50/p99 of IngestEvents next to the same rows written
# straight into PostgreSQL (scratch schema bench_baseline_<run-id>, dropped at the end), and
# CheckCredit calls/s and latency next to the gRPC health check, with the CPU the credit service,
# the profile service and PostgreSQL used per event and per call (from their pid files). The
# customers and their ledger events stay in the stack. Exit code: 0 all calls and events
# succeeded, 1 some failed, 2 could not run.
#
# Environment: TIERWISE_BUILD_DIR (default build/, relative to the repo root).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
env_file="${repo_root}/.tierwise/local.env"
build_dir="${TIERWISE_BUILD_DIR:-build}"
case "$build_dir" in
  /*) ;;
  *) build_dir="${repo_root}/${build_dir}" ;;
esac
driver="${build_dir}/tests/bench/tierwise-bench-credit"

case "${1:-}" in
  -h | --help)
    sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
esac

if [ ! -f "$env_file" ]; then
  echo "run_credit_bench.sh: ${env_file} not found; start the stack with ./deploy/local/up.sh" >&2
  exit 2
fi
set -a
# shellcheck source=/dev/null
source "$env_file"
set +a
for var in TIERWISE_ADMIN_TOKEN TIERWISE_ERP_ADAPTER_TOKEN TIERWISE_PG_URI; do
  if [ -z "${!var:-}" ]; then
    echo "run_credit_bench.sh: ${var} is not set in ${env_file}" >&2
    exit 2
  fi
done

if [ ! -x "$driver" ]; then
  if [ ! -f "${build_dir}/CMakeCache.txt" ]; then
    cmake -S "$repo_root" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo
  fi
  cmake --build "$build_dir" --target tierwise_bench_credit
fi

# CPU per event of the local processes, unless the caller chose its own --cpu_pids.
state_dir="${repo_root}/.tierwise"
cpu_flags=()
if [[ " $* " != *" --cpu_pids"* ]]; then
  probes=()
  for svc in credit profile; do
    pid="$(cat "${state_dir}/run/${svc}.pid" 2>/dev/null || true)"
    if [[ "$pid" =~ ^[0-9]+$ ]] && [ -r "/proc/${pid}/stat" ]; then probes+=("${svc}=${pid}"); fi
  done
  pid="$(head -n 1 "${state_dir}/pg/postmaster.pid" 2>/dev/null || true)"
  if [[ "$pid" =~ ^[0-9]+$ ]] && [ -r "/proc/${pid}/stat" ]; then probes+=("postgres=${pid}"); fi
  if [ "${#probes[@]}" -gt 0 ]; then cpu_flags=("--cpu_pids=$(IFS=,; echo "${probes[*]}")"); fi
fi

# The tokens go through the environment, not the command line, where ps would show them.
exec "$driver" "${cpu_flags[@]}" \
  --profile_addr="${TIERWISE_PROFILE_ADDR:-127.0.0.1:50051}" \
  --credit_addr="${TIERWISE_CREDIT_ADDR:-127.0.0.1:50053}" \
  "$@"
