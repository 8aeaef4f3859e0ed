# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Golden file: the original system's five active providers, rebuilt as a registry,
render to exactly tests/golden/original_lab/litellm.yaml (UPDATE_GOLDEN=1 rewrites it)."""

import copy
import json
import os
import re

import jsonschema
import pytest
import yaml

from engine_import import GOLDEN, REPO, golden_case, registry

EXPECTED = os.path.join(GOLDEN, "original_lab", "litellm.yaml")
OUTPUT_SCHEMA = json.load(open(os.path.join(REPO, "schemas", "litellm_config.schema.json")))
OUTPUT_VALIDATOR = jsonschema.Draft202012Validator(OUTPUT_SCHEMA)


def render(case=None):
    case = case or golden_case("original_lab")
    return registry.build_gateway_config(case["hosts"], case["gateway_host"], case["inference_hosts"])


@pytest.mark.parametrize("name", ["original_lab", "multi_host"])
def test_golden_bytes(name):
    result = render(golden_case(name))
    expected = os.path.join(GOLDEN, name, "litellm.yaml")
    if os.environ.get("UPDATE_GOLDEN"):
        with open(expected, "w") as handle:
            handle.write(result.text)
    with open(expected) as handle:
        assert result.text == handle.read()
    OUTPUT_VALIDATOR.validate(yaml.safe_load(result.text))


def test_multi_host_is_one_group_per_name_with_a_deployment_per_host():
    result = render(golden_case("multi_host"))
    llama = [d for d in result.config["model_list"] if d["model_name"] == "llama3.1-8b"]
    assert [d["litellm_params"]["api_base"] for d in llama] == ["http://127.0.2.1:11434", "http://127.0.3.1:11434"]
    assert [d["model_info"]["id"] for d in llama] == ["gpu1/ollama_main/llama3.1-8b", "gpu2/ollama_main/llama3.1-8b"]
    assert result.model_groups == ["llama3.1-8b", "mistral-chat", "qwen-coder", "tiny-llama"]
    tiny = [d for d in result.config["model_list"] if d["model_name"] == "tiny-llama"][0]
    assert tiny["litellm_params"] == {"model": "llamafile/tiny-llama", "api_base": "http://127.0.1.1:8080/v1"}
    # Cache disabled: only the metrics settings, which every gateway gets.
    assert set(result.config["litellm_settings"]) == {"callbacks", "prometheus_exclude_labels",
                                                      "prometheus_metrics_max_series_per_metric",
                                                      "require_auth_for_metrics_endpoint"}
    assert result.config["router_settings"]["redis_host"] == "127.0.1.1"


def test_golden_is_valid_against_the_output_schema_and_sane():
    result = render()
    config = yaml.safe_load(result.text)
    assert config == result.config
    jsonschema.Draft202012Validator(OUTPUT_SCHEMA).validate(config)
    assert set(config) == {"model_list", "router_settings", "litellm_settings", "general_settings"}
    assert len(config["model_list"]) == 12 and len(result.model_groups) == 12
    assert result.warnings == []
    router = config["router_settings"]
    assert all(isinstance(v, str) for v in router["model_group_alias"].values())
    assert all(len(chain) == 1 for chain in router["fallbacks"])
    assert "default" not in [list(chain)[0] for chain in router["fallbacks"]]
    assert router["default_fallbacks"][0] == "gpt-oss:120b-cloud"
    assert config["general_settings"] == {"master_key": "os.environ/LITELLM_MASTER_KEY"}
    vllm = [d for d in config["model_list"] if d["model_name"] == "qwen-coder-vllm"][0]
    assert vllm["litellm_params"]["model"] == "hosted_vllm/qwen-coder-vllm"  # == --served-model-name
    assert vllm["litellm_params"]["rpm"] == 50 and vllm["litellm_params"]["tpm"] == 100000
    assert "dolphin-vllm" not in result.model_groups


def test_header_and_determinism():
    first, second = render(), render()
    assert first.text == second.text
    lines = first.text.splitlines()
    assert lines[0].startswith("# managed by Ansible (gathewhy.ai_backend)")
    assert re.match(r"^# source registry sha256: [0-9a-f]{64}$", lines[1])
    assert first.source_sha256 in lines[1]
    assert not re.search(r"20\d\d-\d\d-\d\d", first.text)


def test_key_order_of_the_input_does_not_change_the_output():
    case = golden_case("original_lab")
    shuffled = copy.deepcopy(case)
    host = shuffled["hosts"]["lab"]
    host["ai_backend_providers"] = dict(reversed(list(host["ai_backend_providers"].items())))
    host["ai_backend_routing"]["fallbacks"] = dict(reversed(list(host["ai_backend_routing"]["fallbacks"].items())))
    assert render(shuffled).text == render(case).text


def test_a_change_in_the_source_changes_the_hash():
    case = golden_case("original_lab")
    before = render(case).source_sha256
    case["hosts"]["lab"]["ai_backend_providers"]["ollama"]["models"][0]["rpm"] = 101
    assert render(case).source_sha256 != before


def test_a_backend_only_setting_leaves_the_gateway_config_alone():
    # `threads` shapes the llama.cpp unit, not anything LiteLLM reads: the gateway's
    # file (and so its restart) must not depend on it.
    case = golden_case("original_lab")
    providers = case["hosts"]["lab"]["ai_backend_providers"]
    llama = next(p for p in providers.values() if p["type"] == "llama_cpp")
    before = render(case)
    llama["threads"] = 7 if llama.get("threads") != 7 else 3
    after = render(case)
    assert after.text == before.text
    assert after.source_sha256 == before.source_sha256


def test_validate_and_render_once_gives_what_the_separate_calls_give():
    case = golden_case("multi_host")
    gateways = [case["gateway_host"]]
    errors, warnings, configs = registry.validate_and_render(case["hosts"], gateway_hosts=gateways,
                                                             inference_hosts=case["inference_hosts"])
    assert errors == [] and list(configs) == gateways
    assert configs[gateways[0]].text == render(case).text
    assert [p.one_line() for p in warnings] == [p.one_line() for p in registry.validate_inventory(
        case["hosts"], gateway_hosts=gateways, inference_hosts=case["inference_hosts"])[1]]
    bad = copy.deepcopy(case)
    bad["hosts"][gateways[0]]["ai_backend_routing"] = []
    errors, dummy, configs = registry.validate_and_render(bad["hosts"], gateway_hosts=gateways)
    assert errors and configs == {}
