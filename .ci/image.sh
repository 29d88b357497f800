#!/usr/bin/env bash
# Build the project's image with podman (no Docker engine here) from the unchanged Dockerfile on a
# locally made base, then run it the ways users do, each against the emulator on the host's
# loopback:
#   (a) as GitHub runs a Docker action   (b) as GitLab runs an `image:`   (c) as Jenkins `inside` does
#   (d) the failure path                 (e) the emulator itself from the image (service container)
# Then the act-driven workflow (.ci/act.sh), unless CORTEX_SKIP_ACT=1.
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

section "image: contents"
podman run --rm "$IMAGE" --version
# Nothing that only builds or tests: no pip in the venv, no tests, no caches, no sources.
podman run --rm --entrypoint /bin/sh "$IMAGE" -c '
    set -e
    test ! -e /opt/venv/bin/pip
    for d in /opt/venv/lib/python3*/site-packages; do test ! -e "$d/tests"; done
    test -z "$(find /opt /app \( -name "*.whl" -o -name .cache -o -name "*.egg-info" \) | head -n1)"
    test ! -e /src
    command -v cortex-action
    cfg="$(cat /opt/venv/pyvenv.cfg)"; echo "$cfg" | head -n3'
entry="$(podman image inspect "$IMAGE" --format '{{json .Config.Entrypoint}} {{json .Config.Cmd}} {{.Config.WorkingDir}}|{{.Config.User}}')"
echo "entrypoint/cmd/workdir|user: $entry"
[[ "$entry" == '["/opt/venv/bin/python","/app/entrypoint.py"] '*'|' ]] || die "unexpected entrypoint/workdir/user: $entry"
pass "image contents (cortex-action on PATH, no pip/tests/caches, exec-form entrypoint, no USER)"

section "image: the emulator on the host's loopback"
if [[ ! -x .venv/bin/cortex-action ]]; then
    note "no .venv (created by .ci/run): creating one with the project installed"
    python3 -m venv .venv
    .venv/bin/python -m pip install -q -e '.[test,lint]' >"$WORK/venv.log" 2>&1 \
        || { cat "$WORK/venv.log"; die "pip install -e '.[test,lint]' failed"; }
fi
CONTAINERS=()
EMU_PID=""
cleanup() {
    [[ -n "$EMU_PID" ]] && kill "$EMU_PID" 2>/dev/null || true
    local c
    for c in "${CONTAINERS[@]}"; do podman rm -f -t 0 "$c" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT
.venv/bin/cortex-action emulator --port 0 >"$WORK/emulator.log" 2>&1 9>&- &
EMU_PID=$!
URL=""
for _ in $(seq 1 100); do
    URL="$(grep -oE 'listening on http://127\.0\.0\.1:[0-9]+' "$WORK/emulator.log" | head -n1 | sed 's/^listening on //' || true)"
    [[ -n "$URL" ]] && break
    kill -0 "$EMU_PID" 2>/dev/null || { cat "$WORK/emulator.log"; die "the emulator exited"; }
    sleep 0.1
done
[[ -n "$URL" ]] || { cat "$WORK/emulator.log"; die "the emulator printed no URL"; }
echo "emulator: $URL (pid $EMU_PID)"

# Parse a GITHUB_OUTPUT file as the runner does (name=value lines and name<<DELIM heredocs).
gh_output() { python3 "$ROOT/.ci/gh_outputs.py" "$@"; }

# A fresh GitHub-like layout: workspace + file_commands, as the runner mounts them.
gh_layout() {
    local dir="$WORK/runs/$1"
    rm -rf "$dir"
    mkdir -p "$dir/workspace" "$dir/file_commands" "$dir/home"
    : >"$dir/file_commands/set_output_$1"
    : >"$dir/file_commands/step_summary_$1"
    echo "$dir"
}

# Run the image the way the GitHub runner runs a Docker action: its `docker run` line, the
# inputs as INPUT_<NAME> (hyphens kept, every declared input set, empty when not given) passed
# with `-e NAME` from the environment (as the runner does) and the rest with --env-file.
github_run() {
    local name="$1" workflow="$2" entity="$3" dir
    dir="$(gh_layout "$name")"
    # Every declared input, as the runner sets them (defaults from action.yml), except the token,
    # which goes through -e NAME below.
    .venv/bin/python "$ROOT/.ci/gh_inputs.py" action.yml "base-url=$URL" "workflow=$workflow" \
        "entity=$entity" 'initial-context={"environment": "ci", "version": "1.2.3"}' \
        timeout=2m | grep -v '^INPUT_API-TOKEN=' >"$dir/env"
    echo "    inputs set: INPUT_API-TOKEN $(grep -o '^INPUT_[^=]*' "$dir/env" | tr '\n' ' ')"
    cat >>"$dir/env" <<EOF
HOME=/github/home
CI=true
GITHUB_ACTIONS=true
GITHUB_OUTPUT=/github/file_commands/set_output_$name
GITHUB_STEP_SUMMARY=/github/file_commands/step_summary_$name
GITHUB_WORKSPACE=/github/workspace
GITHUB_SHA=$(git rev-parse HEAD 2>/dev/null || echo 0123456789abcdef0123456789abcdef01234567)
GITHUB_RUN_ID=4242
GITHUB_RUN_ATTEMPT=1
GITHUB_REPOSITORY=example/cortex-action
GITHUB_SERVER_URL=https://github.com
RUNNER_TEMP=/github/runner_temp
EOF
    set +e
    env 'INPUT_API-TOKEN=emulator-token' podman run --rm --network host \
        --name "cortex-gh-$name" --workdir /github/workspace \
        -e 'INPUT_API-TOKEN' --env-file "$dir/env" \
        -v "$dir/home:/github/home" -v "$dir/file_commands:/github/file_commands" \
        -v "$dir/workspace:/github/workspace" \
        "$IMAGE" >"$dir/log" 2>&1
    RC=$?
    set -e
    sed 's/^/    | /' "$dir/log" | head -n 60
    DIR="$dir"
}

section "image: (a) as GitHub runs a Docker action"
# The hyphenated names reach Python intact (a shell in between would drop them).
env 'INPUT_API-TOKEN=x' podman run --rm -e 'INPUT_API-TOKEN' -e 'INPUT_BASE-URL=y' \
    --entrypoint /opt/venv/bin/python "$IMAGE" -c \
    'import os; assert os.environ["INPUT_API-TOKEN"] == "x" and os.environ["INPUT_BASE-URL"] == "y"; print("INPUT_API-TOKEN and INPUT_BASE-URL arrive")'
github_run deploy deploy-service service-frontend
[[ $RC == 0 ]] || die "(a) expected exit 0, got $RC"
gh_output "$DIR/file_commands/set_output_deploy" --expect status=COMPLETED --expect-set run-id \
    --expect-set run-url --expect-set idempotency-key --expect-set result
[[ -s "$DIR/file_commands/step_summary_deploy" ]] || die "(a) the job summary is empty"
grep -q 'COMPLETED' "$DIR/file_commands/step_summary_deploy" || die "(a) the summary lacks the status"
grep -q '::add-mask::' "$DIR/log" || die "(a) the token was not masked"
# The runner hides the value of ::add-mask:: itself; nowhere else may the token show.
! grep -v '^::add-mask::' "$DIR/log" | grep -q 'emulator-token' || die "(a) the token appears in the log"
pass "(a) GitHub Docker action: exit 0, outputs run-id + status=COMPLETED, summary written, token masked"

section "image: (b) as GitLab runs an image (entrypoint: [\"\"], script: cortex-action)"
gl="$WORK/runs/gitlab"
rm -rf "$gl" && mkdir -p "$gl/project"
set +e
podman run --rm --network host --name cortex-gitlab --entrypoint "" \
    -v "$gl/project:/builds/example/project" -w /builds/example/project \
    -e CI=true -e GITLAB_CI=true -e CI_COMMIT_SHA=0123456789abcdef0123456789abcdef01234567 \
    -e CI_PIPELINE_ID=77 -e CI_JOB_ID=78 -e CI_PROJECT_DIR=/builds/example/project \
    -e CORTEX_API_TOKEN=emulator-token -e "CORTEX_BASE_URL=$URL" \
    -e CORTEX_WORKFLOW=scaffold-repo -e CORTEX_TIMEOUT=2m \
    "$IMAGE" sh -c 'cortex-action' >"$gl/log" 2>&1
RC=$?
set -e
sed 's/^/    | /' "$gl/log" | head -n 40
[[ $RC == 0 ]] || die "(b) expected exit 0, got $RC"
grep -q 'COMPLETED' "$gl/log" || die "(b) the log does not say COMPLETED"
# The files a later job (artifacts:reports:dotenv) and the MR widget (junit) read.
grep -qx 'CORTEX_RUN_STATUS=COMPLETED' "$gl/project/cortex-action.env" \
    || die "(b) no CORTEX_RUN_STATUS=COMPLETED in cortex-action.env"
grep -q '^CORTEX_RUN_ID=.' "$gl/project/cortex-action.env" || die "(b) no CORTEX_RUN_ID"
[[ -s "$gl/project/cortex-action-junit.xml" ]] || die "(b) no cortex-action-junit.xml"
sed 's/^/    cortex-action.env: /' "$gl/project/cortex-action.env"
pass "(b) GitLab image: sh -c cortex-action, GLOBAL workflow, exit 0, dotenv + JUnit in CI_PROJECT_DIR"

section "image: (c) as Jenkins docker.image(...).inside does (keep-alive cat, then exec)"
jk="$WORK/runs/jenkins"
rm -rf "$jk" && mkdir -p "$jk/workspace"
chown 1000:1000 "$jk/workspace" # Jenkins runs the container as the agent's uid:gid
podman run -d -t --network host --name cortex-jenkins --user 1000:1000 \
    -w "$jk/workspace" -v "$jk/workspace:$jk/workspace:rw" \
    -e JENKINS_URL=http://jenkins.invalid/ -e BUILD_URL=http://jenkins.invalid/job/x/1/ \
    -e "WORKSPACE=$jk/workspace" \
    -e GIT_COMMIT=0123456789abcdef0123456789abcdef01234567 \
    --entrypoint cat "$IMAGE" >/dev/null 9>&-
CONTAINERS+=(cortex-jenkins)
set +e
podman exec -w "$jk/workspace" \
    -e CORTEX_API_TOKEN=emulator-token -e "CORTEX_BASE_URL=$URL" \
    -e CORTEX_WORKFLOW=deploy-service -e CORTEX_ENTITY=service-frontend -e CORTEX_TIMEOUT=2m \
    cortex-jenkins sh -xc 'cortex-action run --json > cortex-run.json' \
    >"$jk/log" 2>&1
RC=$?
set -e
sed 's/^/    | /' "$jk/log" | head -n 40
podman rm -f -t 0 cortex-jenkins >/dev/null
[[ $RC == 0 ]] || die "(c) expected exit 0, got $RC"
python3 - "$jk/workspace/cortex-run.json" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
text = json.dumps(doc)
assert "COMPLETED" in text, f"no COMPLETED in {text[:500]}"
print("cortex-run.json:", text[:300])
EOF
grep -qx 'CORTEX_RUN_STATUS=COMPLETED' "$jk/workspace/cortex-action.env" \
    || die "(c) no CORTEX_RUN_STATUS=COMPLETED in the workspace's cortex-action.env"
find "$jk/workspace" -maxdepth 1 -type f -printf '    %u %f\n'
pass "(c) Jenkins inside: exec as uid 1000 in the mounted workspace, exit 0, --json + cortex-action.env written"

section "image: (d) the failure path (a failing workflow exits 1)"
github_run failing failing-deploy service-frontend
[[ $RC == 1 ]] || die "(d) expected exit 1, got $RC"
gh_output "$DIR/file_commands/set_output_failing" --expect status=FAILED --expect-set run-id
grep -q '::error' "$DIR/log" || die "(d) no ::error annotation"
pass "(d) failing workflow: exit 1, outputs status=FAILED, ::error annotation"

section "image: (e) the emulator from the image, as a service container"
EPORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
# Its own network namespace, the port published on loopback: as a CI service container.
podman run -d --name cortex-emulator-svc -p "127.0.0.1:$EPORT:8080" \
    -e CORTEX_COMMAND=emulator -e CORTEX_EMULATOR_HOST=0.0.0.0 -e CORTEX_EMULATOR_PORT=8080 \
    "$IMAGE" >/dev/null 9>&-
CONTAINERS+=(cortex-emulator-svc)
for _ in $(seq 1 100); do
    podman logs cortex-emulator-svc 2>&1 | grep -q 'listening on' && break
    sleep 0.1
done
podman logs cortex-emulator-svc 2>&1 | sed 's/^/    | /' | head -n 5
set +e
CORTEX_API_TOKEN=emulator-token CORTEX_BASE_URL="http://127.0.0.1:$EPORT" CORTEX_WORKFLOW=scaffold-repo \
    CORTEX_TIMEOUT=1m .venv/bin/cortex-action run >"$WORK/runs/service.log" 2>&1
RC=$?
set -e
sed 's/^/    | /' "$WORK/runs/service.log" | head -n 20
[[ $RC == 0 ]] || die "(e) a run against the emulator container failed ($RC)"
pass "(e) emulator from the image (CORTEX_COMMAND=emulator) serves a run on a published port"

if [[ "${CORTEX_SKIP_ACT:-0}" != 1 ]]; then
    section "image: act (a workflow using the action through a runner implementation)"
    cleanup
    EMU_PID=""
    CONTAINERS=()
    bash "$ROOT/.ci/act.sh"
    pass "act: uses: ./ in a workflow, outputs reach a later step"
fi

if [[ "${CORTEX_SKIP_BENCH:-0}" != 1 ]]; then
    section "image: budget (benchmarks/image_budget.py)"
    cleanup
    EMU_PID=""
    CONTAINERS=()
    .venv/bin/python benchmarks/image_budget.py --runs "${CORTEX_BENCH_RUNS:-3}" --base "$BASE"
fi

section "image: result"
printf '%s\n' "${SUMMARY[@]}"
echo "image checks passed in $((SECONDS - T_START)) s"
echo "image: ${#SUMMARY[@]} passed, 0 failed"
