# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors come from the root cause: one malformed section gives one error, not
a cascade; self-referencing YAML gives an error with its path, never a
RecursionError; addresses the gateway cannot use are errors naming the hosts;
the similar-names warning finds real typos but not sizes and quantisations."""

import os
import sys

import pytest
import yaml

from engine_import import REPO, base_host, plain, registry, similar

sys.path.insert(0, os.path.join(REPO, "bench"))
from catalogue import catalogue  # noqa: E402


def errors_of(hosts, **kwargs):
    return registry.validate_inventory(hosts, **kwargs)[0]


def test_providers_given_as_a_list_is_one_error_at_its_path():
    host = base_host()
    host["ai_backend_providers"] = [dict(name, type="ollama") for name in (
        {"models": [{"name": "llama3.1-8b"}]}, {"models": [{"name": "qwen2.5-coder"}]})]
    host["ai_backend_routing"]["aliases"] = {"code": "qwen2.5-coder"}
    host["ai_backend_routing"]["fallbacks"]["llama3.1-8b"] = ["mistral-7b"]  # may be in the broken list too
    errors = errors_of({"gw": host})
    assert [(p.path, p.message) for p in errors] == [
        ("host_vars[gw].ai_backend_providers", "expected a mapping, got a list")]


def test_models_given_as_a_mapping_does_not_cascade_into_references():
    host = base_host()
    host["ai_backend_providers"]["ollama_main"]["models"] = {"llama3.1-8b": {}, "qwen2.5-coder": {}}
    errors = errors_of({"gw": host})
    assert [p.path for p in errors] == ["host_vars[gw].ai_backend_providers.ollama_main.models"]


def test_a_self_referencing_anchor_is_an_error_with_its_path():
    host = yaml.safe_load("""
ai_backend_providers: &providers
  ollama_main: {type: ollama, port: 11434, models: [{name: llama3.1-8b}]}
  loop: *providers
ai_backend_routing: {default_fallbacks: [llama3.1-8b]}
""")
    assert host["ai_backend_providers"]["loop"] is host["ai_backend_providers"]
    errors = errors_of({"gw": host})
    assert [p.path for p in errors] == ["host_vars[gw].ai_backend_providers.loop"]
    assert "contains itself" in errors[0].message
    with pytest.raises(registry.RegistryError) as caught:
        registry.build_gateway_config({"gw": host})
    assert "host_vars[gw].ai_backend_providers.loop" in str(caught.value)


def test_a_self_referencing_list_and_deep_nesting_are_errors():
    cyclic = yaml.safe_load("fallbacks: &f [*f]")["fallbacks"]
    deep = []
    for dummy in range(10000):
        deep = [deep]
    host = base_host()
    host["ai_backend_routing"]["default_fallbacks"] = cyclic
    host["ai_backend_routing"]["context_window_fallbacks"] = {"llama3.1-8b": deep}
    errors = errors_of({"gw": host})
    paths = sorted(p.path for p in errors)
    assert paths == ["host_vars[gw].ai_backend_routing.context_window_fallbacks[\"llama3.1-8b\"][0]",
                     "host_vars[gw].ai_backend_routing.default_fallbacks[0]"]
    assert any("contains itself" in p.message for p in errors)
    converted = plain.to_plain(deep)
    for dummy in range(plain.MAX_DEPTH):
        converted = converted[0]
    assert converted is plain.TOO_DEEP


def test_alias_bombs_are_bounded():
    text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for level in range(1, 9):
        text += "l%d: &l%d [%s]\n" % (level, level, ", ".join(["*" + ("a" if level == 1 else "l%d" % (level - 1))] * 10))
    bomb = yaml.safe_load(text)
    assert plain.to_plain(bomb) is plain.TOO_BIG  # 10^9 values once expanded
    host = base_host()
    host["ai_backend_routing"]["extra"] = bomb
    errors = errors_of({"gw": host})
    assert [p.path for p in errors] == ["host_vars[gw].ai_backend_routing.extra"]


def test_two_hosts_on_loopback_render_the_same_api_base():
    hosts = {"gw": base_host(), "gpu1": base_host()}
    errors = errors_of(hosts, gateway_hosts=["gw"])
    assert len(errors) == 1
    problem = errors[0]
    assert problem.code == "address"
    assert "hosts gpu1 and gw both render api_base http://127.0.0.1:11434" in problem.message
    assert "ai_backend_advertise_address" in problem.hint and "gpu1" in problem.hint
    hosts["gpu1"]["ai_backend_advertise_address"] = "10.0.0.2"
    assert errors_of(hosts, gateway_hosts=["gw"]) == []


@pytest.mark.parametrize("listen", ["0.0.0.0", "::"])
def test_a_wildcard_listen_address_needs_an_advertise_address(listen):
    host = base_host()
    host["ai_backend_listen_address"] = listen
    errors = errors_of({"gw": host})
    assert [(p.code, p.path) for p in errors] == [("address", "host_vars[gw].ai_backend_listen_address")]
    assert "set ai_backend_advertise_address" in errors[0].hint
    host["ai_backend_advertise_address"] = "10.0.0.1"
    assert errors_of({"gw": host}) == []


@pytest.mark.parametrize("listen", ["10.0.0.7", "192.0.2.11", "fd00::7", "gpu1.example.internal"])
def test_a_specific_address_beyond_loopback_needs_an_advertise_address(listen):
    host = base_host()
    host["ai_backend_listen_address"] = listen
    errors = errors_of({"gw": host})
    assert [(p.code, p.path, p.value) for p in errors] == [("address", "host_vars[gw].ai_backend_advertise_address",
                                                            None)]
    assert listen in errors[0].message and "beyond loopback" in errors[0].message
    assert "set ai_backend_advertise_address: %s in host_vars/gw" % listen in errors[0].hint
    host["ai_backend_advertise_address"] = listen
    assert errors_of({"gw": host}) == []


@pytest.mark.parametrize("listen", ["127.0.0.1", "127.0.100.1", "::1", "localhost"])
def test_a_loopback_listen_address_needs_no_advertise_address(listen):
    host = base_host()
    host["ai_backend_listen_address"] = listen
    assert errors_of({"gw": host}) == []


@pytest.mark.parametrize("left,right", [
    ("qwen2.5-coder-7b", "qwen25-coder-7b"), ("llama3.1-8b", "lama3.1-8b"), ("qwen2.5-coder", "qwen2.5-codr"),
    ("qwen2.5-coder", "qwen2.5coder"), ("Llama3.1-8b", "llama3.1-8b"), ("mistral-nemo:12b", "mistral-nemmo:12b"),
])
def test_real_typos_are_found(left, right):
    names = [e["name"] for e in catalogue(2000)] + [left, right]
    assert (min(left, right), max(left, right)) in similar.similar_pairs(names)


@pytest.mark.parametrize("left,right", [
    ("qwen-7b", "qwen-8b"), ("gpt-oss:20b", "gpt-oss:120b"), ("phi3-mini", "phi3.5-mini"),
    ("llama3.1-8b-q4_k_m", "llama3.1-8b-q4_k_s"), ("mixtral-8x7b", "mixtral-8x22b"), ("m-fp16", "m-bf16"),
    ("mistral-7b-instruct-v0.2", "mistral-7b-instruct-v0.3"), ("model-00001", "model-00002"),
])
def test_sizes_quantisations_and_versions_are_not_typos(left, right):
    assert similar.similar_pairs([left, right]) == []


def test_a_realistic_catalogue_has_no_false_alarm():
    assert similar.similar_pairs([e["name"] for e in catalogue(20000)]) == []


def test_similar_names_reports_are_capped():
    names = ["family%03d-coder" % i for i in range(200)] + ["family%03d-codr" % i for i in range(200)]
    pairs = similar.similar_pairs(names)
    assert len(pairs) == 200
    host = {"ai_backend_providers": {"o": {"type": "ollama", "port": 11434,
                                           "models": [{"name": n} for n in names]}},
            "ai_backend_routing": {"default_fallbacks": [names[0]]}}
    warnings = [p for p in registry.validate_inventory({"gw": host})[1] if p.code == "similar-names"]
    assert len(warnings) == 51 and any("150 more pairs" in p.message for p in warnings)
