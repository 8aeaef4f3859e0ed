#!/usr/bin/env bash
# make galaxy: ship the collection as a user gets it. Build the Galaxy tarball,
# check it holds no development file, install it into an empty path, then, from
# a directory outside the checkout with no ansible.cfg and only that path for
# collections, run the validate and import playbooks and ansible-doc on every
# module, filter and role of the installed copy.
set -euo pipefail
repo="$(pwd)"
bin="$repo/.venv/bin"
# CI clones the project beside the shared reference material.
originals="${AI_BACKEND_ORIGINAL_CONFIGS:-$repo/../shared/reference/original-configs}"

log() { printf 'galaxy: %s\n' "$*"; }
die() { printf 'galaxy: ERROR: %s\n' "$*" >&2; exit 1; }

tmp="$(mktemp -d /tmp/ai_backend-galaxy.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT

log "building the tarball"
"$bin/ansible-galaxy" collection build --force --output-path "$tmp/dist" "$repo" >/dev/null
tarball="$(ls "$tmp"/dist/gathewhy-ai_backend-*.tar.gz)"

# What users need, and nothing else: an allow-list, so a new development file
# fails here until galaxy.yml's build_ignore (or this list) says where it goes.
# requirements.txt is the controller's Python needs (read by ansible-builder).
tar -tzf "$tarball" | sed 's#^\./##; /\/$/d' > "$tmp/members"
grep -vE '^(MANIFEST\.json|FILES\.json|README\.md|LICENSE|requirements\.txt|changelogs/(changelog|config)\.yaml|(docs|inventory|meta|playbooks|plugins|roles|schemas)/.+)$' \
  "$tmp/members" > "$tmp/unwanted" || true
# Tool leftovers inside the wanted directories.
grep -E '(^|/)(__pycache__|\.pytest_cache|\.hypothesis)/|\.py[co]$|\.retry$' "$tmp/members" >> "$tmp/unwanted" || true
if [ -s "$tmp/unwanted" ]; then
  sort -u "$tmp/unwanted" | sed 's/^/  /' >&2
  die "the tarball holds the development files above: add them to build_ignore in galaxy.yml"
fi
for required in MANIFEST.json README.md LICENSE changelogs/changelog.yaml meta/runtime.yml playbooks/site.yml \
                inventory/single-host/hosts.yml; do
  grep -qxF "$required" "$tmp/members" || die "the tarball lacks $required"
done
files="$(wc -l < "$tmp/members")"
size="$(stat -c %s "$tarball")"
log "tarball $(basename "$tarball"): $files files, $size bytes ($(( (size + 1023) / 1024 )) KiB)"

# A new user: no ansible.cfg (ANSIBLE_CONFIG names a file that does not exist,
# the working directory has none), only the installed copy on the collections
# path, not the community collections the `ansible` package bundles, and a
# HOME of its own so nothing under ~/.ansible is picked up.
mkdir -p "$tmp/work" "$tmp/home"
user_env=(env -u ANSIBLE_COLLECTIONS_PATHS -u ANSIBLE_ROLES_PATH
  HOME="$tmp/home"
  ANSIBLE_CONFIG="$tmp/work/no-ansible.cfg"
  ANSIBLE_COLLECTIONS_PATH="$tmp/collections"
  ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false
  ANSIBLE_NOCOLOR=1
  ANSIBLE_LOCALHOST_WARNING=false
  PATH="$bin:$PATH")
as_user() { (cd "$tmp/work" && "${user_env[@]}" "$@"); }

# As that user too: with the checkout on the collections path, ansible-galaxy
# would find gathewhy.ai_backend 0.1.0 installed already and do nothing.
log "installing it into an empty path"
mkdir -p "$tmp/collections"
as_user ansible-galaxy collection install --offline -p "$tmp/collections" "$tarball" >/dev/null
installed="$tmp/collections/ansible_collections/gathewhy/ai_backend"
[ -f "$installed/MANIFEST.json" ] || die "ansible-galaxy did not install into $installed"

# The user's inventory: a copy of the installed example, with its vault filled
# and encrypted the way inventory/README.md says.
log "validate playbook on a copy of the installed inventory/single-host"
cp -r "$installed/inventory/single-host" "$tmp/work/inventory"
vault="$tmp/work/inventory/group_vars/all/vault.yml"
"$bin/python" -c 'import secrets; print("vault_litellm_master_key: sk-%s\nvault_redis_password: %s"
                  % (secrets.token_hex(24), secrets.token_hex(24)))' > "$vault"
"$bin/python" -c 'import secrets; print(secrets.token_hex(16))' > "$tmp/home/vault-pass"
as_user ansible-vault encrypt --vault-password-file "$tmp/home/vault-pass" "$vault" >/dev/null
as_user ansible-playbook -i inventory --vault-password-file "$tmp/home/vault-pass" gathewhy.ai_backend.validate \
  > "$tmp/validate.log" 2>&1 \
  || { cat "$tmp/validate.log" >&2; die "gathewhy.ai_backend.validate failed from the installed copy"; }
grep -E '^[a-zA-Z0-9_.-]+ +: ok=' "$tmp/validate.log" | sed 's/^/  /'

if [ -d "$originals" ]; then
  log "import playbook on $originals"
  as_user ansible-playbook gathewhy.ai_backend.import \
    -e providers="$originals/providers.yaml" -e mappings="$originals/model-mappings.yaml" \
    -e ports="$originals/ports.yaml" -e dest=imported/group_vars/all/ai_backend.yml > "$tmp/import.log" 2>&1 \
    || { cat "$tmp/import.log" >&2; die "gathewhy.ai_backend.import failed from the installed copy"; }
  for written in imported/group_vars/all/ai_backend.yml imported/group_vars/all/ai_backend_secrets.yml \
                 ai_backend-import-report.yml; do
    [ -s "$tmp/work/$written" ] || die "the import did not write $written"
  done
  log "  wrote imported/group_vars/all/ai_backend.yml ($(wc -l < "$tmp/work/imported/group_vars/all/ai_backend.yml") lines) and the report"
elif [ "${CI:-}" = "true" ]; then
  die "the original configs are missing at $originals: CI clones the project beside shared/ (or set AI_BACKEND_ORIGINAL_CONFIGS)"
else
  log "SKIPPED the import: no original configs at $originals (set AI_BACKEND_ORIGINAL_CONFIGS)"
fi

# Every plugin and role the installed copy has, rendered by ansible-doc.
documented=0
for type in module filter role; do
  mapfile -t names < <(as_user ansible-doc -t "$type" -l gathewhy.ai_backend --json \
    | "$bin/python" -c 'import json, sys; print("\n".join(sorted(json.load(sys.stdin))))')
  [ "${#names[@]}" -gt 0 ] || die "ansible-doc lists no $type of gathewhy.ai_backend in the installed copy"
  for name in "${names[@]}"; do
    if ! as_user ansible-doc -t "$type" "$name" > "$tmp/doc.txt" 2>&1 || grep -q 'Missing documentation' "$tmp/doc.txt"; then
      cat "$tmp/doc.txt" >&2
      die "ansible-doc -t $type $name does not render from the installed copy"
    fi
    documented=$((documented + 1))
  done
  log "ansible-doc -t $type: ${names[*]}"
done
log "all clean: $files files, $size bytes; $documented docs rendered from the installed copy"
