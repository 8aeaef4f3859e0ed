#!/usr/bin/env bash
# Create .venv-litellm with the pinned LiteLLM proxy used by the boot test
# (tests/integration/litellm_boot). Hash-checked when the gateway role's lock
# file exists; otherwise a plain pinned install. Idempotent: a venv whose
# litellm already reports the pinned version is left alone.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/../.." && pwd)"
VENV="${LITELLM_VENV:-$REPO/.venv-litellm}"
# Any release the role has a lock for: LITELLM_PIN=1.108.6 bash tests/harness/litellm-venv.sh
PIN="${LITELLM_PIN:-1.108.7}"
LOCK="$REPO/roles/litellm/files/requirements-$PIN.lock"

if [ -x "$VENV/bin/litellm" ] && \
   [ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("litellm"))' 2>/dev/null)" = "$PIN" ]; then
  echo "litellm-venv: $VENV already has litellm $PIN"
  exit 0
fi

python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
export PIP_CACHE_DIR="${PIP_CACHE_DIR:-${AI_BACKEND_CACHE:-$REPO/.cache}/pip}"
if [ -f "$LOCK" ]; then
  echo "litellm-venv: installing from $LOCK (--require-hashes)"
  "$VENV/bin/pip" install -q --require-hashes --no-deps -r "$LOCK"
else
  echo "litellm-venv: missing $LOCK (the litellm role's hash lock)" >&2
  exit 1
fi
"$VENV/bin/python" -c 'import importlib.metadata as m; v = m.version("litellm"); assert v == "'"$PIN"'", v; print("litellm-venv: litellm", v)'
