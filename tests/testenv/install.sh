#!/usr/bin/env bash
# Provisions the vpm test environment on a Debian machine (called by .ci/run, as root in CI):
#   1. Debian packages: haproxy, prometheus, openssl, bubblewrap (+ golang-go if no Go toolchain is present).
#   2. kube-apiserver + etcd built with CGO_ENABLED=0 from the Go module proxy through the wrapper
#      module in this directory, into ~/.cache/vpm-testenv/<k8s-version>/ (override: VPM_TESTENV_CACHE).
#   3. the real Argo CD (+ kustomize), built by argocd/install.sh into ~/.cache/vpm-testenv/argocd-<version>/
#      (cold ~10 min on 2 cores; skip with --no-argocd or VPM_TESTENV_NO_ARGOCD=1).
#   4. the real Knative Serving stack (Knative 1.15.2, kubelet, containerd, Traefik, images), built by
#      knative/install.sh into ~/.cache/vpm-testenv/knative-<version>/ (cold ~12 min on 2 cores; skip with
#      --no-knative or VPM_TESTENV_NO_KNATIVE=1).
# Idempotent and quick when everything is there. Skips the build when KUBEBUILDER_ASSETS or
# VPM_TESTENV_ASSETS points at a directory holding both binaries.
# Each step prints one progress line with the time it took. `npm test` runs this first (pretest), so a fresh
# machine gets what the suites need; VPM_SKIP_TESTENV=1 skips it (and the suites that need it say so).
# Flags: --no-apt (skip the Debian packages), --no-argocd (skip step 3), --no-knative (skip step 4),
# --force (rebuild even when cached).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
K8S_VERSION="$(sed -n 's/^\tk8s.io\/kubernetes v\(.*\)$/\1/p' "$here/go.mod" | head -1)"
cache="${VPM_TESTENV_CACHE:-${HOME}/.cache/vpm-testenv}/${K8S_VERSION}"
apt=1 force=0 argocd=1 knative=1
[ "${VPM_TESTENV_NO_ARGOCD:-}" = 1 ] && argocd=0
[ "${VPM_TESTENV_NO_KNATIVE:-}" = 1 ] && knative=0
if [ "${VPM_SKIP_TESTENV:-}" = 1 ]; then
  echo "[testenv] VPM_SKIP_TESTENV=1: not provisioning; suites that need the test environment will be skipped" >&2
  exit 0
fi
for a in "$@"; do
  case "$a" in
    --no-apt) apt=0 ;;
    --no-argocd) argocd=0 ;;
    --no-knative) knative=0 ;;
    --force) force=1 ;;
    *) echo "install.sh: unknown flag $a" >&2; exit 2 ;;
  esac
done
log() { echo "[testenv] $*" >&2; }
t_step=$(date +%s)
step_done() { log "$1 ($(( $(date +%s) - t_step ))s)"; t_step=$(date +%s); }

# --- 1. Debian packages -------------------------------------------------------------------------
need=()
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
command -v prometheus >/dev/null 2>&1 || [ -x /usr/bin/prometheus ] || need+=(prometheus)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v curl >/dev/null 2>&1 || need+=(curl ca-certificates)
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need+=(chromium)  # vpm diagrams export renders Mermaid in headless Chromium
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)  # lints scripts/bootstrap-kind-knative.sh (tests/integration/fleet-manifests.test.ts)
command -v bwrap >/dev/null 2>&1 || [ -x /usr/bin/bwrap ] || need+=(bubblewrap)  # vpm run --exec runs every step in its sandbox (src/runner/sandbox.ts)
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || need+=(redis-server)  # real Argo CD's cache (tests/support/argocd-real.ts)
command -v git >/dev/null 2>&1 || need+=(git)  # Argo CD's repo-server clones the test's local git repository
if [ "$apt" = 1 ] && [ "${#need[@]}" -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  log "apt-get install ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
step_done "Debian packages ready"

# --- 2. kube-apiserver + etcd ---------------------------------------------------------------------
build_apiserver() {
for d in "${VPM_TESTENV_ASSETS:-}" "${KUBEBUILDER_ASSETS:-}"; do
  if [ -n "$d" ] && [ -x "$d/kube-apiserver" ] && [ -x "$d/etcd" ]; then
    log "using binaries from $d"
    return 0
  fi
done
if [ "$force" = 0 ] && [ -x "$cache/kube-apiserver" ] && [ -x "$cache/etcd" ] && [ -f "$cache/.complete" ]; then
  log "cached: $cache (kube-apiserver v${K8S_VERSION}, etcd)"
  return 0
fi

# k8s 1.34 needs Go >= 1.24 (the shared helper fetches the official toolchain when there is none).
# shellcheck source=scripts/lib/go-toolchain.sh
. "$here/../../scripts/lib/go-toolchain.sh"
vpm_ensure_go 1.24 || { log "no usable Go toolchain (need >= 1.24)"; exit 1; }
mkdir -p "$cache"
log "building kube-apiserver v${K8S_VERSION} and etcd with $(go version | cut -d' ' -f3) into $cache (takes a few minutes on 2 cores)"
start=$(date +%s)
vpkg=k8s.io/component-base/version
minor="$(echo "$K8S_VERSION" | cut -d. -f2)"
ldflags="-s -w -X ${vpkg}.gitVersion=v${K8S_VERSION} -X ${vpkg}.gitMajor=1 -X ${vpkg}.gitMinor=${minor} -X ${vpkg}.gitTreeState=clean -X ${vpkg}.buildDate=1970-01-01T00:00:00Z"
ldflags="$ldflags -X k8s.io/client-go/pkg/version.gitVersion=v${K8S_VERSION} -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=${minor}"
tmp="$(mktemp -d "$cache/.build.XXXXXX")"
(
  cd "$here"
  CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false" GOTOOLCHAIN="${GOTOOLCHAIN:-auto}" \
    go build -ldflags="$ldflags" -o "$tmp/" k8s.io/kubernetes/cmd/kube-apiserver ./etcd
)
mv -f "$tmp/kube-apiserver" "$tmp/etcd" "$cache/"
rmdir "$tmp"
echo "v${K8S_VERSION} built $(date -u +%FT%TZ) in $(( $(date +%s) - start ))s" > "$cache/.complete"
log "built in $(( $(date +%s) - start ))s: $(cat "$cache/.complete")"
}
build_apiserver
step_done "kube-apiserver + etcd ready"

# --- 3. real Argo CD ------------------------------------------------------------------------------
if [ "$argocd" = 1 ]; then
  fa=(); [ "$force" = 1 ] && fa+=(--force)
  bash "$here/argocd/install.sh" "${fa[@]}"
  step_done "Argo CD ready"
fi

# --- 4. real Knative Serving ----------------------------------------------------------------------
if [ "$knative" = 1 ]; then
  fk=(); [ "$force" = 1 ] && fk+=(--force)
  bash "$here/knative/install.sh" "${fk[@]}"
  step_done "Knative stack ready"
fi
