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
bench: venv collection ## engine render+validate at 100 / 1,000 / 10,000 models
	$(PY) bench/engine_bench.py

.PHONY: test
test: lint unit molecule bench ## everything CI runs

.PHONY: demo
demo: venv collection ## provision a local sandbox host and get a real completion through the gateway
	bash tests/demo/demo.sh

.PHONY: demo-clean
demo-clean: venv ## remove the demo sandbox
	bash tests/demo/demo.sh clean

.PHONY: clean
clean: ## remove build outputs (keeps the shared caches in .cache)
	rm -rf .build tests/output .pytest_cache
