#!/usr/bin/env bash
# make unit: the engine, modules, filters, importer, role specs, inventories,
# and the real LiteLLM proxy booted on the golden config.
set -euo pipefail
repo="$(pwd)"
bin="$repo/.venv/bin"

# The LiteLLM boot test needs a real redis-server and the pinned proxy.
if ! command -v redis-server >/dev/null 2>&1; then
  echo "unit: installing redis-server (used by the LiteLLM boot test)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # policy-rc.d keeps the package from starting a system-wide daemon: the
  # test starts its own redis on a random loopback port and stops it.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null || { rm -f /usr/sbin/policy-rc.d; exit 1; }
  rm -f /usr/sbin/policy-rc.d
fi
# promtool checks and unit-tests the monitoring role's config and alert rules.
if ! command -v promtool >/dev/null 2>&1; then
  echo "unit: installing Debian's prometheus package (for promtool)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null || { rm -f /usr/sbin/policy-rc.d; exit 1; }
  rm -f /usr/sbin/policy-rc.d
fi
if [ -f tests/harness/litellm-venv.sh ]; then
  bash tests/harness/litellm-venv.sh
fi

# The stand-ins' own tests drive the real llama-server on the tiny model.
bash tests/harness/artifacts.sh

"$bin/python" -m pytest -p no:cacheprovider -q tests/unit tests/integration tests/standins tests/load "$@"
