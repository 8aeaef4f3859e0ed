#!/usr/bin/env bash
# make molecule: every Molecule scenario, for real under systemd in local
# Debian 12 containers. Runs from the repo root (the Makefile's cwd).
#
#   SCENARIOS="default llama_cpp" bash tests/harness/molecule.sh   # a subset, in that order
#
# Order: default first, then the others alphabetically. Every scenario runs
# even if an earlier one failed; the exit status is non-zero if any failed.
# Per-scenario durations are printed at the end.
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo" || exit 1
bin="$repo/.venv/bin"
export PATH="$bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="${ANSIBLE_COLLECTIONS_PATH:-$repo/.build/collections}"
export AI_BACKEND_CACHE="${AI_BACKEND_CACHE:-$repo/.cache}"
# Scenarios live in molecule/ (not extensions/molecule/); say so, and skip
# Molecule's migration warning.
export MOLECULE_GLOB="molecule/*/molecule.yml"
export ANSIBLE_FORCE_COLOR="${ANSIBLE_FORCE_COLOR:-0}"

if [ ! -e "$ANSIBLE_COLLECTIONS_PATH/ansible_collections/gathewhy/ai_backend" ]; then
  echo "molecule.sh: $ANSIBLE_COLLECTIONS_PATH has no gathewhy.ai_backend; run 'make collection' first" >&2
  exit 1
fi

bash tests/harness/docker-up.sh || { echo "molecule.sh: docker-up.sh failed" >&2; exit 1; }

if [ -f tests/harness/artifacts.sh ]; then
  bash tests/harness/artifacts.sh || { echo "molecule.sh: artifacts.sh failed" >&2; exit 1; }
else
  echo "molecule.sh: tests/harness/artifacts.sh is missing: no tiny model or llama-server" \
       "in $AI_BACKEND_CACHE/artifacts; scenarios that serve a model will fail" >&2
fi

if [ -n "${SCENARIOS:-}" ]; then
  read -r -a scenarios <<< "$SCENARIOS"
else
  scenarios=()
  [ -f molecule/default/molecule.yml ] && scenarios+=(default)
  for file in molecule/*/molecule.yml; do
    name="$(basename "$(dirname "$file")")"
    [ "$name" = default ] || [ "$name" = shared ] || scenarios+=("$name")
  done
fi
[ "${#scenarios[@]}" -gt 0 ] || { echo "molecule.sh: no scenario found under molecule/" >&2; exit 1; }

# Each scenario's output is also kept in $logs; a failed scenario's errors
# are printed again after the summary, because CI logs show only their tail.
logs="$AI_BACKEND_CACHE/molecule-logs"
mkdir -p "$logs"

declare -A took result
failed=0
total_start=$SECONDS
for scenario in "${scenarios[@]}"; do
  if [ ! -f "molecule/$scenario/molecule.yml" ]; then
    echo "molecule.sh: no scenario '$scenario' (molecule/$scenario/molecule.yml)" >&2
    took[$scenario]=0; result[$scenario]=missing; failed=1
    continue
  fi
  echo "==== molecule test -s $scenario ($(date -u +%H:%M:%S) UTC)"
  start=$SECONDS
  if molecule test -s "$scenario" 2>&1 | tee "$logs/$scenario.log"; then
    result[$scenario]=passed
  else
    result[$scenario]=FAILED; failed=1
  fi
  took[$scenario]=$((SECONDS - start))
  echo "==== $scenario: ${result[$scenario]} in ${took[$scenario]} s"
done

echo
echo "Molecule summary"
for scenario in "${scenarios[@]}"; do
  printf '  %-14s %-8s %4d s\n' "$scenario" "${result[$scenario]}" "${took[$scenario]}"
done
printf '  %-14s %-8s %4d s\n' total "" "$((SECONDS - total_start))"

for scenario in "${scenarios[@]}"; do
  [ "${result[$scenario]}" = FAILED ] || continue
  echo
  echo "==== why $scenario failed (from $logs/$scenario.log; at most 200 lines)"
  # Failed tasks with their message, pytest's failures and short summary,
  # and Molecule's own error line.
  grep -n -A6 -P '^(fatal|failed):|FAILED(?! - RETRYING)|^E  |^ERROR|CRITICAL|AssertionError|Traceback|short test summary' \
    "$logs/$scenario.log" | head -200
done
exit "$failed"
