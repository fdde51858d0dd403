#!/usr/bin/env bash
# Benchmarks the interaction service on a stack of its own: LogInteraction and ListDueFollowUps
# (one sales rep with 2,000 customers and a year of contacts) next to the gRPC health check of
# the same server, in the same run.
#
# Usage: tests/bench/run_interaction_bench.sh [driver flags...]
#   driver flags  passed to tierwise-bench-interaction, e.g. --customers=2000 --duration_s=30
#                 --history_per_customer=12 --concurrency=32 --due_days=30 --json (see its
#                 --help).
#
# Starts, on free loopback ports and in a scratch directory, PostgreSQL and Redis (with the
# helpers of deploy/local/lib.sh), then the profile, classification and interaction services: one
# database with a schema each, one Redis prefix, interaction asking classification with a viewer
# token of its own. Builds the binaries that are missing. Then runs the driver as admin and as
# the sales rep rep.zhang: it creates rep.zhang's customers through the profile service, waits
# until classification and interaction know them, pins some to tiers A and B, logs a year of
# interactions, and prints calls/s and p50/p90/p99 latency of LogInteraction and
# ListDueFollowUps with their ratio to the health check, and the CPU each process (PostgreSQL
# with its backends) used per call. The services log at level warn, so that per-call log lines
# do not weigh on the figures. Everything is stopped and the scratch directory removed on exit.
# Exit code: the driver's (0 all calls succeeded, 1 some failed, 2 could not run).
#
# Environment: TIERWISE_BUILD_DIR (default build/, relative to the repo root);
# TIERWISE_BENCH_DIR, the scratch directory (default a new one under $TMPDIR or /tmp; one that is
# given is kept, with the services' logs in logs/); TW_PG_FAST=1 runs PostgreSQL without fsync
# (default: with, as deployed).
set -euo pipefail

# shellcheck source=tests/bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case "${1:-}" in
  -h | --help)
    tw_usage "${BASH_SOURCE[0]}"
    exit 0
    ;;
esac

bench_prepare interaction tierwise_bench_interaction profile classification interaction
admin_token="$(bench_token admin admin)"
rep_token="$(bench_token rep.zhang sales_rep)"
svc_token="$(bench_token svc.interaction viewer)"

bench_start_service profile
bench_start_service classification
# The token goes through the environment, where ps does not show it.
bench_start_service interaction "TIERWISE_CLASSIFICATION_ADDR=127.0.0.1:${ports[classification]}" \
  "TIERWISE_CLASSIFICATION_TOKEN=${svc_token}"

bench_log_load
set +e
TIERWISE_ADMIN_TOKEN="$admin_token" TIERWISE_SALES_REP_TOKEN="$rep_token" "$driver" \
  --profile_addr="127.0.0.1:${ports[profile]}" \
  --classification_addr="127.0.0.1:${ports[classification]}" \
  --interaction_addr="127.0.0.1:${ports[interaction]}" \
  --owner=rep.zhang --cpu_pids="$(bench_cpu_probes)" "$@"
rc=$?
set -e
exit "$rc"
