#!/usr/bin/env bash
# Benchmarks the classification service on a stack of its own: GetTier from the Redis cache next
# to the gRPC health check of the same server (1, 8 and 32 calls in flight), event-to-tier
# latency (RecordPayment answered -> GetTier shows the new evaluation) under orders and payments
# at 500, 1,000 and 2,000 events/s (with the CPU each process spent per accepted event), and
# full reclassification of 100,000 and 1,000,000 customers
# next to the plain SQL that reads the same metrics sorted by revenue.
#
# Usage: tests/bench/run_classification_bench.sh [driver flags...]
#   driver flags  passed to tierwise-bench-classification, e.g. --customers=2000
#                 --rates=250,500,1000,2000 --rate_duration_s=30 --reclassify_sizes=100000
#                 --scenarios=get_tier,event --json (see its --help).
#
# Starts, on free loopback ports and in a scratch directory, PostgreSQL and Redis (with the
# helpers of deploy/local/lib.sh), then the profile, credit and classification services (the
# classification service as a writer and one standby; the driver talks to the writer): one
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

# shellcheck source=tests/bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case "${1:-}" in
  -h | --help)
    tw_usage "${BASH_SOURCE[0]}"
    exit 0
    ;;
esac

bench_prepare classification tierwise_bench_classification profile credit classification
admin_token="$(bench_token admin admin)"
erp_token="$(bench_token erp.adapter erp_adapter)"

bench_start_service profile
bench_start_service credit
bench_start_service classification -- --reclassify_interval_s=0
# A standby next to the writer, as deployed (the replica started first holds the lease and
# evaluates; the standby serves reads and forwards writes): its CPU shows in the event table as
# classification_standby. Stopped with the others (BENCH_SERVICES).
BENCH_SERVICES+=(classification_standby)
ports[classification_standby]="$(tw_free_port)"
tw_log "classification_standby: starting on 127.0.0.1:${ports[classification_standby]}"
env "TIERWISE_PG_URI=${pg_uri}" "TIERWISE_REDIS_ADDR=127.0.0.1:${redis_port}" \
  "TIERWISE_REDIS_PREFIX=bench" "TIERWISE_TOKENS_FILE=${dir}/tokens" "TIERWISE_LOG_FORMAT=text" \
  "TIERWISE_LOG_LEVEL=warn" "TIERWISE_METRICS_LISTEN=127.0.0.1:0" \
  "${build_dir}/services/classification/tierwise-classification" \
  "--listen=127.0.0.1:${ports[classification_standby]}" --reclassify_interval_s=0 \
  >>"${dir}/logs/classification_standby.log" 2>&1 </dev/null &
pids[classification_standby]=$!
bench_wait_healthy classification_standby

bench_log_load
set +e
# The tokens go through the environment, not the command line, where ps would show them.
TIERWISE_ADMIN_TOKEN="$admin_token" TIERWISE_ERP_ADAPTER_TOKEN="$erp_token" "$driver" \
  --profile_addr="127.0.0.1:${ports[profile]}" \
  --credit_addr="127.0.0.1:${ports[credit]}" \
  --classification_addr="127.0.0.1:${ports[classification]}" \
  --redis_addr="127.0.0.1:${redis_port}" --redis_prefix=bench \
  --pg_uri="$pg_uri" --classification_schema=classification --cpu_pids="$(bench_cpu_probes)" "$@"
rc=$?
set -e
exit "$rc"
