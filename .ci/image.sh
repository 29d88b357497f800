#!/usr/bin/env bash
# Build the project's image with podman (no Docker engine here) from the unchanged Dockerfile on a
# locally made base, then run it the ways users do with `pytest -m image`
# (tests/image/test_image_scenarios.py: GitHub, GitLab, Jenkins, the failure path, the emulator
# as a service container, the image's contents). Then the act-driven workflow (.ci/act.sh),
# unless CORTEX_SKIP_ACT=1.
#
# Env: CORTEX_CI_WORK (default .work/image), CORTEX_IMAGE (default localhost/cortex-action:ci),
#      CORTEX_SKIP_ACT=1 to skip act, CORTEX_SKIP_BENCH=1 to skip the image budget table,
#      CORTEX_BENCH_RUNS (default 3).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=.ci/podman-env.sh
source "$ROOT/.ci/podman-env.sh"
take_ci_lock
T_START=$SECONDS
declare -a SUMMARY=()
pass() { SUMMARY+=("PASS  $*"); printf 'PASS: %s\n' "$*"; }

section "image: podman & co"
ensure_podman
podman --version
runc --version | head -n1

section "image: local base (debootstrap + CPython 3.12 + CA certificates)"
t0=$SECONDS
BASE="$(bash "$ROOT/.ci/base-image.sh" | tail -n1)"
echo "base: $BASE ($((SECONDS - t0)) s)"

section "image: build the Dockerfile, unchanged, on that base"
t0=$SECONDS
podman build --pull=never --network host --layers \
    --build-arg "BASE_IMAGE=$BASE" -t "$IMAGE" -f Dockerfile . >"$WORK/build.log" 2>&1 \
    || { tail -n 60 "$WORK/build.log"; die "podman build failed"; }
grep -E '^(STEP|\[[0-9]/[0-9]\] STEP|--> Using cache)' "$WORK/build.log" | cut -c1-110 || true
size="$(podman image inspect "$IMAGE" --format '{{.Size}}')"
base_size="$(podman image inspect "$BASE" --format '{{.Size}}')"
echo "built $IMAGE in $((SECONDS - t0)) s: $((size / 1000000)) MB (base $((base_size / 1000000)) MB, ours +$(((size - base_size) / 1000000)) MB)"
pass "build (unchanged Dockerfile, BASE_IMAGE=$BASE)"

section "image: run it as GitHub, GitLab and Jenkins do (pytest -m image)"
make venv
# CORTEX_REQUIRE_IMAGE=1: a missing podman or image fails the scenarios instead of skipping them.
CORTEX_IMAGE="$IMAGE" CORTEX_REQUIRE_IMAGE=1 .venv/bin/python -m pytest -m image \
    -p no:cacheprovider -rs -q tests/image 9>&- || die "the image scenarios failed"
pass "image scenarios: contents, (a) GitHub, (b) GitLab, (c) Jenkins inside, (d) failure, (e) service container"

if [[ "${CORTEX_SKIP_ACT:-0}" != 1 ]]; then
    section "image: act (a workflow using the action through a runner implementation)"
    bash "$ROOT/.ci/act.sh"
    pass "act: uses: ./ in a workflow, outputs reach a later step"
fi

if [[ "${CORTEX_SKIP_BENCH:-0}" != 1 ]]; then
    section "image: budget (benchmarks/image_budget.py)"
    .venv/bin/python benchmarks/image_budget.py --runs "${CORTEX_BENCH_RUNS:-3}" --base "$BASE"
fi

section "image: result"
printf '%s\n' "${SUMMARY[@]}"
echo "image checks passed in $((SECONDS - T_START)) s"
echo "image: ${#SUMMARY[@]} passed, 0 failed"
