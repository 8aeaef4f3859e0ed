#!/usr/bin/env bash
# Build a static CPU llama-server from the llama.cpp source vendored in the
# llama-cpp-python sdist, through ccache.
#
#   build-llama-server.sh SDIST WORKDIR OUT_BINARY
#
# The layout (source in WORKDIR/src, objects in WORKDIR/src/build), the CMake
# flags (read from roles/llama_cpp/vars/main.yml) and CCACHE_BASEDIR match
# what the llama_cpp role does inside the Molecule containers, so the role's
# build there is served from this ccache instead of compiling again.
set -euo pipefail

sdist="$1" work="$2" out="$3"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
py="${AI_BACKEND_PYTHON:-$repo/.venv/bin/python}"
jobs="${LLAMA_BUILD_JOBS:-2}"

src="$work/src"
if [ ! -f "$src/CMakeLists.txt" ]; then
  rm -rf "$src" && mkdir -p "$src"
  # Only the vendored llama.cpp tree; the Python package around it is not needed.
  top="$(basename "$sdist" .tar.gz)"   # sdists unpack into NAME-VERSION/
  tar -xzf "$sdist" -C "$src" --strip-components=3 "$top/vendor/llama.cpp"
fi

mapfile -t flags < <("$py" - "$repo/roles/llama_cpp/vars/main.yml" <<'PY'
import sys, yaml
with open(sys.argv[1]) as fh:
    for flag in yaml.safe_load(fh)["_llama_cpp_cmake_common_flags"]:
        print(flag)
PY
)

# ccache hashes LANG and the LC_* variables: pin them like the role does.
export LANG=C.UTF-8
unset LC_ALL LC_CTYPE LC_MESSAGES
export CCACHE_BASEDIR="$src" CCACHE_COMPILERCHECK=content CCACHE_NOHASHDIR=true
export CCACHE_DIR="${CCACHE_DIR:?CCACHE_DIR must be set}" CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-2G}"
mkdir -p "$CCACHE_DIR"

cmake -S "$src" -B "$src/build" "${flags[@]}" \
  -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
cmake --build "$src/build" --target llama-server -j "$jobs"

install -D -m 0755 "$src/build/bin/llama-server" "$out.tmp"
mv -f "$out.tmp" "$out"
