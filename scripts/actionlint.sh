#!/usr/bin/env bash
# `npm run lint`'s second half: actionlint over the GitHub workflows (it also runs shellcheck over their
# `run:` scripts when shellcheck is installed, as tests/testenv/install.sh does). Builds actionlint first
# when it is not cached yet (scripts/install-tools.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(bash scripts/install-tools.sh actionlint)"
shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
[ "${#workflows[@]}" -gt 0 ] || { echo "actionlint: no workflows under .github/workflows" >&2; exit 0; }
"$bin" "$@" "${workflows[@]}"
echo "actionlint: ${#workflows[@]} workflow(s) clean"
