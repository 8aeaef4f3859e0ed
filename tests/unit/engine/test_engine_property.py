# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property test: 10,000 generated registries (valid, mutated and garbage).

Every case ends in exactly one of two ways:
  * a rendered config that passes schemas/litellm_config.schema.json (real jsonschema),
    written by the module_utils write function; or
  * a RegistryError whose every problem has a path, a message and a hint, with
    nothing written to the destination directory.
Any other exception fails the test.
"""

import copy
import json
import os
import random

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine_import import REPO, atomic, registry, schema

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
OUTPUT = jsonschema.Draft202012Validator(json.load(open(os.path.join(REPO, "schemas",
                                                                     "litellm_config.schema.json"))))
SETTINGS = dict(deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
# 3,500 + 4,500 + 2,000 = 10,000 examples in all.
VALID_EXAMPLES, MUTATED_EXAMPLES, GARBAGE_EXAMPLES = 3500, 4500, 2000

WORDS = ["llama", "qwen", "mistral", "coder", "chat", "gpt-oss", "deepseek", "phi", "gemma", "kimi"]
WEIRD = [None, "", "CUSTOM_PORT", "{{ x }}", -1, 0, 70000, 0.0, 1.5, float("nan"), True, [], {}, [[]],
         {"x": 1}, "sk-0123456789abcdef0123456789abcdef", "https://u:p@h/", "lower_env", "a" * 300,
         "Bad Name!", "llama-0", 2 ** 64, "\n", "os.environ/X"]
PROVIDER_TYPES = list(schema.PROVIDER_TYPES)


# Hypothesis draws one seed per case and a seeded random.Random builds the registry:
# drawing every field through Hypothesis costs ~17 ms a case, too slow for 10,000 cases
# on 2 cores. A failure is still reproducible from the seed Hypothesis prints.
def model_name(rng, index):
    size = rng.choice(["", ":7b", "-8b", ":latest", "/Instruct-AWQ"])
    return "%s%s-%d" % (rng.choice(WORDS), size, index)


def make_providers(rng, host_index, counter):
    out = {}
    ports = iter(range(8000 + host_index * 100, 8100 + host_index * 100))
    gpu = 0
    for index in range(rng.randint(0, 4)):
        ptype = rng.choice(PROVIDER_TYPES)
        many = ptype in ("ollama", "ollama_cloud", "openai_compatible")
        models = []
        for dummy in range(rng.randint(1, 3) if many else 1):
            counter[0] += 1
            model = {"name": model_name(rng, counter[0])}
            if rng.random() < 0.5:
                model["source"] = rng.choice(["llama3.1:latest", "Qwen/Qwen2.5-7B", "gpt-oss:20b"])
            for key in ("rpm", "tpm", "context_length"):
                if rng.random() < 0.5:
                    model[key] = rng.randint(1, 10 ** 6)
            if rng.random() < 0.5:
                model["capabilities"] = rng.sample(["chat", "code", "vision"], rng.randint(0, 3))
            if ptype == "llama_cpp":
                model["gguf"] = copy.deepcopy(rng.choice([{"path": "/models/m.gguf"},
                                                          {"url": "https://example.org/m.gguf",
                                                           "sha256": "a" * 64}]))
            models.append(model)
        provider = {"type": ptype, "models": models}
        if rng.random() < 0.5:
            provider["enabled"] = rng.random() < 0.7
        if ptype in schema.LOCAL_TYPES:
            provider["port"] = next(ports)
        else:
            provider["base_url"] = rng.choice(["https://ollama.com", "https://api.example.org/v1"])
            provider["api_key_env"] = rng.choice(["OLLAMA_API_KEY", "REMOTE_KEY"])
        if ptype == "vllm":
            provider["gpus"] = [gpu]
            gpu += 1
            provider["gpu_memory_utilization"] = rng.choice([0.3, 0.45, 0.9])
        if ptype == "llama_cpp" and rng.random() < 0.5:
            provider["context_size"] = rng.randint(256, 32768)
        out["p%d_%s" % (index, ptype)] = provider
    return out


def make_valid(rng):
    hosts = {}
    counter = [0]
    for index in range(rng.randint(1, 3)):
        hosts["host%d" % index] = {"ai_backend_listen_address": "127.0.%d.1" % (index + 1),
                                   "ai_backend_providers": make_providers(rng, index, counter)}
    names = sorted(set(m["name"] for h in hosts.values() for p in h["ai_backend_providers"].values()
                       if p.get("enabled", True) for m in p["models"]))
    routing = {"strategy": rng.choice(list(schema.ROUTING_STRATEGIES))}
    if len(names) > 1:
        fallbacks = {}
        for position, name in enumerate(names[:-1]):
            if rng.random() < 0.5:
                later = names[position + 1:]  # only "later" names: the graph stays acyclic
                fallbacks[name] = rng.sample(later, rng.randint(1, min(3, len(later))))
        if fallbacks:
            routing["fallbacks"] = fallbacks
        if rng.random() < 0.5:
            routing["default_fallbacks"] = rng.sample(names, rng.randint(1, 2))
        if rng.random() < 0.5:
            routing["aliases"] = dict(("alias-%d" % i, rng.choice(names)) for i in range(rng.randint(1, 3)))
    if rng.random() < 0.5:
        routing["cache"] = {"enabled": rng.random() < 0.5, "ttl": rng.randint(1, 86400)}
    hosts["host0"]["ai_backend_routing"] = routing
    hosts["host0"]["ai_backend_gateway"] = {"port": 4000}
    return hosts


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key in list(value):
            yield from _paths(value[key], prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, prefix + (index,))


def _at(value, path):
    for key in path:
        value = value[key]
    return value


def mutate(rng, hosts):
    for dummy in range(rng.randint(1, 3)):
        paths = [p for p in _paths(hosts) if len(p) >= 2]
        if not paths:
            break
        path = rng.choice(paths)
        parent = _at(hosts, path[:-1])
        key = path[-1]
        action = rng.choice(["weird", "delete", "unknown", "typo", "duplicate", "cycle", "ref"])
        if action == "weird":
            parent[key] = copy.deepcopy(rng.choice(WEIRD))
        elif action == "delete":
            del parent[key]
        elif action == "unknown" and isinstance(parent, dict):
            parent[rng.choice(["fallback", "api_key", "condition", "prot", "lab_extensions"])] = \
                copy.deepcopy(rng.choice(WEIRD))
        elif action == "typo" and isinstance(parent, dict) and isinstance(key, str):
            parent[key[:-1] or "x"] = parent.pop(key)
        elif action == "duplicate":
            for host in hosts.values():
                provs = host.get("ai_backend_providers") if isinstance(host, dict) else None
                provs = [p for p in provs.values() if isinstance(p, dict)] if isinstance(provs, dict) else []
                if len(provs) >= 2 and isinstance(provs[0].get("models"), list) and provs[0]["models"] \
                        and isinstance(provs[1].get("models"), list):
                    provs[1]["models"].append(copy.deepcopy(provs[0]["models"][0]))
                    break
        elif action in ("cycle", "ref") and isinstance(hosts.get("host0"), dict):
            routing = hosts["host0"].setdefault("ai_backend_routing", {})
            fallbacks = routing.get("fallbacks") if isinstance(routing, dict) else None
            if isinstance(fallbacks, dict) and fallbacks:
                source = sorted(fallbacks, key=str)[0]
                chain = fallbacks[source]
                if action == "cycle" and isinstance(chain, list) and chain and isinstance(chain[0], str):
                    fallbacks[chain[0]] = [source]
                else:
                    fallbacks[source] = ["no-such-model"]
            elif isinstance(routing, dict):
                routing["fallbacks"] = {"a-model": ["a-model"]}
    return hosts


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 70000) | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["ai_backend_providers", "ai_backend_routing", "type", "port", "models", "name",
                         "fallbacks", "gpus", "x"]) | st.text(max_size=8), children, max_size=4),
    max_leaves=20)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """One directory for all cases; fsync skipped (durability is test_atomic's job, not this one's)."""
    saved = atomic._fsync
    atomic._fsync = lambda fd: None
    yield str(tmp_path_factory.mktemp("property"))
    atomic._fsync = saved


def check_outcome(hosts, work):
    dest = os.path.join(work, "litellm.yaml")
    assert os.listdir(work) == []
    gateway = "host0" if isinstance(hosts, dict) and "host0" in hosts else None
    try:
        result, written = registry.write_gateway_config(hosts, dest, gateway_host=gateway)
    except registry.RegistryError as err:
        assert err.problems, "a RegistryError must carry at least one error"
        for problem in err.problems:
            assert isinstance(problem.path, str) and problem.path, problem
            assert problem.message and problem.hint, problem
        assert str(err).startswith("ai_backend registry:")
        assert os.listdir(work) == [], "a file was written although the registry has errors"
        return "error"
    try:
        config = yaml.load(result.text, Loader=LOADER)
        assert config == result.config
        OUTPUT.validate(config)
        assert written["changed"]
        with open(dest) as handle:
            assert handle.read() == result.text
    finally:
        os.unlink(dest)
    return "ok"


@settings(max_examples=VALID_EXAMPLES, **SETTINGS)
@given(st.integers(0, 2 ** 32))
def test_valid_registries_render_a_schema_valid_config(workdir, seed):
    assert check_outcome(make_valid(random.Random(seed)), workdir) == "ok"


@settings(max_examples=MUTATED_EXAMPLES, **SETTINGS)
@given(st.integers(0, 2 ** 32))
def test_mutated_registries_render_or_fail_cleanly(workdir, seed):
    rng = random.Random(seed)
    check_outcome(mutate(rng, make_valid(rng)), workdir)


@settings(max_examples=GARBAGE_EXAMPLES, **SETTINGS)
@given(st.dictionaries(st.sampled_from(["host0", "gw", ""]) | st.text(max_size=6),
                       st.dictionaries(st.sampled_from(sorted(schema.REGISTRY_SCHEMA["properties"])) | st.text(
                           max_size=10), json_values, max_size=5) | json_values, max_size=3) | json_values)
def test_garbage_never_raises_anything_but_registry_error(workdir, hosts):
    check_outcome(hosts, workdir)
