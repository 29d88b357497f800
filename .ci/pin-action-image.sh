#!/usr/bin/env bash
# Usage: pin-action-image.sh ACTION_YML docker://REGISTRY/IMAGE@sha256:DIGEST
# Rewrites `runs.image` of a Docker action from the Dockerfile to a pulled image pinned by digest,
# and refuses anything else (no runs.image line, more than one, a reference without a digest).
set -euo pipefail
file="$1"
ref="$2"
[[ "$ref" =~ ^docker://[a-z0-9./_-]+@sha256:[0-9a-f]{64}$ ]] \
    || { echo "not a digest-pinned docker:// reference: $ref" >&2; exit 2; }
count="$(grep -cE '^  image: *["'\'']?Dockerfile["'\'']? *$' "$file" || true)"
[[ "$count" == 1 ]] || { echo "expected exactly one '  image: Dockerfile' line in $file, found $count" >&2; exit 1; }
sed -i -E "s|^  image: *[\"']?Dockerfile[\"']? *\$|  image: \"${ref}\"|" "$file"
grep -nE '^  (using|image):' "$file"
