# shellcheck shell=bash
# Sourced (not run) by the set-up scripts that build Go tools from the Go module proxy:
# tests/testenv/install.sh (kube-apiserver + etcd) and scripts/install-tools.sh (actionlint).
#
#   vpm_ensure_go MIN_VERSION
#
# Puts a Go toolchain >= MIN_VERSION first on PATH: the one already installed (PATH or /usr/local/go),
# else the official toolchain, which the Go module proxy serves as the module golang.org/toolchain,
# fetched once into ${VPM_TESTENV_CACHE:-~/.cache/vpm-testenv}/go<version> (override the version with
# VPM_GO_TOOLCHAIN). Debian 12's golang-go is 1.19, too old for either build. Returns 1 when neither works.

_vpm_go_at_least() {
  command -v go >/dev/null 2>&1 || return 1
  local v; v="$(GOTOOLCHAIN=local go env GOVERSION 2>/dev/null | sed 's/^go//')"
  [ -n "$v" ] && [ "$(printf '%s\n' "$1" "$v" | sort -V | head -1)" = "$1" ]
}

vpm_ensure_go() {
  local min="$1"
  export PATH="$PATH:/usr/local/go/bin"
  _vpm_go_at_least "$min" && return 0
  local version="${VPM_GO_TOOLCHAIN:-1.25.14}" arch
  arch="$(uname -m)"; case "$arch" in x86_64) arch=amd64 ;; aarch64|arm64) arch=arm64 ;; esac
  local tc="${VPM_TESTENV_CACHE:-${HOME}/.cache/vpm-testenv}/go${version}"
  if [ ! -x "$tc/bin/go" ]; then
    echo "[go] no Go >= ${min} found: fetching go${version} from the Go module proxy (golang.org/toolchain)" >&2
    local proxy mod tmpd
    proxy="$(GOFLAGS='' go env GOPROXY 2>/dev/null | cut -d, -f1 || true)"
    [ -n "$proxy" ] && [ "$proxy" != direct ] && [ "$proxy" != off ] || proxy=https://proxy.golang.org
    mod="v0.0.1-go${version}.linux-${arch}"
    tmpd="$(mktemp -d)"
    curl -fsSL -o "$tmpd/tc.zip" "${proxy%/}/golang.org/toolchain/@v/${mod}.zip" || { rm -rf "$tmpd"; return 1; }
    python3 -c 'import sys,zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$tmpd/tc.zip" "$tmpd/x" 2>/dev/null \
      || (command -v unzip >/dev/null && unzip -q "$tmpd/tc.zip" -d "$tmpd/x")
    rm -rf "$tc"; mkdir -p "$(dirname "$tc")"
    mv "$tmpd/x/golang.org/toolchain@${mod}" "$tc"
    chmod -R u+x "$tc/bin" "$tc/pkg/tool"
    rm -rf "$tmpd"
  fi
  export PATH="$tc/bin:$PATH" GOROOT="$tc" GOTOOLCHAIN=local
  _vpm_go_at_least "$min"
}
