#!/usr/bin/env bash
# End-to-end test of the profile service through the `tierwise` CLI, against a real PostgreSQL
# and Redis (tests/run.sh starts them and exports TIERWISE_TEST_PG_URI and
# TIERWISE_TEST_REDIS_ADDR; without them the test is skipped with exit code 77).
#
#   profile_e2e_test.sh <tierwise-profile binary> <tierwise binary>
#
# Starts the server on a free loopback port with its own schema, Redis prefix and tokens file,
# checks health, reflection, authentication, authorization, validation, the demo data load and
# listing, then stops it with SIGTERM and expects a clean exit within 15 s.
set -uo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 <tierwise-profile> <tierwise>" >&2
  exit 2
fi
PROFILE_BIN="$1"
CLI="$2"

# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_init profile

e2e_schema PROFILE_SCHEMA profile
LOG="${TMP}/server.log"
PROFILE_PORT="$(free_port)" || fail "no free port"
write_env

# 1. Migrations on their own.
migrate_only profile "$PROFILE_BIN" "$PROFILE_SCHEMA" "$LOG" "$PROFILE_PORT"
ok "--migrate_only exits 0"

# 2. Start the server and wait until it is SERVING. A port taken in the meantime is retried.
start_server profile "$PROFILE_BIN" "$PROFILE_SCHEMA" "$LOG" PROFILE_PORT SERVER_PID
expect_in "$OUT" '"SERVING"' "health"
ok "server is SERVING on 127.0.0.1:${PROFILE_PORT}"

cli health --service tierwise.profile.v1.CustomerProfileService
expect_rc 0 "health of CustomerProfileService"
ok "health of tierwise.profile.v1.CustomerProfileService is SERVING"

# 3. Reflection.
cli services
expect_rc 0 "services"
expect_in "$OUT" '"tierwise.profile.v1.CustomerProfileService"' "services"
expect_in "$OUT" '"grpc.health.v1.Health"' "services"
ok "reflection lists the profile and health services"

cli services --methods
expect_rc 0 "services --methods"
for method in CreateCustomer GetCustomer GetCustomerByExternalRef UpdateCustomer ListCustomers \
  DeleteCustomer EraseCustomer AddContact UpdateContact RemoveContact ListCustomerAudit; do
  expect_in "$OUT" "\"name\": \"${method}\"" "services --methods"
done
ok "reflection lists all 11 CustomerProfileService methods"

# 4. Authentication: no token, and an unknown one.
cli --token '' customer list
expect_rc 1 "call without a token"
expect_in "$ERR" '"code":"UNAUTHENTICATED"' "call without a token"
ok "a call without a token is UNAUTHENTICATED"

cli --token 'not-a-known-token' customer list
expect_rc 1 "call with an unknown token"
expect_in "$ERR" '"code":"UNAUTHENTICATED"' "call with an unknown token"
ok "a call with an unknown token is UNAUTHENTICATED"

# 5. Demo data: 20 customers, and a rerun changes nothing.
cli --token "$ADMIN_TOKEN" demo load --count 20 --seed 7
expect_rc 0 "demo load"
[ "$(cat "$OUT")" = '{"created":20,"existing":0,"failed":0}' ] || fail "demo load summary"
ok "demo load creates 20 customers"

cli --token "$ADMIN_TOKEN" demo load --count 20 --seed 7
expect_rc 0 "demo load rerun"
[ "$(cat "$OUT")" = '{"created":0,"existing":20,"failed":0}' ] || fail "demo load rerun summary"
ok "demo load rerun finds 20 existing, creates none"

cli --token "$ADMIN_TOKEN" customer list --all --page-size 7
expect_rc 0 "customer list --all"
[ "$(wc -l <"$OUT")" -eq 20 ] || fail "customer list --all: $(wc -l <"$OUT") lines, expected 20"
ok "customer list --all returns 20 customers over pages of 7"

cli --token "$VIEWER_TOKEN" customer list --all
expect_rc 0 "viewer customer list --all"
[ "$(wc -l <"$OUT")" -eq 20 ] || fail "viewer list: $(wc -l <"$OUT") lines, expected 20"
CUSTOMER_ID="$(grep -o '"id":"[^"]*"' "$OUT" | head -n 1 | cut -d'"' -f4)"
[ -n "$CUSTOMER_ID" ] || fail "no customer id in the list output"
ok "a viewer can list customers"

cli --token "$ADMIN_TOKEN" customer get --external-ref ERP-C00003
expect_rc 0 "get by external ref"
expect_in "$OUT" '"external_ref": "ERP-C00003"' "get by external ref"
ok "get by external_ref finds ERP-C00003"

# 6. Authorization: a viewer may not change a customer.
cli --token "$VIEWER_TOKEN" customer update "$CUSTOMER_ID" --set owner=rep.chen
expect_rc 1 "viewer update"
expect_in "$ERR" '"code":"PERMISSION_DENIED"' "viewer update"
ok "a viewer's update is PERMISSION_DENIED"

cli --token "$ADMIN_TOKEN" customer update "$CUSTOMER_ID" --set region.city=杭州 \
  --set region.province=浙江 --set tags=key-account,e2e
expect_rc 0 "admin update"
expect_in "$OUT" '"city": "杭州"' "admin update"
expect_in "$OUT" '"e2e"' "admin update"
ok "an admin's update changes region and tags"

cli --token "$ADMIN_TOKEN" customer update "$CUSTOMER_ID" --set owner=rep.chen --etag stale-etag
expect_rc 1 "update with a stale etag"
expect_in "$ERR" '"code":"ABORTED"' "update with a stale etag"
ok "an update with a stale etag is ABORTED"

cli --token "$ADMIN_TOKEN" customer audit "$CUSTOMER_ID"
expect_rc 0 "audit"
expect_in "$OUT" 'AUDIT_ACTION_CREATE' "audit"
expect_in "$OUT" 'AUDIT_ACTION_UPDATE' "audit"
ok "the audit log records the create and the update"

# 7. Validation: the offending field is named.
cli --token "$ADMIN_TOKEN" customer create --legal-name "苏州测试机械有限公司" \
  --external-ref E2E-BAD-EMAIL --email not-an-email
expect_rc 1 "create with a bad e-mail"
expect_in "$ERR" '"code":"INVALID_ARGUMENT"' "create with a bad e-mail"
expect_in "$ERR" '"field":"customer.registration.email"' "create with a bad e-mail"
ok "a bad e-mail is INVALID_ARGUMENT naming customer.registration.email"

cli --token "$ADMIN_TOKEN" customer create --legal-name "苏州测试机械有限公司" \
  --external-ref E2E-BAD-CODE --credit-code 91320505MA1XXXXX01
expect_rc 1 "create with a bad credit code"
expect_in "$ERR" '"code":"INVALID_ARGUMENT"' "create with a bad credit code"
expect_in "$ERR" '"field":"customer.registration.unified_credit_code"' "bad credit code"
ok "a bad credit code is INVALID_ARGUMENT naming customer.registration.unified_credit_code"

cli --token "$ADMIN_TOKEN" customer create --legal-name "苏州测试机械有限公司" \
  --external-ref ERP-C00001
expect_rc 1 "create with a taken external_ref"
expect_in "$ERR" '"code":"ALREADY_EXISTS"' "create with a taken external_ref"
ok "a taken external_ref is ALREADY_EXISTS"

cli --token "$ADMIN_TOKEN" customer list --all
[ "$(wc -l <"$OUT")" -eq 20 ] || fail "rejected creates changed the list: $(wc -l <"$OUT") lines"
ok "rejected requests wrote nothing"

# 8. Sensitive reads and deletion.
cli --token "$VIEWER_TOKEN" customer get "$CUSTOMER_ID" --full
expect_rc 1 "viewer FULL read"
expect_in "$ERR" '"code":"PERMISSION_DENIED"' "viewer FULL read"
cli --token "$VIEWER_TOKEN" customer get "$CUSTOMER_ID"
expect_rc 0 "viewer BASIC read"
if grep -qF '"bank_account"' "$OUT"; then fail "the BASIC view shows the bank account"; fi
cli --token "$ADMIN_TOKEN" customer get "$CUSTOMER_ID" --full
expect_rc 0 "admin FULL read"
expect_in "$OUT" '"bank_account"' "admin FULL read"
ok "FULL view for an admin only; BASIC hides the bank account"

cli --token "$ADMIN_TOKEN" customer delete "$CUSTOMER_ID"
expect_rc 0 "delete"
expect_in "$OUT" '"state": "CUSTOMER_STATE_DELETED"' "delete"
cli --token "$ADMIN_TOKEN" customer list --all
[ "$(wc -l <"$OUT")" -eq 19 ] || fail "list after delete: $(wc -l <"$OUT") lines, expected 19"
cli --token "$ADMIN_TOKEN" customer list --all --show-deleted
[ "$(wc -l <"$OUT")" -eq 20 ] || fail "list --show-deleted: $(wc -l <"$OUT") lines, expected 20"
ok "a deleted customer leaves the list and shows with --show-deleted"

# 9. Graceful shutdown.
stop_server server SERVER_PID
ok "SIGTERM stops the server with exit code 0 within 15 s"

echo "${CHECKS} passed, 0 failed"
