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
# With TW_BULK_CUSTOMERS=N (default 98000; 0 = none) the run first adds N customers straight into
# the profile and interaction schemas (SQL, as a year of operation would have left them: tiers,
# TW_BULK_HISTORY interactions each over the last 365 days, default 12), TW_BULK_BIG_OWNER of them
# (default 20000) owned by rep.big and the rest spread over 49 other reps, and waits until the
# interaction service's background pass has stored their follow-up plans: with the driver's
# 2,000 that is the issue #12 set-up (100,000 customers, rep.zhang with 2,000, rep.big with
# 20,000). The driver then also measures ListDueFollowUps for everyone and for rep.big, and, with
# TW_BENCH_PROFILE=1 (default), tierwise-bench-profile runs against the same profile server
# (GetCustomer, ListCustomers first and deep page next to its health check, with the CPU per call).
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

bulk="${TW_BULK_CUSTOMERS:-98000}"
bulk_big="${TW_BULK_BIG_OWNER:-20000}"
bulk_history="${TW_BULK_HISTORY:-12}"
for n in "$bulk" "$bulk_big" "$bulk_history"; do
  [[ "$n" =~ ^[0-9]+$ ]] || {
    echo "run_interaction_bench.sh: TW_BULK_* must be whole numbers" >&2
    exit 2
  }
done
profile_driver=""
if [ "${TW_BENCH_PROFILE:-1}" = 1 ]; then
  profile_driver="$(tw_build_dir)/tests/bench/tierwise-bench-profile"
  [ -x "$profile_driver" ] || cmake --build "$(tw_build_dir)" --target tierwise_bench_profile
fi

bench_prepare interaction tierwise_bench_interaction profile classification interaction
admin_token="$(bench_token admin admin)"
rep_token="$(bench_token rep.zhang sales_rep)"
svc_token="$(bench_token svc.interaction viewer)"
viewer_token="$(bench_token viewer.bench viewer)"

bench_start_service profile
bench_start_service classification
# The token goes through the environment, where ps does not show it.
bench_start_service interaction "TIERWISE_CLASSIFICATION_ADDR=127.0.0.1:${ports[classification]}" \
  "TIERWISE_CLASSIFICATION_TOKEN=${svc_token}" "TIERWISE_PLAN_SWEEP_INTERVAL_S=2"

# bulk_sql SQL: runs SQL on the scratch database, stopping at the first error.
bulk_sql() { psql -X -q -v ON_ERROR_STOP=1 -tA "$pg_uri" -c "$1"; }

if [ "$bulk" -gt 0 ]; then
  tw_log "bulk: ${bulk} customers (${bulk_big} of rep.big), ${bulk_history} interactions each"
  started=$SECONDS
  owner_sql="CASE WHEN g <= ${bulk_big} THEN 'rep.big' ELSE 'rep.bulk' || lpad((g % 49)::text, 2, '0') END"
  bulk_sql "INSERT INTO profile.customers (id, external_ref, legal_name, nature, industry, province,
      city, owner, lifecycle_stage, tags, state, created_at, updated_at, created_by, updated_by)
    SELECT md5('bulk-' || g)::uuid, 'BULK-' || g, 'Bulk Customer ' || lpad(g::text, 6, '0'),
      1 + g % 5, 'ind' || (g % 20), 'prov' || (g % 30), 'city' || (g % 300), ${owner_sql},
      2, ARRAY['bulk'], 1, now(), now(), 'bench', 'bench'
    FROM generate_series(1, ${bulk}) g"
  if [ "$bulk_history" -gt 0 ]; then
    bulk_sql "INSERT INTO interaction.interactions (id, root_id, version, customer_id, owner,
        occurred_at, recorded_at, channel, satisfaction, executive_contact, purchase_intent,
        recorded_by, payload)
      SELECT x.u, x.u, 1, md5('bulk-' || g)::uuid, ${owner_sql}, x.t, x.t + interval '1 hour',
        1 + (x.h % 7), 4, x.h % 10 = 0, x.h % 4 = 0, 'bench', ''::bytea
      FROM generate_series(1, ${bulk}) g, generate_series(1, ${bulk_history}) k,
        LATERAL (SELECT gen_random_uuid() AS u, hashint8(g * 1000 + k) & 2147483647 AS h,
          now() - make_interval(days => ((hashint8(g * 1000 + k) & 2147483647) % 365)::int,
                                hours => 1) AS t) x"
    last() { echo "coalesce((extract(epoch from max(occurred_at) FILTER (WHERE $1)) * 1000000)::bigint, 0)"; }
    bulk_sql "INSERT INTO interaction.contact_state (customer_id, last_on_site, last_phone,
        last_mail, last_email_im, last_exhibition, last_customer_visit, last_other,
        last_executive, last_intent, latest_occurred)
      SELECT customer_id, $(last 'channel = 1'), $(last 'channel = 2'), $(last 'channel = 3'),
        $(last 'channel = 4'), $(last 'channel = 5'), $(last 'channel = 6'),
        $(last 'channel = 7'), $(last 'executive_contact'), $(last 'purchase_intent'),
        $(last 'true')
      FROM interaction.interactions WHERE recorded_by = 'bench' GROUP BY customer_id"
  fi
  bulk_sql "INSERT INTO interaction.customer_tiers (customer_id, tier, changed_at)
    SELECT md5('bulk-' || g)::uuid,
      CASE WHEN g % 20 = 0 THEN 'A' WHEN g % 5 = 0 THEN 'B' ELSE 'C' END,
      now() - interval '400 days' FROM generate_series(1, ${bulk}) g"
  # The customers last: the service's background pass plans each customer it finds without a
  # stored plan, so their tiers and contacts must be in place by then.
  bulk_sql "INSERT INTO interaction.customers (customer_id, external_ref, owner, deleted, version,
      known_at, former, plan_policy)
    SELECT md5('bulk-' || g)::uuid, 'BULK-' || g, ${owner_sql}, false, 1,
      now() - interval '700 days', false, '' FROM generate_series(1, ${bulk}) g"
  bulk_sql "ANALYZE profile.customers; ANALYZE interaction.customers;
    ANALYZE interaction.interactions; ANALYZE interaction.contact_state"
  tw_log "bulk: rows written in $((SECONDS - started)) s; waiting for the stored follow-up plans"
  deadline=$((SECONDS + 900))
  while :; do
    left="$(bulk_sql "SELECT count(*) FROM interaction.customers WHERE plan_policy = ''")"
    [ "$left" = 0 ] && break
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "run_interaction_bench.sh: ${left} customers still without a stored plan" >&2
      exit 2
    fi
    sleep 2
  done
  bulk_sql "ANALYZE interaction.follow_ups"
  tw_log "bulk: plans stored after $((SECONDS - started)) s in all"
fi

bench_log_load
set +e
TIERWISE_ADMIN_TOKEN="$admin_token" TIERWISE_SALES_REP_TOKEN="$rep_token" "$driver" \
  --profile_addr="127.0.0.1:${ports[profile]}" \
  --classification_addr="127.0.0.1:${ports[classification]}" \
  --interaction_addr="127.0.0.1:${ports[interaction]}" \
  --owner=rep.zhang --cpu_pids="$(bench_cpu_probes)" \
  --scenarios=health_check,log_interaction,list_due_follow_ups,list_due_everyone$([ "$bulk_big" -gt 0 ] && [ "$bulk" -gt 0 ] && echo ,list_due_other_owner) \
  --other_owner=rep.big "$@"
rc=$?
if [ -n "$profile_driver" ]; then
  echo
  echo "tierwise-bench-profile against the same profile server:"
  TIERWISE_VIEWER_TOKEN="$viewer_token" TIERWISE_ADMIN_TOKEN="$admin_token" "$profile_driver" \
    --addr="127.0.0.1:${ports[profile]}" --seed_up_to=0 --cpu_pids="$(bench_cpu_probes)" || rc=$?
fi
set -e
exit "$rc"
