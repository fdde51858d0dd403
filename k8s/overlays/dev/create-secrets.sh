#!/usr/bin/env bash
# Creates the Secrets the dev overlay refers to, with fresh random values, in the namespace
# tierwise (or $TIERWISE_NAMESPACE), through the current kubectl context:
#
#   tierwise-dev-postgres  password              superuser of the in-cluster PostgreSQL
#   tierwise-postgres      <service>-uri         URIs of that PostgreSQL, one per service
#   tierwise-redis         password              password of the in-cluster Redis
#   tierwise-tokens        tokens                "<name> <role> <token>" lines
#
# Usage: k8s/overlays/dev/create-secrets.sh [TOKENS_FILE]
#   TOKENS_FILE  your tokens file (e.g. .tierwise/tokens from deploy/local/up.sh); without it,
#                random tokens are made for the principals of deploy/local/up.sh.
# Secrets that exist already are kept. Values go to the cluster only (through files in a private
# temporary directory, never on a command line) and are not printed; read them back with e.g.
#   kubectl -n tierwise get secret tierwise-tokens -o jsonpath='{.data.tokens}' | base64 -d
set -euo pipefail

case "${1:-}" in
  -h | --help)
    awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"
    exit 0
    ;;
esac

NS="${TIERWISE_NAMESPACE:-tierwise}"
TOKENS_FILE="${1:-}"
SERVICES="profile interaction credit classification"

command -v kubectl >/dev/null 2>&1 || {
  echo "create-secrets.sh: kubectl not found" >&2
  exit 1
}
if [ -n "$TOKENS_FILE" ] && [ ! -r "$TOKENS_FILE" ]; then
  echo "create-secrets.sh: cannot read ${TOKENS_FILE}" >&2
  exit 1
fi

TMP="$(mktemp -d)"
trap 'rm -rf -- "$TMP"' EXIT
chmod 700 "$TMP"

random() { head -c 24 /dev/urandom | base64 | tr -d '/+=\n'; }
exists() { kubectl -n "$NS" get secret "$1" >/dev/null 2>&1; }
log() { printf '[create-secrets] %s\n' "$*" >&2; }

if ! kubectl get namespace "$NS" >/dev/null 2>&1; then
  log "creating namespace ${NS}"
  kubectl create namespace "$NS" >/dev/null
fi

# PostgreSQL: the superuser password, then the URIs that use it.
if exists tierwise-dev-postgres; then
  log "keeping secret tierwise-dev-postgres"
  kubectl -n "$NS" get secret tierwise-dev-postgres -o jsonpath='{.data.password}' |
    base64 -d >"${TMP}/pg-password"
else
  random >"${TMP}/pg-password"
  kubectl -n "$NS" create secret generic tierwise-dev-postgres \
    --from-file=password="${TMP}/pg-password" >/dev/null
  log "created secret tierwise-dev-postgres"
fi
if exists tierwise-postgres; then
  log "keeping secret tierwise-postgres"
else
  args=()
  for svc in $SERVICES; do
    printf 'postgresql://postgres:%s@tierwise-postgres:5432/tierwise' \
      "$(cat "${TMP}/pg-password")" >"${TMP}/${svc}-uri"
    args+=("--from-file=${svc}-uri=${TMP}/${svc}-uri")
  done
  kubectl -n "$NS" create secret generic tierwise-postgres "${args[@]}" >/dev/null
  log "created secret tierwise-postgres"
fi

if exists tierwise-redis; then
  log "keeping secret tierwise-redis"
else
  random >"${TMP}/redis-password"
  kubectl -n "$NS" create secret generic tierwise-redis \
    --from-file=password="${TMP}/redis-password" >/dev/null
  log "created secret tierwise-redis"
fi

if exists tierwise-tokens; then
  log "keeping secret tierwise-tokens"
else
  if [ -z "$TOKENS_FILE" ]; then
    TOKENS_FILE="${TMP}/tokens"
    {
      echo "# <principal-name> <role> <token>, made by k8s/overlays/dev/create-secrets.sh"
      for entry in admin:admin manager.li:manager rep.zhang:sales_rep rep.chen:sales_rep \
        finance.wang:finance erp.adapter:erp_adapter viewer:viewer svc.interaction:viewer; do
        printf '%s %s %s\n' "${entry%%:*}" "${entry#*:}" "$(random)"
      done
    } >"$TOKENS_FILE"
  fi
  kubectl -n "$NS" create secret generic tierwise-tokens --from-file=tokens="$TOKENS_FILE" \
    >/dev/null
  log "created secret tierwise-tokens"
fi

log "done; now: kubectl apply -k k8s/overlays/dev"
