#!/usr/bin/env bash
# Creates the Secrets the dev overlay refers to, with fresh random values, in the namespace
# tierwise (or $TIERWISE_NAMESPACE), through the current kubectl context:
#
#   tierwise-dev-postgres        password         superuser of the in-cluster PostgreSQL
#   tierwise-postgres            <service>-uri    URIs of that PostgreSQL, one per service
#   tierwise-redis               password         password of the in-cluster Redis
#   tierwise-<service>-tokens    tokens           "<name> <role> sha256:<hex>" lines: digests of
#                                                 the principals that may call that service
#                                (interaction)    classification-token: svc.interaction's token
#   tierwise-dev-tokens          <principal>      the usable tokens (dev only; the demo-load Job
#                                                 reads "admin"); no service mounts it
#
# Usage: k8s/overlays/dev/create-secrets.sh [ENV_FILE]
#   ENV_FILE  a local.env of deploy/local/up.sh (TIERWISE_<ROLE>_TOKEN lines) whose tokens to
#             reuse; without it, random tokens (32 bytes) are made for up.sh's principals.
# Secrets that exist already are kept. Values go to the cluster only (through files in a private
# temporary directory, never on a command line) and are not printed; read a token back with e.g.
#   kubectl -n tierwise get secret tierwise-dev-tokens -o jsonpath='{.data.admin}' | base64 -d
set -euo pipefail

case "${1:-}" in
  -h | --help)
    awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"
    exit 0
    ;;
esac

NS="${TIERWISE_NAMESPACE:-tierwise}"
ENV_FILE="${1:-}"
SERVICES="profile interaction credit classification"

command -v kubectl >/dev/null 2>&1 || {
  echo "create-secrets.sh: kubectl not found" >&2
  exit 1
}
if [ -n "$ENV_FILE" ] && [ ! -r "$ENV_FILE" ]; then
  echo "create-secrets.sh: cannot read ${ENV_FILE}" >&2
  exit 1
fi

TMP="$(mktemp -d)"
trap 'rm -rf -- "$TMP"' EXIT
chmod 700 "$TMP"

random() { head -c 32 /dev/urandom | base64 -w 0 | tr '+/' '-_' | tr -d '='; }
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

# Tokens. <name>:<role>:<suffix of TIERWISE_<suffix>_TOKEN in a local.env>, as in up.sh.
PRINCIPALS="admin:admin:ADMIN manager.li:manager:MANAGER rep.zhang:sales_rep:SALES_REP
  rep.chen:sales_rep:SALES_REP_2 finance.wang:finance:FINANCE erp.adapter:erp_adapter:ERP_ADAPTER
  viewer:viewer:VIEWER svc.interaction:viewer:CLASSIFICATION"
# Who may call each service (its role table), so that its Secret holds only those digests;
# classification also admits svc.interaction. Keep in step with the services' role tables.
declare -A CALLERS=(
  [profile]="admin manager.li rep.zhang rep.chen finance.wang erp.adapter viewer"
  [interaction]="admin manager.li rep.zhang rep.chen viewer"
  [credit]="admin manager.li rep.zhang rep.chen finance.wang erp.adapter viewer"
  [classification]="admin manager.li rep.zhang rep.chen finance.wang erp.adapter viewer svc.interaction"
)
token_secrets=(tierwise-dev-tokens)
for svc in $SERVICES; do token_secrets+=("tierwise-${svc}-tokens"); done
missing=()
for secret in "${token_secrets[@]}"; do exists "$secret" || missing+=("$secret"); done

# 32 random bytes, base64url without padding; the digest as the services compute it.
new_token() { head -c 32 /dev/urandom | base64 -w 0 | tr '+/' '-_' | tr -d '='; }
hash_token() { printf 'sha256:%s' "$(printf '%s' "$1" | sha256sum | cut -d ' ' -f 1)"; }
env_value() {
  sed -n "s/^$1=//p" "$ENV_FILE" | tail -n 1 | sed "s/^'\(.*\)'\$/\1/"
}

if [ "${#missing[@]}" -eq 0 ]; then
  log "keeping secrets ${token_secrets[*]}"
elif [ "${#missing[@]}" -ne "${#token_secrets[@]}" ]; then
  # The token Secrets go together: a service's digests must match the tokens handed out.
  log "only some token secrets exist (missing: ${missing[*]}); delete ${token_secrets[*]} and run again"
  exit 1
else
  declare -A TOKEN=() ROLE=()
  args=()
  for entry in $PRINCIPALS; do
    IFS=: read -r name role suffix <<<"$entry"
    token=""
    [ -z "$ENV_FILE" ] || token="$(env_value "TIERWISE_${suffix}_TOKEN")"
    [ -n "$token" ] || token="$(new_token)"
    TOKEN[$name]="$token"
    ROLE[$name]="$role"
    printf '%s' "$token" >"${TMP}/token-${name}"
    [ "$name" = svc.interaction ] || args+=("--from-file=${name}=${TMP}/token-${name}")
  done
  kubectl -n "$NS" create secret generic tierwise-dev-tokens "${args[@]}" >/dev/null
  log "created secret tierwise-dev-tokens"
  for svc in $SERVICES; do
    {
      echo "# <principal-name> <role> sha256:<SHA-256 of the token>, made by create-secrets.sh"
      for name in ${CALLERS[$svc]}; do
        printf '%s %s %s\n' "$name" "${ROLE[$name]}" "$(hash_token "${TOKEN[$name]}")"
      done
    } >"${TMP}/tokens-${svc}"
    args=("--from-file=tokens=${TMP}/tokens-${svc}")
    if [ "$svc" = interaction ]; then
      args+=("--from-file=classification-token=${TMP}/token-svc.interaction")
    fi
    kubectl -n "$NS" create secret generic "tierwise-${svc}-tokens" "${args[@]}" >/dev/null
    log "created secret tierwise-${svc}-tokens"
  done
fi
if exists tierwise-tokens; then
  log "secret tierwise-tokens (plain tokens, shared by every service) is no longer used; delete it:"
  log "  kubectl -n ${NS} delete secret tierwise-tokens"
fi

log "done; now: kubectl apply -k k8s/overlays/dev"
