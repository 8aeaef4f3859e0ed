# gathewhy.ai_backend — every entry point. Each target installs what it needs itself,
# so `make demo` and `make test` work on a fresh Debian 12 machine (as root).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

REPO        := $(CURDIR)
VENV        := $(REPO)/.venv
PY          := $(VENV)/bin/python
BIN         := $(VENV)/bin
CACHE       := $(REPO)/.cache
COLL_ROOT   := $(REPO)/.build/collections
COLL_LINK   := $(COLL_ROOT)/ansible_collections/gathewhy/ai_backend

export ANSIBLE_COLLECTIONS_PATH := $(COLL_ROOT)
export ANSIBLE_CONFIG := $(REPO)/ansible.cfg
export AI_BACKEND_CACHE := $(CACHE)
export PATH := $(BIN):$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements/dev.txt
	@command -v python3 >/dev/null || { apt-get update -qq && apt-get install -y -qq python3 python3-venv; }
	python3 -m venv $(VENV) || { apt-get update -qq && apt-get install -y -qq python3-venv && python3 -m venv $(VENV); }
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements/dev.txt
	touch $@

.PHONY: venv
venv: $(VENV)/.installed ## the pinned tool virtualenv (.venv)

.PHONY: collection
collection: ## expose this checkout as gathewhy.ai_backend to Ansible
	@mkdir -p $(dir $(COLL_LINK))
	@ln -sfn $(REPO) $(COLL_LINK)

.PHONY: lint
lint: venv collection ## yamllint, ansible-lint (production), ansible-test sanity, role docs check
	bash tests/harness/lint.sh

.PHONY: unit
unit: venv collection ## engine, modules, filters, importer, roles' specs, real LiteLLM boot
	bash tests/harness/unit.sh

.PHONY: molecule
molecule: venv collection ## every Molecule scenario, for real under systemd in containers
	bash tests/harness/molecule.sh

.PHONY: bench
bench: venv collection ## engine render+validate at 100 / 1,000 / 10,000 models, then the importer's
	$(PY) bench/engine_bench.py
	$(PY) bench/import_bench.py

.PHONY: bench-gateway
bench-gateway: venv collection ## gateway cost vs llama-server and LiteLLM's defaults, in the demo sandbox (minutes)
	$(PY) bench/gateway_bench.py

.PHONY: bench-gateway-variants
bench-gateway-variants: venv collection ## what each gateway setting costs, one LiteLLM per variant, in the running demo sandbox
	$(PY) bench/gateway_variants.py

.PHONY: galaxy
galaxy: venv ## build the Galaxy tarball, install it, run validate/import/ansible-doc from the installed copy
	bash tests/harness/galaxy.sh

.PHONY: matrix
matrix: venv collection ## ansible-test sanity + engine/filter tests on every ansible-core in requirements/core-*.txt
	bash tests/harness/matrix.sh

.PHONY: test
test: lint unit galaxy matrix molecule bench ## everything CI runs

.PHONY: demo
demo: venv collection ## provision a local sandbox host and get a real completion through the gateway
	bash tests/demo/demo.sh

.PHONY: demo-clean
demo-clean: venv ## remove the demo sandbox
	bash tests/demo/demo.sh clean

# uv resolves for Debian 12's CPython 3.11 on manylinux x86_64 from any
# machine; it runs from a throwaway venv so the pinned tools stay untouched.
LOCK_UV := uv==0.13.9
.PHONY: lock
lock: ## hash lock for a LiteLLM release: make lock VERSION=x.y.z (review, then commit)
	@[[ "$(VERSION)" =~ ^[0-9]+\.[0-9]+\.[0-9]+$$ ]] || { echo "usage: make lock VERSION=x.y.z (got '$(VERSION)')" >&2; exit 2; }
	@[ -x $(CACHE)/lock-venv/bin/uv ] || { python3 -m venv $(CACHE)/lock-venv && $(CACHE)/lock-venv/bin/pip install -q $(LOCK_UV); }
	bash roles/litellm/files/make-lock.sh $(VERSION) $(CACHE)/lock-venv/bin/uv

.PHONY: clean
clean: ## remove build outputs (keeps the shared caches in .cache)
	rm -rf .build tests/output .pytest_cache
