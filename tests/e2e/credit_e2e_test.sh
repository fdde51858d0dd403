#!/usr/bin/env bash
# End-to-end test of the credit service and the ERP import through the `tierwise` CLI, with the
# profile service feeding it customers, against a real PostgreSQL and Redis (tests/run.sh starts
# them and exports TIERWISE_TEST_PG_URI and TIERWISE_TEST_REDIS_ADDR; without them the test is
# skipped with exit code 77).
#
#   credit_e2e_test.sh <tierwise-profile> <tierwise-credit> <tierwise> <ledger-sample.csv>
#
# Starts both servers on free loopback ports, sharing one database (a schema each) and one Redis
# prefix (the credit service learns customers from the profile service's stream), loads 20 demo
# customers, waits until the credit service knows them, imports the sample ledger twice (the
# second time everything is a duplicate and the accounts do not move), checks reflection,
# authorization and a few credit commands, then stops both with SIGTERM and expects a clean exit.
set -uo pipefail

if [ $# -ne 4 ]; then
  echo "usage: $0 <tierwise-profile> <tierwise-credit> <tierwise> <ledger-sample.csv>" >&2
  exit 2
fi
PROFILE_BIN="$1"
CREDIT_BIN="$2"
CLI="$3"
SAMPLE="$4"

# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_init credit
[ -r "$SAMPLE" ] || fail "cannot read the sample ledger $SAMPLE"

e2e_schema PROFILE_SCHEMA profile
e2e_schema CREDIT_SCHEMA credit
PROFILE_LOG="${TMP}/profile.log"
CREDIT_LOG="${TMP}/credit.log"
REPORT="${TMP}/import-report.jsonl"

PROFILE_PORT="$(free_port)" || fail "no free port"
CREDIT_PORT="$(free_port)" || fail "no free port"
write_env

# 1. Migrations on their own.
migrate_only profile "$PROFILE_BIN" "$PROFILE_SCHEMA" "$PROFILE_LOG" "$PROFILE_PORT"
migrate_only credit "$CREDIT_BIN" "$CREDIT_SCHEMA" "$CREDIT_LOG" "$CREDIT_PORT"
ok "--migrate_only exits 0 for profile and credit"

# 2. Start both servers and wait until they are SERVING.
start_server profile "$PROFILE_BIN" "$PROFILE_SCHEMA" "$PROFILE_LOG" PROFILE_PORT PROFILE_PID
ok "profile is SERVING on 127.0.0.1:${PROFILE_PORT}"
start_server credit "$CREDIT_BIN" "$CREDIT_SCHEMA" "$CREDIT_LOG" CREDIT_PORT CREDIT_PID
ok "credit is SERVING on 127.0.0.1:${CREDIT_PORT}"

# 3. Reflection.
cli services --addr "127.0.0.1:${CREDIT_PORT}"
expect_rc 0 "services"
expect_in "$OUT" '"tierwise.credit.v1.LedgerIngestService"' "services"
expect_in "$OUT" '"tierwise.credit.v1.CreditService"' "services"
ok "reflection lists LedgerIngestService and CreditService"

# 4. Customers, and the credit service learning them from the profile service's stream.
cli --role admin demo load --count 20
expect_rc 0 "demo load"
[ "$(cat "$OUT")" = '{"created":20,"existing":0,"failed":0}' ] || fail "demo load summary"
ok "demo load creates 20 customers"

for ref in ERP-C00001 ERP-C00020; do
  known=""
  for _ in $(seq 1 40); do
    cli credit account "$ref"
    if [ "$RC" -eq 0 ]; then
      known=1
      break
    fi
    grep -qF '"code":"NOT_FOUND"' "$ERR" || fail "credit account ${ref}: unexpected error"
    sleep 0.5
  done
  [ -n "$known" ] || fail "the credit service did not learn ${ref} within 20 s"
done
expect_in "$OUT" '"customer_id"' "credit account"
ok "the credit service knows the demo customers (ERP-C00001 .. ERP-C00020)"

# 5. The sample ledger: one row is bad on purpose.
BAD_LINE="$(grep -n 'sample-bad-negative-amount' "$SAMPLE" | cut -d: -f1)"
[ -n "$BAD_LINE" ] || fail "the sample has no deliberately bad row"
ROWS=$(($(grep -cv '^[[:space:]]*$' "$SAMPLE") - 1))
cli import "$SAMPLE" --report "$REPORT" --no-progress
expect_rc 3 "first import (one row is rejected)"
APPLIED="$(json_number applied)"
PARKED="$(json_number parked)"
if [ -z "$APPLIED" ] || [ "$APPLIED" -le 0 ]; then fail "first import: nothing applied"; fi
[ "$(json_number rejected)" = 1 ] || fail "first import: rejected is not 1"
[ "$(json_number duplicate)" = 0 ] || fail "first import: duplicates on a fresh ledger"
[ "$(json_number lines)" = "$ROWS" ] || fail "first import: lines is not ${ROWS}"
[ $((APPLIED + PARKED + 1)) -eq "$ROWS" ] || fail "first import: the counts do not add up"
expect_in "$ERR" "1 row rejected, see ${REPORT}" "first import"
ok "import: ${APPLIED} applied, ${PARKED} parked, 1 rejected of ${ROWS} rows"

[ "$(wc -l <"$REPORT")" -eq 1 ] || fail "the report has $(wc -l <"$REPORT") lines, expected 1"
expect_in "$REPORT" "\"line\":${BAD_LINE}," "report"
expect_in "$REPORT" '"event_id":"sample-bad-negative-amount"' "report"
expect_in "$REPORT" '"field":"order.amount.minor_units"' "report"
expect_in "$REPORT" '"column":"amount"' "report"
expect_in "$REPORT" '"source":"server"' "report"
ok "the report names line ${BAD_LINE}, order.amount.minor_units, must be positive"

# Parked events (customers learned late) are applied on their own; wait for that before
# taking the accounts' figures.
drained=""
for _ in $(seq 1 40); do
  cli credit parked --all
  expect_rc 0 "credit parked"
  if [ ! -s "$OUT" ]; then
    drained=1
    break
  fi
  sleep 0.5
done
[ -n "$drained" ] || fail "events stay parked although every customer is known"
ok "nothing stays parked"

# A customer with something open, so that "unchanged" below means something.
CUSTOMER=""
mapfile -t REFS < <(awk -F, 'NR > 1 && $1 == "order" { print $3 }' "$SAMPLE" | sort -u)
for ref in "${REFS[@]}"; do
  cli credit account "$ref"
  expect_rc 0 "credit account ${ref}"
  if json_object exposure | grep -qF '"minor_units"'; then
    CUSTOMER="$ref"
    break
  fi
done
[ -n "$CUSTOMER" ] || fail "no customer of the sample has any exposure"
EXPOSURE_BEFORE="$(json_object exposure)"
EVENTS_BEFORE="$(tr -d ' \n' <"$OUT" | grep -o '"events_applied":"[0-9]*"')"
[ -n "$EVENTS_BEFORE" ] || fail "${CUSTOMER} has no events applied"

# 6. The same file again: everything is a duplicate, nothing moves.
cli import "$SAMPLE" --report "$REPORT" --no-progress
expect_rc 3 "second import"
[ "$(json_number applied)" = 0 ] || fail "second import applied events again"
[ "$(json_number parked)" = 0 ] || fail "second import parked events"
[ "$(json_number duplicate)" = $((APPLIED + PARKED)) ] ||
  fail "second import: duplicate is not ${APPLIED} + ${PARKED}"
[ "$(json_number rejected)" = 1 ] || fail "second import: rejected is not 1"
ok "importing again: 0 applied, $((APPLIED + PARKED)) duplicates, 1 rejected"

cli credit account "$CUSTOMER"
expect_rc 0 "credit account ${CUSTOMER} after the second import"
[ "$(json_object exposure)" = "$EXPOSURE_BEFORE" ] ||
  fail "exposure of ${CUSTOMER} changed: ${EXPOSURE_BEFORE} -> $(json_object exposure)"
[ "$(tr -d ' \n' <"$OUT" | grep -o '"events_applied":"[0-9]*"')" = "$EVENTS_BEFORE" ] ||
  fail "events_applied of ${CUSTOMER} changed"
ok "the account of ${CUSTOMER} is unchanged (${EXPOSURE_BEFORE})"

# The generator behind the sample gives the very same events: all duplicates.
cli demo ledger --customers 20 --seed 42 --months 12 --end 2026-10-31 --no-progress
expect_rc 0 "demo ledger"
[ "$(cat "$OUT")" = "{\"applied\":0,\"duplicate\":$((ROWS - 1)),\"parked\":0,\"rejected\":0,\"lines\":$((ROWS - 1))}" ] ||
  fail "demo ledger for the sample's options is not all duplicates"
ok "demo ledger with the sample's options finds only duplicates"

# 7. Authorization: a viewer may read accounts but not ingest or set terms.
cli --role viewer import "$SAMPLE" --report "$REPORT" --no-progress
expect_rc 1 "viewer import"
expect_in "$ERR" '"code":"PERMISSION_DENIED"' "viewer import"
ok "a viewer's import is PERMISSION_DENIED"

cli --role viewer credit account "$CUSTOMER"
expect_rc 0 "viewer credit account"
cli --role viewer credit terms "$CUSTOMER" --limit 1 --reason e2e
expect_rc 1 "viewer credit terms"
expect_in "$ERR" '"code":"PERMISSION_DENIED"' "viewer credit terms"
ok "a viewer reads the account but may not set terms"

# 8. Credit commands.
cli --role finance credit terms "$CUSTOMER" --limit 2,000,000 --terms net45 --reason "e2e review"
expect_rc 0 "finance credit terms"
[ "$(json_object credit_limit)" = '"credit_limit":{"minor_units":"200000000","currency":"CNY"}' ] ||
  fail "credit terms: limit $(json_object credit_limit)"
expect_in "$OUT" '"PAYMENT_TERMS_TYPE_NET_DAYS"' "credit terms"
ok "finance sets a limit of 2,000,000.00 CNY and net45"

cli credit check "$CUSTOMER" 1000.50
expect_rc 0 "credit check"
expect_in "$OUT" '"decision": "CREDIT_DECISION_' "credit check"
cli credit items "$CUSTOMER" --all
expect_rc 0 "credit items"
expect_in "$OUT" '"order_no"' "credit items"
cli credit collections --all
expect_rc 0 "credit collections"
MAX_OVERDUE="$(grep -o '"max_days_overdue":[0-9]*' "$OUT" | cut -d: -f2 | sort -n | tail -n 1)"
[ "${MAX_OVERDUE:-0}" -gt 90 ] || fail "no customer of the sample is 90+ days overdue"
cli credit policy
expect_rc 0 "credit policy"
expect_in "$OUT" '"weight_on_time_ratio"' "credit policy"
cli credit account ERP-NO-SUCH-CUSTOMER
expect_rc 1 "credit account of an unknown external ref"
expect_in "$ERR" "resolving external ref 'ERP-NO-SUCH-CUSTOMER'" "unknown external ref"
ok "credit check, items, policy; collections reach ${MAX_OVERDUE} days overdue; an unknown external ref is NOT_FOUND"

# 9. Graceful shutdown of both.
stop_server credit CREDIT_PID
stop_server profile PROFILE_PID
ok "SIGTERM stops credit and profile with exit code 0 within 15 s"

echo "${CHECKS} passed, 0 failed"
