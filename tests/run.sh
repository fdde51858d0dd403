#!/usr/bin/env bash
# Runs every Tierwise test against a real PostgreSQL and Redis.
#
# Installs missing packages, builds into build/ (or $TIERWISE_BUILD_DIR), starts a throw-away
# PostgreSQL and Redis on free loopback ports in a temporary directory (always removed on exit,
# also on failure or Ctrl-C), exports
#   TIERWISE_TEST_PG_URI      postgresql://postgres@127.0.0.1:<port>/tierwise
#   TIERWISE_TEST_REDIS_ADDR  127.0.0.1:<port>
#   TIERWISE_BUILD_DIR        absolute build directory
# and runs ctest. Extra arguments go to ctest, e.g.  tests/run.sh -L unit  or  -R Profile.
# Exits with ctest's exit code.
set -euo pipefail

# shellcheck source=deploy/local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../deploy/local/lib.sh"

case "${1:-}" in
  -h | --help)
    tw_usage "${BASH_SOURCE[0]}"
    exit 0
    ;;
esac

cd "$TW_REPO_ROOT"
TIERWISE_BUILD_DIR="$(tw_build_dir)"
export TIERWISE_BUILD_DIR

tw_install_deps
tw_build "$TIERWISE_BUILD_DIR"

TMP_DIR="$(mktemp -d "${TMPDIR:-/tmp}/tierwise-test.XXXXXX")"
chmod 755 "$TMP_DIR" # PostgreSQL runs as `postgres` when we are root and must traverse it.
REDIS_PORT=""
CTEST_PID=""

# shellcheck disable=SC2317  # invoked by the trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  stop_ctest
  tw_pg_stop "${TMP_DIR}/pg" || tw_warn "could not stop the test PostgreSQL"
  tw_redis_stop "${TMP_DIR}/redis" "$REDIS_PORT" || tw_warn "could not stop the test Redis"
  rm -rf -- "$TMP_DIR"
  exit "$rc"
}
# ctest runs in its own process group (see below); on a signal we end it and every test it runs
# before PostgreSQL and Redis go away.
# shellcheck disable=SC2317  # invoked by the trap
stop_ctest() {
  [ -n "$CTEST_PID" ] || return 0
  if tw_pid_running "$CTEST_PID"; then
    tw_log "stopping ctest and its tests"
    kill -TERM -- "-${CTEST_PID}" 2>/dev/null || kill -TERM "$CTEST_PID" 2>/dev/null || true
    tw_wait_exit "$CTEST_PID" 10 || kill -KILL -- "-${CTEST_PID}" 2>/dev/null || true
  fi
  kill -KILL -- "-${CTEST_PID}" 2>/dev/null || true
  CTEST_PID=""
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Throw-away instances: no fsync, no append-only file. Ports are picked one after the other so
# that the second pick cannot return the port the first instance now holds.
TW_PG_FAST=1
PG_PORT="$(tw_free_port)"
tw_pg_start "${TMP_DIR}/pg" "$PG_PORT"
REDIS_PORT="$(tw_free_port)"
tw_redis_start "${TMP_DIR}/redis" "$REDIS_PORT" no

TIERWISE_TEST_PG_URI="$(tw_pg_uri "$PG_PORT")"
TIERWISE_TEST_REDIS_ADDR="127.0.0.1:${REDIS_PORT}"
export TIERWISE_TEST_PG_URI TIERWISE_TEST_REDIS_ADDR
tw_log "TIERWISE_TEST_PG_URI=${TIERWISE_TEST_PG_URI}"
tw_log "TIERWISE_TEST_REDIS_ADDR=${TIERWISE_TEST_REDIS_ADDR}"

# ctest runs in the background, in a session of its own, and we wait for it: a signal to this
# script (Ctrl-C, or SIGTERM from a CI runner) then runs the trap at once, and the trap can end
# ctest's whole process group, leaving no test behind.
setsid -w ctest --test-dir "$TIERWISE_BUILD_DIR" --output-on-failure -j2 --timeout 300 \
  --no-tests=error "$@" </dev/null &
CTEST_PID=$!
rc=0
wait "$CTEST_PID" || rc=$?
CTEST_PID=""

echo
if [ "$rc" -eq 0 ]; then
  echo "==> tests/run.sh: PASSED (all selected tests passed)"
else
  echo "==> tests/run.sh: FAILED (ctest exit code ${rc})"
fi
exit "$rc"
