#!/usr/bin/env bash
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Package the ollama STAND-IN the way Ollama packages its Linux release:
# a .tar.zst holding bin/ollama and lib/ollama/..., so the ollama role's
# air-gapped local-archive path (checksum, extract, upgrade, units) runs for
# real on it. Writes, in $AI_BACKEND_CACHE/artifacts (default .cache/artifacts):
#
#   ollama-standin-linux-amd64.tar.zst          the archive
#   ollama-standin-linux-amd64.tar.zst.sha256   `sha256sum` line, bare file name
#
# Layout inside the archive:
#   bin/ollama                         ollama_standin.py behind #!/usr/bin/python3 (stdlib only)
#   lib/ollama/standin/llama-server    llama.cpp's server (tests/harness/artifacts.sh)
#   lib/ollama/standin/tiny-llama.gguf the tiny test model every "pull" installs
#   lib/ollama/standin/STANDIN.txt     says what this is
#
# Reproducible (sorted names, fixed owner and mtime), so the same inputs give
# the same sha256; skipped when the inputs have not changed since last time.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
cache="${AI_BACKEND_CACHE:-$repo/.cache}"
art="$cache/artifacts"
name="ollama-standin-linux-amd64.tar.zst"
out="$art/$name"

log() { printf 'ollama-standin: %s\n' "$*"; }

# llama-server and the tiny model come from the shared artifact cache; the
# harness script is idempotent and serialises concurrent callers.
if [ ! -x "$art/llama-server" ] || [ ! -f "$art/tiny-llama.gguf" ]; then
  log "building the shared llama.cpp artifacts first"
  bash "$repo/tests/harness/artifacts.sh" model server
fi
if ! command -v zstd >/dev/null 2>&1; then
  log "installing zstd from Debian"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zstd >/dev/null
fi

inputs="$(sha256sum "$here/ollama_standin.py" "$here/build.sh" "$art/llama-server" "$art/tiny-llama.gguf" \
  | awk '{print $1}' | sha256sum | cut -d' ' -f1)"
if [ -f "$out" ] && [ -f "$out.sha256" ] && [ "$(cat "$out.inputs" 2>/dev/null)" = "$inputs" ] \
   && (cd "$art" && sha256sum --quiet -c "$name.sha256" >/dev/null 2>&1); then
  log "up to date: $(cut -d' ' -f1 "$out.sha256")  $out"
  exit 0
fi

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
# The source has no shebang (it is a module in this repo); the installed
# command runs with Debian's python3, like any packaged Python tool.
mkdir -p "$stage/bin"
{ printf '#!/usr/bin/python3\n'; cat "$here/ollama_standin.py"; } > "$stage/bin/ollama"
chmod 0755 "$stage/bin/ollama"
install -D -m 0755 "$art/llama-server" "$stage/lib/ollama/standin/llama-server"
install -D -m 0644 "$art/tiny-llama.gguf" "$stage/lib/ollama/standin/tiny-llama.gguf"
cat > "$stage/lib/ollama/standin/STANDIN.txt" <<'EOF'
This is the ollama STAND-IN from gathewhy.ai_backend's tests
(tests/standins/ollama), not Ollama. bin/ollama is a Python test double that
speaks Ollama's HTTP API and serves the tiny test model through llama.cpp's
llama-server. Never install it on a real host.
EOF

tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 --format=gnu \
  -C "$stage" -cf - bin lib | zstd -q -T1 -o "$out.part" -f
mv -f "$out.part" "$out"
(cd "$art" && sha256sum "$name" > "$name.sha256.tmp" && mv -f "$name.sha256.tmp" "$name.sha256")
printf '%s\n' "$inputs" > "$out.inputs"
log "wrote $(cut -d' ' -f1 "$out.sha256")  $out ($(stat -c %s "$out") bytes)"
