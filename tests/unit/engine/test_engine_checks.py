# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every numbered check of issue 2: at least one failing and one passing case,
asserting the variable path and the text of the message."""

import os

import pytest

from engine_import import REPO, base_host, registry, secrets_mod


def run(hosts, **kwargs):
    """The errors of validate_inventory (warnings are tested through build_gateway_config)."""
    return registry.validate_inventory(hosts, **kwargs)[0]


def one(problems, code):
    found = [p for p in problems if p.code == code]
    assert len(found) == 1, "expected one %s, got %r" % (code, problems)
    return found[0]


def assert_clean(hosts, **kwargs):
    errors = run(hosts, **kwargs)
    assert errors == [], "\n".join(p.render() for p in errors)
    registry.build_gateway_config(hosts, **kwargs)  # and it renders


# -- 1. unknown keys at any depth, with "did you mean" ---------------------------------------
@pytest.mark.parametrize("where, key, path, suggestion", [
    (lambda h: h, "ai_backend_routng", "host_vars[gw].ai_backend_routng", "ai_backend_routing"),
    (lambda h: h["ai_backend_routing"], "fallback", "host_vars[gw].ai_backend_routing.fallback", "fallbacks"),
    (lambda h: h["ai_backend_providers"]["ollama_main"], "prot", "host_vars[gw].ai_backend_providers.ollama_main.prot",
     "port"),
    (lambda h: h["ai_backend_providers"]["ollama_main"]["models"][0], "contxt_length",
     "host_vars[gw].ai_backend_providers.ollama_main.models[0].contxt_length", "context_length"),
])
def test_unknown_key_is_an_error_with_a_suggestion(where, key, path, suggestion):
    host = base_host()
    where(host)[key] = 1
    errors = run({"gw": host})
    problem = one(errors, "unknown-key")
    assert problem.path == path
    assert "unknown key '%s'" % key in problem.message
    assert "did you mean '%s'?" % suggestion in problem.hint


def test_wishful_condition_from_the_original_is_rejected():
    host = base_host()
    host["ai_backend_routing"]["fallbacks"] = {"qwen2.5-coder": ["llama3.1-8b"]}
    host["ai_backend_routing"]["request_metadata_routing"] = {
        "high_priority_requests": {"condition": 'header.x-priority == "high"'}}
    errors = run({"gw": host})
    problem = one(errors, "unknown-key")
    assert problem.path == "host_vars[gw].ai_backend_routing.request_metadata_routing"
    assert "silently ignored" in problem.message


def test_known_keys_pass():
    assert_clean({"gw": base_host()})


# -- 2. ports ---------------------------------------------------------------------------------
@pytest.mark.parametrize("value, text", [
    (0, "port 0 is out of range (1-65535)"),
    (70000, "port 70000 is out of range (1-65535)"),
    ("CUSTOM_PORT", "port is a placeholder or not a number"),
    ("{{ port }}", "port is a placeholder or not a number"),
    ("8080", "port is a quoted string, not a number"),
    (True, "port must be an integer"),
])
def test_bad_port(value, text):
    host = base_host()
    host["ai_backend_providers"]["ollama_main"]["port"] = value
    errors = run({"gw": host})
    problem = one(errors, "port")
    assert problem.path == "host_vars[gw].ai_backend_providers.ollama_main.port"
    assert text in problem.message
    assert "between 1 and 65535" in problem.hint


def test_two_providers_on_one_port():
    host = base_host()
    host["ai_backend_providers"]["llama_tiny"] = {
        "type": "llama_cpp", "port": 11434, "models": [{"name": "tiny", "gguf": {"path": "/m/tiny.gguf"}}]}
    errors = run({"gw": host})
    problem = one(errors, "port-conflict")
    assert problem.path == "host_vars[gw].ai_backend_providers.ollama_main.port"
    assert "port 11434 on host gw is already used by provider 'llama_tiny' (llama_cpp)" in problem.message


def test_provider_on_the_gateway_port_and_redis_port():
    host = base_host()
    host["ai_backend_providers"]["ollama_main"]["port"] = 4000
    errors = run({"gw": host})
    assert one(errors, "port-conflict").message.startswith("port 4000 on host gw is already used by the LiteLLM gateway")
    host["ai_backend_providers"]["ollama_main"]["port"] = 6379
    errors = run({"gw": host})
    problem = one(errors, "port-conflict")
    assert "already used by Redis (host_vars[gw].ai_backend_redis.port)" in problem.message


def test_same_port_on_different_hosts_and_disabled_providers_is_fine():
    other = base_host()
    other["ai_backend_listen_address"] = "127.0.2.1"
    other["ai_backend_providers"]["spare"] = {"type": "ollama", "enabled": False, "port": 11434,
                                              "models": [{"name": "spare-model"}]}
    hosts = {"gw": base_host(), "gpu1": other}
    errors = run(hosts, gateway_hosts=["gw"])
    assert errors == []
    registry.build_gateway_config(hosts, gateway_host="gw")


# -- 3. references ----------------------------------------------------------------------------
def test_fallback_to_unknown_model_suggests_the_nearest():
    host = base_host()
    host["ai_backend_routing"]["fallbacks"]["qwen2.5-coder"] = ["llama3.1-8"]
    errors = run({"gw": host})
    problem = one(errors, "reference")
    assert problem.path == 'host_vars[gw].ai_backend_routing.fallbacks["qwen2.5-coder"][0]'
    assert problem.message == "fallback target 'llama3.1-8' is not a model of any enabled provider"
    assert "did you mean 'llama3.1-8b'?" in problem.hint


def test_fallback_to_a_provider_name_like_the_original_is_rejected(lab):
    lab["lab"]["ai_backend_routing"]["context_window_fallbacks"]["llama-cpp-default"] = ["llama_cpp_python"]
    errors = run(lab)
    problem = one(errors, "reference")
    assert problem.path == "host_vars[lab].ai_backend_routing.context_window_fallbacks.llama-cpp-default[0]"
    assert "'llama_cpp_python' is not a model of any enabled provider" in problem.message


def test_reference_to_a_disabled_provider_names_it(lab):
    lab["lab"]["ai_backend_routing"]["default_fallbacks"].append("dolphin-vllm")
    errors = run(lab)
    problem = one(errors, "reference")
    assert problem.path == "host_vars[lab].ai_backend_routing.default_fallbacks[5]"
    assert problem.message == "default fallback 'dolphin-vllm' is served only by disabled provider vllm_dolphin on host lab"


def test_alias_must_point_at_one_enabled_model():
    host = base_host()
    host["ai_backend_routing"]["aliases"] = {"code": "qwen-coder"}
    errors = run({"gw": host})
    problem = one(errors, "reference")
    assert problem.path == "host_vars[gw].ai_backend_routing.aliases.code"
    assert "alias target 'qwen-coder' is not a model" in problem.message
    host["ai_backend_routing"]["aliases"] = {"code": ["qwen2.5-coder"]}
    errors = run({"gw": host})
    problem = one(errors, "schema")
    assert problem.path == "host_vars[gw].ai_backend_routing.aliases.code"
    assert problem.message == "expected a string, got a list"


def test_alias_may_not_hide_a_model():
    host = base_host()
    host["ai_backend_routing"]["aliases"] = {"llama3.1-8b": "qwen2.5-coder"}
    errors = run({"gw": host})
    assert "same name as a served model" in one(errors, "reference").message


def test_resolved_references_pass(lab):
    assert_clean(lab)


# -- 4. fallback graph ------------------------------------------------------------------------
def test_fallback_cycle_prints_the_path():
    host = base_host()
    host["ai_backend_providers"]["ollama_main"]["models"].append({"name": "mistral-7b"})
    host["ai_backend_routing"]["fallbacks"] = {
        "llama3.1-8b": ["qwen2.5-coder"], "qwen2.5-coder": ["mistral-7b"], "mistral-7b": ["llama3.1-8b"]}
    errors = run({"gw": host})
    problem = one(errors, "fallback-cycle")
    assert problem.message == "fallback cycle: llama3.1-8b -> qwen2.5-coder -> mistral-7b -> llama3.1-8b"
    assert problem.path == 'host_vars[gw].ai_backend_routing.fallbacks["llama3.1-8b"][0]'


def test_fallback_to_itself():
    host = base_host()
    host["ai_backend_routing"]["fallbacks"] = {"qwen2.5-coder": ["llama3.1-8b", "qwen2.5-coder"]}
    errors = run({"gw": host})
    problem = one(errors, "fallback-self")
    assert problem.path == 'host_vars[gw].ai_backend_routing.fallbacks["qwen2.5-coder"][1]'
    assert problem.message == "model 'qwen2.5-coder' falls back to itself"


def test_duplicate_fallback():
    host = base_host()
    host["ai_backend_routing"]["fallbacks"] = {"qwen2.5-coder": ["llama3.1-8b", "llama3.1-8b"]}
    host["ai_backend_routing"]["default_fallbacks"] = ["qwen2.5-coder", "qwen2.5-coder"]
    errors = run({"gw": host})
    found = sorted((p.path, p.message) for p in errors if p.code == "fallback-duplicate")
    assert found == [
        ('host_vars[gw].ai_backend_routing.default_fallbacks[1]', "'qwen2.5-coder' appears twice in default_fallbacks"),
        ('host_vars[gw].ai_backend_routing.fallbacks["qwen2.5-coder"][1]',
         "'llama3.1-8b' appears twice in the fallbacks of 'qwen2.5-coder'"),
    ]


def test_chain_without_cycle_passes(lab):
    errors = run(lab)
    assert not [p for p in errors if p.code.startswith("fallback")]


# -- 5. duplicate model names -----------------------------------------------------------------
def test_same_name_twice_on_one_host():
    host = base_host()
    host["ai_backend_providers"]["vllm_coder"] = {"type": "vllm", "port": 8001, "gpus": [0],
                                                  "models": [{"name": "qwen2.5-coder"}]}
    errors = run({"gw": host})
    problem = one(errors, "duplicate-model")
    assert problem.path == "host_vars[gw].ai_backend_providers.vllm_coder.models[0].name"
    assert problem.message == ("model 'qwen2.5-coder' is already served by provider 'ollama_main' on host gw "
                               "(host_vars[gw].ai_backend_providers.ollama_main.models[1].name)")


def test_same_name_on_two_hosts_is_one_load_balanced_group():
    gw, gpu1 = base_host(), base_host()
    gpu1["ai_backend_listen_address"] = "127.0.1.2"
    result = registry.build_gateway_config({"gw": gw, "gpu1": gpu1}, gateway_host="gw")
    bases = sorted(d["litellm_params"]["api_base"] for d in result.config["model_list"]
                   if d["model_name"] == "llama3.1-8b")
    assert bases == ["http://127.0.0.1:11434", "http://127.0.1.2:11434"]
    assert result.model_groups == ["llama3.1-8b", "qwen2.5-coder"]


# -- 6. GPU budget ----------------------------------------------------------------------------
def _vllm(port, gpus, share, name):
    provider = {"type": "vllm", "port": port, "gpu_memory_utilization": share, "models": [{"name": name}]}
    if gpus is not None:
        provider["gpus"] = gpus
    return provider


def test_shared_gpu_over_budget():
    host = base_host()
    host["ai_backend_providers"].update(vllm_a=_vllm(8001, [0], 0.5, "a-coder"),
                                        vllm_b=_vllm(8002, [0, 1], 0.5, "b-chat"))
    errors = run({"gw": host})
    problem = one(errors, "gpu-budget")
    assert problem.path == "host_vars[gw].ai_backend_providers.vllm_b.gpu_memory_utilization"
    assert problem.message == "GPU 0 on host gw is over budget: vllm_a 0.5 + vllm_b 0.5 = 1.0 > ceiling 0.95"


def test_shared_gpu_within_budget_and_custom_ceiling():
    host = base_host()
    host["ai_backend_providers"].update(vllm_a=_vllm(8001, [0], 0.45, "a-coder"),
                                        vllm_b=_vllm(8002, [0], 0.45, "b-chat"))
    assert_clean({"gw": host})
    host["ai_backend_gpu_memory_ceiling"] = 0.8
    errors = run({"gw": host})
    assert "> ceiling 0.8" in one(errors, "gpu-budget").message


def test_vllm_without_gpus_next_to_another_vllm():
    host = base_host()
    host["ai_backend_providers"].update(vllm_a=_vllm(8001, [0], 0.4, "a-coder"),
                                        vllm_b=_vllm(8002, None, 0.4, "b-chat"))
    errors = run({"gw": host})
    problem = one(errors, "gpu-unassigned")
    assert problem.path == "host_vars[gw].ai_backend_providers.vllm_b.gpus"
    assert "runs 2 vLLM instances but 'vllm_b' has no GPUs assigned" in problem.message


def test_single_vllm_without_gpus_is_fine():
    host = base_host()
    host["ai_backend_providers"]["vllm_a"] = _vllm(8001, None, 0.9, "a-coder")
    assert_clean({"gw": host})


# -- 7. secrets -------------------------------------------------------------------------------
def test_literal_api_key_in_the_registry_is_redacted():
    host = base_host()
    host["ai_backend_providers"]["cloud"] = {"type": "ollama_cloud", "base_url": "https://ollama.com",
                                             "api_key": "sk-live-abcdef0123456789", "api_key_env": "OLLAMA_API_KEY",
                                             "models": [{"name": "gpt-oss-120b"}]}
    errors = run({"gw": host})
    problem = one(errors, "secret")
    assert problem.path == "host_vars[gw].ai_backend_providers.cloud.api_key"
    assert "literal secret 'api_key'" in problem.message
    assert "api_key_env" in problem.hint
    report = str(registry.RegistryError(errors))
    assert "sk-live" not in report and "<redacted: sk-l... 24 characters>" in report


def test_secret_value_in_an_env_name_field():
    host = base_host()
    host["ai_backend_gateway"] = {"master_key_env": "sk-1234567890abcdef1234567890abcdef"}
    errors = run({"gw": host})
    problem = one(errors, "secret")
    assert problem.path == "host_vars[gw].ai_backend_gateway.master_key_env"
    assert problem.message == "value looks like a literal API key or token"
    assert problem.value == "<redacted: sk-1... 35 characters>"


@pytest.mark.parametrize("value", [
    "AKIAIOSFODNN7EXAMPLE",                       # AWS access key id: fits the env-name pattern
    "ASIAY34FZKBOKMUTVV7A",
    "Bearer abcdefghijklmnop1234",
    "-----BEGIN PRIVATE KEY-----",
    "sk-proj-0123456789abcdef",
    "Zx9Qm2Lk8Vb4Nc7Hd1Jf6Gs3Ta5Yw0Re9Up2Io4",    # a long random token of no known vendor
])
@pytest.mark.parametrize("field", [("ai_backend_gateway", "master_key_env"), ("ai_backend_redis", "password_env")])
def test_secret_shapes_are_refused_in_env_fields_and_masked(value, field):
    host = base_host()
    host[field[0]] = {field[1]: value}
    errors = run({"gw": host})
    problem = one(errors, "secret")
    assert problem.path == "host_vars[gw].%s.%s" % field
    report = str(registry.RegistryError(errors))
    assert value not in report and value[5:] not in report
    assert problem.value.startswith("<redacted")


@pytest.mark.parametrize("value", ["OLLAMA_API_KEY", "OPENAI_COMPATIBLE_PROVIDER_API_KEY_FOR_THE_LAB",
                                   "Qwen/Qwen2.5-Coder-32B-Instruct-GGUF", "0" * 64])
def test_ordinary_values_are_not_taken_for_secrets(value):
    assert not secrets_mod.looks_like_secret(value)


def test_no_catalogue_value_is_taken_for_a_secret_but_random_tokens_mostly_are():
    import random
    import string
    import sys
    sys.path.insert(0, os.path.join(REPO, "bench"))
    from catalogue import catalogue
    flagged = set(value for entry in catalogue(62720) for value in entry.values()
                  if isinstance(value, str) and secrets_mod.looks_like_secret(value))
    assert flagged == set()
    for extra in ("meta-llama/Llama-3.1-405B-Instruct-FP8-dynamic-2024", "unsloth/Meta-Llama-3.1-8B-Instruct-bnb-4bit",
                  "hf.co/bartowski/Qwen2.5-Coder-32B-Instruct-GGUF:Q4_K_M"):
        assert not secrets_mod.looks_like_secret(extra), extra
    rng = random.Random(7)
    tokens = ["".join(rng.choice(string.ascii_letters + string.digits) for dummy in range(40)) for dummy2 in range(500)]
    # A heuristic: a token without 4 digits or without both cases passes; most random ones do not.
    assert sum(map(secrets_mod.looks_like_secret, tokens)) > 400


def test_credentials_in_a_url():
    host = base_host()
    host["ai_backend_providers"]["remote"] = {"type": "openai_compatible", "api_key_env": "REMOTE_KEY",
                                              "base_url": "https://user:hunter2@llm.example.org/v1",
                                              "models": [{"name": "remote-model"}]}
    errors = run({"gw": host})
    problems = [p for p in errors if p.path == "host_vars[gw].ai_backend_providers.remote.base_url"]
    assert any(p.code == "secret" and "URL carries credentials" in p.message for p in problems)
    assert "hunter2" not in str(registry.RegistryError(errors))


def test_env_var_names_pass():
    host = base_host()
    host["ai_backend_gateway"] = {"master_key_env": "LITELLM_MASTER_KEY"}
    host["ai_backend_redis"] = {"password_env": "REDIS_PASSWORD"}
    assert_clean({"gw": host})


@pytest.mark.parametrize("value, text", [
    (None, "the LiteLLM master key is not set"),
    ("sk-1234", "the master key has 7 characters; at least 32 needed"),
    ("0123456789abcdef0123456789abcdef0123", "the master key must start with 'sk-'"),
])
def test_weak_master_key(value, text):
    problems = secrets_mod.check_master_key(value)
    assert any(p.message == text and p.path == "litellm_master_key" for p in problems)
    with pytest.raises(registry.RegistryError) as err:
        registry.build_gateway_config({"gw": base_host()}, master_key=value or "")
    assert text.split(";")[0] in str(err.value)
    if value:
        assert value not in str(err.value)


def test_strong_master_key_passes():
    assert secrets_mod.check_master_key("sk-" + "a1b2c3d4" * 4) == []
    registry.build_gateway_config({"gw": base_host()}, master_key="sk-" + "a1b2c3d4" * 4)


# -- 8. routing strategy ----------------------------------------------------------------------
def test_unsupported_routing_strategy():
    host = base_host()
    host["ai_backend_routing"]["strategy"] = "least_loaded"  # the original's wishful strategy
    errors = run({"gw": host})
    problem = one(errors, "routing-strategy")
    assert problem.path == "host_vars[gw].ai_backend_routing.strategy"
    assert problem.message == "routing strategy 'least_loaded' is not one LiteLLM 1.108.7 supports"
    assert "use one of: simple-shuffle, least-busy" in problem.hint
    host["ai_backend_routing"]["strategy"] = "least_busy"
    errors = run({"gw": host})
    assert "did you mean 'least-busy'?" in one(errors, "routing-strategy").hint


@pytest.mark.parametrize("strategy", ["simple-shuffle", "least-busy", "usage-based-routing-v2",
                                      "latency-based-routing"])
def test_supported_routing_strategy(strategy):
    host = base_host()
    host["ai_backend_routing"]["strategy"] = strategy
    result = registry.build_gateway_config({"gw": host})
    assert result.config["router_settings"]["routing_strategy"] == strategy


# -- warnings ---------------------------------------------------------------------------------
def test_model_without_fallback_is_a_warning_not_an_error():
    host = base_host()
    del host["ai_backend_routing"]["default_fallbacks"]
    result = registry.build_gateway_config({"gw": host})
    assert result.warnings == [
        "host_vars[gw].ai_backend_providers.ollama_main.models[0].name: model 'llama3.1-8b' has no fallback: "
        "when it fails, requests fail (fix: add ai_backend_routing.fallbacks['llama3.1-8b'] or "
        "ai_backend_routing.default_fallbacks)"]


def test_similar_names_warn_but_sizes_do_not():
    host = base_host()
    host["ai_backend_providers"]["ollama_main"]["models"].append({"name": "qwen2.5-codr"})
    host["ai_backend_providers"]["ollama_main"]["models"].append({"name": "llama3.1-70b"})
    host["ai_backend_routing"]["default_fallbacks"] = ["llama3.1-8b"]
    result = registry.build_gateway_config({"gw": host})
    similar = [p for p in result.warning_problems if p.code == "similar-names"]
    assert [p.message for p in similar] == [
        "model names 'qwen2.5-coder' and 'qwen2.5-codr' differ by at most 2 characters: a typo?"]
    assert similar[0].path == "host_vars[gw].ai_backend_providers.ollama_main.models[2].name"


# -- hosts ------------------------------------------------------------------------------------
def test_unknown_gateway_host():
    errors = run({"gw": base_host()}, gateway_hosts=["gateway"])
    problem = one(errors, "host")
    assert problem.path == "gateway_host"
    assert problem.message == "host 'gateway' is not in the registry (known: gw)"


@pytest.mark.parametrize("hosts", [None, [], "gw", {"gw": "not a mapping"}, {}])
def test_garbage_in_gives_problems_not_tracebacks(hosts):
    errors = run(hosts)
    assert errors and all(p.path for p in errors)


def test_gateway_without_models_is_a_warning():
    result = registry.build_gateway_config({"gw": {}, "gpu1": base_host()}, gateway_host="gw", inference_hosts=[])
    assert result.config["model_list"] == []
    assert [p.code for p in result.warning_problems] == ["no-models"]
    assert result.warning_problems[0].message.startswith("gateway gw has no model to serve")


def test_reference_to_a_model_on_a_host_outside_the_inference_group():
    gw = base_host()
    gw["ai_backend_routing"]["fallbacks"]["qwen2.5-coder"] = ["mistral-7b"]
    gpu9 = {"ai_backend_providers": {"o": {"type": "ollama", "port": 11434, "models": [{"name": "mistral-7b"}]}}}
    errors = run({"gw": gw, "gpu9": gpu9}, gateway_hosts=["gw"], inference_hosts=["gw"])
    problem = one(errors, "reference")
    assert problem.message == ("fallback target 'mistral-7b' is served only by host(s) gpu9, which are not "
                               "inference hosts of this gateway")


def test_a_secret_nested_in_an_unknown_mapping_is_redacted():
    host = base_host()
    host["ai_backend_routing"]["extra"] = {"headers": {"Authorization": "Bearer abcdef0123456789"}}
    errors = run({"gw": host})
    report = str(registry.RegistryError(errors))
    assert "abcdef0123456789" not in report
    assert any(p.path == "host_vars[gw].ai_backend_routing.extra" and p.value == "<redacted>" for p in errors)
