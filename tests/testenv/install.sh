#!/usr/bin/env bash
# Provisions the vpm test environment on a Debian machine (called by .ci/run, as root in CI):
#   1. Debian packages: haproxy, prometheus, openssl, bubblewrap (+ golang-go if no Go toolchain is present).
#   2. kube-apiserver + etcd built with CGO_ENABLED=0 from the Go module proxy through the wrapper
#      module in this directory, into ~/.cache/vpm-testenv/<k8s-version>/ (override: VPM_TESTENV_CACHE).
# Idempotent and quick when everything is there. Skips the build when KUBEBUILDER_ASSETS or
# VPM_TESTENV_ASSETS points at a directory holding both binaries.
# Flags: --no-apt (skip the Debian packages), --force (rebuild even when cached).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
K8S_VERSION="$(sed -n 's/^\tk8s.io\/kubernetes v\(.*\)$/\1/p' "$here/go.mod" | head -1)"
cache="${VPM_TESTENV_CACHE:-${HOME}/.cache/vpm-testenv}/${K8S_VERSION}"
apt=1 force=0
for a in "$@"; do
  case "$a" in
    --no-apt) apt=0 ;;
    --force) force=1 ;;
    *) echo "install.sh: unknown flag $a" >&2; exit 2 ;;
  esac
done
log() { echo "[testenv] $*" >&2; }

# --- 1. Debian packages -------------------------------------------------------------------------
need=()
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
command -v prometheus >/dev/null 2>&1 || [ -x /usr/bin/prometheus ] || need+=(prometheus)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v curl >/dev/null 2>&1 || need+=(curl ca-certificates)
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need+=(chromium)  # vpm diagrams export renders Mermaid in headless Chromium
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)  # lints scripts/bootstrap-kind-knative.sh (tests/integration/fleet-manifests.test.ts)
command -v bwrap >/dev/null 2>&1 || [ -x /usr/bin/bwrap ] || need+=(bubblewrap)  # vpm run --exec runs every step in its sandbox (src/runner/sandbox.ts)
if [ "$apt" = 1 ] && [ "${#need[@]}" -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  log "apt-get install ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# --- 2. kube-apiserver + etcd ---------------------------------------------------------------------
for d in "${VPM_TESTENV_ASSETS:-}" "${KUBEBUILDER_ASSETS:-}"; do
  if [ -n "$d" ] && [ -x "$d/kube-apiserver" ] && [ -x "$d/etcd" ]; then
    log "using binaries from $d"
    exit 0
  fi
done
if [ "$force" = 0 ] && [ -x "$cache/kube-apiserver" ] && [ -x "$cache/etcd" ] && [ -f "$cache/.complete" ]; then
  log "cached: $cache (kube-apiserver v${K8S_VERSION}, etcd)"
  exit 0
fi

export PATH="$PATH:/usr/local/go/bin"
# k8s 1.34 needs Go >= 1.24. Without one (Debian 12's golang-go is 1.19), fetch the official
# toolchain, which the Go module proxy serves as the module golang.org/toolchain.
go_ok() {
  command -v go >/dev/null 2>&1 || return 1
  local v; v="$(GOTOOLCHAIN=local go env GOVERSION 2>/dev/null | sed 's/^go//')"
  [ "$(printf '%s\n' "1.24" "$v" | sort -V | head -1)" = "1.24" ]
}
if ! go_ok; then
  GO_TOOLCHAIN_VERSION="${VPM_GO_TOOLCHAIN:-1.25.14}"
  arch="$(uname -m)"; case "$arch" in x86_64) arch=amd64 ;; aarch64|arm64) arch=arm64 ;; esac
  tc="${VPM_TESTENV_CACHE:-${HOME}/.cache/vpm-testenv}/go${GO_TOOLCHAIN_VERSION}"
  if [ ! -x "$tc/bin/go" ]; then
    log "no Go >= 1.24 found: fetching go${GO_TOOLCHAIN_VERSION} from the Go module proxy (golang.org/toolchain)"
    proxy="$(GOFLAGS= go env GOPROXY 2>/dev/null | cut -d, -f1 || true)"; [ -n "$proxy" ] && [ "$proxy" != direct ] && [ "$proxy" != off ] || proxy=https://proxy.golang.org
    mod="v0.0.1-go${GO_TOOLCHAIN_VERSION}.linux-${arch}"
    tmpd="$(mktemp -d)"
    curl -fsSL -o "$tmpd/tc.zip" "${proxy%/}/golang.org/toolchain/@v/${mod}.zip"
    python3 -c 'import sys,zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$tmpd/tc.zip" "$tmpd/x" 2>/dev/null \
      || (command -v unzip >/dev/null && unzip -q "$tmpd/tc.zip" -d "$tmpd/x")
    rm -rf "$tc"; mkdir -p "$(dirname "$tc")"
    mv "$tmpd/x/golang.org/toolchain@${mod}" "$tc"
    chmod -R u+x "$tc/bin" "$tc/pkg/tool"
    rm -rf "$tmpd"
  fi
  export PATH="$tc/bin:$PATH" GOROOT="$tc" GOTOOLCHAIN=local
fi
go_ok || { log "no usable Go toolchain (need >= 1.24)"; exit 1; }
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
