# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The escape hatches (extra_args, extra_env, extra_settings) and the metrics settings
every rendered config carries: what is added, and what is refused with its path."""

import copy

import pytest

from engine_import import registry

LLAMA = {"type": "llama_cpp", "port": 8080, "models": [{"name": "tiny", "gguf": {"path": "/srv/tiny.gguf"}}]}
VLLM = {"type": "vllm", "port": 8000, "gpus": [0], "models": [{"name": "coder", "source": "Qwen/Qwen2.5-Coder"}]}


def host(**extra):
    base = {"ai_backend_providers": {"tiny": copy.deepcopy(LLAMA), "coder": copy.deepcopy(VLLM)}}
    for key, value in extra.items():
        if key in ("tiny", "coder"):
            base["ai_backend_providers"][key].update(value)
        else:
            base[key] = value
    return {"gw": base}


def errors_of(hosts):
    errors, dummy = registry.validate_inventory(hosts, gateway_hosts=["gw"], inference_hosts=["gw"])
    return [(p.path, p.code, p.message, p.hint) for p in errors]


def test_valid_extras_pass_and_settings_are_merged():
    hosts = host(tiny={"extra_args": ["--flash-attn", "on", "--cache-type-k=q8_0"],
                       "extra_env": {"GGML_CUDA_ENABLE_UNIFIED_MEMORY": 1}},
                 coder={"extra_args": ["--enable-prefix-caching"], "extra_env": {"VLLM_ATTENTION_BACKEND": "FLASHINFER"}},
                 ai_backend_gateway={"extra_settings": {
                     "litellm_settings": {"drop_params": True},
                     "router_settings": {"retry_after": 2},
                     "general_settings": {"database_url": "os.environ/DATABASE_URL"}}})
    assert errors_of(hosts) == []
    config = registry.build_gateway_config(hosts, gateway_host="gw").config
    assert config["litellm_settings"]["drop_params"] is True
    assert config["litellm_settings"]["callbacks"] == ["prometheus"]
    assert config["router_settings"]["retry_after"] == 2
    assert config["router_settings"]["num_retries"] == 2
    assert config["general_settings"] == {"master_key": "os.environ/LITELLM_MASTER_KEY",
                                          "database_url": "os.environ/DATABASE_URL"}


def test_every_config_has_bounded_prometheus_labels():
    settings = registry.build_gateway_config(host(), gateway_host="gw").config["litellm_settings"]
    assert settings["require_auth_for_metrics_endpoint"] is True
    assert {"hashed_api_key", "end_user", "user", "team", "client_ip", "user_agent"} <= set(
        settings["prometheus_exclude_labels"])
    assert settings["prometheus_metrics_max_series_per_metric"] == 10000
    assert "cache" not in settings  # the cache is off in this registry


@pytest.mark.parametrize("provider,change,path,needle", [
    ("tiny", {"extra_args": ["--port=9"]}, "tiny.extra_args[0]", "registry key 'port'"),
    ("tiny", {"extra_args": ["-c", "4096"]}, "tiny.extra_args[0]", "registry key 'context_size'"),
    ("tiny", {"extra_args": ["--metrics"]}, "tiny.extra_args[0]", "the role always sets it"),
    ("coder", {"extra_args": ["-tp", "2"]}, "coder.extra_args[0]", "registry key 'tensor_parallel_size'"),
    ("coder", {"extra_args": ["--api-key", "x"]}, "coder.extra_args[0]", "registry key 'api_key_env'"),
    ("tiny", {"extra_env": {"LLAMA_ARG_PORT": "9"}}, "tiny.extra_env.LLAMA_ARG_PORT", "remove it"),
    ("coder", {"extra_env": {"CUDA_VISIBLE_DEVICES": "1"}}, "coder.extra_env.CUDA_VISIBLE_DEVICES", "remove it"),
    ("coder", {"extra_env": {"AIB_VLLM_ARGS": "x"}}, "coder.extra_env.AIB_VLLM_ARGS", "remove it"),
    ("coder", {"extra_env": {"HF_TOKEN": "later"}}, "coder.extra_env.HF_TOKEN", "vllm_environment"),
    ("tiny", {"extra_args": ["--flag value"]}, "tiny.extra_args[0]", "pattern"),
    ("tiny", {"extra_args": ["$HOME"]}, "tiny.extra_args[0]", "pattern"),
    ("tiny", {"extra_env": {"X": "a\nb"}}, "tiny.extra_env.X", "pattern"),
    ("tiny", {"extra_env": {"X": True}}, "tiny.extra_env.X", "expected"),
    ("tiny", {"extra_env": {"lower": "1"}}, "tiny.extra_env.lower", "valid name"),
])
def test_owned_or_unsafe_extras_are_refused_with_their_path(provider, change, path, needle):
    found = errors_of(host(**{provider: change}))
    wanted = "host_vars[gw].ai_backend_providers." + path
    assert any(p == wanted and (needle in message or needle in hint) for p, dummy, message, hint in found), found


def test_ollama_takes_no_extras():
    hosts = {"gw": {"ai_backend_providers": {"chat": {"type": "ollama", "port": 11434, "models": [{"name": "m"}],
                                                      "extra_args": ["--x"]}}}}
    assert [(p, c) for p, c, dummy_m, dummy_h in errors_of(hosts)] == [
        ("host_vars[gw].ai_backend_providers.chat.extra_args", "unknown-key")]


@pytest.mark.parametrize("section,key,value,needle", [
    ("general_settings", "master_key", "os.environ/OTHER", "ai_backend_gateway.master_key_env"),
    ("router_settings", "fallbacks", [], "ai_backend_routing.fallbacks"),
    ("router_settings", "redis_host", "10.0.0.1", "ai_backend_redis.host"),
    ("litellm_settings", "callbacks", ["langfuse"], "the gateway's metrics settings"),
    ("litellm_settings", "cache", False, "ai_backend_routing.cache"),
])
def test_settings_the_registry_owns_are_refused(section, key, value, needle):
    hosts = host(ai_backend_gateway={"extra_settings": {section: {key: value}}})
    found = errors_of(hosts)
    wanted = "host_vars[gw].ai_backend_gateway.extra_settings.%s.%s" % (section, key)
    assert any(p == wanted and needle in hint for p, dummy, dummy_m, hint in found), found
    with pytest.raises(registry.RegistryError):
        registry.build_gateway_config(hosts, gateway_host="gw")


@pytest.mark.parametrize("settings", [
    {"general_settings": {"database_url": "postgresql://app:hunter2hunter2@db/litellm"}},
    {"litellm_settings": {"langfuse_secret_key": "sk-lf-0123456789abcdef"}},
    {"litellm_settings": {"callback_settings": {"otel": {"api_key": "abc123abc123"}}}},
])
def test_literal_secrets_in_settings_are_refused_and_never_shown(settings):
    found = errors_of(host(ai_backend_gateway={"extra_settings": settings}))
    assert [code for dummy, code, dummy_m, dummy_h in found] == ["secret"], found
    errors, dummy = registry.validate_inventory(host(ai_backend_gateway={"extra_settings": settings}),
                                                gateway_hosts=["gw"], inference_hosts=["gw"])
    assert "hunter2" not in errors[0].render() and "0123456789abcdef" not in errors[0].render()
