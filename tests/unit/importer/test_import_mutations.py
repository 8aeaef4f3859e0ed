# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mutated copies of the real files: whatever goes in, the importer either refuses with
ImportFailed (file + key path), or stops because it would have to guess (and then, with
accept_corrections, imports), or writes a registry that validates and a report that
accounts for every key. Anything else (an exception, an invalid registry) is a bug.

Seeded, so a failure reproduces; AI_BACKEND_MUTATIONS sets how many cases run and
AI_BACKEND_MUTATION_SEED the seed.
"""
import copy
import os
import random

import pytest
import yaml

from ansible_collections.gathewhy.ai_backend.plugins.module_utils import importer
from ansible_collections.gathewhy.ai_backend.plugins.module_utils.importer_source import GuessError, format_path, walk
from ansible_collections.gathewhy.ai_backend.plugins.module_utils.registry import validate_inventory
from importer_paths import original_paths

COUNT = int(os.environ.get("AI_BACKEND_MUTATIONS", "300"))
SEED = int(os.environ.get("AI_BACKEND_MUTATION_SEED", "20261127"))
NAMES = ("providers.yaml", "model-mappings.yaml", "ports.yaml")
VALUES = (None, 0, -1, 70000, 1.5, True, "", "x", "ollama", "llama3.1:latest", "http://127.0.0.1:9999", [-1], [0, 0],
          [{"name": "a"}, {"name": "b"}], "vllm", "llama_cpp", "active", "disabled",
          "sk-abcdefghijklmnopqrstuvwxyz0123456789", [], ["llama_cpp_python"], ["nope", 3], {}, {"a": 1},
          # values that make the import guess: a clash with the gateway, a taken name, a missing model
          "http://127.0.0.1:4000", "gpt-oss:20b-cloud", ["missing-model:7b"], ["llama3.1:latest", "glm-4.6:cloud"])


@pytest.fixture(scope="module")
def docs():
    paths = original_paths()
    out = []
    for key in ("providers", "mappings", "ports"):
        with open(paths[key]) as handle:
            out.append(yaml.safe_load(handle))
    return out


def _nodes(node, keys=()):
    yield keys
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _nodes(value, keys + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _nodes(value, keys + (index,))


def _mutate(rng, doc):
    paths = [keys for keys in _nodes(doc) if keys]
    keys = rng.choice(paths)
    parent = doc
    for key in keys[:-1]:
        parent = parent[key]
    if rng.random() < 0.3:
        del parent[keys[-1]]
    else:
        parent[keys[-1]] = copy.deepcopy(rng.choice(VALUES))


def _accounted(report, sources):
    index = set(entry["from"] for kind in ("carried", "not_carried") for entry in report[kind])
    for name, doc in zip(NAMES, sources):
        if doc is None:
            continue
        for keys in walk(doc):
            hits = [n for n in range(len(keys) + 1) if "%s: %s" % (name, format_path(keys[:n])) in index]
            assert len(hits) == 1, "%s: %s accounted for %d times" % (name, format_path(keys), len(hits))


def test_mutated_sources_never_break_the_importer(docs):
    rng = random.Random(SEED)
    outcomes = {"refused": 0, "imported": 0, "stopped_then_accepted": 0}
    for case in range(COUNT):
        sources = copy.deepcopy(docs)
        for dummy in range(rng.randint(1, 3)):
            _mutate(rng, sources[rng.randrange(3)])
        try:
            result = importer.import_documents(sources[0], sources[1], sources[2])
        except importer.ImportFailed as err:
            for error in err.errors:
                assert error.file in NAMES and error.message and error.hint, "case %d: %s" % (case, err)
            assert "sk-abcdefghijklmnopqrstuvwxyz0123456789" not in str(err), "case %d leaked a secret" % case
            if not all(isinstance(error, GuessError) for error in err.errors):
                outcomes["refused"] += 1
                continue
            assert all(error.choices for error in err.errors), "case %d: %s" % (case, err)
            result = importer.import_documents(sources[0], sources[1], sources[2], accept_corrections=True)
            assert result["report"]["summary"]["accepted_corrections"] == len(err.errors), "case %d" % case
            outcomes["stopped_then_accepted"] += 1
        outcomes["imported"] += 1
        errors, dummy = validate_inventory({"imported": result["registry"]})
        assert [p.render() for p in errors] == [], "case %d" % case
        _accounted(result["report"], sources)
        text = importer.render_report(result["report"]) + importer.render_registry(
            result["registry"], result["report"]["sources"])
        assert "sk-abcdefghijklmnopqrstuvwxyz0123456789" not in text, "case %d leaked a secret" % case
    # Both paths were exercised, so the assertions above were not vacuous.
    assert outcomes["refused"] > COUNT // 10 and outcomes["imported"] > COUNT // 10, outcomes
    assert outcomes["stopped_then_accepted"] > 0 or COUNT < 100, outcomes
