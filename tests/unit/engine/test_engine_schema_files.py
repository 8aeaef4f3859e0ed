# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""schemas/*.json are valid draft 2020-12, the engine's schema is the file
(no second copy), and the engine's compact validator agrees with the real
jsonschema package (given the same ECMA-262 pattern anchors)."""

import copy
import json
import os

import jsonschema
import pytest

from engine_import import base_host, REPO, schema, validator

SCHEMAS = os.path.join(REPO, "schemas")


def load(name):
    with open(os.path.join(SCHEMAS, name)) as handle:
        return json.load(handle)


def test_the_engine_reads_the_schema_file():
    assert schema.REGISTRY_SCHEMA == load("registry.schema.json")
    assert schema.PROVIDER_SCHEMA is schema.REGISTRY_SCHEMA["properties"]["ai_backend_providers"][
        "additionalProperties"]
    assert schema.LOCAL_TYPES == ("ollama", "llama_cpp", "vllm")
    assert not [name for name in os.listdir(os.path.join(REPO, "plugins", "module_utils"))
                if name.endswith(".json")]


@pytest.mark.parametrize("name", ["registry.schema.json", "litellm_config.schema.json"])
def test_schema_files_are_valid_2020_12(name):
    document = load(name)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(document)


def test_compact_validator_implements_every_keyword_used():
    assert validator.unsupported_keywords(schema.REGISTRY_SCHEMA) == set()


def _mutations():
    """Hand-picked valid and invalid hosts, one per keyword family."""
    cases = []

    def case(mutate):
        host = base_host()
        mutate(host)
        cases.append(host)

    case(lambda h: None)
    case(lambda h: h.update(ai_backend_listen_address=""))
    case(lambda h: h.update(ai_backend_gpu_memory_ceiling=0))
    case(lambda h: h.update(ai_backend_gpu_memory_ceiling=1))
    case(lambda h: h["ai_backend_providers"].update(Bad={"type": "ollama", "port": 1, "models": [{"name": "x"}]}))
    case(lambda h: h["ai_backend_providers"]["ollama_main"].update(type="ollama_cloud"))
    case(lambda h: h["ai_backend_providers"]["ollama_main"].update(gpus=[0]))
    case(lambda h: h["ai_backend_providers"]["ollama_main"].update(models=[]))
    case(lambda h: h["ai_backend_providers"]["ollama_main"]["models"][0].update(gguf={"path": "/x.gguf"}))
    case(lambda h: h["ai_backend_providers"].update(
        tiny={"type": "llama_cpp", "port": 8080, "models": [{"name": "t", "gguf": {"url": "https://x/y.gguf"}}]}))
    case(lambda h: h["ai_backend_providers"].update(
        tiny={"type": "llama_cpp", "port": 8080, "models": [{"name": "t", "gguf": {"path": "/m/t.gguf"}}]}))
    case(lambda h: h["ai_backend_providers"].update(
        tiny={"type": "llama_cpp", "port": 8080,
              "models": [{"name": "t", "gguf": {"path": "/m/t.gguf", "url": "https://x/y", "sha256": "0" * 64}}]}))
    case(lambda h: h["ai_backend_providers"].update(
        v={"type": "vllm", "port": 8001, "models": [{"name": "a"}, {"name": "b"}]}))
    case(lambda h: h["ai_backend_providers"].update(
        v={"type": "vllm", "port": 8001, "gpus": [0, 0], "models": [{"name": "a"}]}))
    case(lambda h: h["ai_backend_providers"].update(
        c={"type": "openai_compatible", "base_url": "https://api.example.org/v1", "models": [{"name": "c"}]}))
    case(lambda h: h["ai_backend_routing"].update(strategy="lar1", timeout=0.5, cooldown_time=0))
    case(lambda h: h["ai_backend_routing"].update(num_retries=True))
    case(lambda h: h["ai_backend_routing"].update(default_fallbacks=[]))
    case(lambda h: h["ai_backend_routing"].update(fallbacks={"a": []}))
    case(lambda h: h["ai_backend_routing"].update(cache={"enabled": True, "ttl": 1.5}))
    case(lambda h: h.update(ai_backend_gateway={"port": 4000.0}))
    case(lambda h: h.update(ai_backend_redis={"password_env": "lower_case"}))
    case(lambda h: h.update(ai_backend_redis={"password_env": "REDIS_PASSWORD\n"}))
    case(lambda h: h.update(ai_backend_listen_address="127.0.0.1\n"))
    case(lambda h: h["ai_backend_providers"]["ollama_main"]["models"][0].update(name="llama3.1-8b\n"))
    two = {"type": "ollama", "port": 2, "models": [{"name": "x"}]}
    case(lambda h: h["ai_backend_providers"].update({"ollama_two\n": two}))
    return cases


@pytest.mark.parametrize("host", _mutations())
def test_compact_validator_agrees_with_jsonschema(host):
    ours = validator.Validator().validate(copy.deepcopy(host), schema.REGISTRY_SCHEMA, "host")
    theirs = list(validator.ecma_jsonschema_validator(schema.REGISTRY_SCHEMA).iter_errors(host))
    assert bool(ours) == bool(theirs), (ours, [e.message for e in theirs])
