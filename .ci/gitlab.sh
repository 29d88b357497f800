#!/usr/bin/env bash
# Run GitLab pipelines for real, offline: gitlab-ci-local (npm) runs examples/gitlab-ci.yml and a
# pipeline that includes the CI/CD component (templates/cortex-action) in its shell executor,
# against the emulator on loopback (tests/gitlab/test_gitlab_ci_local.py, marker `gitlab`).
#
# Installs what it needs on a fresh machine: rsync (apt; gitlab-ci-local copies the checkout with
# it) and gitlab-ci-local 4.70.0 into .ci/.node (4.75 needs Node 22; 4.70 runs on Node 20).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
GCL_VERSION=4.70.0
GCL="$ROOT/.ci/.node/node_modules/.bin/gitlab-ci-local"

section() { printf '\n===== %s =====\n' "$*"; }

section "gitlab-ci-local: tools"
missing=()
command -v rsync >/dev/null || missing+=(rsync)
command -v npm >/dev/null || missing+=(nodejs npm) # tested with Node 20; Debian 12 ships 18
if ((${#missing[@]})); then
    sudo=()
    ((EUID == 0)) || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [[ "$("$GCL" --version 2>/dev/null || true)" != "$GCL_VERSION" ]]; then
    npm install --silent --no-audit --no-fund --prefix .ci/.node "gitlab-ci-local@$GCL_VERSION"
fi
printf 'node %s | gitlab-ci-local %s | %s\n' "$(node --version)" "$("$GCL" --version)" "$(rsync --version | head -n1)"

section "gitlab-ci-local: the example pipeline and the component, against the emulator"
[[ -x .venv/bin/python ]] || make venv
GITLAB_CI_LOCAL="$GCL" .venv/bin/python -m pytest -m gitlab tests/gitlab -v -p no:cacheprovider
