#!/usr/bin/env bash
# Starts Tierwise on this machine: installs missing packages, builds, starts PostgreSQL and Redis
# on loopback with their data in .tierwise/, generates access tokens, migrates and starts every
# service that is built, and loads a demo data set through the API.
#
# Safe to run again: PostgreSQL and Redis are kept when they already run, services are
# restarted with the fresh build, tokens are kept. Stop everything with deploy/local/down.sh.
#
# Environment (all optional):
#   TIERWISE_PG_PORT (55432), TIERWISE_REDIS_PORT (56379),
#   TIERWISE_PROFILE_PORT (50051), TIERWISE_INTERACTION_PORT (50052),
#   TIERWISE_CREDIT_PORT (50053), TIERWISE_CLASSIFICATION_PORT (50054),
#   TIERWISE_BUILD_DIR (build),
#   TIERWISE_BUSINESS_TIME_ZONE (Asia/Shanghai): the company's calendar, an IANA name
set -euo pipefail

# shellcheck source=deploy/local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case "${1:-}" in
  -h | --help)
    tw_usage "${BASH_SOURCE[0]}"
    exit 0
    ;;
  "") ;;
  *) tw_die "unknown argument: $1 (try --help)" ;;
esac

cd "$TW_REPO_ROOT"

BUILD_DIR="$(tw_build_dir)"
CLI="${BUILD_DIR}/services/cli/tierwise"
PG_PORT="${TIERWISE_PG_PORT:-55432}"
REDIS_PORT="${TIERWISE_REDIS_PORT:-56379}"
PG_URI="$(tw_pg_uri "$PG_PORT")"
REDIS_ADDR="127.0.0.1:${REDIS_PORT}"
TOKENS_FILE="${TW_STATE_DIR}/tokens"
ENV_FILE="${TW_STATE_DIR}/local.env"
# The company's calendar: overdue days, month-end statements, follow-up days, dates in imports.
BUSINESS_TIME_ZONE="${TIERWISE_BUSINESS_TIME_ZONE:-Asia/Shanghai}"
LOG_DIR="${TW_STATE_DIR}/logs"
RUN_DIR="${TW_STATE_DIR}/run"

# Principals of the local deployment: <name>:<role>:<suffix of TIERWISE_<suffix>_TOKEN>.
PRINCIPALS="admin:admin:ADMIN manager.li:manager:MANAGER rep.zhang:sales_rep:SALES_REP
  rep.chen:sales_rep:SALES_REP_2 finance.wang:finance:FINANCE erp.adapter:erp_adapter:ERP_ADAPTER
  viewer:viewer:VIEWER"
# The sales rep whose day the summary shows (TIERWISE_SALES_REP_TOKEN is theirs).
DEMO_REP="rep.zhang"
rep_summary="no"

# --- 1. packages and build ---------------------------------------------------------------------
tw_install_deps
tw_build "$BUILD_DIR"

# --- 2. PostgreSQL and Redis ---------------------------------------------------------------------
mkdir -p "$TW_STATE_DIR" "$LOG_DIR" "$RUN_DIR" "${TW_STATE_DIR}/redis"
if ! tw_pg_running "${TW_STATE_DIR}/pg" && tw_port_in_use "$PG_PORT"; then
  tw_die "port ${PG_PORT} on 127.0.0.1 is in use by another process; set TIERWISE_PG_PORT"
fi
if ! tw_pidfile_pid "${TW_STATE_DIR}/redis/redis.pid" redis-server >/dev/null &&
  tw_port_in_use "$REDIS_PORT"; then
  tw_die "port ${REDIS_PORT} on 127.0.0.1 is in use by another process; set TIERWISE_REDIS_PORT"
fi
tw_pg_start "${TW_STATE_DIR}/pg" "$PG_PORT" "${LOG_DIR}/postgresql.log"
tw_redis_start "${TW_STATE_DIR}/redis" "$REDIS_PORT" yes "${LOG_DIR}/redis.log"

# --- 3. tokens -----------------------------------------------------------------------------------
# The tokens file holds only SHA-256 digests ("<name> <role> sha256:<hex>"), which is what the
# services read; the usable tokens live in local.env (mode 600), where the CLI finds them, and
# are printed once when they are made. A run keeps the tokens whose digests still match; a
# tokens file of plain tokens from an older up.sh is migrated (same tokens, stored hashed).

# new_token: 32 random bytes, base64url without padding (43 characters).
new_token() { head -c 32 /dev/urandom | base64 -w 0 | tr '+/' '-_' | tr -d '='; }

# hash_token <token>: sha256:<64 hex>, as the services compute it.
hash_token() { printf 'sha256:%s\n' "$(printf '%s' "$1" | sha256sum | cut -d ' ' -f 1)"; }

# token_field <principal>: the third field of <principal>'s line in the tokens file.
token_field() {
  [ -f "$TOKENS_FILE" ] || return 0
  awk -v name="$1" '$1 == name && $1 !~ /^#/ { print $3; exit }' "$TOKENS_FILE"
}

# env_value <key>: the value of <key> in local.env ("" when absent).
env_value() {
  [ -f "$ENV_FILE" ] || return 0
  sed -n "s/^$1=//p" "$ENV_FILE" | tail -n 1 | sed "s/^'\(.*\)'\$/\1/"
}

# The services' own credentials for the calls they make to each other: interaction asks
# classification for tiers and service policies as svc.interaction, with the token given in
# TIERWISE_CLASSIFICATION_TOKEN (kept in local.env like the others).
SERVICE_PRINCIPALS="svc.interaction:viewer:CLASSIFICATION"
declare -A TOKEN=()
generated=()
migrated=0
for entry in $PRINCIPALS $SERVICE_PRINCIPALS; do
  IFS=: read -r name role suffix <<<"$entry"
  field="$(token_field "$name")"
  known="$(env_value "TIERWISE_${suffix}_TOKEN")"
  if [ -n "$field" ] && [[ "$field" != sha256:* ]]; then
    TOKEN[$name]="$field"
    migrated=1
  elif [ -n "$field" ] && [ -n "$known" ] && [ "$(hash_token "$known")" = "$field" ]; then
    TOKEN[$name]="$known"
  else
    TOKEN[$name]="$(new_token)"
    generated+=("$name")
  fi
done
[ "$migrated" -eq 0 ] || tw_log "migrating ${TOKENS_FILE} to SHA-256 digests (tokens unchanged)"
[ "${#generated[@]}" -eq 0 ] || tw_log "generating tokens for: ${generated[*]}"
(
  umask 077
  {
    echo "# Tierwise local access tokens: <principal-name> <role> sha256:<SHA-256 of the token>"
    echo "# Generated by deploy/local/up.sh; the tokens themselves are in local.env."
    for entry in $PRINCIPALS $SERVICE_PRINCIPALS; do
      IFS=: read -r name role _ <<<"$entry"
      printf '%s %s %s\n' "$name" "$role" "$(hash_token "${TOKEN[$name]}")"
    done
    # Principals added by hand are kept (hashed when they were plain).
    if [ -f "$TOKENS_FILE" ]; then
      ours=" "
      for entry in $PRINCIPALS $SERVICE_PRINCIPALS; do ours="${ours}${entry%%:*} "; done
      while read -r name role token _; do
        case "$name" in '' | '#'*) continue ;; esac
        case "$ours" in *" ${name} "*) continue ;; esac
        case "$token" in sha256:*) ;; *) token="$(hash_token "$token")" ;; esac
        printf '%s %s %s\n' "$name" "$role" "$token"
      done <"$TOKENS_FILE"
    fi
  } >"${TOKENS_FILE}.tmp"
)
mv -f "${TOKENS_FILE}.tmp" "$TOKENS_FILE"
chmod 600 "$TOKENS_FILE"

# --- 4. local.env --------------------------------------------------------------------------------
# env_line <key> <value>: KEY=value, single-quoted only when the value needs it.
env_line() {
  if [[ "$2" =~ ^[A-Za-z0-9_./:@,+=-]*$ ]]; then
    printf '%s=%s\n' "$1" "$2"
  else
    printf "%s='%s'\n" "$1" "${2//\'/\'\\\'\'}"
  fi
}

service_port() {
  local svc="$1" default="$2" var
  var="TIERWISE_$(printf '%s' "$svc" | tr '[:lower:]' '[:upper:]')_PORT"
  printf '%s\n' "${!var:-$default}"
}

(
  umask 077
  {
    echo "# Tierwise local deployment, written by deploy/local/up.sh."
    echo "# Load into a shell with:  set -a; source .tierwise/local.env; set +a"
    for entry in $TW_SERVICES; do
      svc="${entry%%:*}"
      key="TIERWISE_$(printf '%s' "$svc" | tr '[:lower:]' '[:upper:]')_ADDR"
      env_line "$key" "127.0.0.1:$(service_port "$svc" "${entry#*:}")"
    done
    env_line TIERWISE_PG_URI "$PG_URI"
    env_line TIERWISE_REDIS_ADDR "$REDIS_ADDR"
    env_line TIERWISE_TOKENS_FILE "$TOKENS_FILE"
    env_line TIERWISE_BUSINESS_TIME_ZONE "$BUSINESS_TIME_ZONE"
    for entry in $PRINCIPALS $SERVICE_PRINCIPALS; do
      IFS=: read -r name _ suffix <<<"$entry"
      env_line "TIERWISE_${suffix}_TOKEN" "${TOKEN[$name]}"
    done
  } >"${ENV_FILE}.tmp"
)
mv -f "${ENV_FILE}.tmp" "$ENV_FILE"
chmod 600 "$ENV_FILE"

# --- 5. services ---------------------------------------------------------------------------------
# wait_healthy <svc> <port> <pid> <log>: polls the health service (or the TCP port when the CLI
# is not built) for up to 20 s; stops the script with the log's tail on failure. Checks the pid
# itself, not its command line: right after the fork it is still a copy of this shell.
wait_healthy() {
  local svc="$1" port="$2" pid="$3" log="$4" deadline=$((SECONDS + 20))
  while :; do
    if ! tw_pid_running "$pid"; then
      tail -n 30 "$log" >&2 || true
      rm -f "${RUN_DIR}/${svc}.pid"
      tw_die "${svc} exited during start-up (log: ${log})"
    fi
    if [ -x "$CLI" ]; then
      if timeout 5 "$CLI" --addr "127.0.0.1:${port}" health >/dev/null 2>&1; then
        return 0
      fi
    elif tw_port_in_use "$port"; then
      return 0
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 30 "$log" >&2 || true
      tw_stop_pidfile "${RUN_DIR}/${svc}.pid" "tierwise-${svc}" 15
      tw_die "${svc} not healthy on 127.0.0.1:${port} after 20s (log: ${log})"
    fi
    sleep 0.5
  done
}

started=()
skipped=()
for entry in $TW_SERVICES; do
  svc="${entry%%:*}"
  port="$(service_port "$svc" "${entry#*:}")"
  bin="${BUILD_DIR}/services/${svc}/tierwise-${svc}"
  log="${LOG_DIR}/${svc}.log"
  pidfile="${RUN_DIR}/${svc}.pid"
  if [ ! -x "$bin" ]; then
    tw_log "${svc}: not built yet (${bin#"${TW_REPO_ROOT}"/}), skipped"
    skipped+=("$svc")
    continue
  fi
  # Metrics on loopback only, next to the gRPC port (+1000).
  svc_env=(env "TIERWISE_PG_URI=${PG_URI}" "TIERWISE_REDIS_ADDR=${REDIS_ADDR}"
    "TIERWISE_TOKENS_FILE=${TOKENS_FILE}" "TIERWISE_LOG_FORMAT=text"
    "TIERWISE_BUSINESS_TIME_ZONE=${BUSINESS_TIME_ZONE}"
    "TIERWISE_METRICS_LISTEN=127.0.0.1:$((port + 1000))")
  if [ "$svc" = interaction ]; then
    # The token goes through the environment, not the command line (ps shows arguments).
    svc_env+=("TIERWISE_CLASSIFICATION_ADDR=127.0.0.1:$(service_port classification 50054)"
      "TIERWISE_CLASSIFICATION_TOKEN=${TOKEN[svc.interaction]}")
  fi

  tw_log "${svc}: applying migrations"
  if ! "${svc_env[@]}" "$bin" --migrate_only >>"$log" 2>&1 </dev/null; then
    tail -n 30 "$log" >&2 || true
    tw_die "${svc}: migrations failed (log: ${log})"
  fi

  tw_stop_pidfile "$pidfile" "tierwise-${svc}" 15
  if tw_port_in_use "$port"; then
    tw_die "${svc}: port ${port} on 127.0.0.1 is in use by another process;" \
      "stop it or set TIERWISE_$(printf '%s' "$svc" | tr '[:lower:]' '[:upper:]')_PORT"
  fi
  tw_log "${svc}: starting on 127.0.0.1:${port} (log: ${log#"${TW_REPO_ROOT}"/})"
  nohup "${svc_env[@]}" "$bin" "--listen=127.0.0.1:${port}" \
    "--metrics_listen=127.0.0.1:$((port + 1000))" >>"$log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$pidfile"
  wait_healthy "$svc" "$port" "$pid" "$log"
  tw_log "${svc}: healthy"
  started+=("${svc}:${port}")
done

# --- 6. demo data --------------------------------------------------------------------------------
if [ "${#started[@]}" -eq 0 ]; then
  tw_warn "no service binary is built yet; skipping the demo data"
elif [ ! -x "$CLI" ]; then
  tw_warn "the CLI (${CLI#"${TW_REPO_ROOT}"/}) is not built yet; skipping the demo data"
else
  tw_log "loading demo data (idempotent)"
  if ! "$CLI" --env "$ENV_FILE" demo load --count 200 --seed 42 </dev/null; then
    tw_die "loading the demo data failed; the services keep running (logs: ${LOG_DIR#"${TW_REPO_ROOT}"/})"
  fi
  if printf '%s\n' "${started[@]}" | grep -q '^credit:'; then
    # Twelve months of orders, payments and returns through the ERP ingest path. Events for
    # customers the credit service has not heard of yet are parked and applied when it has.
    tw_log "loading the demo ledger through IngestEvents (idempotent)"
    if ! "$CLI" --env "$ENV_FILE" demo ledger --customers 200 --seed 42 --no-progress </dev/null; then
      tw_die "loading the demo ledger failed; the services keep running (logs: ${LOG_DIR#"${TW_REPO_ROOT}"/})"
    fi
  fi
  if printf '%s\n' "${started[@]}" | grep -q '^classification:'; then
    # Let the classification service catch up with the ledger stream (its lag metric), then
    # show the demo's tier distribution and draw it with the Pareto curve.
    metrics_port=$((${TIERWISE_CLASSIFICATION_PORT:-50054} + 1000))
    tw_log "waiting for the classification service to catch up with the ledger stream"
    python3 - "$metrics_port" <<'PY' || tw_warn "the classification service is still catching up"
import sys, time, urllib.request
url = "http://127.0.0.1:%s/metrics" % sys.argv[1]
deadline = time.time() + 120
while time.time() < deadline:
    try:
        text = urllib.request.urlopen(url, timeout=2).read().decode()
        lag = [l for l in text.splitlines()
               if l.startswith(("tierwise_stream_lag", "tierwise_stream_pending"))]
        if lag and all(l.rsplit(" ", 1)[1] in ("0", "0.0") for l in lag):
            sys.exit(0)
    except OSError:
        pass
    time.sleep(1)
sys.exit(1)
PY
    if report="$("$CLI" --env "$ENV_FILE" tiers report --svg "${TW_STATE_DIR}/tiers.svg" </dev/null)"; then
      printf '%s\n' "$report" | python3 -c '
import json, sys
r = json.load(sys.stdin)["distribution"]
print("Demo tier distribution (%s customers):" % r.get("customers", 0))
for t in r.get("tiers", []):
    share = t.get("revenue_share_permille", 0)
    print("  %-2s %5s customers  %5.1f%% of 12-month revenue" % (t["tier"], t.get("customers", 0), share / 10))
'
      tw_log "tier distribution and Pareto curve drawn in .tierwise/tiers.svg"
    fi
  fi
  if printf '%s\n' "${started[@]}" | grep -q '^interaction:'; then
    # A year of follow-up records by tier (through LogInteraction, as each customer's owner)
    # and a few recent complaints, some past their SLA. Customers that have records already
    # are left alone, so a second run logs nothing.
    tw_log "loading the demo interactions and complaints (idempotent)"
    if ! "$CLI" --env "$ENV_FILE" demo interactions --customers 200 --seed 42 </dev/null; then
      tw_die "loading the demo interactions failed; the services keep running (logs: ${LOG_DIR#"${TW_REPO_ROOT}"/})"
    fi
    # What the demo rep sees, asked as that rep (TIERWISE_SALES_REP_TOKEN is rep.zhang's).
    # count_lines <cli args...>: the number of JSON lines a listing with --all prints.
    count_lines() {
      local lines
      lines="$("$CLI" --env "$ENV_FILE" --role sales_rep "$@" --all </dev/null)" || return 1
      printf '%s\n' "$lines" | grep -c . || true
    }
    if rep_due="$(count_lines interactions due --owner "$DEMO_REP")" &&
      rep_overdue="$(count_lines interactions overdue --owner "$DEMO_REP")" &&
      rep_open="$(count_lines interactions complaints --filter open --owner "$DEMO_REP")"; then
      rep_summary="yes"
    else
      tw_warn "could not list ${DEMO_REP}'s follow-ups and complaints"
    fi
  fi
fi

# --- 7. summary ----------------------------------------------------------------------------------
rel() { printf '%s\n' "${1#"${TW_REPO_ROOT}"/}"; }
cat <<EOF

Tierwise is up.
EOF
for entry in "${started[@]}"; do
  printf '  %-14s 127.0.0.1:%s   (log: %s)\n' "${entry%%:*}" "${entry#*:}" \
    "$(rel "${LOG_DIR}/${entry%%:*}.log")"
done
for svc in "${skipped[@]}"; do
  printf '  %-14s not built yet\n' "$svc"
done
cat <<EOF
  PostgreSQL     ${PG_URI}   (data: $(rel "${TW_STATE_DIR}/pg"))
  Redis          ${REDIS_ADDR}   (data: $(rel "${TW_STATE_DIR}/redis"))
  env file       $(rel "$ENV_FILE")   (addresses, PostgreSQL/Redis, one token per role)
  tokens         $(rel "$TOKENS_FILE")   (SHA-256 digests only)
  metrics        http://127.0.0.1:<gRPC port + 1000>/metrics
EOF
if [ "${#generated[@]}" -gt 0 ]; then
  # Printed this once; later runs keep them in local.env without printing them.
  echo
  echo "New access tokens (also in $(rel "$ENV_FILE"), mode 600):"
  for entry in $PRINCIPALS $SERVICE_PRINCIPALS; do
    IFS=: read -r name role suffix <<<"$entry"
    case " ${generated[*]} " in *" ${name} "*) ;; *) continue ;; esac
    printf '  %-16s %-12s TIERWISE_%s_TOKEN=%s\n' "$name" "$role" "$suffix" "${TOKEN[$name]}"
  done
fi
if [ "$rep_summary" = "yes" ]; then
  cat <<EOF

Demo sales rep ${DEMO_REP} (asked as the rep: --role sales_rep):
  follow-ups due in the next 30 days  ${rep_due}   (overdue today: ${rep_overdue})
  open complaints                     ${rep_open}
EOF
fi
cat <<EOF

Try it (from $(pwd); the CLI finds .tierwise/local.env by itself):
  $(rel "$CLI") customer list --page-size 5
  $(rel "$CLI") --role viewer customer list --page-size 5   # as another role
  $(rel "$CLI") services          # lists the services via reflection
  $(rel "$CLI") --role sales_rep interactions due --owner ${DEMO_REP}   # the rep's next 30 days
  $(rel "$CLI") interactions complaints --filter open --owner ${DEMO_REP}
  set -a; source $(rel "$ENV_FILE"); set +a   # the same settings in your shell

Stop with deploy/local/down.sh (add --purge to delete .tierwise/).
EOF
