#!/usr/bin/env bash
# make lint: yamllint, ansible-lint (production profile), ansible-test sanity
# (empty ignore files) and the role-docs check. Runs from the repo root.
set -euo pipefail
repo="$(pwd)"
bin="$repo/.venv/bin"

if ! command -v shellcheck >/dev/null 2>&1; then
  # ansible-test's shellcheck sanity test is skipped silently without it.
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null
fi

# ansible-lint run without --offline installs the collection it lints into
# ~/.ansible/collections; such a stale copy would shadow this checkout.
stale="$HOME/.ansible/collections/ansible_collections/gathewhy/ai_backend"
if [ -e "$stale" ] && [ ! -L "$stale" ]; then
  echo "lint: removing stale installed copy $stale (it would shadow this checkout)"
  rm -rf "$stale"
fi

echo "== yamllint"
"$bin/yamllint" --strict .

echo "== ansible-lint (production profile)"
"$bin/ansible-lint" --offline

echo "== ansible-test sanity"
# ansible-test bootstraps pip in its import-test virtualenvs with a script from
# ci-files.testing.ansible.com (unreachable here): give it an offline one.
pip_ver="$(grep -oP "pip='\K[0-9.]+" "$("$bin/python" -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')/_internal/python_requirements.py" | head -1)"
mkdir -p "$HOME/.ansible/test/cache"
cp "$repo/tests/harness/get_pip_offline.py" "$HOME/.ansible/test/cache/get_pip_${pip_ver//./_}.py"
# ansible-test insists on running from inside ansible_collections/<ns>/<name>,
# as a real directory. Copy the tracked and new (not ignored) files there.
sanity_root="$repo/.build/sanity/ansible_collections/gathewhy/ai_backend"
rm -rf "$repo/.build/sanity"
mkdir -p "$sanity_root"
# Tracked and new files that still exist (a deleted-but-tracked path is skipped).
git -C "$repo" ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do
      if [ -f "$repo/$f" ]; then printf '%s\0' "$f"; fi
    done \
  | (cd "$repo" && xargs -0 -r cp --parents -t "$sanity_root")
read -r -a sanity_args <<< "${SANITY_ARGS:-}"
(
  cd "$sanity_root"
  git init -q .
  git add -A >/dev/null
  git -c user.email=ci@localhost -c user.name=ci commit -qm sanity >/dev/null
  "$bin/ansible-test" sanity --local --python "$("$bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
    --requirements --color no "${sanity_args[@]}"
)
echo "lint: all clean"
