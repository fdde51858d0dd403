#!/usr/bin/env bash
# Cold start and probes with a real binary and a PostgreSQL of its own:
#  1. a service started before its PostgreSQL stays alive and waits, one log line per attempt
#     (migrations.waiting_for_database), without opening its port;
#  2. once PostgreSQL comes, it migrates and serves: readiness ("") and liveness
#     ("tierwise.liveness") SERVING;
#  3. PostgreSQL stopped: readiness NOT_SERVING, liveness still SERVING, the process alive;
#     PostgreSQL back: readiness SERVING again;
#  4. SIGTERM ends it with exit code 0, also while it is still waiting for the database.
#
#   cold_start.sh <tierwise-credit> <tierwise>
# Exit 0 when every check passed, 1 otherwise, 77 (skipped) without TIERWISE_TEST_PG_URI /
# TIERWISE_TEST_REDIS_ADDR (its Redis is the test one; PostgreSQL is its own).
set -uo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 <tierwise-credit> <tierwise>" >&2
  exit 2
fi
SERVICE_BIN="$1"
CLI="$2"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=tests/e2e/lib.sh
source "${HERE}/../e2e/lib.sh"
# shellcheck source=deploy/local/lib.sh
source "${HERE}/../../deploy/local/lib.sh"

e2e_init cold-start
chmod 755 "$TMP" # PostgreSQL runs as `postgres` when we are root and must traverse it.
TW_PG_FAST=1
PG_DIR="${TMP}/pg"
PG_PORT="$(free_port)" || fail "no free port"
CREDIT_PORT="$(free_port)" || fail "no free port"
write_env
LOG="${TMP}/credit.log"
e2e_log "$LOG"
SERVICE_PID=""
E2E_PID_VARS+=(SERVICE_PID)
trap 'tw_pg_stop "$PG_DIR" >/dev/null 2>&1; e2e_cleanup' EXIT

start_service() { # start_service PORT
  "$SERVICE_BIN" --listen="127.0.0.1:$1" \
    --pg_uri="postgresql://postgres@127.0.0.1:${PG_PORT}/tierwise" --pg_schema=credit \
    --redis_addr="$TIERWISE_TEST_REDIS_ADDR" --redis_prefix="$REDIS_PREFIX" \
    --tokens_file="${TMP}/tokens" --log_format=text --metrics_listen=127.0.0.1:0 \
    --health_interval_ms=200 >>"$LOG" 2>&1 &
  SERVICE_PID=$!
}

# health_is NAME STATUS [SECONDS]: waits until the health check of NAME ("" = readiness) answers
# SERVING (STATUS=SERVING) or does not (STATUS=NOT_SERVING).
health_is() {
  local name="$1" want="$2" seconds="${3:-20}" i
  for i in $(seq 1 $((seconds * 5))); do
    cli health credit --service "$name"
    if [ "$want" = SERVING ] && [ "$RC" -eq 0 ]; then return 0; fi
    if [ "$want" = NOT_SERVING ] && [ "$RC" -ne 0 ]; then return 0; fi
    sleep 0.2
  done
  return 1
}

waiting_lines() { grep -c 'migrations.waiting_for_database' "$LOG" || true; }

# 1. Before PostgreSQL.
start_service "$CREDIT_PORT"
sleep 4
kill -0 "$SERVICE_PID" 2>/dev/null || fail "the service died waiting for PostgreSQL"
[ "$(waiting_lines)" -ge 2 ] || fail "no log line per attempt while waiting ($(waiting_lines))"
ok "alive while PostgreSQL is not there, $(waiting_lines) waiting lines"
cli health credit --service tierwise.liveness
[ "$RC" -ne 0 ] || fail "the port answered before the migrations ran"
ok "port closed until migrated (the startup probe waits)"

# 2. PostgreSQL comes.
tw_pg_start "$PG_DIR" "$PG_PORT" >/dev/null 2>&1 || fail "cannot start PostgreSQL"
health_is "" SERVING 30 || fail "not ready 30 s after PostgreSQL came"
health_is tierwise.liveness SERVING 5 || fail "liveness not SERVING"
grep -q 'server.started' "$LOG" || fail "no server.started line"
ok "migrated and serving once PostgreSQL came"

# 3. PostgreSQL goes away and comes back: readiness follows it, liveness does not.
tw_pg_stop "$PG_DIR" >/dev/null 2>&1 || fail "cannot stop PostgreSQL"
health_is "" NOT_SERVING 10 || fail "readiness still SERVING without PostgreSQL"
health_is tierwise.liveness SERVING 2 || fail "liveness followed the database"
kill -0 "$SERVICE_PID" 2>/dev/null || fail "the service died when PostgreSQL stopped"
ok "PostgreSQL down: readiness NOT_SERVING, liveness SERVING, process alive"
tw_pg_start "$PG_DIR" "$PG_PORT" >/dev/null 2>&1 || fail "cannot restart PostgreSQL"
health_is "" SERVING 30 || fail "not ready again after PostgreSQL came back"
ok "PostgreSQL back: readiness SERVING"

# 4. SIGTERM, serving and while waiting.
kill -TERM "$SERVICE_PID"
wait "$SERVICE_PID"
rc=$?
SERVICE_PID=""
[ "$rc" -eq 0 ] || fail "exit code ${rc} on SIGTERM"
ok "SIGTERM while serving: exit 0"
tw_pg_stop "$PG_DIR" >/dev/null 2>&1 || fail "cannot stop PostgreSQL"
: >"$LOG"
start_service "$(free_port)"
sleep 2
[ "$(waiting_lines)" -ge 1 ] || fail "not waiting for PostgreSQL"
kill -TERM "$SERVICE_PID"
for _ in $(seq 1 50); do
  kill -0 "$SERVICE_PID" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$SERVICE_PID" 2>/dev/null && fail "still running 5 s after SIGTERM while waiting"
wait "$SERVICE_PID"
rc=$?
SERVICE_PID=""
[ "$rc" -eq 0 ] || fail "exit code ${rc} on SIGTERM while waiting"
ok "SIGTERM while waiting for PostgreSQL: exit 0 at once"
echo "${CHECKS} passed, 0 failed"
