# shellcheck shell=bash
# Helpers for running ansible-test sanity on a copy of this checkout; sourced
# by lint.sh (the pinned ansible-core) and matrix.sh (each tested release).

# sanity_tree REPO ROOT: ansible-test insists on running from inside
# ansible_collections/<ns>/<name>, as a real directory holding a git
# repository. Copy the tracked and new (not ignored) files that still exist
# (a deleted-but-tracked path is skipped) to ROOT and commit them there.
sanity_tree() {
  local repo="$1" root="$2"
  rm -rf "${root%/ansible_collections/*}"
  mkdir -p "$root"
  git -C "$repo" ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' f; do
        if [ -f "$repo/$f" ]; then printf '%s\0' "$f"; fi
      done \
    | (cd "$repo" && xargs -0 -r cp --parents -t "$root")
  (
    cd "$root" || exit 1
    git init -q .
    git add -A >/dev/null
    git -c user.email=ci@localhost -c user.name=ci commit -qm sanity >/dev/null
  )
}

# offline_get_pip REPO PYTHON: ansible-test bootstraps pip in its import-test
# virtualenvs with a script from ci-files.testing.ansible.com (unreachable
# here). Each release names that script after the pip it pins: give PYTHON's
# ansible-test its offline stand-in.
offline_get_pip() {
  local repo="$1" python="$2" pip_ver
  pip_ver="$(grep -oP "pip='\K[0-9.]+" "$("$python" -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')/_internal/python_requirements.py" | head -1)"
  mkdir -p "$HOME/.ansible/test/cache"
  cp "$repo/tests/harness/get_pip_offline.py" "$HOME/.ansible/test/cache/get_pip_${pip_ver//./_}.py"
}
