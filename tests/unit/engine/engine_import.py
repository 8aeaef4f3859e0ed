# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared helpers of the engine tests and the bench: the engine modules, the golden
cases and a small valid host. Importable with or without `make collection`."""

import importlib
import os
import sys
import types

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
GOLDEN = os.path.join(REPO, "tests", "golden")


def _package(name, path):
    if name not in sys.modules:
        module = types.ModuleType(name)
        module.__path__ = [path] if path else []
        sys.modules[name] = module
    return sys.modules[name]


def _make_importable():
    """Use the real collection path (tests/conftest.py, `make collection`) when there is one;
    else (bench run from a bare checkout) map the namespace onto this checkout."""
    collections = os.path.join(REPO, ".build", "collections")
    if os.path.isdir(os.path.join(collections, "ansible_collections", "gathewhy", "ai_backend")):
        if collections not in sys.path:
            sys.path.insert(0, collections)
        return
    _package("ansible_collections", None)
    _package("ansible_collections.gathewhy", None)
    _package("ansible_collections.gathewhy.ai_backend", REPO)
    _package("ansible_collections.gathewhy.ai_backend.plugins", os.path.join(REPO, "plugins"))
    _package("ansible_collections.gathewhy.ai_backend.plugins.module_utils",
             os.path.join(REPO, "plugins", "module_utils"))


_make_importable()
BASE = "ansible_collections.gathewhy.ai_backend.plugins.module_utils."
registry = importlib.import_module(BASE + "registry")
problems = importlib.import_module(BASE + "problems")
validator = importlib.import_module(BASE + "validator")
schema = importlib.import_module(BASE + "registry_schema")
secrets_mod = importlib.import_module(BASE + "secrets")
atomic = importlib.import_module(BASE + "atomic")
similar = importlib.import_module(BASE + "similar")
render = importlib.import_module(BASE + "render")
checks = importlib.import_module(BASE + "checks")
plain = importlib.import_module(BASE + "plain")


def golden_case(name):
    with open(os.path.join(GOLDEN, name, "registry.yml")) as handle:
        return yaml.safe_load(handle)


def base_host():
    """A small valid host: two ollama models with fallbacks both ways."""
    return {
        "ai_backend_providers": {
            "ollama_main": {"type": "ollama", "port": 11434, "models": [
                {"name": "llama3.1-8b", "source": "llama3.1:latest"},
                {"name": "qwen2.5-coder", "source": "qwen2.5-coder:7b"}]},
        },
        "ai_backend_routing": {"fallbacks": {"qwen2.5-coder": ["llama3.1-8b"]},
                               "default_fallbacks": ["qwen2.5-coder"]},
    }
