#!/usr/bin/env bash
# Build the vLLM STAND-IN wheel into the shared artifact cache:
#   $AI_BACKEND_CACHE/artifacts/vllm-standin/vllm_standin-<ver>-py3-none-any.whl (+ .sha256)
# The directory is what the vllm role's air-gapped path (vllm_wheel_dir) reads
# inside the Molecule container (/var/cache/ai-backend/artifacts/vllm-standin).
# Reproducible and offline: rebuilding unchanged code gives the same sha256.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
out="${AI_BACKEND_CACHE:-$repo/.cache}/artifacts/vllm-standin"
py="${AI_BACKEND_PYTHON:-python3}"
wheel="$("$py" "$here/build_wheel.py" "$out")"
(cd "$out" && sha256sum "$(basename "$wheel")" > "$(basename "$wheel").sha256.tmp" \
  && mv -f "$(basename "$wheel").sha256.tmp" "$(basename "$wheel").sha256")
echo "vllm-standin: $(cat "$wheel.sha256")"
