#!/usr/bin/env bash
# make matrix: the controller-version matrix. For each requirements/core-<X.Y>.txt
# (one pinned ansible-core release per line that meta/runtime.yml's
# requires_ansible claims), build a cached virtualenv .venv-core-<X.Y>, then run
# ansible-test sanity and the engine and filter unit tests under it.
#
#   matrix.sh [X.Y ...]         (default: every requirements/core-*.txt)
#
# Environment: MATRIX_SANITY_TESTS overrides the sanity --test list.
set -euo pipefail
repo="$(pwd)"
# Python 3.11 is Debian 12's and supported by every ansible-core in the matrix.
python="${MATRIX_PYTHON:-python3.11}"
# The tests that read the collection's own code and docs. pylint, the one slow
# test (minutes per run), stays in `make lint` on the pinned ansible-core.
read -r -a sanity_tests <<< "${MATRIX_SANITY_TESTS:-action-plugin-docs ansible-doc compile import validate-modules yamllint shebang symlinks}"
# The tests whose outcome depends on ansible-core: the module, filters and
# validate playbook run for real, and the filter docs rendered by ansible-doc.
# The rest of tests/unit/engine is plain Python (minutes, with the property
# tests) and runs in `make unit`.
unit_tests=(tests/unit/engine/test_engine_ansible_faces.py tests/unit/filters)

log() { printf 'matrix: %s\n' "$*"; }
die() { printf 'matrix: ERROR: %s\n' "$*" >&2; exit 1; }

command -v "$python" >/dev/null || die "$python not found (Debian 12: apt-get install python3.11-venv)"

if [ "$#" -gt 0 ]; then
  versions=("$@")
else
  versions=()
  for f in requirements/core-*.txt; do
    v="${f#requirements/core-}"; versions+=("${v%.txt}")
  done
fi
[ "${#versions[@]}" -gt 0 ] || die "no requirements/core-*.txt found"

# A venv is rebuilt only when its requirement files change.
ensure_venv() {
  local ver="$1" venv="$repo/.venv-core-$1" req="requirements/core-$1.txt" stamp
  [ -f "$req" ] || die "$req not found (one pinned ansible-core per X.Y)"
  stamp="$(cat "$req" requirements/matrix-tests.txt | sha256sum | cut -d' ' -f1)"
  if [ -f "$venv/.installed" ] && [ "$(cat "$venv/.installed")" = "$stamp" ]; then
    return
  fi
  log "$ver: building $venv"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q -r "$req"
  printf '%s\n' "$stamp" > "$venv/.installed"
}

# shellcheck source=tests/harness/sanity-lib.sh
. "$repo/tests/harness/sanity-lib.sh"

test_args=()
for t in "${sanity_tests[@]}"; do test_args+=(--test "$t"); done

passed=()
failed=()
total_start=$(date +%s)
for ver in "${versions[@]}"; do
  start=$(date +%s)
  ensure_venv "$ver"
  venv="$repo/.venv-core-$ver"
  core="$("$venv/bin/python" -c 'from ansible.release import __version__; print(__version__)')"
  offline_get_pip "$repo" "$venv/bin/python"
  root="$repo/.build/matrix-$ver/ansible_collections/gathewhy/ai_backend"
  sanity_tree "$repo" "$root"
  ok=true
  log "$ver: ansible-core $core: ansible-test sanity (${sanity_tests[*]})"
  if ! (cd "$root" && PATH="$venv/bin:$PATH" "$venv/bin/ansible-test" sanity --local --python 3.11 \
          --requirements --color no "${test_args[@]}"); then
    ok=false
  fi
  log "$ver: ansible-core $core: unit tests (${unit_tests[*]})"
  # The copy is importable as ansible_collections.gathewhy.ai_backend with no
  # link back to the checkout, so the tests load this venv's ansible only.
  if ! (cd "$root" && PATH="$venv/bin:$PATH" "$venv/bin/python" -m pytest -p no:cacheprovider -q \
          "${unit_tests[@]}"); then
    ok=false
  fi
  secs=$(( $(date +%s) - start ))
  if $ok; then
    passed+=("$core")
    log "$ver: ansible-core $core PASSED in ${secs} s"
  else
    failed+=("$core")
    log "$ver: ansible-core $core FAILED in ${secs} s"
  fi
done
log "passed: ${passed[*]:-none}; failed: ${failed[*]:-none}; total $(( $(date +%s) - total_start )) s"
[ "${#failed[@]}" -eq 0 ]
