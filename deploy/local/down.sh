#!/usr/bin/env bash
# Stops what deploy/local/up.sh started: the services (SIGTERM, SIGKILL after 15 s), then Redis
# and PostgreSQL. Data in .tierwise/ is kept unless --purge is given, which deletes .tierwise/
# entirely (database, Redis data, tokens, logs). Safe to run when nothing runs.
#
# Usage: deploy/local/down.sh [--purge]
set -euo pipefail

# shellcheck source=deploy/local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

purge=0
for arg in "$@"; do
  case "$arg" in
    --purge) purge=1 ;;
    -h | --help)
      tw_usage "${BASH_SOURCE[0]}"
      exit 0
      ;;
    *) tw_die "unknown argument: ${arg} (try --help)" ;;
  esac
done

if [ ! -d "$TW_STATE_DIR" ]; then
  tw_log "nothing to stop (no .tierwise/)"
  exit 0
fi

# Services in reverse start order.
services=()
for entry in $TW_SERVICES; do
  services=("${entry%%:*}" "${services[@]}")
done
for svc in "${services[@]}"; do
  tw_stop_pidfile "${TW_STATE_DIR}/run/${svc}.pid" "tierwise-${svc}" 15
done

tw_redis_stop "${TW_STATE_DIR}/redis" "${TIERWISE_REDIS_PORT:-56379}"
tw_pg_stop "${TW_STATE_DIR}/pg"

if [ "$purge" -eq 1 ]; then
  case "$TW_STATE_DIR" in
    */.tierwise) ;;
    *) tw_die "refusing to delete unexpected state directory ${TW_STATE_DIR}" ;;
  esac
  tw_log "deleting .tierwise/"
  rm -rf -- "$TW_STATE_DIR"
fi
tw_log "stopped"
