#!/usr/bin/env bash
# Make the local stand-in for python:3.12-slim (no registry but the package registries can be
# reached here): Debian bookworm minbase from debootstrap + the machine's CPython 3.12 build + the
# machine's CA certificates, so that `pip install` inside `podman build` reaches PyPI over TLS.
# Python answers at /usr/local/bin/python{,3}, as in the real image.
#
# Prints the image name on the last line of stdout. Idempotent: the image is keyed by its inputs;
# the rootfs tarball is cached under .work/ (used if present, never required).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=.ci/podman-env.sh
source "$ROOT/.ci/podman-env.sh"
ensure_podman

RECIPE=3 # bump when the rootfs recipe below changes (invalidates the cached tarball)
CONFIG=2 # bump when the image config (podman import --change) changes
SUITE=bookworm
PYVER="${CORTEX_BASE_PYTHON:-3.12.1}"

find_python_prefix() {
    local p
    for p in "${PYENV_ROOT:-/root/.pyenv}/versions/$PYVER" "$(pyenv root 2>/dev/null || true)/versions/$PYVER"; do
        [[ -x "$p/bin/python3" ]] && { echo "$p"; return; }
    done
    die "no CPython $PYVER build found (looked for pyenv's versions/$PYVER)"
}
PYPREFIX="$(find_python_prefix)"

# The machine's extra CA certificates (the TLS-intercepting proxy to the registries).
mapfile -t CA_FILES < <(find /usr/local/share/ca-certificates -type f -name '*.crt' 2>/dev/null | sort)

mirror() {
    local m=""
    m="$(grep -hoP '^URIs:\s*\K\S+' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -n1 || true)"
    [[ -n "$m" ]] || m="$(grep -hoP '^deb\s+\K\S+' /etc/apt/sources.list 2>/dev/null | grep -v security | head -n1 || true)"
    echo "${m:-http://deb.debian.org/debian}"
}

KEY="$( { echo "recipe=$RECIPE suite=$SUITE python=$PYPREFIX"; "$PYPREFIX/bin/python3" -VV;
          cat "${CA_FILES[@]}" /dev/null; } | sha256sum | cut -c1-12)"
BASE="localhost/cortex-ci-base:py${PYVER}-$KEY-c$CONFIG"
CACHE="$WORK/cache/base-$KEY.tar"

if podman image exists "$BASE"; then
    note "base image $BASE already in the store" >&2
    echo "$BASE"
    exit 0
fi

mkdir -p "$WORK/cache"
if [[ ! -s "$CACHE" ]]; then
    ROOTFS="$WORK/rootfs"
    rm -rf "$ROOTFS"
    MIRROR="$(mirror)"
    note "debootstrap $SUITE (minbase) from $MIRROR" >&2
    t0=$SECONDS
    debootstrap --variant=minbase "$SUITE" "$ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
        || { tail -n 30 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
    note "debootstrap took $((SECONDS - t0)) s" >&2
    # Only the shared libraries the CPython build links (ssl, ffi, sqlite, bz2, lzma, readline...).
    chroot "$ROOTFS" sh -c 'export DEBIAN_FRONTEND=noninteractive;
        apt-get update -qq 2>&1 | grep -v "Can not write log" || true; apt-get install -y -qq --no-install-recommends \
            ca-certificates libssl3 libffi8 libsqlite3-0 libbz2-1.0 liblzma5 zlib1g \
            libreadline8 libncursesw6 libexpat1 libuuid1 libnsl2 libtirpc3 >/dev/null \
        && apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
            /usr/share/doc/* /usr/share/man/* /usr/share/info/*' >&2
    if ((${#CA_FILES[@]})); then
        cp "${CA_FILES[@]}" "$ROOTFS/usr/local/share/ca-certificates/"
        chroot "$ROOTFS" update-ca-certificates >/dev/null
    fi
    note "adding CPython from $PYPREFIX" >&2
    # Same path as on the host (the build has --enable-shared with an rpath). No tests, no static
    # lib, no Tk/IDLE, no host site-packages other than pip.
    (cd / && tar -cf - \
        --exclude="${PYPREFIX#/}/lib/python3*/test" \
        --exclude="${PYPREFIX#/}/lib/python3*/idlelib" \
        --exclude="${PYPREFIX#/}/lib/python3*/tkinter" \
        --exclude="${PYPREFIX#/}/lib/python3*/turtledemo" \
        --exclude="${PYPREFIX#/}/lib/python3*/config-*" \
        --exclude="${PYPREFIX#/}/lib/python3*/lib-dynload/_tkinter*" \
        --exclude="${PYPREFIX#/}/lib/python3*/site-packages/*.pth" \
        --exclude="${PYPREFIX#/}/lib/python3*/site-packages/README.txt" \
        --exclude="${PYPREFIX#/}/lib/*.a" \
        "${PYPREFIX#/}/bin" "${PYPREFIX#/}/lib/libpython3"* "${PYPREFIX#/}/lib/python3"*) \
        | tar -C "$ROOTFS" -xf -
    # Keep only pip in site-packages (the host may have installed anything there).
    find "$ROOTFS$PYPREFIX"/lib/python3*/site-packages -mindepth 1 -maxdepth 1 \
        ! -name 'pip' ! -name 'pip-*' -exec rm -rf {} +
    for d in "$PYPREFIX" "$(dirname "$PYPREFIX")" "$(dirname "$(dirname "$PYPREFIX")")"; do
        chmod 755 "$ROOTFS$d"
    done
    chmod 755 "$ROOTFS/root"
    v="${PYVER%.*}"
    for name in python python3 "python$v" pip pip3; do
        target="$PYPREFIX/bin/$name"
        [[ "$name" == python* ]] && target="$PYPREFIX/bin/python$v"
        [[ "$name" == pip* ]] && target="$PYPREFIX/bin/pip$v"
        ln -sf "$target" "$ROOTFS/usr/local/bin/$name"
    done
    chroot "$ROOTFS" /usr/local/bin/python -c \
        'import ssl, sqlite3, ctypes, bz2, lzma, zlib, venv, tomllib, urllib.request; print("python ok", ssl.OPENSSL_VERSION)' >&2
    tar --numeric-owner -C "$ROOTFS" -cf "$CACHE.tmp" .
    mv "$CACHE.tmp" "$CACHE"
    rm -rf "$ROOTFS"
    note "rootfs cached as $CACHE ($(du -h "$CACHE" | cut -f1))" >&2
else
    note "using cached rootfs $CACHE" >&2
fi

# python:3.12-slim-like config. PIP_CERT: pip trusts the system bundle that now holds the
# machine's CA too (Python's ssl uses that store by default; the real image needs neither).
podman import \
    --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    --change 'CMD ["python3"]' \
    --quiet "$CACHE" "$BASE" >/dev/null
note "imported $BASE" >&2
# A new base: drop every other image in this (CI-only) store. buildah's layer cache matches on
# layers, not on the base's config, so steps cached on an older base with the same rootfs but
# another config would be reused.
base_id="$(podman image inspect "$BASE" --format '{{.Id}}')"
podman rm -a -f >/dev/null 2>&1 || true
podman images -a --no-trunc --format '{{.ID}}' | sed 's/^sha256://' | grep -vxF "$base_id" \
    | xargs -r podman rmi -f >/dev/null 2>&1 || true
echo "$BASE"
