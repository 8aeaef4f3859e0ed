#!/usr/bin/env bash
# Fill the shared artifact cache that every Molecule scenario mounts read-only
# at /var/cache/ai-backend/artifacts. Run once per CI run; idempotent (each
# artifact is made only when missing or failing its check), and safe to call
# from several places at once (a lock serialises callers).
#
#   artifacts.sh [sdist] [model] [server] [check]    (default: all four)
#
#   sdist   llama_cpp_python-<ver>.tar.gz from PyPI, sha256-pinned
#   model   tiny-llama.gguf (+ .sha256): random weights, fixed seed, real tokenizer
#   server  llama-server (+ .sha256): static CPU build, through $AI_BACKEND_CACHE/ccache
#   check   start llama-server on the tiny model and get a chat completion
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${AI_BACKEND_CACHE:-$repo/.cache}"
art="$cache/artifacts"
py="${AI_BACKEND_PYTHON:-$repo/.venv/bin/python}"

SDIST_VERSION=0.3.36
SDIST_URL=https://files.pythonhosted.org/packages/ec/e9/e7de2b0463ea3ffbf0ede6cb21b58c1258a8f6521aae45ca773a59fe7cf3/llama_cpp_python-0.3.36.tar.gz
SDIST_SHA256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
sdist="$art/llama_cpp_python-$SDIST_VERSION.tar.gz"
model="$art/tiny-llama.gguf"
server="$art/llama-server"

log() { printf 'artifacts: %s\n' "$*"; }
die() { printf 'artifacts: ERROR: %s\n' "$*" >&2; exit 1; }
sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }
# A .sha256 side file in `sha256sum` format, with the bare file name so it
# checks from inside the artifacts directory (host or container mount).
write_sha() { (cd "$(dirname "$1")" && sha256sum "$(basename "$1")" > "$(basename "$1").sha256.tmp" && mv -f "$(basename "$1").sha256.tmp" "$(basename "$1").sha256"); }
side_ok() { [ -f "$1" ] && [ -f "$1.sha256" ] && (cd "$(dirname "$1")" && sha256sum --quiet -c "$(basename "$1").sha256" >/dev/null 2>&1); }

sdist_done=false
do_sdist() {
  "$sdist_done" && return
  sdist_done=true
  if sha_ok "$sdist" "$SDIST_SHA256"; then log "sdist present ($sdist)"; return; fi
  log "downloading llama-cpp-python $SDIST_VERSION sdist"
  curl -fsSL --retry 3 -o "$sdist.part" "$SDIST_URL"
  if ! sha_ok "$sdist.part" "$SDIST_SHA256"; then
    rm -f "$sdist.part"
    die "sdist checksum mismatch: expected sha256 $SDIST_SHA256 from $SDIST_URL"
  fi
  mv -f "$sdist.part" "$sdist"
}

do_model() {
  if side_ok "$model"; then log "tiny model present ($(cut -d' ' -f1 "$model.sha256"))"; return; fi
  local tmp; tmp="$(mktemp -d)"
  # Only the one vocab file is needed from the 77 MB archive.
  tar -xzf "$sdist" -C "$tmp" \
    "llama_cpp_python-$SDIST_VERSION/vendor/llama.cpp/models/ggml-vocab-llama-spm.gguf"
  "$py" "$repo/tests/fixtures/tiny_model/make_tiny_gguf.py" \
    --vocab "$tmp/llama_cpp_python-$SDIST_VERSION/vendor/llama.cpp/models/ggml-vocab-llama-spm.gguf" \
    --out "$model"
  rm -rf "$tmp"
  write_sha "$model"
  log "tiny model written: $(cut -d' ' -f1 "$model.sha256") $(stat -c %s "$model") bytes"
}

need_build_tools() {
  local missing=()
  command -v cmake >/dev/null || missing+=(cmake)
  command -v ccache >/dev/null || missing+=(ccache)
  command -v g++ >/dev/null || missing+=(build-essential)
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]} from Debian"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

do_server() {
  if side_ok "$server"; then log "llama-server present ($(cut -d' ' -f1 "$server.sha256"))"; return; fi
  need_build_tools
  local start=$SECONDS
  log "building llama-server (CPU, static; log: $cache/build/llama-server-build.log)"
  mkdir -p "$cache/build"
  CCACHE_DIR="$cache/ccache" bash "$here/artifacts/build-llama-server.sh" \
    "$sdist" "$cache/build/llama.cpp-$SDIST_VERSION" "$server" \
    > "$cache/build/llama-server-build.log" 2>&1 \
    || { tail -n 40 "$cache/build/llama-server-build.log" >&2; die "llama-server build failed"; }
  write_sha "$server"
  log "llama-server built in $((SECONDS - start)) s; ccache: $(CCACHE_DIR="$cache/ccache" ccache -s 2>/dev/null | grep -E '^ *(Hits|Misses):' | tr -s ' ' | tr '\n' ' ')"
}

do_check() {
  "$py" "$here/artifacts/check_llama_server.py" --server "$server" --model "$model"
}

mkdir -p "$art"
exec 9>"$art/.lock"
flock 9

steps=("$@")
[ "${#steps[@]}" -gt 0 ] || steps=(sdist model server check)
for step in "${steps[@]}"; do
  case "$step" in
    sdist) do_sdist ;;
    model) do_sdist; do_model ;;
    server) do_sdist; do_server ;;
    check) do_check ;;
    *) die "unknown step '$step' (want: sdist model server check)" ;;
  esac
done
