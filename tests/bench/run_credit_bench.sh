#!/usr/bin/env bash
# Benchmarks ledger ingestion and credit reads on a stack of its own: IngestEvents (4 streams,
# batches of 1,000 by default) next to a raw multi-row INSERT of the same rows into PostgreSQL;
# CheckCredit next to the gRPC health check of the same server; and, for customers with a short
# and a long history (10 and 5,000 facts by default), CheckCredit and GetCreditAccount next to
# the health check and to each other. With the CPU the credit service, the profile service and
# PostgreSQL spent per event and per call.
#
# Usage: tests/bench/run_credit_bench.sh [driver flags...]
#   driver flags  passed to tierwise-bench-credit, e.g. --customers=10016 --duration_s=20
#                 --batch_sizes=1000 --streams=4 --scenarios=ingest,check,depth
#                 --depth_facts=10,5000 --depth_customers=8 --baseline=multirow,per_row --json
#                 (see its --help). Defaults here: --customers=10016 --streams=4
#                 --batch_sizes=1000 --duration_s=20.
#
# Starts, on free loopback ports and in a scratch directory, PostgreSQL (durable, as deployed)
# and Redis, then the profile and credit services (business time zone Asia/Shanghai, as
# shipped); builds what is missing. The driver creates BENCH-<run-id>-<i> customers through the
# profile service and waits until credit knows them. Everything is stopped and the scratch
# directory removed on exit. Exit code: the driver's (0 all calls and events succeeded, 1 some
# failed, 2 could not run).
#
# Environment: TIERWISE_BUILD_DIR (default build/); TIERWISE_BENCH_DIR (a scratch directory to
# keep, with the services' logs in logs/); TW_PG_FAST=1 runs PostgreSQL without fsync.
set -euo pipefail

# shellcheck source=tests/bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case "${1:-}" in
  -h | --help)
    tw_usage "${BASH_SOURCE[0]}"
    exit 0
    ;;
esac

bench_prepare credit tierwise_bench_credit profile credit
admin_token="$(bench_token admin admin)"
erp_token="$(bench_token erp.adapter erp_adapter)"

bench_start_service profile TIERWISE_BUSINESS_TIME_ZONE=Asia/Shanghai
bench_start_service credit TIERWISE_BUSINESS_TIME_ZONE=Asia/Shanghai

bench_log_load
set +e
# The tokens go through the environment, not the command line, where ps would show them.
TIERWISE_ADMIN_TOKEN="$admin_token" TIERWISE_ERP_ADAPTER_TOKEN="$erp_token" "$driver" \
  --profile_addr="127.0.0.1:${ports[profile]}" \
  --credit_addr="127.0.0.1:${ports[credit]}" \
  --pg_uri="$pg_uri" --cpu_pids="$(bench_cpu_probes)" \
  --customers=10016 --streams=4 --batch_sizes=1000 --duration_s=20 "$@"
rc=$?
set -e
exit "$rc"
