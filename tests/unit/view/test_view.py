# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The registry view (plugins/module_utils/view.py), called directly: defaults
applied from the schema, roles per host, gateway facts, topology and secret
findings, and bad input that is reported, never raised."""

import json
import os
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.gathewhy.ai_backend.plugins.module_utils import view as view_mod

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "bench"))
from catalogue import catalogue  # noqa: E402  (bench/ is not a package)

GW = {
    "ai_backend_gateway": {"port": 4100},
    "ai_backend_routing": {"cache": {"enabled": True}},
    "ai_backend_providers": {
        "cloud": {"type": "openai_compatible", "base_url": "https://api.example.com/v1",
                  "api_key_env": "EXAMPLE_API_KEY", "models": [{"name": "cloud-chat", "source": "gpt-x"}]}},
}
GPU = {
    "ai_backend_listen_address": "0.0.0.0",
    "ai_backend_advertise_address": "10.0.0.7",
    "ai_backend_providers": {
        "coder": {"type": "vllm", "port": 8001, "gpus": [0], "api_key_env": "VLLM_CODER_KEY",
                  "models": [{"name": "qwen-coder", "source": "Qwen/Qwen2.5-Coder-7B-Instruct"}]},
        "chat": {"type": "ollama", "port": 11434, "models": [{"name": "llama3.1-8b", "source": "llama3.1:8b"}]},
        "off": {"type": "llama_cpp", "enabled": False, "port": 8080,
                "models": [{"name": "tiny", "gguf": {"path": "/srv/tiny.gguf"}}]},
    },
}
GROUPS = {"all": ["gw", "gpu1"], "ungrouped": [], "ai_backend_gateway": ["gw"], "ai_backend_inference": ["gpu1"]}
SECRETS = {("gw", "litellm_master_key", None), ("gw", "redis_password", None),
           ("gw", "litellm_provider_secrets", "EXAMPLE_API_KEY"), ("gw", "litellm_provider_secrets", "VLLM_CODER_KEY"),
           ("gpu1", "vllm_api_keys", "VLLM_CODER_KEY")}


def all_set(host, var, key=None):
    return "set" if (host, var, key) in SECRETS else "undefined"


def build(registries=None, groups=None, secret_state=all_set, **kwargs):
    registries = registries if registries is not None else {"gw": GW, "gpu1": GPU}
    return view_mod.build_view(json.loads(json.dumps(registries)), groups or GROUPS, secret_state, **kwargs)


def test_defaults_come_from_the_schema_and_are_applied():
    view = build()
    assert view["ok"], view["report"]
    gpu = view["hosts"]["gpu1"]
    coder = gpu["providers"]["vllm"]["coder"]
    assert coder["gpu_memory_utilization"] == 0.9 and coder["enabled"] is True
    assert gpu["gpu_memory_ceiling"] == 0.95
    # A wildcard bind is probed on loopback; the gateway uses the advertised address.
    assert coder["health_url"] == "http://10.0.0.7:8001/health"
    assert coder["probe_url"] == "http://127.0.0.1:8001/health"
    assert gpu["providers"]["ollama"]["chat"]["health_url"] == "http://10.0.0.7:11434/api/version"
    # A disabled provider is not in the view and runs no role.
    assert "llama_cpp" not in gpu["providers"] and gpu["roles"] == ["ollama", "vllm"]
    gateway = view["gateways"]["gw"]
    assert (gateway["listen_address"], gateway["port"], gateway["master_key_env"]) == ("127.0.0.1", 4100,
                                                                                       "LITELLM_MASTER_KEY")
    assert (gateway["redis"]["host"], gateway["redis"]["port"], gateway["redis"]["runs_on"]) == ("127.0.0.1", 6379, "gw")
    assert gateway["routing"]["cache"] == {"enabled": True, "ttl": 300}
    assert gateway["routing"]["strategy"] == "simple-shuffle"
    assert view["hosts"]["gw"]["roles"] == ["redis", "litellm"]


def test_model_groups_carry_each_deployment_as_the_engine_renders_it():
    view = build()
    groups = view["model_groups"]
    assert groups == {"llama3.1-8b": ["gpu1/chat"], "qwen-coder": ["gpu1/coder"]}
    # A deployment's details are its provider's, in the host's view.
    coder = view["hosts"]["gpu1"]["providers"]["vllm"]["coder"]
    assert (coder["url"], coder["api_key_env"], coder["model_count"]) == ("http://10.0.0.7:8001", "VLLM_CODER_KEY", 1)
    # A provider's models stay out of the view (seconds of Ansible time at scale).
    assert "models" not in coder
    # Every gateway routes the same groups: they are in the view once, not per gateway.
    assert "model_groups" not in view["gateways"]["gw"]
    # A provider's models stay out of the view (seconds of Ansible time at scale); their count is there.
    assert "models" not in view["hosts"]["gpu1"]["providers"]["vllm"]["coder"]
    assert view["hosts"]["gpu1"]["providers"]["vllm"]["coder"]["model_count"] == 1
    # gw is no inference host: its remote provider is not served.
    assert view["summary"] == ("ai_backend validate: 2 hosts, 1 gateways, 1 inference hosts, 2 model groups, "
                               "%d warnings" % len(view["warnings"]))
    assert [b["health_url"] for b in view["backends"]] == ["http://10.0.0.7:11434/api/version",
                                                           "http://10.0.0.7:8001/health"]


def test_every_missing_secret_is_named_with_its_host_and_the_vault_command():
    def nothing_set(host, var, key=None):
        return "undefined" if var != "redis_password" else "unresolved"

    view = build(secret_state=nothing_set)
    paths = sorted(e["path"] for e in view["errors"])
    assert paths == ["host_vars[gpu1].vllm_api_keys[VLLM_CODER_KEY]", "host_vars[gw].litellm_master_key",
                     "host_vars[gw].litellm_provider_secrets[VLLM_CODER_KEY]", "host_vars[gw].redis_password"]
    master = [e for e in view["errors"] if e["path"].endswith("litellm_master_key")][0]
    assert "ansible-vault encrypt_string --name litellm_master_key '<value>'" in master["hint"]
    assert master["value"] == "<undefined>"
    assert "vault_* value" in [e for e in view["errors"] if e["path"].endswith("redis_password")][0]["message"]
    assert not view["ok"] and view["model_groups"] == {}


def test_a_misspelled_group_is_an_error_with_the_intended_name():
    groups = {"all": ["gw", "gpu1"], "ai_backend_gateway": ["gw"], "ai_backend_inferance": ["gpu1"]}
    view = build(groups=groups)
    assert [e["message"] for e in view["errors"]] == [
        "the collection reads no group 'ai_backend_inferance'; did you mean ai_backend_inference?"]
    # Next to the real group, a look-alike is only a warning.
    groups = dict(GROUPS, ai_backend_gateways=["gw"])
    view = build(groups=groups)
    assert view["ok"] and "did you mean ai_backend_gateway?" in view["report"]


@pytest.mark.parametrize("groups,targets,needle", [
    ({"all": [], "ungrouped": []}, [], "the inventory has no host"),
    ({"all": ["gw", "gpu1"], "ungrouped": ["gw", "gpu1"]}, None, "no host is in ai_backend_gateway or ai_backend_inference"),
    (GROUPS, ["other"], "no host of ai_backend_gateway or ai_backend_inference matched this run"),
    ({"all": ["gw", "gpu1"], "ai_backend_inference": ["gw", "gpu1"]}, None, "the inventory has no gateway host"),
    (dict(GROUPS, ai_backend_redis=["gpu1"]), None, "group ai_backend_redis must name exactly one host"),
])
def test_inventories_that_would_deploy_nothing_or_the_wrong_thing_fail(groups, targets, needle):
    registries = dict((h, {"gw": GW, "gpu1": GPU}[h]) for h in groups["all"])
    registries.update({"other": {}} if targets == ["other"] else {})
    view = build(registries=registries, groups=groups, targets=targets)
    assert not view["ok"]
    assert needle in view["report"], view["report"]


def test_the_gateways_must_find_redis_where_it_listens():
    gw = dict(GW, ai_backend_redis={"host": "10.9.9.9"})
    view = build(registries={"gw": gw, "gpu1": GPU})
    assert [e["path"] for e in view["errors"]] == ["host_vars[gw].ai_backend_redis.host"]
    assert "set ai_backend_redis.host to 127.0.0.1" in view["errors"][0]["hint"]


def test_a_relative_render_dir_is_relative_to_the_working_directory():
    view = build(cwd="/srv/work", render_dir="out/render")
    assert view["render_dir"] == "/srv/work/out/render"
    assert build(cwd="/srv/work", render_dir="/abs")["render_dir"] == "/abs"
    # Every gateway's text is rendered only when it is to be written.
    assert "config_text" in build(render_dir="/abs")["gateways"]["gw"]


@pytest.mark.parametrize("bad", [
    {"ai_backend_listen_address": ["not", "an", "address"]},
    {"ai_backend_providers": {"x": {"type": ["vllm"], "port": "8000", "api_key_env": {"k": 1}, "models": "m"}}},
    {"ai_backend_providers": "nope", "ai_backend_gateway": {"port": "x", "listen_address": {}}},
    {"ai_backend_routing": {"cache": [1, 2]}, "ai_backend_redis": ["host"], "ai_backend_gpu_memory_ceiling": "x"},
    {"ai_backend_providers": {"\u00e9t\u00e9": {"type": "ollama", "port": 70000, "models": [{"name": "\u0000"}]}}},
])
def test_malformed_registries_are_reported_not_raised(bad):
    view = build(registries={"gw": dict(GW, **bad), "gpu1": dict(GPU, **bad)})
    assert not view["ok"] and view["errors"]
    assert view["report"].startswith("ai_backend registry: ")
    json.dumps(view)  # plain data only


def test_a_realistic_catalogue_builds_one_view():
    providers = {}
    for index, model in enumerate(catalogue(500)):
        pid = "ollama_%02d" % (index // 50)
        providers.setdefault(pid, {"type": "ollama", "port": 11000 + index // 50, "models": []})
        providers[pid]["models"].append({"name": model["name"], "source": model["ollama"]})
    view = build(registries={"gw": GW, "gpu1": dict(GPU, ai_backend_providers=providers)})
    assert not view["errors"], view["report"][:2000]
    assert len(view["model_groups"]) == 500
    assert len(view["hosts"]["gpu1"]["services"]) == 10 and view["hosts"]["gpu1"]["roles"] == ["ollama"]


_JUNK = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                     max_leaves=8)
_VARS = st.sampled_from(["ai_backend_listen_address", "ai_backend_advertise_address", "ai_backend_gpu_memory_ceiling",
                         "ai_backend_providers", "ai_backend_gateway", "ai_backend_redis", "ai_backend_routing"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_VARS, _JUNK, max_size=4), st.dictionaries(st.sampled_from(["chat", "coder"]), _JUNK, max_size=2))
def test_any_junk_in_the_registry_is_reported_never_raised(junk, providers):
    gpu = dict(GPU, **junk)
    gpu["ai_backend_providers"] = dict(GPU["ai_backend_providers"], **providers)
    view = build(registries={"gw": dict(GW, **junk), "gpu1": gpu})
    json.dumps(view)
    assert view["ok"] == (not view["errors"])
    assert isinstance(view["summary"], str) and all(isinstance(line, str) for line in view["table"])


def _llama(poll=None):
    provider = {"type": "llama_cpp", "port": 8080, "models": [{"name": "tiny", "gguf": {"path": "/srv/tiny.gguf"}}]}
    if poll is not None:
        provider["poll"] = poll
    return provider


@pytest.mark.parametrize("on_gateway, poll, expected", [
    (True, None, 0),      # beside LiteLLM: the threads sleep instead of spinning on the shared CPU
    (False, None, None),  # a host of its own: llama.cpp's own default (no --poll passed)
    (True, 50, 50),       # the registry's value always wins
    (False, 0, 0),
])
def test_llama_cpp_poll_is_derived_once_from_where_it_runs(on_gateway, poll, expected):
    backend = dict(GPU, ai_backend_providers={"tiny": _llama(poll)})
    registries = {"gw": dict(GW, ai_backend_providers={"tiny": _llama(poll)}) if on_gateway else GW, "gpu1": backend}
    groups = dict(GROUPS, ai_backend_inference=["gw"] if on_gateway else ["gpu1"])
    view = build(registries, groups)
    host = "gw" if on_gateway else "gpu1"
    assert view["hosts"][host]["providers"]["llama_cpp"]["tiny"]["poll"] == expected
    # The role applied alone (no site.yml view) derives the same from the host's groups.
    alone = view_mod.build_host_view(json.loads(json.dumps(registries[host])), host, gateway=on_gateway)
    assert alone["host"]["providers"]["llama_cpp"]["tiny"]["poll"] == expected


def test_poll_out_of_range_or_in_extra_args_is_refused_with_the_key_to_use():
    from ansible_collections.gathewhy.ai_backend.plugins.module_utils.registry import validate_inventory
    cases = ((_llama(101), "ai_backend_providers.tiny.poll", "<= 100"),
             (dict(_llama(), extra_args=["--poll", "1"]), "ai_backend_providers.tiny.extra_args[0]", "'poll'"))
    for provider, path, fix in cases:
        errors, dummy = validate_inventory({"gpu1": dict(GPU, ai_backend_providers={"tiny": provider})},
                                           gateway_hosts=[], inference_hosts=["gpu1"])
        found = [problem.as_dict() for problem in errors]
        assert [(p["path"], fix in p["hint"]) for p in found] == [("host_vars[gpu1].%s" % path, True)], found
