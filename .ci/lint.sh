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
passed=0
run() {
    local name="$1"
    shift
    section "lint: $name"
    if "$@"; then
        echo "ok: $name"
        passed=$((passed + 1))
    else
        failed+=("$name")
        echo "FINDINGS: $name"
    fi
}

mapfile -t workflows < <(find .github/workflows -maxdepth 1 -type f \( -name '*.yml' -o -name '*.yaml' \) | sort)
mapfile -t act_workflows < <(find .github/act -type f \( -name '*.yml' -o -name '*.yaml' \) 2>/dev/null | sort)

# actionlint reads action.yml for `uses: ./` (inputs, outputs) and checks expressions and shell.
run actionlint actionlint -no-color "${workflows[@]}" "${act_workflows[@]}"
if [[ -f action.yml ]]; then
    run "schema action.yml" check-jsonschema --builtin-schema vendor.github-actions action.yml
else
    echo "note: no action.yml yet, schema check skipped"
fi
run "schema workflows" check-jsonschema --builtin-schema vendor.github-workflows \
    "${workflows[@]}" "${act_workflows[@]}"
# GitLab: the example pipeline and the CI/CD component (spec header and jobs, each on its own).
mapfile -t gitlab_files < <(find examples/gitlab-ci.yml templates -type f -name '*.yml' 2>/dev/null | sort)
run "schema GitLab CI" python3 .ci/gitlab_schema.py "${gitlab_files[@]}"
run hadolint hadolint Dockerfile
run shellcheck shellcheck -x .ci/*.sh
zizmor_targets=(.github/workflows)
[[ -f action.yml ]] && zizmor_targets+=(action.yml)
run zizmor zizmor --offline --no-progress "${zizmor_targets[@]}"

# The release rewrites runs.image to a digest-pinned docker:// reference: that action.yml must
# still be valid, and the script must refuse a reference without a digest.
if [[ -f action.yml ]]; then
    pinned="$(mktemp -d)/action.yml"
    cp action.yml "$pinned"
    run "release pin (script)" bash .ci/pin-action-image.sh "$pinned" \
        "docker://ghcr.io/example/cortex-action@sha256:$(printf '0%.0s' {1..64})"
    run "release pin (schema)" check-jsonschema --builtin-schema vendor.github-actions "$pinned"
    cp action.yml "$pinned"
    # shellcheck disable=SC2016 # $1 is expanded by the inner bash, on purpose
    run "release pin refuses a tag" bash -c '! bash .ci/pin-action-image.sh "$1" docker://ghcr.io/example/x:1 2>/dev/null' _ "$pinned"
fi

section "lint: result"
if ((${#failed[@]})); then
    echo "lint FAILED: ${failed[*]}"
    echo "lint: $passed passed, ${#failed[@]} failed"
    exit 1
fi
echo "lint: $passed passed, 0 failed"
