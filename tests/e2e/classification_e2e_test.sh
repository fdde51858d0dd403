#!/usr/bin/env bash
# End-to-end test of the classification service with the profile and credit services feeding it,
# through the `tierwise` CLI, against a real PostgreSQL and Redis (tests/run.sh starts them and
# exports TIERWISE_TEST_PG_URI and TIERWISE_TEST_REDIS_ADDR; without them the test is skipped
# with exit code 77).
#
#   classification_e2e_test.sh <tierwise-profile> <tierwise-credit> <tierwise-classification> \
#       <tierwise>
#
# Starts the three servers on free loopback ports, sharing one database (a schema each) and one
# Redis prefix, loads 19 demo customers and their twelve-month demo ledger, waits until the
# classification service has consumed it, then creates a customer (C: no revenue yet), ingests a
# large order and its payment for it and expects GetTier to show the new tier within one second
# of the ingest call returning, the change in the tier history with its reason and trigger, and a
# TierChanged entry on <prefix>:classification.tier_changed. Checks reflection, then stops the
# three with SIGTERM and expects clean exits.
set -uo pipefail

if [ $# -ne 4 ]; then
  echo "usage: $0 <tierwise-profile> <tierwise-credit> <tierwise-classification> <tierwise>" >&2
  exit 2
fi
PROFILE_BIN="$1"
CREDIT_BIN="$2"
CLASSIFICATION_BIN="$3"
CLI="$4"

# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_init classification

e2e_schema PROFILE_SCHEMA profile
e2e_schema CREDIT_SCHEMA credit
e2e_schema CLASSIFICATION_SCHEMA classification
PROFILE_LOG="${TMP}/profile.log"
CREDIT_LOG="${TMP}/credit.log"
CLASSIFICATION_LOG="${TMP}/classification.log"
REDIS_HOST="${TIERWISE_TEST_REDIS_ADDR%:*}"
REDIS_PORT="${TIERWISE_TEST_REDIS_ADDR##*:}"
LEDGER_STREAM="${REDIS_PREFIX}:credit.ledger"
TIER_STREAM="${REDIS_PREFIX}:classification.tier_changed"

rcli() { redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" "$@"; }

# Milliseconds since the epoch.
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# The value of field $1 of the classification consumer group on the ledger stream (XINFO GROUPS).
group_field() {
  rcli XINFO GROUPS "$LEDGER_STREAM" 2>/dev/null |
    awk -v want="$1" 'prev == "name" { group = $0 } prev == want && group == "classification" {
      print; exit } { prev = $0 }'
}

PROFILE_PORT="$(free_port)" || fail "no free port"
CREDIT_PORT="$(free_port)" || fail "no free port"
CLASSIFICATION_PORT="$(free_port)" || fail "no free port"
write_env

# 1. Migrations, then the three servers.
migrate_only classification "$CLASSIFICATION_BIN" "$CLASSIFICATION_SCHEMA" "$CLASSIFICATION_LOG" \
  "$CLASSIFICATION_PORT"
ok "classification --migrate_only exits 0"
start_server profile "$PROFILE_BIN" "$PROFILE_SCHEMA" "$PROFILE_LOG" PROFILE_PORT PROFILE_PID
start_server credit "$CREDIT_BIN" "$CREDIT_SCHEMA" "$CREDIT_LOG" CREDIT_PORT CREDIT_PID
start_server classification "$CLASSIFICATION_BIN" "$CLASSIFICATION_SCHEMA" "$CLASSIFICATION_LOG" \
  CLASSIFICATION_PORT CLASSIFICATION_PID
ok "profile, credit and classification are SERVING (ports ${PROFILE_PORT}, ${CREDIT_PORT}, ${CLASSIFICATION_PORT})"

# 2. Reflection on the classification port lists its three services.
cli services classification
expect_rc 0 "services classification"
for service in RuleSetService ClassificationService ReportService; do
  expect_in "$OUT" "\"tierwise.classification.v1.${service}\"" "services classification"
done
expect_in "$OUT" '"grpc.health.v1.Health"' "services classification"
ok "reflection on the classification port lists RuleSetService, ClassificationService, ReportService"

# 3. Demo customers and their ledger; wait until both consumers have caught up.
# 19 of them: with the new customer below there are 20, and A is the top 1 (5 %).
cli --role admin demo load --count 19
expect_rc 0 "demo load"
[ "$(cat "$OUT")" = '{"created":19,"existing":0,"failed":0}' ] || fail "demo load summary"
for service in credit tiers; do
  known=""
  for _ in $(seq 1 40); do
    if [ "$service" = credit ]; then cli credit account ERP-C00019; else cli tiers get ERP-C00019; fi
    if [ "$RC" -eq 0 ]; then
      known=1
      break
    fi
    grep -qF '"code":"NOT_FOUND"' "$ERR" || fail "${service} of ERP-C00019: unexpected error"
    sleep 0.5
  done
  [ -n "$known" ] || fail "the ${service} side did not learn ERP-C00019 within 20 s"
done
ok "credit and classification know the 19 demo customers"

cli demo ledger --customers 19 --seed 42 --months 12 --no-progress
expect_rc 0 "demo ledger"
APPLIED="$(json_number applied)"
if [ -z "$APPLIED" ] || [ "$APPLIED" -le 100 ]; then fail "demo ledger applied ${APPLIED:-nothing}"; fi
[ "$(json_number parked)" = 0 ] || fail "demo ledger parked events"
drained=""
for _ in $(seq 1 120); do
  if [ "$(rcli XLEN "$LEDGER_STREAM")" = "$APPLIED" ] && [ "$(group_field lag)" = 0 ] &&
    [ "$(group_field pending)" = 0 ]; then
    drained=1
    break
  fi
  sleep 0.5
done
[ -n "$drained" ] || fail "classification did not consume the ${APPLIED} ledger events within 60 s"
ok "classification consumed the ${APPLIED} ledger events of the demo ledger"

cli tiers report
expect_rc 0 "tiers report"
out_has '"tier":"A","customers":"1"' || fail "tiers report: not exactly one A customer"
cli tiers list A --all
expect_rc 0 "tiers list A"
A_BEFORE="$(grep -o '"customer_id":"[^"]*"' "$OUT" | cut -d'"' -f4 | sort)"
[ -n "$A_BEFORE" ] || fail "no customer is A after the demo ledger"
ok "the demo customers are spread over the tiers ($(echo "$A_BEFORE" | wc -l) A)"

# 4. A customer for five years (no probation) without revenue yet: tier C.
cli --role admin customer create --legal-name "杭州分级测试贸易有限公司" --external-ref "E2E-${SUFFIX}" \
  --data-consent
expect_rc 0 "customer create"
CUSTOMER="$(json_string id)"
[ -n "$CUSTOMER" ] || fail "no id in the created customer"
cli --role admin customer update "$CUSTOMER" --set first_transaction_date=2021-03-01
expect_rc 0 "customer update first_transaction_date"
settled=""
for _ in $(seq 1 40); do
  cli tiers get "$CUSTOMER"
  if [ "$RC" -eq 0 ] && grep -qF '"relationship": "strategic_partner"' "$OUT"; then
    settled=1
    break
  fi
  sleep 0.25
done
[ -n "$settled" ] || fail "classification did not learn the customer's first transaction date"
[ "$(json_string tier)" = C ] || fail "the new customer is $(json_string tier), expected C"
cli credit account "$CUSTOMER"
expect_rc 0 "credit account of the new customer"
ok "customer ${CUSTOMER} is C (no revenue), a strategic partner since 2021"

# 5. A large order and its payment through IngestEvents; the tier must follow within a second.
ORDER_EVENT="e2e-big-order-${SUFFIX}"
PAYMENT_EVENT="e2e-big-payment-${SUFFIX}"
AT="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
cat >"${TMP}/big.csv" <<EOF
type,event_id,customer_id,document_no,order_no,amount,currency,occurred_at,margin,terms
order,${ORDER_EVENT},${CUSTOMER},SO-E2E-${SUFFIX},,"80,000,000.00",CNY,${AT},"16,000,000.00",net30
payment,${PAYMENT_EVENT},${CUSTOMER},RC-E2E-${SUFFIX},SO-E2E-${SUFFIX},"80,000,000.00",CNY,${AT},,
EOF
cli import "${TMP}/big.csv" --report "${TMP}/report.jsonl" --no-progress
INGESTED_AT="$(now_ms)"
expect_rc 0 "import of the large order and payment"
[ "$(json_number applied)" = 2 ] || fail "the large order and payment were not both applied"
TIER=""
SEEN_AT=""
while [ $(($(now_ms) - INGESTED_AT)) -lt 5000 ]; do
  cli tiers get "$CUSTOMER"
  expect_rc 0 "tiers get while waiting for the new tier"
  TIER="$(json_string tier)"
  if [ "$TIER" != C ]; then
    SEEN_AT="$(now_ms)"
    break
  fi
done
[ -n "$SEEN_AT" ] || fail "the tier of ${CUSTOMER} is still C 5 s after the ingest call returned"
[ "$TIER" = A ] || fail "the tier moved to ${TIER}, expected A"
LATENCY=$((SEEN_AT - INGESTED_AT))
[ "$LATENCY" -le 1000 ] || fail "GetTier showed A only ${LATENCY} ms after the ingest returned"
ok "GetTier shows A ${LATENCY} ms after IngestEvents returned (limit 1000 ms)"

# 6. The history entry: C -> A, reason EVENT, triggered by the order.
cli tiers history "$CUSTOMER"
expect_rc 0 "tiers history"
out_has '"previous_tier":"C","tier":"A","reason_code":"EVENT"' ||
  fail "the newest history entry is not C -> A for EVENT"
[ "$(json_string trigger_event_id)" = "$ORDER_EVENT" ] ||
  fail "the change was not triggered by ${ORDER_EVENT}"
out_has '"factor":"MARGIN_12M","value":"16000000.00"' ||
  fail "the history entry does not show the margin factor of 16,000,000.00"
ok "tiers history: C -> A, reason EVENT, trigger ${ORDER_EVENT}, with its factors"

# A customer the big one pushed out of A: a boundary shift, recorded as such.
cli tiers list A --all
expect_rc 0 "tiers list A after the change"
A_AFTER="$(grep -o '"customer_id":"[^"]*"' "$OUT" | cut -d'"' -f4 | sort)"
[[ $'\n'"${A_AFTER}"$'\n' == *$'\n'"${CUSTOMER}"$'\n'* ]] || fail "tiers list A does not show ${CUSTOMER}"
PUSHED="$(comm -23 <(echo "$A_BEFORE") <(echo "$A_AFTER") | head -n 1)"
[ -n "$PUSHED" ] || fail "no former A customer was pushed down by the new one"
cli tiers history "$PUSHED"
expect_rc 0 "tiers history of the pushed customer"
out_has "\"reason_code\":\"BOUNDARY_SHIFT\",\"trigger_event_id\":\"${ORDER_EVENT}\"" ||
  fail "${PUSHED} left A without a BOUNDARY_SHIFT entry triggered by ${ORDER_EVENT}"
ok "former A customer ${PUSHED} was pushed down: BOUNDARY_SHIFT, trigger ${ORDER_EVENT}"

# 7. TierChanged on its stream: an entry for the customer, C -> A, reason EVENT (the payload is
# a serialized tierwise.events.v1.TierChanged; redis-cli --no-raw shows its bytes escaped).
found=""
for _ in $(seq 1 20); do
  rcli --no-raw XRANGE "$TIER_STREAM" - + >"${TMP}/tier_changed"
  if grep -F "$CUSTOMER" "${TMP}/tier_changed" | grep -F 'EVENT' >"${TMP}/ours" &&
    grep -qF '\x1a\x01C\"\x01A' "${TMP}/ours"; then
    found=1
    break
  fi
  sleep 0.1
done
[ -n "$found" ] || fail "no TierChanged C -> A (EVENT) for ${CUSTOMER} on ${TIER_STREAM}"
grep -qF '"tierwise.events.v1.TierChanged"' "${TMP}/tier_changed" ||
  fail "the entries on ${TIER_STREAM} are not typed tierwise.events.v1.TierChanged"
ok "a TierChanged entry (C -> A, EVENT) for ${CUSTOMER} is on ${TIER_STREAM}"

# 8. Metrics: the GetTier calls above were answered by the cache, whose in-process copy Redis
# tracks.
port="$(sed -n 's/.*metrics\.started.* port=\([0-9][0-9]*\).*/\1/p' "$CLASSIFICATION_LOG" | tail -n 1)"
[ -n "$port" ] || fail "classification logged no metrics port"
exec 3<>"/dev/tcp/127.0.0.1/${port}"
printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
cat <&3 >"${TMP}/metrics"
exec 3<&-
grep -Eq '^tierwise_tier_cache_requests_total\{[^}]*result="hit"[^}]*\} [1-9]' "${TMP}/metrics" ||
  fail "no cache hits counted in tierwise_tier_cache_requests_total on /metrics"
grep -Eq '^tierwise_tier_local_cache_coherent(\{[^}]*\})? 1$' "${TMP}/metrics" ||
  fail "tierwise_tier_local_cache_coherent is not 1 on /metrics"
ok "/metrics counts the cached GetTier answers and shows the in-process cache tracked by Redis"

# 9. Graceful shutdown.
stop_server classification CLASSIFICATION_PID
stop_server credit CREDIT_PID
stop_server profile PROFILE_PID
ok "SIGTERM stops classification, credit and profile with exit code 0 within 15 s"

echo "${CHECKS} passed, 0 failed"
