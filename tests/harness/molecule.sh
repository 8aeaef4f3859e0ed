#!/usr/bin/env bash
# make molecule: every Molecule scenario, for real under systemd in local
# Debian 12 containers. Runs from the repo root (the Makefile's cwd).
#
#   SCENARIOS="default llama_cpp" bash tests/harness/molecule.sh   # a subset
#   MOLECULE_LANES=1 bash tests/harness/molecule.sh                 # one at a time
#
# Scenarios run in MOLECULE_LANES parallel lanes (default 2). A converge is
# one chain of tasks, each waiting on a module that runs on one core, so two
# scenarios side by side use the two cores that one leaves half idle. Each
# scenario has its own containers and loopback addresses, so lanes share
# nothing but the pip and ccache caches, which are safe to share. The
# scenarios in SOLO_SCENARIOS (default: gateway) run afterwards with the
# machine to themselves, because their verify measures throughput under load.
# Every scenario runs even if an earlier one failed; the exit status is
# non-zero if any failed. A scenario's output is printed whole when it ends,
# never interleaved with another's, and per-scenario durations are printed at
# the end.
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

lanes="${MOLECULE_LANES:-2}"
[[ "$lanes" =~ ^[1-9][0-9]*$ ]] || { echo "molecule.sh: MOLECULE_LANES must be a positive integer (got '$lanes')" >&2; exit 2; }
read -r -a solo <<< "${SOLO_SCENARIOS-gateway}"
is_solo() { local s; for s in "${solo[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }

# One scenario: output to its log, result and duration to files beside it.
run_scenario() {
  local scenario="$1" start=$SECONDS status
  if [ ! -f "molecule/$scenario/molecule.yml" ]; then
    echo "molecule.sh: no scenario '$scenario' (molecule/$scenario/molecule.yml)" > "$logs/$scenario.log"
    status=missing
  elif molecule test -s "$scenario" > "$logs/$scenario.log" 2>&1; then
    status=passed
  else
    status=FAILED
  fi
  echo "$status $((SECONDS - start))" > "$logs/$scenario.result"
  # Whole, under a lock, so two lanes never interleave their lines.
  {
    flock 9
    echo "==== molecule test -s $scenario (finished $(date -u +%H:%M:%S) UTC)"
    cat "$logs/$scenario.log"
    echo "==== $scenario: $status in $((SECONDS - start)) s"
  } 9>"$logs/.print.lock"
}

# Longest first, so the lanes end close together: the order of the durations
# last measured on a 2-core machine. Scenarios not listed go last, as given.
read -r -a longest_first <<< "${LANE_ORDER:-default vllm ollama multi_host secure llama_cpp}"
ordered=()
for scenario in "${longest_first[@]}"; do
  for wanted in "${scenarios[@]}"; do [ "$wanted" = "$scenario" ] && ordered+=("$scenario"); done
done
for scenario in "${scenarios[@]}"; do
  case " ${ordered[*]} " in *" $scenario "*) ;; *) ordered+=("$scenario") ;; esac
done

parallel=() serial=()
for scenario in "${ordered[@]}"; do
  rm -f "$logs/$scenario.result"
  if is_solo "$scenario"; then serial+=("$scenario"); else parallel+=("$scenario"); fi
done

total_start=$SECONDS
echo "==== ${#parallel[@]} scenario(s) in $lanes lane(s): ${parallel[*]:-none}; then alone: ${serial[*]:-none} ($(date -u +%H:%M:%S) UTC)"
# xargs -P is the lane pool: each lane takes the next scenario as one ends.
export logs
export -f run_scenario
if [ "${#parallel[@]}" -gt 0 ]; then
  # shellcheck disable=SC2016  # $1 is expanded by the child bash, on purpose
  printf '%s\n' "${parallel[@]}" | xargs -P "$lanes" -I{} bash -c 'run_scenario "$1"' _ {}
fi
for scenario in "${serial[@]}"; do run_scenario "$scenario"; done

declare -A took result
failed=0
for scenario in "${scenarios[@]}"; do
  read -r "result[$scenario]" "took[$scenario]" < "$logs/$scenario.result" || { result[$scenario]=FAILED; took[$scenario]=0; }
  [ "${result[$scenario]}" = passed ] || failed=1
done

echo
echo "Molecule summary"
for scenario in "${scenarios[@]}"; do
  printf '  %-14s %-8s %4d s\n' "$scenario" "${result[$scenario]}" "${took[$scenario]}"
done
printf '  %-14s %-8s %4d s\n' total "" "$((SECONDS - total_start))"

for scenario in "${scenarios[@]}"; do
  [ "${result[$scenario]}" = passed ] && continue
  echo
  echo "==== why $scenario failed (from $logs/$scenario.log; at most 200 lines)"
  # Failed tasks with their message, pytest's failures and short summary,
  # and Molecule's own error line.
  grep -n -A6 -P '^(fatal|failed):|FAILED(?! - RETRYING)|^E  |^ERROR|CRITICAL|AssertionError|Traceback|short test summary' \
    "$logs/$scenario.log" | head -200
done
exit "$failed"
