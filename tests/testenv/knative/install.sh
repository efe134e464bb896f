#!/usr/bin/env bash
# Provisions the real Knative Serving stack of the vpm test environment (called by ../install.sh):
#   debroot/   containerd 1.6, runc, the CNI plugins, iptables and conntrack from Debian packages, extracted
#              with dpkg -x (nothing is installed system-wide)
#   bin/       Knative Serving v1.15.2 (knative.dev/serving v0.42.2): controller, webhook, autoscaler,
#              activator, queue — from ./serving; kube-controller-manager, kube-scheduler, kubelet, kube-proxy
#              v1.34.4 — from ./node; Traefik v3.6.12 (its Knative KIngress provider is the ingress: no Envoy
#              is served here) — from ./traefik; all CGO_ENABLED=0 from the Go module proxy
#   images/    OCI tarballs for `ctr images import` (no registry is reachable): the pod sandbox, the test
#              app (./images/testapp) and Knative's queue-proxy
#   manifests/ Knative's own CRDs, RBAC, config-* ConfigMaps and webhook configurations, copied from the
#              serving, networking and caching module zips the binaries were built from
# into ${VPM_TESTENV_CACHE:-~/.cache/vpm-testenv}/knative-<version>/, each part with a marker written last so
# an interrupted build is redone. Cold: ~1,200 CPU-s (≈ 12 min on 2 cores); warm: seconds.
# Flags: --force (rebuild every part).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
SERVING_MODULE_VERSION="$(sed -n -E 's#^(require[[:space:]]+|[[:space:]]+)knative.dev/serving (v[0-9.]+)$#\2#p' "$here/serving/go.mod" | head -1)"
[ -n "$SERVING_MODULE_VERSION" ] || { echo "knative/install.sh: no knative.dev/serving version in serving/go.mod" >&2; exit 1; }
KNATIVE_VERSION=1.15.2 # the Knative release of knative.dev/serving $SERVING_MODULE_VERSION
K8S_VERSION="$(sed -n -E 's#^(require[[:space:]]+|[[:space:]]+)k8s.io/kubernetes v([0-9.]+)$#\2#p' "$here/node/go.mod" | head -1)"
cache="${VPM_TESTENV_CACHE:-${HOME}/.cache/vpm-testenv}/knative-${KNATIVE_VERSION}"
force=0
for a in "$@"; do
  case "$a" in
    --force) force=1 ;;
    *) echo "knative/install.sh: unknown flag $a" >&2; exit 2 ;;
  esac
done
log() { echo "[testenv/knative] $*" >&2; }
mkdir -p "$cache"
# done_part NAME: true when the part was completed before (and --force was not given)
done_part() { [ "$force" = 0 ] && [ -f "$cache/.$1.complete" ]; }
finish_part() { echo "$2" > "$cache/.$1.complete"; log "$1: $2"; }

# --- Debian packages, extracted --------------------------------------------------------------------
if ! done_part debroot; then
  start=$(date +%s)
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  tmp="$(mktemp -d)"
  (cd "$tmp" && apt-get download -qq containerd runc containernetworking-plugins iptables libip4tc2 libip6tc2 \
     libxtables12 libmnl0 libnetfilter-conntrack3 libnfnetlink0 libnftnl11 conntrack 2>&1 | grep -v '^W:' || true)
  rm -rf "$cache/debroot"
  for d in "$tmp"/*.deb; do dpkg -x "$d" "$cache/debroot"; done
  rm -rf "$tmp"
  # kube-proxy calls `iptables`; the legacy backend works inside a fresh network namespace without nft modules
  mkdir -p "$cache/debroot/ipt-bin"
  for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
    ln -sf ../usr/sbin/xtables-legacy-multi "$cache/debroot/ipt-bin/$t"
  done
  [ -x "$cache/debroot/usr/bin/containerd" ] && [ -x "$cache/debroot/usr/sbin/runc" ] \
    || { log "the Debian packages did not provide containerd and runc"; exit 1; }
  finish_part debroot "containerd $("$cache/debroot/usr/bin/containerd" --version | cut -d' ' -f3), runc, CNI plugins, iptables in $(( $(date +%s) - start ))s"
fi

# shellcheck source=scripts/lib/go-toolchain.sh
. "$here/../../../scripts/lib/go-toolchain.sh"
vpm_ensure_go 1.25 || { log "no usable Go toolchain (need >= 1.25)"; exit 1; }
export CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false"
mkdir -p "$cache/bin"

# build_part NAME MODULE_DIR LDFLAGS PACKAGE...: go build the packages into bin/ (atomically, via a temp dir)
build_part() {
  local name="$1" dir="$2" ldflags="$3"; shift 3
  done_part "$name" && return 0
  local start tmp; start=$(date +%s); tmp="$(mktemp -d "$cache/.build.XXXXXX")"
  log "$name: building $* (cold: several minutes on 2 cores)"
  (cd "$dir" && go build -ldflags="-s -w $ldflags" -o "$tmp/" "$@")
  mv -f "$tmp"/* "$cache/bin/"; rmdir "$tmp"
  finish_part "$name" "built with $(go env GOVERSION) in $(( $(date +%s) - start ))s"
}

# The controller is upstream's main plus one line: out of cluster all components share one network namespace,
# and knative.dev/pkg's health probes would take :8080, a constant the autoscaler's stat server needs too.
serving_dir="$(cd "$here/serving" && go list -m -f '{{.Dir}}' knative.dev/serving)"
mkdir -p "$here/serving/cmd/controller"
sed 's#^\(\t*\)ctx := signals.NewContext()$#&\n\1ctx = sharedmain.WithHealthProbesDisabled(ctx) // vpm test stack: see install.sh#' \
  "$serving_dir/cmd/controller/main.go" > "$here/serving/cmd/controller/main.go.tmp"
grep -q WithHealthProbesDisabled "$here/serving/cmd/controller/main.go.tmp" \
  || { log "could not patch the Knative controller's main.go (upstream changed?)"; exit 1; }
mv "$here/serving/cmd/controller/main.go.tmp" "$here/serving/cmd/controller/main.go"
build_part serving "$here/serving" "" ./cmd/controller knative.dev/serving/cmd/webhook \
  knative.dev/serving/cmd/autoscaler knative.dev/serving/cmd/activator knative.dev/serving/cmd/queue

vpkg=k8s.io/component-base/version
minor="$(echo "$K8S_VERSION" | cut -d. -f2)"
build_part node "$here/node" "-X ${vpkg}.gitVersion=v${K8S_VERSION} -X ${vpkg}.gitMajor=1 -X ${vpkg}.gitMinor=${minor} -X ${vpkg}.gitTreeState=clean -X k8s.io/client-go/pkg/version.gitVersion=v${K8S_VERSION}" \
  k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler \
  k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy
build_part traefik "$here/traefik" "" github.com/traefik/traefik/v3/cmd/traefik

# --- images ----------------------------------------------------------------------------------------
if ! done_part images || [ "$here/images/testapp/main.go" -nt "$cache/.images.complete" ]; then
  start=$(date +%s); tmp="$(mktemp -d)"
  (cd "$here/images" && go build -ldflags="-s -w" -o "$tmp/" ./pause ./testapp ./ocitar)
  mkdir -p "$cache/images"
  "$tmp/ocitar" "$cache/images/pause.tar" dev.local/pause:v1 /pause "$tmp/pause:/pause"
  "$tmp/ocitar" "$cache/images/testapp.tar" dev.local/vpm-testapp:v1 /testapp "$tmp/testapp:/testapp"
  "$tmp/ocitar" "$cache/images/queue.tar" "dev.local/knative/queue:${SERVING_MODULE_VERSION}" /ko-app/queue "$cache/bin/queue:/ko-app/queue"
  rm -rf "$tmp"
  finish_part images "pause, vpm-testapp, queue-proxy in $(( $(date +%s) - start ))s"
fi

# --- manifests from the module zips ------------------------------------------------------------------
if ! done_part manifests; then
  networking_dir="$(cd "$here/serving" && go list -m -f '{{.Dir}}' knative.dev/networking)"
  caching_dir="$(cd "$here/serving" && go list -m -f '{{.Dir}}' knative.dev/caching)"
  m="$cache/manifests"; rm -rf "$m"; mkdir -p "$m/1-namespace" "$m/2-crds" "$m/3-config" "$m/4-webhooks"
  core="$serving_dir/config/core"
  cp "$core/100-namespace.yaml" "$core/200-serviceaccount.yaml" "$core"/200-roles/*.yaml "$m/1-namespace/"
  # module zips drop symlinks: serving's 300-resources lacks the networking and caching CRDs it links to
  cp "$core"/300-resources/*.yaml "$m/2-crds/"
  for f in ingress serverlessservice certificate domain-claim; do cp "$networking_dir/config/$f.yaml" "$m/2-crds/net-$f.yaml"; done
  cp "$caching_dir/config/image.yaml" "$m/2-crds/caching-image.yaml"
  cp "$core"/configmaps/*.yaml "$core/999-cache.yaml" "$m/3-config/"
  cp "$networking_dir/config/config-network.yaml" "$m/3-config/"
  cp "$core"/webhooks/*.yaml "$m/4-webhooks/"
  chmod -R u+w "$m"
  finish_part manifests "Knative ${KNATIVE_VERSION} CRDs, RBAC, config and webhooks from the module zips"
fi
log "ready: $cache"
