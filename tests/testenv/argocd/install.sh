#!/usr/bin/env bash
# Builds the real Argo CD for the vpm test environment (called by tests/testenv/install.sh):
#   - argocd: Argo CD's one multi-call binary (the role comes from ARGOCD_BINARY_NAME: argocd-repo-server,
#     argocd-application-controller, argocd-applicationset-controller), built with CGO_ENABLED=0 from the
#     Go module proxy through the wrapper module in this directory (argo-cd's own go.mod, renamed, minus its
#     `=> ./gitops-engine` replace: the proxy serves github.com/argoproj/argo-cd/gitops-engine/v3 at the
#     same tag). Argo CD v3.6 needs Go 1.27: GOTOOLCHAIN=go1.27.3 fetches it through the proxy.
#   - kustomize (repo-server runs it for kustomize sources; v5.8.1 builds from the proxy, v5.8.3 does not).
#   - git-verify-wrapper.sh, gpg-wrapper.sh, git-ask-pass.sh from the module's hack/ (repo-server execs
#     git-verify-wrapper.sh on every manifest generation; without it every app shows ComparisonError
#     "permission denied").
#   - the CRDs from the module's manifests/crds/ (Application, AppProject, ApplicationSet).
# Into ${VPM_TESTENV_CACHE:-~/.cache/vpm-testenv}/argocd-<version>/ with a .complete marker written last,
# so an interrupted build is redone. Cold: ~10 min on 2 cores, ~2.3 GB peak RSS, ~5 GB of Go caches.
# Flags: --force (rebuild even when cached).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
ARGOCD_VERSION="$(sed -n -E 's#^(require[[:space:]]+|[[:space:]]+)github.com/argoproj/argo-cd/v3 v([0-9.]+)$#\2#p' "$here/go.mod" | head -1)"
KUSTOMIZE_VERSION=5.8.1
cache="${VPM_TESTENV_CACHE:-${HOME}/.cache/vpm-testenv}/argocd-${ARGOCD_VERSION}"
force=0
for a in "$@"; do
  case "$a" in
    --force) force=1 ;;
    *) echo "argocd/install.sh: unknown flag $a" >&2; exit 2 ;;
  esac
done
log() { echo "[testenv/argocd] $*" >&2; }

if [ "$force" = 0 ] && [ -f "$cache/.complete" ] && [ -x "$cache/argocd" ] && [ -x "$cache/kustomize" ]; then
  log "cached: $cache ($(cat "$cache/.complete"))"
  exit 0
fi

# Any Go >= 1.21 can fetch the Go 1.27 toolchain named by GOTOOLCHAIN from the module proxy.
# shellcheck source=scripts/lib/go-toolchain.sh
. "$here/../../../scripts/lib/go-toolchain.sh"
vpm_ensure_go 1.24 || { log "no usable Go toolchain"; exit 1; }
export GOTOOLCHAIN=go1.27.3 CGO_ENABLED=0 GOFLAGS=-buildvcs=false
mkdir -p "$cache"
rm -f "$cache/.complete"
start=$(date +%s)
log "building Argo CD v${ARGOCD_VERSION} + kustomize v${KUSTOMIZE_VERSION} into $cache (cold: ~10 min on 2 cores)"
tmp="$(mktemp -d "$cache/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
(
  cd "$here"
  go build -trimpath -ldflags "-s -w -X github.com/argoproj/argo-cd/v3/common.version=${ARGOCD_VERSION}" \
    -o "$tmp/argocd" github.com/argoproj/argo-cd/v3/cmd
)
t_argocd=$(( $(date +%s) - start ))
# kustomize in its own throw-away module (go install pkg@version ignores this wrapper's go.mod).
(cd "$tmp" && GOBIN="$tmp" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kustomize/kustomize/v5@v${KUSTOMIZE_VERSION}")
# The helper scripts and CRDs come from the very module zip the binary was built from.
moddir="$(cd "$here" && go list -m -f '{{.Dir}}' github.com/argoproj/argo-cd/v3)"
for f in git-verify-wrapper.sh gpg-wrapper.sh git-ask-pass.sh; do
  install -m 0755 "$moddir/hack/$f" "$tmp/$f"
done
mkdir -p "$tmp/crds"
for f in application-crd appproject-crd applicationset-crd; do
  install -m 0644 "$moddir/manifests/crds/$f.yaml" "$tmp/crds/$f.yaml"
done
rm -rf "$cache/crds"
mv -f "$tmp/argocd" "$tmp/kustomize" "$tmp/git-verify-wrapper.sh" "$tmp/gpg-wrapper.sh" "$tmp/git-ask-pass.sh" "$tmp/crds" "$cache/"
"$cache/argocd" version --client --short >/dev/null 2>&1 || { log "built binary does not run"; exit 1; }
echo "v${ARGOCD_VERSION} (kustomize v${KUSTOMIZE_VERSION}) built $(date -u +%FT%TZ) in $(( $(date +%s) - start ))s (argocd ${t_argocd}s)" > "$cache/.complete"
log "$(cat "$cache/.complete")"
