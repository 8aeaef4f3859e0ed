#!/usr/bin/env bash
# Write files/requirements-<version>.lock next to this script: every package
# of litellm[proxy]==<version> plus prisma, pinned with its sha256, resolved
# for Debian 12's CPython 3.11 on manylinux x86_64. Run through the Makefile:
#   make lock VERSION=1.108.6
# The lock is written to a temporary file first and moved into place only
# when uv succeeded and the result pins the requested version.
set -euo pipefail

version="${1:?usage: make-lock.sh <version> <uv>}"
uv="${2:?usage: make-lock.sh <version> <uv>}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/requirements-$version.lock"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# prisma: LiteLLM's auth error handler imports it even without a database.
# prometheus-client: the `prometheus` callback (gateway metrics) imports it; litellm
# lists it only in its large proxy-runtime extra. The bounds are litellm's own.
printf 'litellm[proxy]==%s\nprisma==0.15.0\nprometheus-client>=0.20.0,<1.0\n' "$version" > "$work/requirements.in"
# An existing lock seeds the resolver: uv keeps its pins, so only what the
# inputs changed moves.
if [ -f "$out" ]; then cp "$out" "$work/body.lock"; fi
"$uv" pip compile --quiet --no-config --generate-hashes --python-version 3.11 \
  --python-platform x86_64-manylinux_2_36 --index-url https://pypi.org/simple \
  --no-header -o "$work/body.lock" "$work/requirements.in"
grep -q "^litellm==$version " "$work/body.lock" || { echo "make-lock: the result does not pin litellm==$version" >&2; exit 1; }

{
  cat <<HEADER
# Hash-pinned dependency set of litellm[proxy]==$version (plus prisma, see
# below) for CPython 3.11 (Debian 12's python3) on manylinux x86_64, resolved
# from pypi.org. Installed with \`pip install --require-hashes --no-deps\`: any
# file whose sha256 is not listed here is refused.
#
# prisma: LiteLLM's auth error handler imports it even when no database is
# configured; without it a request with no API key gets a 500 instead of 401.
# prometheus-client: the prometheus callback (gateway metrics) imports it; litellm
# declares it only in its large proxy-runtime extra.
#
# Regenerate (never edit by hand): make lock VERSION=$version
# which runs roles/litellm/files/make-lock.sh:
#   printf 'litellm[proxy]==$version\nprisma==0.15.0\nprometheus-client>=0.20.0,<1.0\n' > requirements.in
#   uv pip compile --no-config --generate-hashes --python-version 3.11 \\
#     --python-platform x86_64-manylinux_2_36 --index-url https://pypi.org/simple \\
#     --no-header -o requirements-$version.lock requirements.in
HEADER
  # uv names the temporary requirements.in by its full path.
  sed 's#via -r .*/requirements\.in#via -r requirements.in#' "$work/body.lock"
} > "$work/final.lock"
mv "$work/final.lock" "$out"
echo "make-lock: wrote $out ($(grep -c '^[a-z]' "$out") packages); review the diff, then commit it"
