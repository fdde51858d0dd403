#!/usr/bin/env bash
# End-to-end test of the interaction service with the profile and classification services it
# learns from, through the `tierwise` CLI, against a real PostgreSQL and Redis (tests/run.sh
# starts them and exports TIERWISE_TEST_PG_URI and TIERWISE_TEST_REDIS_ADDR; without them the test
# is skipped with exit code 77).
#
#   interaction_e2e_test.sh <tierwise-profile> <tierwise-classification> \
#       <tierwise-interaction> <tierwise>
#
# Starts the three servers on free loopback ports, sharing one database (a schema each) and one
# Redis prefix; interaction asks classification for tiers and policies with a viewer token of its
# own. Checks reflection on the interaction port (InteractionService and its 11 methods). Creates
# a customer owned by the sales rep rep.zhang, waits until classification and interaction know
# it, pins it to tier A and waits until interaction's plan follows. Then, as rep.zhang: logs a
# contact (stamped with tier A from classification) and a late one, lists them newest first,
# lists the due follow-ups (A's on-site visit and executive contact, the agreed date), opens a
# complaint (A's SLA, needs attention) and lists the open complaints. Another rep, rep.chen, is
# denied zhang's customer, records and plan, and sees none of the complaints. The records and the
# complaint reach <prefix>:interaction.events. SIGTERM stops the three with exit code 0.
set -uo pipefail

if [ $# -ne 4 ]; then
  echo "usage: $0 <tierwise-profile> <tierwise-classification> <tierwise-interaction> <tierwise>" >&2
  exit 2
fi
PROFILE_BIN="$1"
CLASSIFICATION_BIN="$2"
INTERACTION_BIN="$3"
CLI="$4"

# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_init interaction

e2e_schema PROFILE_SCHEMA profile
e2e_schema CLASSIFICATION_SCHEMA classification
e2e_schema INTERACTION_SCHEMA interaction
PROFILE_LOG="${TMP}/profile.log"
CLASSIFICATION_LOG="${TMP}/classification.log"
INTERACTION_LOG="${TMP}/interaction.log"
REDIS_HOST="${TIERWISE_TEST_REDIS_ADDR%:*}"
REDIS_PORT="${TIERWISE_TEST_REDIS_ADDR##*:}"
EVENTS_STREAM="${REDIS_PREFIX}:interaction.events"

# Two sales reps and the interaction service's own credential for classification.
ZHANG_TOKEN="$(e2e_token zhang)"
CHEN_TOKEN="$(e2e_token chen)"
SVC_TOKEN="$(e2e_token svc)"
printf '%s\n' "rep.zhang sales_rep ${ZHANG_TOKEN}" "rep.chen sales_rep ${CHEN_TOKEN}" \
  "svc.interaction viewer ${SVC_TOKEN}" >>"${TMP}/tokens"

zhang() { cli --token "$ZHANG_TOKEN" "$@"; }
chen() { cli --token "$CHEN_TOKEN" "$@"; }

# Lines of $OUT (JSON lines of a list --all) that mention the customer, without spaces.
customer_lines() { tr -d ' ' <"$OUT" | grep -F "\"customer_id\":\"${CUSTOMER}\""; }

# {"year":Y,"month":M,"day":D} of a date `date -d` understands, as the CLI prints a Date.
date_json() { date -u -d "$1" +'{"year":%Y,"month":%-m,"day":%-d}'; }

PROFILE_PORT="$(free_port)" || fail "no free port"
CLASSIFICATION_PORT="$(free_port)" || fail "no free port"
INTERACTION_PORT="$(free_port)" || fail "no free port"
write_env

# 1. Migrations, then the three servers.
migrate_only interaction "$INTERACTION_BIN" "$INTERACTION_SCHEMA" "$INTERACTION_LOG" \
  "$INTERACTION_PORT"
ok "interaction --migrate_only exits 0"
start_server profile "$PROFILE_BIN" "$PROFILE_SCHEMA" "$PROFILE_LOG" PROFILE_PORT PROFILE_PID
start_server classification "$CLASSIFICATION_BIN" "$CLASSIFICATION_SCHEMA" "$CLASSIFICATION_LOG" \
  CLASSIFICATION_PORT CLASSIFICATION_PID
start_server interaction "$INTERACTION_BIN" "$INTERACTION_SCHEMA" "$INTERACTION_LOG" \
  INTERACTION_PORT INTERACTION_PID \
  "--classification_addr=127.0.0.1:${CLASSIFICATION_PORT}" \
  "--classification_token=${SVC_TOKEN}" --sla_sweep_interval_s=1
ok "profile, classification and interaction are SERVING (ports ${PROFILE_PORT}, ${CLASSIFICATION_PORT}, ${INTERACTION_PORT})"

# 2. Reflection on the interaction port: the service and its 11 methods.
cli services interaction --methods
expect_rc 0 "services interaction --methods"
expect_in "$OUT" '"grpc.health.v1.Health"' "services interaction"
METHODS="$(awk '/"name": "tierwise.interaction.v1.InteractionService"/ { inside = 1; next }
  inside && /^      \]/ { exit } inside' "$OUT" | grep -o '{"name": "[A-Za-z]*"' | cut -d'"' -f4 |
  sort | tr '\n' ' ')"
EXPECTED="CorrectInteraction GetComplaint GetInteraction ListComplaints ListDueFollowUps "
EXPECTED+="ListInteractions ListOverdueFollowUps LogInteraction OpenComplaint ResolveComplaint "
EXPECTED+="RespondToComplaint "
[ "$METHODS" = "$EXPECTED" ] ||
  fail "InteractionService methods by reflection: '${METHODS}', expected '${EXPECTED}'"
ok "reflection on the interaction port lists InteractionService with its 11 methods"

# 3. A customer of rep.zhang; classification and interaction learn it from the profile stream.
cli customer create --legal-name "宁波沟通测试机械有限公司" --external-ref "E2E-INT-${SUFFIX}" \
  --owner rep.zhang --data-consent
expect_rc 0 "customer create"
CUSTOMER="$(json_string id)"
[ -n "$CUSTOMER" ] || fail "no id in the created customer"
[ "$(json_string owner)" = rep.zhang ] || fail "the customer's owner is $(json_string owner)"

known=""
for _ in $(seq 1 60); do
  cli tiers get "$CUSTOMER"
  if [ "$RC" -eq 0 ]; then
    known=1
    break
  fi
  grep -qF '"code":"NOT_FOUND"' "$ERR" || fail "tiers get of the new customer: unexpected error"
  sleep 0.25
done
[ -n "$known" ] || fail "classification did not learn the customer within 15 s"
known=""
for _ in $(seq 1 60); do
  zhang interactions list --customer "$CUSTOMER"
  if [ "$RC" -eq 0 ]; then
    known=1
    break
  fi
  grep -qF '"code":"NOT_FOUND"' "$ERR" || fail "interactions list of the new customer: unexpected error"
  sleep 0.25
done
[ -n "$known" ] || fail "interaction did not learn the customer within 15 s"
[ "$(tr -d ' \n' <"$OUT")" = '{}' ] || fail "the new customer already has records"
ok "customer ${CUSTOMER} of rep.zhang is known to classification and interaction (no records)"

# 4. Tier A by a pin; interaction's plan follows the TierChanged event.
cli tiers pin "$CUSTOMER" A --reason "e2e: key account" --days 30
expect_rc 0 "tiers pin A"
[ "$(json_string tier)" = A ] || fail "the pinned tier is $(json_string tier)"
planned=""
for _ in $(seq 1 60); do
  zhang interactions due --all
  expect_rc 0 "interactions due (waiting for tier A)"
  if customer_lines | grep -F '"kind":"FOLLOW_UP_KIND_REGULAR"' | grep -qF '"tier":"A"'; then
    planned=1
    break
  fi
  sleep 0.25
done
[ -n "$planned" ] || fail "interaction's plan did not show tier A within 15 s of the pin"
ok "the pin to A reaches interaction's follow-up plan"

# 5. rep.zhang logs a phone call two hours ago: tier A stamped from classification, not late.
OCCURRED="$(date -u -d '-2 hours' +%Y-%m-%dT%H:%M:%SZ)"
NEXT="$(date -u -d '+7 days' +%Y-%m-%d)"
zhang interactions log "$CUSTOMER" --channel phone --summary "电话回访，确认三季度备货计划" \
  --occurred-at "$OCCURRED" --contact "王经理" --satisfaction 4 --conclusion "下周上门拜访" \
  --next-follow-up "$NEXT" --intent
expect_rc 0 "interactions log (phone)"
CALL_ID="$(json_string id)"
[ -n "$CALL_ID" ] || fail "no id in the logged interaction"
for pair in "owner=rep.zhang" "recorded_by=rep.zhang" "tier=A" \
  "tier_source=TIER_SOURCE_CLASSIFICATION" "channel=CHANNEL_PHONE" "customer_id=${CUSTOMER}"; do
  [ "$(json_string "${pair%%=*}")" = "${pair#*=}" ] ||
    fail "logged interaction: ${pair%%=*} is '$(json_string "${pair%%=*}")', expected '${pair#*=}'"
done
[ "$(json_number satisfaction)" = 4 ] || fail "logged interaction: satisfaction"
[ "$(json_number version)" = 1 ] || fail "logged interaction: version"
if grep -qF '"late_entry": true' "$OUT"; then fail "a record entered 2 h after the call is late"; fi
ok "rep.zhang logs a call: owner and recorder rep.zhang, tier A from classification, not late"

# ... and a visit three days ago, entered only now: flagged late.
VISIT_AT="$(date -u -d '-3 days' +%Y-%m-%dT%H:%M:%SZ)"
zhang interactions log "$CUSTOMER" --channel customer_visit --summary "客户来访，参观生产线" \
  --occurred-at "$VISIT_AT"
expect_rc 0 "interactions log (late)"
LATE_ID="$(json_string id)"
expect_in "$OUT" '"late_entry": true' "a record entered three days after the contact"
ok "a record entered three days after the contact is flagged late"

# 6. Listing: both records, newest contact first.
zhang interactions list --customer "$CUSTOMER" --all
expect_rc 0 "interactions list --customer"
[ "$(wc -l <"$OUT")" -eq 2 ] || fail "interactions list: $(wc -l <"$OUT") records, expected 2"
[ "$(head -n 1 "$OUT" | tr -d ' ' | grep -o '"id":"[^"]*"' | cut -d'"' -f4)" = "$CALL_ID" ] ||
  fail "interactions list: the call of two hours ago is not first"
[ "$(sed -n 2p "$OUT" | tr -d ' ' | grep -o '"id":"[^"]*"' | cut -d'"' -f4)" = "$LATE_ID" ] ||
  fail "interactions list: the visit of three days ago is not second"
head -n 1 "$OUT" | tr -d ' ' | grep -qF '"tier":"A"' || fail "interactions list: tier not shown"
zhang interactions list --owner rep.zhang --all
expect_rc 0 "interactions list --owner rep.zhang"
[ "$(wc -l <"$OUT")" -eq 2 ] || fail "interactions list --owner: $(wc -l <"$OUT") records"
ok "rep.zhang lists the two records, newest contact first, with the stamped tier"

# 7. Due follow-ups for rep.zhang, today + 30 days: A's monthly on-site visit 30 days after the
# customer's visit (an in-person contact; the later call does not count for it), the quarterly
# executive contact (none yet: due today) and the date agreed on the call.
zhang interactions due --owner rep.zhang --all
expect_rc 0 "interactions due --owner rep.zhang"
VISIT_DUE="$(date -u -d "${VISIT_AT%%T*} +30 days" +%Y-%m-%d)"
customer_lines | grep -F '"kind":"FOLLOW_UP_KIND_REGULAR"' | grep -F '"tier":"A"' |
  grep -F '"channel":"CHANNEL_ON_SITE_VISIT"' | grep -qF "\"due_date\":$(date_json "$VISIT_DUE")" ||
  fail "due: no on-site visit (A) due on ${VISIT_DUE} for the customer"
customer_lines | grep -F '"kind":"FOLLOW_UP_KIND_EXECUTIVE"' | grep -F '"tier":"A"' |
  grep -qF "\"due_date\":$(date_json today)" || fail "due: no executive contact due today"
customer_lines | grep -F '"kind":"FOLLOW_UP_KIND_AGREED"' |
  grep -qF "\"due_date\":$(date_json "$NEXT")" || fail "due: no follow-up on the agreed ${NEXT}"
ok "rep.zhang's due follow-ups: A's on-site visit on ${VISIT_DUE}, executive contact today, the agreed ${NEXT}"

# 8. A complaint: A's SLA (24 h response, 48 h solution), the customer needs attention.
zhang interactions complaint open "$CUSTOMER" --subject "交货延迟" \
  --description "上批货物晚到五天，影响客户生产"
expect_rc 0 "interactions complaint open"
COMPLAINT="$(json_string id)"
[ -n "$COMPLAINT" ] || fail "no id in the opened complaint"
for pair in "status=COMPLAINT_STATUS_OPEN" "owner=rep.zhang" "tier=A" "customer_id=${CUSTOMER}"; do
  [ "$(json_string "${pair%%=*}")" = "${pair#*=}" ] ||
    fail "opened complaint: ${pair%%=*} is '$(json_string "${pair%%=*}")', expected '${pair#*=}'"
done
expect_in "$OUT" '"needs_attention": true' "opened complaint"
RECEIVED="$(date -u -d "$(json_string received_at)" +%s)" || fail "received_at"
RESPONSE_DUE="$(date -u -d "$(json_string response_due_at)" +%s)" || fail "response_due_at"
RESOLUTION_DUE="$(date -u -d "$(json_string resolution_due_at)" +%s)" || fail "resolution_due_at"
[ $((RESPONSE_DUE - RECEIVED)) -eq 86400 ] || fail "response due $((RESPONSE_DUE - RECEIVED)) s after receipt"
[ $((RESOLUTION_DUE - RECEIVED)) -eq 172800 ] ||
  fail "resolution due $((RESOLUTION_DUE - RECEIVED)) s after receipt"
zhang interactions complaints --filter open --all
expect_rc 0 "interactions complaints --filter open"
[ "$(wc -l <"$OUT")" -eq 1 ] || fail "open complaints: $(wc -l <"$OUT"), expected 1"
grep -qF "\"id\":\"${COMPLAINT}\"" "$OUT" || fail "open complaints: ${COMPLAINT} missing"
zhang interactions due --owner rep.zhang --all
expect_rc 0 "interactions due after the complaint"
customer_lines | grep -F '"kind":"FOLLOW_UP_KIND_REGULAR"' | grep -qF '"needs_attention":true' ||
  fail "due: the customer with an open complaint does not need attention"
ok "rep.zhang opens a complaint (A: response in 24 h, solution in 48 h) and lists it as open"

# 9. rep.chen: denied zhang's customer, records and plan; sees none of zhang's complaints.
chen interactions log "$CUSTOMER" --channel phone --summary "不是我的客户"
expect_rc 1 "rep.chen logs for zhang's customer"
expect_in "$ERR" '"code":"PERMISSION_DENIED"' "rep.chen logs for zhang's customer"
chen interactions list --customer "$CUSTOMER"
expect_rc 1 "rep.chen lists zhang's customer"
expect_in "$ERR" '"code":"PERMISSION_DENIED"' "rep.chen lists zhang's customer"
chen interactions get "$CALL_ID"
expect_rc 1 "rep.chen reads zhang's record"
expect_in "$ERR" '"code":"PERMISSION_DENIED"' "rep.chen reads zhang's record"
chen interactions due --owner rep.zhang
expect_rc 1 "rep.chen asks for zhang's plan"
expect_in "$ERR" '"code":"PERMISSION_DENIED"' "rep.chen asks for zhang's plan"
chen interactions complaint open "$CUSTOMER" --subject "越权投诉"
expect_rc 1 "rep.chen opens a complaint for zhang's customer"
expect_in "$ERR" '"code":"PERMISSION_DENIED"' "rep.chen opens a complaint for zhang's customer"
chen interactions complaints --filter open --all
expect_rc 0 "rep.chen lists the open complaints"
[ ! -s "$OUT" ] || fail "rep.chen sees complaints of zhang's customers"
chen interactions due --all
expect_rc 0 "rep.chen's own plan"
[ ! -s "$OUT" ] || fail "rep.chen's plan lists zhang's customer"
ok "rep.chen is denied zhang's customer, records and plan (PERMISSION_DENIED) and sees no complaint"

# 10. The two records and the complaint left through the outbox.
typed=""
for _ in $(seq 1 40); do
  ENTRIES="$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" XRANGE "$EVENTS_STREAM" - + 2>/dev/null)"
  if [ "$(grep -c '^tierwise.events.v1.InteractionLogged$' <<<"$ENTRIES")" -eq 2 ] &&
    grep -q '^tierwise.events.v1.Complaint' <<<"$ENTRIES"; then
    typed=1
    break
  fi
  sleep 0.25
done
[ -n "$typed" ] || fail "${EVENTS_STREAM} does not hold 2 InteractionLogged and a complaint event: $(grep '^tierwise' <<<"$ENTRIES" | sort | uniq -c | tr '\n' ' ')"
ok "2 InteractionLogged events and the complaint's event are on ${EVENTS_STREAM}"

# ... and classification consumed them into the customer's metrics: one rating of 4 (the
# visit was not rated) and one open complaint.
metrics=""
for _ in $(seq 1 40); do
  metrics="$(psql "$TIERWISE_TEST_PG_URI" -XAtq -c "SELECT satisfaction_x100,
    satisfaction_count_12m, open_complaints FROM \"${CLASSIFICATION_SCHEMA}\".customer_metrics
    WHERE customer_id = '${CUSTOMER}'" 2>/dev/null || true)"
  [ "$metrics" = "400|1|1" ] && break
  sleep 0.25
done
[ "$metrics" = "400|1|1" ] ||
  fail "classification's metrics for ${CUSTOMER} are '${metrics}', expected satisfaction 400 from 1 rating and 1 open complaint"
ok "classification counts the rating and the open complaint from the interaction events"

# 11. Graceful shutdown.
stop_server interaction INTERACTION_PID
stop_server classification CLASSIFICATION_PID
stop_server profile PROFILE_PID
ok "SIGTERM stops interaction, classification and profile with exit code 0 within 15 s"

echo "${CHECKS} passed, 0 failed"
