# shellcheck shell=bash
# What the end-to-end scripts share: a scratch directory, schemas and a Redis prefix of their own
# (removed on exit, also on failure), tokens for every role, free loopback ports, starting servers
# until they are SERVING and stopping them with SIGTERM, the `tierwise` CLI with its output in
# files, and ok/fail reporting.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   e2e_init credit                       # exit 77 (skip) without TIERWISE_TEST_PG_URI/REDIS_ADDR
#   e2e_schema PROFILE_SCHEMA profile
#   PROFILE_PORT="$(free_port)" || fail "no free port"
#   write_env
#   start_server profile "$PROFILE_BIN" "$PROFILE_SCHEMA" "$PROFILE_LOG" PROFILE_PORT PROFILE_PID
#   cli customer list; expect_rc 0 "customer list"; ok "listed"
#   stop_server profile PROFILE_PID
#   echo "${CHECKS} passed, 0 failed"
#
# The CLI reads the test's own env file (TIERWISE_<SERVICE>_ADDR of every *_PORT variable set,
# TIERWISE_<ROLE>_TOKEN of every role), never a developer's .tierwise/local.env.

# e2e_init NAME: checks the environment, then sets TMP, SUFFIX, REDIS_PREFIX, OUT, ERR, RC,
# CHECKS, the tokens ADMIN_TOKEN, MANAGER_TOKEN, ERP_TOKEN, FINANCE_TOKEN, VIEWER_TOKEN (in
# ${TMP}/tokens for the servers) and the exit trap.
e2e_init() {
  if [ -z "${TIERWISE_TEST_PG_URI:-}" ] || [ -z "${TIERWISE_TEST_REDIS_ADDR:-}" ]; then
    echo "SKIP: TIERWISE_TEST_PG_URI and TIERWISE_TEST_REDIS_ADDR are not set (tests/run.sh sets them)"
    exit 77
  fi
  TMP="$(mktemp -d "${TMPDIR:-/tmp}/tierwise-$1-e2e.XXXXXX")"
  SUFFIX="$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
  REDIS_PREFIX="e2e${SUFFIX}"
  OUT="${TMP}/out"
  ERR="${TMP}/err"
  RC=0
  CHECKS=0
  E2E_SCHEMAS=()
  E2E_PID_VARS=()
  E2E_LOGS=()
  ADMIN_TOKEN="$(e2e_token admin)"
  MANAGER_TOKEN="$(e2e_token manager)"
  ERP_TOKEN="$(e2e_token erp)"
  FINANCE_TOKEN="$(e2e_token finance)"
  VIEWER_TOKEN="$(e2e_token viewer)"
  printf '# e2e tokens: <name> <role> <token>\n%s\n%s\n%s\n%s\n%s\n' \
    "admin admin ${ADMIN_TOKEN}" "manager.li manager ${MANAGER_TOKEN}" \
    "erp.adapter erp_adapter ${ERP_TOKEN}" "finance.wang finance ${FINANCE_TOKEN}" \
    "viewer viewer ${VIEWER_TOKEN}" >"${TMP}/tokens"
  export TIERWISE_ENV_FILE="${TMP}/test.env"
  unset TIERWISE_PROFILE_ADDR TIERWISE_INTERACTION_ADDR TIERWISE_CREDIT_ADDR \
    TIERWISE_CLASSIFICATION_ADDR TIERWISE_ADMIN_TOKEN TIERWISE_MANAGER_TOKEN \
    TIERWISE_ERP_ADAPTER_TOKEN TIERWISE_FINANCE_TOKEN TIERWISE_VIEWER_TOKEN
  write_env
  trap e2e_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

e2e_token() { echo "$1-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"; }

# e2e_schema VARIABLE NAME: sets VARIABLE to a schema name of this run, dropped on exit.
e2e_schema() {
  printf -v "$1" '%s' "e2e_${SUFFIX}_$2"
  E2E_SCHEMAS+=("e2e_${SUFFIX}_$2")
}

# shellcheck disable=SC2317  # invoked by the trap
e2e_cleanup() {
  local rc=$? var pid schema
  trap - EXIT INT TERM
  for var in "${E2E_PID_VARS[@]}"; do
    pid="${!var:-}"
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null
      wait "$pid" 2>/dev/null
    fi
  done
  # Best effort: leave nothing behind in a database or Redis that outlives this test.
  if command -v psql >/dev/null 2>&1; then
    for schema in "${E2E_SCHEMAS[@]}"; do
      psql -q "$TIERWISE_TEST_PG_URI" -c "DROP SCHEMA IF EXISTS ${schema} CASCADE" \
        >/dev/null 2>&1 || true
    done
  fi
  if command -v redis-cli >/dev/null 2>&1; then
    local host="${TIERWISE_TEST_REDIS_ADDR%:*}" port="${TIERWISE_TEST_REDIS_ADDR##*:}"
    redis-cli -h "$host" -p "$port" --scan --pattern "${REDIS_PREFIX}*" 2>/dev/null |
      xargs -r redis-cli -h "$host" -p "$port" del >/dev/null 2>&1 || true
  fi
  rm -rf -- "$TMP"
  exit "$rc"
}

# e2e_log FILE: a server log whose tail `fail` shows.
e2e_log() {
  [[ " ${E2E_LOGS[*]} " == *" $1 "* ]] || E2E_LOGS+=("$1")
}

fail() {
  local log
  echo "FAIL: $*" >&2
  if [ -s "$OUT" ]; then echo "--- stdout:" >&2 && head -c 4000 "$OUT" >&2; fi
  if [ -s "$ERR" ]; then echo "--- stderr:" >&2 && head -c 4000 "$ERR" >&2; fi
  for log in "${E2E_LOGS[@]}"; do
    if [ -s "$log" ]; then echo "--- $(basename "$log") (tail):" >&2 && tail -n 40 "$log" >&2; fi
  done
  exit 1
}

ok() {
  CHECKS=$((CHECKS + 1))
  echo "ok ${CHECKS} - $*"
}

# Runs the CLI (addresses and tokens from the test's env file); stdout in $OUT, stderr in $ERR,
# exit code in $RC.
cli() {
  "$CLI" --timeout 10 "$@" >"$OUT" 2>"$ERR"
  RC=$?
}

expect_rc() {
  [ "$RC" -eq "$1" ] || fail "$2: exit code ${RC}, expected $1"
}

expect_in() { # expect_in FILE NEEDLE WHAT
  grep -qF -- "$2" "$1" || fail "$3: '$2' not in $(basename "$1")"
}

# A loopback port nobody listens on right now, and none of the *_PORT ports of this test.
free_port() {
  local port taken=" ${PROFILE_PORT:-} ${INTERACTION_PORT:-} ${CREDIT_PORT:-} ${CLASSIFICATION_PORT:-} "
  for _ in $(seq 1 100); do
    port=$((20000 + RANDOM % 40000))
    [[ "$taken" == *" ${port} "* ]] && continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  return 1
}

# The CLI's env file: the address of every service with a *_PORT variable, and every token.
write_env() {
  local svc var
  {
    for svc in PROFILE INTERACTION CREDIT CLASSIFICATION; do
      var="${svc}_PORT"
      if [ -n "${!var:-}" ]; then echo "TIERWISE_${svc}_ADDR=127.0.0.1:${!var}"; fi
    done
    echo "TIERWISE_ADMIN_TOKEN=${ADMIN_TOKEN}"
    echo "TIERWISE_MANAGER_TOKEN=${MANAGER_TOKEN}"
    echo "TIERWISE_ERP_ADAPTER_TOKEN=${ERP_TOKEN}"
    echo "TIERWISE_FINANCE_TOKEN=${FINANCE_TOKEN}"
    echo "TIERWISE_VIEWER_TOKEN=${VIEWER_TOKEN}"
  } >"${TMP}/test.env"
}

server_flags() { # server_flags PORT SCHEMA
  echo "--listen=127.0.0.1:$1"
  echo "--pg_uri=${TIERWISE_TEST_PG_URI}"
  echo "--pg_schema=$2"
  echo "--redis_addr=${TIERWISE_TEST_REDIS_ADDR}"
  echo "--redis_prefix=${REDIS_PREFIX}"
  echo "--tokens_file=${TMP}/tokens"
  echo "--log_format=text"
  # An ephemeral metrics port: the default one would clash with other servers on this host.
  echo "--metrics_listen=127.0.0.1:0"
}

# migrate_only NAME BIN SCHEMA LOG PORT: runs the server's migrations alone; expects exit 0.
migrate_only() {
  local flags
  e2e_log "$4"
  mapfile -t flags < <(server_flags "$5" "$3")
  timeout 60 "$2" "${flags[@]}" --migrate_only >>"$4" 2>&1
  RC=$?
  expect_rc 0 "$1 --migrate_only"
}

# start_server NAME BIN SCHEMA LOG PORT_VARIABLE PID_VARIABLE [extra server flags...]: starts
# the server and waits until `tierwise health NAME` says SERVING; a port taken in the meantime
# is replaced by another (and the env file rewritten).
start_server() {
  local name="$1" bin="$2" schema="$3" log="$4" port_var="$5" pid_var="$6" started="" pid
  local flags port
  shift 6
  e2e_log "$log"
  E2E_PID_VARS+=("$pid_var")
  for _ in 1 2 3; do
    mapfile -t flags < <(server_flags "${!port_var}" "$schema")
    "$bin" "${flags[@]}" "$@" >>"$log" 2>&1 &
    pid=$!
    printf -v "$pid_var" '%s' "$pid"
    for _ in $(seq 1 60); do
      cli health "$name"
      if [ "$RC" -eq 0 ]; then
        started=1
        break
      fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    [ -n "$started" ] && return 0
    kill -0 "$pid" 2>/dev/null && fail "$name did not become healthy within 30 s"
    wait "$pid" 2>/dev/null
    printf -v "$pid_var" '%s' ""
    port="$(free_port)" || fail "no free port"
    printf -v "$port_var" '%s' "$port"
    write_env
  done
  fail "$name did not start"
}

# stop_server NAME PID_VARIABLE: SIGTERM, then expects the process gone within 15 s, exit 0.
stop_server() {
  local name="$1" pid_var="$2" pid stopped=""
  pid="${!pid_var}"
  kill -TERM "$pid"
  for _ in $(seq 1 150); do
    if ! kill -0 "$pid" 2>/dev/null; then
      stopped=1
      break
    fi
    sleep 0.1
  done
  [ -n "$stopped" ] || fail "${name} still running 15 s after SIGTERM"
  wait "$pid"
  RC=$?
  printf -v "$pid_var" '%s' ""
  expect_rc 0 "${name} exit after SIGTERM"
}

# The value of "key":N (or "key":"N") in the CLI's output, first occurrence.
json_number() {
  tr -d ' \n' <"$OUT" | grep -o "\"$1\":\"\{0,1\}-\{0,1\}[0-9]*" | head -n 1 | sed 's/.*://; s/"//g'
}

# The value of "key":"text" in the CLI's output, first occurrence.
json_string() {
  tr -d '\n' <"$OUT" | grep -o "\"$1\": *\"[^\"]*\"" | head -n 1 | sed 's/^[^:]*: *"//; s/"$//'
}

# True when the CLI's output, without spaces and line breaks, contains $1 (no pipe into
# `grep -q`, which may end before its writer and fail the pipeline under pipefail).
out_has() {
  [[ "$(tr -d ' \n' <"$OUT")" == *"$1"* ]]
}

# A JSON object of the CLI's output on one line without spaces: '"exposure":{...}'.
json_object() {
  tr -d ' \n' <"$OUT" | grep -o "\"$1\":{[^}]*}" | head -n 1
}
