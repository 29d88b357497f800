# shellcheck shell=bash
# Sourced by .ci/image.sh, .ci/act.sh and benchmarks: podman without a Docker engine, as it works on
# the CI machines (see docs/releasing.md, "CI without a Docker engine"):
#   - storage under the checkout's .work/ (never the machine's default store),
#   - runc (crun fails here on hybrid cgroups), ulimits under the machine's hard limits
#     (podman's default nofile/nproc exceed them and every container start fails).
# Installs podman & co from Debian once, when missing.

ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
WORK="${CORTEX_CI_WORK:-$ROOT/.work/image}"
export IMAGE="${CORTEX_IMAGE:-localhost/cortex-action:ci}"

section() { printf '\n===== %s =====\n' "$*"; }
note() { printf -- '--- %s\n' "$*"; }
die() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

# One run at a time per work dir (the podman store, the logs and the emulator log are shared).
# Held on fd 9 by the calling shell, once: a script run from another keeps its caller's lock.
# Background processes get `9>&-` so that none of them keeps holding the lock.
take_ci_lock() {
    [[ -n "${CORTEX_CI_LOCKED:-}" ]] && return 0
    mkdir -p "$WORK"
    exec 9>"$WORK/.lock"
    flock -w 900 9 || die "another .ci run holds $WORK/.lock"
    export CORTEX_CI_LOCKED=1
}

ensure_podman() {
    local missing=()
    local tool
    for tool in podman buildah runc debootstrap slirp4netns newuidmap; do
        command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
    done
    if ((${#missing[@]})); then
        note "installing podman & co (missing: ${missing[*]})"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends \
            podman buildah runc debootstrap slirp4netns uidmap ca-certificates >/dev/null
    fi
    mkdir -p "$WORK"
    cat >"$WORK/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$WORK/storage"
runroot = "$WORK/runroot"
EOF
    cat >"$WORK/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
[engine]
runtime = "runc"
# act runs its steps as exec sessions through the API service; without this, each one leaves a
# conmon process waiting 5 minutes for an API client that is gone.
exit_command_delay = 2
EOF
    # Short names resolve to nothing: every image here is local and fully qualified.
    cat >"$WORK/registries.conf" <<'EOF'
unqualified-search-registries = []
short-name-mode = "permissive"
EOF
    export CONTAINERS_STORAGE_CONF="$WORK/storage.conf"
    export CONTAINERS_CONF="$WORK/containers.conf"
    export CONTAINERS_REGISTRIES_CONF="$WORK/registries.conf"
}
