#!/usr/bin/env bash
# Load-tests the profile service of the local stack (start it with ./deploy/local/up.sh).
#
# Usage: tests/bench/run_profile_bench.sh [CUSTOMERS] [driver flags...]
#   CUSTOMERS     seed BENCH-* customers (admin token) until the profile holds at least this
#                 many; default 100000, 0 = never seed. Seeding 100,000 takes a few minutes and
#                 happens once: later runs find the customers already there.
#   driver flags  passed to tierwise-bench-profile, e.g. --concurrency=64 --duration_s=30
#                 --scenarios=health_check,list_deep_page --json (see its --help).
#
# Reads .tierwise/local.env (TIERWISE_PROFILE_ADDR, TIERWISE_VIEWER_TOKEN for the reads,
# TIERWISE_ADMIN_TOKEN for seeding), builds the driver when it is missing, then prints one row
# per scenario: calls, errors, calls/s, p50/p90/p99/max latency and calls/s relative to the
# gRPC health check. Exit code: 0 all calls succeeded, 1 some failed, 2 could not run.
#
# For the issue #12 set-up on a stack of its own (100,000 customers seeded by SQL, next to the
# interaction figures of the same run), use run_interaction_bench.sh: it runs this driver against
# its profile server (TW_BENCH_PROFILE=1, the default).
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
driver="${build_dir}/tests/bench/tierwise-bench-profile"

customers=100000
case "${1:-}" in
  -h | --help)
    sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  '' | -*) ;;
  *[!0-9]*)
    echo "run_profile_bench.sh: CUSTOMERS must be a number, got '$1' (try --help)" >&2
    exit 2
    ;;
  *)
    customers="$1"
    shift
    ;;
esac

if [ ! -f "$env_file" ]; then
  echo "run_profile_bench.sh: ${env_file} not found; start the stack with ./deploy/local/up.sh" >&2
  exit 2
fi
set -a
# shellcheck source=/dev/null
source "$env_file"
set +a

if [ ! -x "$driver" ]; then
  if [ ! -f "${build_dir}/CMakeCache.txt" ]; then
    cmake -S "$repo_root" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo
  fi
  cmake --build "$build_dir" --target tierwise_bench_profile
fi

seed_flags=()
if [ "$customers" -gt 0 ]; then
  if [ -z "${TIERWISE_ADMIN_TOKEN:-}" ]; then
    echo "run_profile_bench.sh: seeding needs TIERWISE_ADMIN_TOKEN in ${env_file}" >&2
    exit 2
  fi
  seed_flags=("--seed_up_to=${customers}")
fi

exec "$driver" --addr="${TIERWISE_PROFILE_ADDR:-127.0.0.1:50051}" "${seed_flags[@]}" "$@"
