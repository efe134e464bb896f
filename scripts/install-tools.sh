#!/usr/bin/env bash
# Developer tools the project builds itself (called by .ci/run, and by `npm run lint` when missing):
#   actionlint (checks .github/workflows), built from the Go module proxy with CGO_ENABLED=0 into
#   ${VPM_TOOLS_CACHE:-~/.cache/vpm-tools}/actionlint-<version>/actionlint.
#   Codex CLI and Aider, the agent clients the chat-import tests run for real (skipped with the
#   argument `actionlint`, which scripts/actionlint.sh passes so linting never installs them).
# Idempotent and instant when everything is there. Prints nothing on stdout but actionlint's path.
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
[ "${1:-}" = actionlint ] && exit 0

# Agent clients the chat-import tests run for real (tests/integration/chat-import.test.ts), pinned:
#   Codex CLI from the npm registry (@openai/codex ships its native binary inside a platform package),
#   Aider from PyPI into its own venv. Each goes to a versioned folder and is skipped when present;
#   a marker file is written last, so an interrupted install is redone rather than half-used.
CODEX_VERSION="0.171.0"
AIDER_VERSION="0.86.2"
tools="${VPM_TOOLS_CACHE:-${HOME}/.cache/vpm-tools}"
codex_dir="$tools/codex-${CODEX_VERSION}"
if [ ! -f "$codex_dir/.installed" ]; then
  echo "[tools] installing @openai/codex@${CODEX_VERSION} into $codex_dir" >&2
  mkdir -p "$codex_dir"
  npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$codex_dir" "@openai/codex@${CODEX_VERSION}" >&2
  touch "$codex_dir/.installed"
fi
aider_dir="$tools/aider-${AIDER_VERSION}"
if [ ! -f "$aider_dir/.installed" ]; then
  # aider-chat 0.86 supports CPython 3.10-3.12 (pyenv shims for other versions exist but fail, so no probing).
  py="${VPM_AIDER_PYTHON:-python3}"
  echo "[tools] installing aider-chat==${AIDER_VERSION} with $("$py" --version) into $aider_dir" >&2
  rm -rf "$aider_dir"
  "$py" -m venv "$aider_dir"
  "$aider_dir/bin/pip" install --quiet --disable-pip-version-check "aider-chat==${AIDER_VERSION}" >&2
  touch "$aider_dir/.installed"
fi
