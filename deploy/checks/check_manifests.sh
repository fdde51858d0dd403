#!/usr/bin/env bash
# Offline checks of the deployment files: no cluster, no Docker engine, no network once the
# tools are installed. Run by CTest (test deploy_offline_checks, label deploy), so tests/run.sh
# runs it; it also runs on its own:
#
#   deploy/checks/check_manifests.sh [BINARY...]
#
# BINARY: built Tierwise binaries for the Dockerfile's library check; by default the service
# binaries and the CLI found in $TIERWISE_BUILD_DIR (or build/). Missing ones are skipped.
#
# Checks:
#   - yamllint --strict (.yamllint) on every YAML file of the repository;
#   - k8s/overlays/dev and prod render with `kubectl kustomize`, with the system's kubectl and
#     with kubectl 1.20 (kustomize v2.0.3, Debian 12's kubernetes-client), to the same objects;
#   - every rendered object against the Kubernetes 1.30 API schema (k8s_schema.js);
#   - policies (policy.js): probes, resources, security contexts, Secrets only by reference,
#     config, Services, autoscalers, disruption budgets, network policies, migration Jobs,
#     overlay specifics; no Secret manifest anywhere under k8s/ or deploy/;
#   - docker-compose.yaml against the compose-spec schema plus its rules; tokens.example;
#   - the Dockerfile: its structure, its build packages against deploy/local/lib.sh, and its
#     runtime packages against `ldd` of the built binaries mapped with `dpkg -S`;
#   - .dockerignore keeps what CMake needs;
#   - Prometheus rules (promtool check rules, and the unit tests in alerts_test.yaml), metric
#     names and runbook links; the Grafana dashboard's queries parse and use known metrics;
#   - shellcheck on the deployment scripts, when shellcheck is installed.
#
# Installs what it lacks: Debian packages kubernetes-client (when there is no kubectl), yamllint,
# nodejs and npm (apt-get, as root or through sudo); the npm packages pinned in
# deploy/checks/package-lock.json, and kubectl 1.20 and promtool unpacked from Debian's
# kubernetes-client and prometheus packages (`apt-get download`; installing prometheus would
# start a server), all into $TIERWISE_BUILD_DIR/deploy-checks (git-ignored, like build/).
# Exits 1 when a check fails; the last line says "deploy-checks: N passed, N failed".
set -euo pipefail

# shellcheck source=deploy/local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../local/lib.sh"

case "${1:-}" in
  -h | --help)
    tw_usage "${BASH_SOURCE[0]}"
    exit 0
    ;;
esac

cd "$TW_REPO_ROOT"
CHECKS_DIR="${TW_REPO_ROOT}/deploy/checks"
WORK="$(tw_build_dir)/deploy-checks"
mkdir -p "$WORK"
RENDER="${WORK}/rendered"
rm -rf "$RENDER"
mkdir -p "$RENDER"

SERVICES="profile interaction credit classification"
PASSED=0
FAILED=0
FAILED_NAMES=()

log() { printf '[deploy-checks] %s\n' "$*" >&2; }

# check <name> <command...>: runs the command, prints "ok" with its last line, or "FAIL" with
# all its output.
check() {
  local name="$1" out rc=0
  shift
  out="$("$@" 2>&1)" || rc=$?
  if [ "$rc" -eq 0 ]; then
    PASSED=$((PASSED + 1))
    printf 'ok    %s%s\n' "$name" "$(printf '%s' "$out" | tail -n 1 | sed 's/^ */  -- /;s/^  -- $//')"
  else
    FAILED=$((FAILED + 1))
    FAILED_NAMES+=("$name")
    printf 'FAIL  %s\n' "$name"
    printf '%s\n' "$out" | sed 's/^/      /'
  fi
}

# --- tools -------------------------------------------------------------------------------------

apt_updated=0
apt_update_once() {
  if [ "$apt_updated" -eq 0 ]; then
    tw_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null >&2
    apt_updated=1
  fi
}

install_packages() {
  local missing=()
  command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)
  command -v yamllint >/dev/null 2>&1 || missing+=(yamllint)
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  [ "${#missing[@]}" -gt 0 ] || return 0
  command -v apt-get >/dev/null 2>&1 || tw_die "missing ${missing[*]} and no apt-get to install them"
  log "installing ${missing[*]}"
  apt_update_once
  tw_as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null >&2
}

# unpack_deb <package> <path in package> <destination file>: takes one file out of a Debian
# package without installing it.
unpack_deb() {
  local pkg="$1" member="$2" dest="$3" dir="${WORK}/debs"
  [ -x "$dest" ] && return 0
  mkdir -p "$dir" "$(dirname "$dest")"
  rm -f "${dir}/${pkg}"_*.deb
  log "fetching ${pkg} (Debian) for ${member##*/}"
  if ! (cd "$dir" && apt-get download -q "$pkg" </dev/null >&2 2>/dev/null); then
    apt_update_once
    (cd "$dir" && apt-get download -q "$pkg" </dev/null >&2)
  fi
  dpkg-deb --fsys-tarfile "${dir}/${pkg}"_*.deb | tar -x -O "./${member#/}" >"${dest}.tmp"
  chmod 755 "${dest}.tmp"
  mv "${dest}.tmp" "$dest"
  rm -f "${dir}/${pkg}"_*.deb
}

install_node_modules() {
  local want have=""
  want="$(cat "${CHECKS_DIR}/package.json" "${CHECKS_DIR}/package-lock.json" | sha256sum | cut -d' ' -f1)"
  [ -f "${WORK}/node_modules/.tierwise-lock" ] && have="$(cat "${WORK}/node_modules/.tierwise-lock")"
  if [ "$want" != "$have" ]; then
    log "installing npm packages into ${WORK}/node_modules"
    cp "${CHECKS_DIR}/package.json" "${CHECKS_DIR}/package-lock.json" "$WORK/"
    (cd "$WORK" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error </dev/null >&2)
    printf '%s\n' "$want" >"${WORK}/node_modules/.tierwise-lock"
  fi
  export NODE_PATH="${WORK}/node_modules"
}

install_packages
install_node_modules
KUBECTL="$(command -v kubectl)"
KUBECTL_OLD="${WORK}/bin/kubectl-1.20"
kubectl_version() { "$1" version --client -o json 2>/dev/null | node -e \
  'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).clientVersion.gitVersion))'; }
if [ "$(kubectl_version "$KUBECTL")" = "v1.20.2" ]; then
  KUBECTL_OLD=""
else
  unpack_deb kubernetes-client /usr/bin/kubectl "$KUBECTL_OLD"
fi
PROMTOOL="$(command -v promtool || true)"
if [ -z "$PROMTOOL" ]; then
  PROMTOOL="${WORK}/bin/promtool"
  unpack_deb prometheus /usr/bin/promtool "$PROMTOOL"
fi
log "kubectl $(kubectl_version "$KUBECTL")${KUBECTL_OLD:+ and $(kubectl_version "$KUBECTL_OLD")}," \
  "$(yamllint --version), node $(node --version)," \
  "$("$PROMTOOL" --version 2>&1 | head -n 1 | cut -d' ' -f1-3)"

# --- YAML --------------------------------------------------------------------------------------

yaml_files() {
  find . \( -path ./.git -o -path './build*' -o -path ./.tierwise -o -name node_modules \) -prune \
    -o -type f \( -name '*.yaml' -o -name '*.yml' -o -name .yamllint \) -print | sort
}
mapfile -t YAML_FILES < <(yaml_files)
check "yamllint (${#YAML_FILES[@]} files)" yamllint --strict -c .yamllint "${YAML_FILES[@]}"

# --- Kubernetes --------------------------------------------------------------------------------

# render <kubectl> <overlay> <out>: kustomize output; deprecation warnings are fine.
render() {
  local err
  err="$("$1" kustomize "k8s/overlays/$2" 2>&1 >"$3")" || {
    printf '%s\n' "$err"
    return 1
  }
  printf '%s\n' "$err" | grep -v -e '^# Warning: .* is deprecated' -e '^$' || true
  printf '%s objects\n' "$(grep -c '^kind:' "$3")"
}

# same_objects <a.yaml> <b.yaml>: both renderings hold the same objects, field for field.
same_objects() {
  node -e '
    const fs = require("fs"), yaml = require("js-yaml");
    const canon = (v) => Array.isArray(v) ? v.map(canon) : (v && typeof v === "object")
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon(v[k])])) : v;
    const load = (f) => yaml.loadAll(fs.readFileSync(f, "utf8"), null, { schema: yaml.CORE_SCHEMA })
      .filter(Boolean).map((d) => JSON.stringify(canon(d))).sort();
    const [a, b] = [load(process.argv[1]), load(process.argv[2])];
    const onlyA = a.filter((x) => !b.includes(x)), onlyB = b.filter((x) => !a.includes(x));
    for (const x of onlyA) console.log("only in " + process.argv[1] + ": " + x.slice(0, 300));
    for (const x of onlyB) console.log("only in " + process.argv[2] + ": " + x.slice(0, 300));
    console.log(a.length + " objects, " + (onlyA.length + onlyB.length) + " differences");
    process.exit(onlyA.length + onlyB.length ? 1 : 0);' "$1" "$2"
}

RENDERED=()
for overlay in dev prod; do
  out="${RENDER}/${overlay}.yaml"
  check "kustomize ${overlay} (kubectl $(kubectl_version "$KUBECTL"))" render "$KUBECTL" "$overlay" "$out"
  if [ -n "$KUBECTL_OLD" ]; then
    check "kustomize ${overlay} (kubectl 1.20, kustomize v2.0.3)" \
      render "$KUBECTL_OLD" "$overlay" "${RENDER}/${overlay}-1.20.yaml"
    check "kustomize ${overlay}: kubectl 1.20 renders the same objects" \
      same_objects "$out" "${RENDER}/${overlay}-1.20.yaml"
  fi
  [ -s "$out" ] && RENDERED+=("$out")
done
if [ "${#RENDERED[@]}" -gt 0 ]; then
  check "Kubernetes schema (dev, prod)" node "${CHECKS_DIR}/k8s_schema.js" "${RENDERED[@]}"
fi
for overlay in dev prod; do
  out="${RENDER}/${overlay}.yaml"
  [ -s "$out" ] && check "policy ${overlay}" node "${CHECKS_DIR}/policy.js" k8s "$overlay" "$out"
done

no_secret_manifests() {
  local found
  found="$(grep -rlE '^kind:[[:space:]]*Secret[[:space:]]*$' k8s deploy || true)"
  [ -z "$found" ] || {
    printf 'Secret manifests found (reference Secrets, never commit them):\n%s\n' "$found"
    return 1
  }
  echo "none"
}
check "no Secret manifests under k8s/ and deploy/" no_secret_manifests

# --- compose, tokens ---------------------------------------------------------------------------

check "docker-compose.yaml" node "${CHECKS_DIR}/policy.js" compose deploy/docker-compose.yaml
check "docker/tokens.example" node "${CHECKS_DIR}/policy.js" tokens deploy/docker/tokens.example

# --- Dockerfile --------------------------------------------------------------------------------

DOCKERFILE=deploy/docker/Dockerfile
check "Dockerfile structure" node "${CHECKS_DIR}/policy.js" dockerfile "$DOCKERFILE"

# The build stage installs the packages of TW_PACKAGES (deploy/local/lib.sh) that the build
# needs: all but these, which only running and testing locally need.
RUN_ONLY_PACKAGES="postgresql-15 redis-server redis-tools openssl python3 tzdata"
build_packages_match() {
  local pkg missing=() stage_pkgs
  stage_pkgs=" $(node "${CHECKS_DIR}/policy.js" dockerfile-packages "$DOCKERFILE" build | tr '\n' ' ') "
  for pkg in "${TW_PACKAGES[@]}"; do
    [[ " ${RUN_ONLY_PACKAGES} " != *" ${pkg} "* ]] || continue
    [[ "$stage_pkgs" == *" ${pkg} "* ]] || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "TW_PACKAGES (deploy/local/lib.sh) has ${missing[*]}, which the Dockerfile's build stage"
    echo "does not install: add them there, or to RUN_ONLY_PACKAGES in $(basename "$0") when the"
    echo "build does not need them"
    return 1
  fi
  echo "build stage has TW_PACKAGES minus: ${RUN_ONLY_PACKAGES}"
}
check "Dockerfile build packages = deploy/local/lib.sh" build_packages_match

# Package data, read once: what is installed, what each installed package depends on, and which
# package owns each file asked for (dpkg -S with all paths at once: it reads its whole database
# per call).
declare -A INSTALLED=() DEPENDS=() OWNER=()
load_package_db() {
  local pkg status deps
  while IFS=$'\t' read -r pkg status deps; do
    [ "$status" = "install ok installed" ] || continue
    INSTALLED[$pkg]=1
    DEPENDS[$pkg]="$deps"
  done < <(dpkg-query -W -f='${Package}\t${Status}\t${Pre-Depends}, ${Depends}\n')
}
# load_owners <path...>: fills OWNER[path] for the paths that a package ships.
load_owners() {
  local line pkg
  while IFS= read -r line; do
    case "$line" in diversion* | *"no path found"*) continue ;; esac
    pkg="${line%: *}"
    pkg="${pkg%%,*}"
    OWNER["${line##*: }"]="${pkg%%:*}"
  done < <(dpkg -S "$@" 2>/dev/null)
}
# lib_candidates <library path>: the names dpkg may know it by (usrmerge: /lib and /usr/lib).
lib_candidates() {
  local real
  real="$(readlink -f "$1")"
  printf '%s\n' "$1" "/usr$1" "$real" "${real#/usr}"
}

# dep_closure <package...>: the packages and everything they depend on, as installed here.
dep_closure() {
  local -A seen=()
  local queue=("$@") pkg group alt name
  while [ "${#queue[@]}" -gt 0 ]; do
    pkg="${queue[0]}"
    queue=("${queue[@]:1}")
    [ -z "${seen[$pkg]:-}" ] || continue
    seen[$pkg]=1
    while IFS= read -r group; do
      while IFS= read -r alt; do
        name="$(printf '%s' "$alt" | sed 's/([^)]*)//g; s/:[a-z0-9]*//g; s/[[:space:]]//g')"
        if [ -n "$name" ] && [ -n "${INSTALLED[$name]:-}" ]; then queue+=("$name"); fi
      done < <(printf '%s\n' "$group" | tr '|' '\n')
    done < <(printf '%s\n' "${DEPENDS[$pkg]:-}" | tr ',' '\n')
  done
  printf '%s\n' "${!seen[@]}"
}

BINARIES=("$@")
if [ "${#BINARIES[@]}" -eq 0 ]; then
  BUILD_DIR="$(tw_build_dir)"
  for svc in $SERVICES; do
    if [ -x "${BUILD_DIR}/services/${svc}/tierwise-${svc}" ]; then
      BINARIES+=("${BUILD_DIR}/services/${svc}/tierwise-${svc}")
    else
      log "library check: tierwise-${svc} not built in ${BUILD_DIR}, skipped"
    fi
  done
  if [ -x "${BUILD_DIR}/services/cli/tierwise" ]; then
    BINARIES+=("${BUILD_DIR}/services/cli/tierwise")
  else
    log "library check: tierwise (CLI) not built in ${BUILD_DIR}, skipped"
  fi
fi

# Every library a binary loads comes from a package the runtime stage installs: packages of
# directly linked libraries (NEEDED) by name, the others by name or as a dependency.
runtime_libraries_installed() {
  local stage listed closure bin name line so lib pkg cand entry needed problems=0 used=" "
  local checked=()
  local -A libs_of=() needed_of=()
  stage="$(node "${CHECKS_DIR}/policy.js" dockerfile-final-stage "$DOCKERFILE")"
  listed=" $(node "${CHECKS_DIR}/policy.js" dockerfile-packages "$DOCKERFILE" "$stage" | tr '\n' ' ') "
  load_package_db
  # shellcheck disable=SC2086 # one package per word
  closure=" $(dep_closure $listed | tr '\n' ' ') "

  local all_paths=()
  for bin in "${BINARIES[@]}"; do
    name="$(basename "$bin")"
    if [ ! -x "$bin" ]; then
      echo "${bin}: not an executable"
      problems=$((problems + 1))
      continue
    fi
    needed=" "
    if command -v readelf >/dev/null 2>&1; then
      needed=" $(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ') "
    fi
    if [[ "$needed" =~ \ lib(a|ub|t|l)san\. ]]; then
      echo "note: ${name} is a sanitizer build, not what an image ships; skipped"
      continue
    fi
    needed_of[$bin]="$needed"
    libs_of[$bin]=""
    while IFS= read -r line; do
      case "$line" in
        *"=> not found"*)
          echo "${name}: ${line%% *} not found"
          problems=$((problems + 1))
          ;;
        *"=> /"*)
          so="$(printf '%s' "$line" | awk '{print $1}')"
          lib="$(printf '%s' "$line" | awk '{print $3}')"
          libs_of[$bin]+="${so}=${lib} "
          mapfile -t -O "${#all_paths[@]}" all_paths < <(lib_candidates "$lib")
          ;;
      esac
    done < <(ldd "$bin")
    checked+=("$name")
  done
  [ "${#all_paths[@]}" -eq 0 ] || load_owners "${all_paths[@]}"

  for bin in "${!libs_of[@]}"; do
    name="$(basename "$bin")"
    needed="${needed_of[$bin]}"
    for entry in ${libs_of[$bin]}; do
      so="${entry%%=*}"
      lib="${entry#*=}"
      pkg=""
      while IFS= read -r cand; do
        if [ -n "${OWNER[$cand]:-}" ]; then
          pkg="${OWNER[$cand]}"
          break
        fi
      done < <(lib_candidates "$lib")
      if [ -z "$pkg" ]; then
        echo "${name}: ${lib} belongs to no Debian package"
        problems=$((problems + 1))
        continue
      fi
      used+="${pkg} "
      if [ "$needed" = " " ] || [[ "$needed" == *" ${so} "* ]]; then
        if [[ "$listed" != *" ${pkg} "* ]]; then
          echo "${name} links ${so} directly: add ${pkg} to the runtime stage"
          problems=$((problems + 1))
        fi
      elif [[ "$closure" != *" ${pkg} "* ]]; then
        echo "${name} loads ${so}: ${pkg} is neither listed nor a dependency of a listed package"
        problems=$((problems + 1))
      fi
    done
  done
  for pkg in $listed; do
    [[ "$used" == *" ${pkg} "* ]] || echo "note: ${pkg} is installed but no checked binary loads it"
  done
  [ "$problems" -eq 0 ] || return 1
  echo "runtime stage provides the libraries of: ${checked[*]}"
}
if [ "${#BINARIES[@]}" -gt 0 ]; then
  check "Dockerfile runtime libraries (ldd + dpkg -S)" runtime_libraries_installed
else
  echo "skip  Dockerfile runtime libraries: no built binary (build first, or pass binaries)"
fi

# .dockerignore must not drop what the CMake build reads.
dockerignore_keeps_sources() {
  local entry bad=()
  for entry in CMakeLists.txt CMakePresets.json cmake \
    $(sed -n 's/^add_subdirectory(\([^) ]*\).*/\1/p' CMakeLists.txt); do
    if grep -qxE "/?${entry}/?(\*\*?)?" .dockerignore; then bad+=("$entry"); fi
  done
  [ "${#bad[@]}" -eq 0 ] || {
    echo ".dockerignore excludes what the build needs: ${bad[*]}"
    return 1
  }
  echo "keeps CMake sources"
}
check ".dockerignore" dockerignore_keeps_sources

# --- Prometheus and Grafana --------------------------------------------------------------------

check "alert rules (promtool check rules)" "$PROMTOOL" check rules deploy/prometheus/alerts.yaml
check "alert rules unit tests (promtool test rules)" \
  "$PROMTOOL" test rules "${CHECKS_DIR}/alerts_test.yaml"
check "alert rules: metrics, severities, runbook links" \
  node "${CHECKS_DIR}/policy.js" alerts deploy/prometheus/alerts.yaml
grafana_queries_parse() {
  node "${CHECKS_DIR}/policy.js" grafana deploy/grafana/tierwise-dashboard.json \
    "${RENDER}/grafana-queries.yaml" && "$PROMTOOL" check rules "${RENDER}/grafana-queries.yaml"
}
check "Grafana dashboard (queries parse, known metrics)" grafana_queries_parse

# --- scripts -----------------------------------------------------------------------------------

if command -v shellcheck >/dev/null 2>&1; then
  check "shellcheck" shellcheck -x "${CHECKS_DIR}/check_manifests.sh" k8s/overlays/dev/create-secrets.sh
else
  echo "skip  shellcheck: not installed"
fi

echo
if [ "$FAILED" -gt 0 ]; then
  echo "failed: ${FAILED_NAMES[*]}"
fi
echo "deploy-checks: ${PASSED} passed, ${FAILED} failed"
[ "$FAILED" -eq 0 ]
