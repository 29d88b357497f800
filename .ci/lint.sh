#!/usr/bin/env bash
# Lint what ships besides the Python code: the action's metadata, the workflows, the Dockerfile.
# All offline: actionlint, check-jsonschema (vendored GitHub schemas), hadolint, zizmor --offline.
# Exit non-zero on the first tool with findings, after running them all.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=.ci/tools-venv.sh
source "$ROOT/.ci/tools-venv.sh"
section() { printf '\n===== %s =====\n' "$*"; }

section "lint: tools"
ensure_tools_venv "$ROOT"
printf 'actionlint %s | hadolint %s | %s | %s\n' "$(actionlint -version | head -n1)" \
    "$(hadolint --version)" "$(check-jsonschema --version)" "$(zizmor --version)"

failed=()
run() {
    local name="$1"
    shift
    section "lint: $name"
    if "$@"; then echo "ok: $name"; else failed+=("$name"); echo "FINDINGS: $name"; fi
}

mapfile -t workflows < <(find .github/workflows -maxdepth 1 -type f \( -name '*.yml' -o -name '*.yaml' \) | sort)
mapfile -t act_workflows < <(find .github/act -type f \( -name '*.yml' -o -name '*.yaml' \) 2>/dev/null | sort)

# actionlint reads action.yml for `uses: ./` (inputs, outputs) and checks expressions and shell.
run actionlint actionlint -color=never "${workflows[@]}" "${act_workflows[@]}"
if [[ -f action.yml ]]; then
    run "schema action.yml" check-jsonschema --builtin-schema vendor.github-actions action.yml
else
    echo "note: no action.yml yet, schema check skipped"
fi
run "schema workflows" check-jsonschema --builtin-schema vendor.github-workflows \
    "${workflows[@]}" "${act_workflows[@]}"
run hadolint hadolint Dockerfile
zizmor_targets=(.github/workflows)
[[ -f action.yml ]] && zizmor_targets+=(action.yml)
run zizmor zizmor --offline --no-progress "${zizmor_targets[@]}"

section "lint: result"
if ((${#failed[@]})); then
    echo "lint FAILED: ${failed[*]}"
    exit 1
fi
echo "lint passed"
