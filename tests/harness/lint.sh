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

echo "== antsibull-changelog lint (fragments and changelogs/changelog.yaml)"
"$bin/antsibull-changelog" lint
"$bin/antsibull-changelog" lint-changelog-yaml changelogs/changelog.yaml

echo "== ansible-lint (production profile)"
"$bin/ansible-lint" --offline

echo "== ansible-test sanity"
# shellcheck source=tests/harness/sanity-lib.sh
. "$repo/tests/harness/sanity-lib.sh"
offline_get_pip "$repo" "$bin/python"
sanity_root="$repo/.build/sanity/ansible_collections/gathewhy/ai_backend"
sanity_tree "$repo" "$sanity_root"
read -r -a sanity_args <<< "${SANITY_ARGS:-}"
(
  cd "$sanity_root"
  "$bin/ansible-test" sanity --local --python "$("$bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
    --requirements --color no "${sanity_args[@]}"
)
echo "lint: all clean"
