#!/usr/bin/env bash
# Developer tools the project builds itself (called by .ci/run, and by `npm run lint` when missing):
#   actionlint (checks .github/workflows), built from the Go module proxy with CGO_ENABLED=0 into
#   ${VPM_TOOLS_CACHE:-~/.cache/vpm-tools}/actionlint-<version>/actionlint.
# Idempotent and instant when the binary is there. Prints nothing on stdout but the binary's path.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
ACTIONLINT_VERSION="v1.7.12"   # needs Go >= 1.25 (its go.mod)
dir="${VPM_TOOLS_CACHE:-${HOME}/.cache/vpm-tools}/actionlint-${ACTIONLINT_VERSION}"
bin="$dir/actionlint"

if [ ! -x "$bin" ]; then
  # shellcheck source=scripts/lib/go-toolchain.sh
  . "$here/lib/go-toolchain.sh"
  vpm_ensure_go 1.25 || { echo "[tools] cannot build actionlint: no Go >= 1.25 (and fetching one failed)" >&2; exit 1; }
  echo "[tools] building actionlint ${ACTIONLINT_VERSION} with $(go version | cut -d' ' -f3) into $dir" >&2
  mkdir -p "$dir"
  tmp="$(mktemp -d "$dir/.build.XXXXXX")"
  CGO_ENABLED=0 GOBIN="$tmp" GOFLAGS="-trimpath -buildvcs=false" GOTOOLCHAIN="${GOTOOLCHAIN:-auto}" \
    go install -ldflags="-s -w" \
    "github.com/rhysd/actionlint/cmd/actionlint@${ACTIONLINT_VERSION}" >&2
  mv -f "$tmp/actionlint" "$bin"
  rmdir "$tmp"
fi
echo "$bin"
