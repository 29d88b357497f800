# syntax=docker/dockerfile:1
#
# cortex-action: one image for a GitHub Docker action, a GitLab CI `image:` and a Jenkins
# `docker.image(...).inside` step.
#
# Base: python:3.12-slim, pinned by the digest of its multi-arch index (linux/amd64 + linux/arm64), the
# digest published for that tag and seen pinned as `python:3.12-slim@sha256:78387bc3...` in public
# Dockerfiles. Bump it by hand: `docker buildx imagetools inspect python:3.12-slim` prints the
# index digest (Dependabot does not update a FROM that goes through an ARG: dependabot-core#2057). CI builds this file unchanged with a locally
# made base: `--build-arg BASE_IMAGE=localhost/...` (see .ci/image.sh).
ARG BASE_IMAGE=python:3.12-slim@sha256:78387bc3881b8273120a12ebe6c1ab22b018ccc2c9adf565ae1ac9b536e184ea

# ---- builder: a venv with the dependencies, then the package (no pip, no build tools kept) ----
FROM ${BASE_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1
# The venv gets no pip of its own: the base image's pip installs into it (`--python`), so the
# final image carries only what runs.
RUN python -m venv --without-pip /opt/venv
WORKDIR /src

# 1. Dependencies only, in their own layer: rebuilt only when the lock changes. requirements.txt
# pins every runtime dependency with its hashes (`make lock`, from pyproject.toml), so two builds
# of one commit install the same files, and pip refuses any file whose hash differs.
COPY requirements.txt ./
RUN python -m pip --python /opt/venv/bin/python install --no-cache-dir --require-hashes \
        --only-binary :all: -r requirements.txt

# 2. The package itself, without dependencies (the lock has them all; non-editable).
COPY pyproject.toml README.md ./
COPY cortex_action ./cortex_action
RUN python -m pip --python /opt/venv/bin/python install --no-cache-dir --no-deps . \
 && /opt/venv/bin/python -c "import cortex_action.cli"

# ---- final: the base plus the venv and the entry point ----
FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="cortex-action" \
      org.opencontainers.image.description="Trigger a Cortex Workflow run from CI/CD, follow it to the end, report the result."
# No USER and no WORKDIR here: GitHub mounts the workspace and sets --workdir itself, GitLab and
# Jenkins (`inside`, which also picks the uid) do the same. The venv is world-readable.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH="/opt/venv/bin:${PATH}"
COPY --from=builder /opt/venv /opt/venv
COPY entrypoint.py /app/entrypoint.py
# Exec form, absolute, Python directly: a POSIX shell in between would drop variables whose names
# are not shell identifiers, such as INPUT_API-TOKEN, which is how GitHub passes hyphenated inputs.
ENTRYPOINT ["/opt/venv/bin/python", "/app/entrypoint.py"]
# The base's CMD (python3) must not become arguments of the entry point.
CMD []
