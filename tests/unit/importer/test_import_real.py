# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The four real files of the original deployment, end to end.

Import -> validate with the engine -> render -> compare with the original's own
litellm-unified.yaml. Where the rendering differs, the difference is one of the
named corrections below, each asserted on both sides (what the original did,
what we do instead), so an unexplained difference fails.
"""
import copy

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover
    from urlparse import urlsplit

import pytest
import yaml

from ansible_collections.gathewhy.ai_backend.plugins.module_utils import importer
from ansible_collections.gathewhy.ai_backend.plugins.module_utils.importer_source import format_path, walk
from ansible_collections.gathewhy.ai_backend.plugins.module_utils.registry import (
    build_gateway_config, validate_inventory)
from importer_paths import original_paths

HOST = "imported"

# The original's capabilities became model_group_alias entries (one-item lists) and
# fallback chains keyed by the alias name.
CAPABILITY_ALIASES = ("code", "analytical", "reasoning", "creative", "chat", "large_context")

# The named corrections: every way our rendering may differ from the original's.
CORRECTIONS = {
    "list_aliases": "model_group_alias values were one-item lists; LiteLLM wants one model name (a string)",
    "provider_fallback": "the large_context capability chain named the provider llama_cpp_python, not a model",
    "default_chain": "fallback_chains.default was emitted as the chain of a model group named 'default'; it is "
                     "LiteLLM's default_fallbacks",
    "alias_chains": "chains keyed by capability (alias) names: the registry keys chains by served model, so the "
                    "alias's target model's own chain applies; the report lists each as not carried",
    "vllm_served_name": "LiteLLM sent the Hugging Face name to a vLLM started with another --served-model-name; "
                        "vLLM now serves the public name and LiteLLM sends it",
    "rate_limits": "rpm/tpm sat in rate_limit_settings, which LiteLLM never reads; the sources set no limits, "
                   "so none are rendered (LiteLLM reads them only from each deployment's litellm_params)",
    "ignored_sections": "server_settings, rate_limit_settings and router_settings.lab_extensions were ignored by "
                        "LiteLLM without a warning; they are not rendered",
    "master_key": "the original had no master_key; LiteLLM refuses to start without one",
}


@pytest.fixture(scope="module")
def original():
    return original_paths()


@pytest.fixture(scope="module")
def imported(original):
    return importer.import_files(original["providers"], original["mappings"], original["ports"])


@pytest.fixture(scope="module")
def rendered(imported):
    return build_gateway_config({HOST: imported["registry"]})


@pytest.fixture(scope="module")
def old(original):
    with open(original["litellm"]) as handle:
        return yaml.safe_load(handle)


def _chains(config):
    out = {}
    for item in config["router_settings"].get("fallbacks") or []:
        (key, value), = item.items()
        out[key] = list(value)
    return out


def _port(api_base):
    parts = urlsplit(api_base)
    return parts.port or {"http": 80, "https": 443}[parts.scheme]


def test_registry_passes_validation_as_it_stands(imported):
    errors, warnings = validate_inventory({HOST: imported["registry"]})
    assert [p.render() for p in errors] == []
    assert [p.render() for p in warnings] == []


def test_same_model_groups(old, rendered):
    assert rendered.model_groups == sorted(entry["model_name"] for entry in old["model_list"])
    assert len(rendered.model_groups) == 12


def _old_kind(entry):
    """The backend kind of one of the original's deployments, from the shape its generator wrote."""
    params = entry["litellm_params"]
    host = urlsplit(params["api_base"]).hostname
    if params["model"].startswith("ollama/") and host == "127.0.0.1":
        return "ollama"
    if params["model"].startswith("ollama_chat/") and host != "127.0.0.1":
        return "ollama_cloud"
    if params["model"] == "openai/local-model":
        return "llama_cpp"   # the generator's shape for every llama.cpp server
    if params.get("custom_llm_provider") == "openai" and params["api_base"].endswith("/v1"):
        return "vllm"        # the generator's shape for vLLM
    raise AssertionError("unknown deployment shape: %r" % params)


def test_same_backends_behind_each_group(old, rendered, imported):
    providers = imported["registry"]["ai_backend_providers"]
    ours = {}
    for entry in rendered.config["model_list"]:
        provider_id = entry["model_info"]["id"].split("/")[1]
        ours.setdefault(entry["model_name"], []).append(
            (providers[provider_id]["type"], _port(entry["litellm_params"]["api_base"])))
    theirs = {}
    for entry in old["model_list"]:
        theirs.setdefault(entry["model_name"], []).append((_old_kind(entry), _port(entry["litellm_params"]["api_base"])))
    assert ours == theirs
    kinds = sorted(set(kind for backends in ours.values() for kind, port in backends))
    assert kinds == ["llama_cpp", "ollama", "ollama_cloud", "vllm"]


def test_same_fallback_chains_except_the_named_corrections(old, rendered):
    theirs = _chains(old)
    ours = _chains(rendered.config)
    router = rendered.config["router_settings"]

    # default_chain: the original's "default" group chain is LiteLLM's default_fallbacks here.
    assert theirs.pop("default") == router["default_fallbacks"]
    assert "default" not in ours and "default" not in rendered.model_groups

    # alias_chains / provider_fallback: chains keyed by capability names are not rendered; one of them
    # even named a provider. Their aliases' targets keep their own chains.
    alias_chains = dict((name, theirs.pop(name)) for name in CAPABILITY_ALIASES)
    assert alias_chains["large_context"] == ["llama_cpp_python"]
    assert "llama_cpp_python" not in rendered.model_groups
    for name in CAPABILITY_ALIASES:
        assert name not in ours
        assert router["model_group_alias"][name] in ours, "the alias target has no chain of its own"

    # Everything else: the very same chains, in the same order.
    assert ours == theirs
    assert len(ours) == 11


def test_same_aliases_except_list_values(old, rendered):
    theirs = old["router_settings"]["model_group_alias"]
    ours = rendered.config["router_settings"]["model_group_alias"]
    # list_aliases: the original wrote one-item lists.
    assert all(isinstance(value, list) and len(value) == 1 for value in theirs.values())
    assert all(isinstance(value, str) for value in ours.values())
    assert ours == dict((name, value[0]) for name, value in theirs.items())
    assert sorted(ours) == sorted(CAPABILITY_ALIASES)


def test_vllm_served_name_correction(old, rendered, imported):
    old_entry = next(e for e in old["model_list"] if e["model_name"] == "qwen-coder-vllm")
    new_entry = next(e for e in rendered.config["model_list"] if e["model_name"] == "qwen-coder-vllm")
    # The original sent the Hugging Face name ...
    assert old_entry["litellm_params"]["model"] == "Qwen/Qwen2.5-Coder-7B-Instruct-AWQ"
    # ... we send the public name, which the vllm role passes as --served-model-name.
    assert new_entry["litellm_params"]["model"].split("/", 1)[1] == "qwen-coder-vllm"
    model = imported["registry"]["ai_backend_providers"]["vllm_qwen"]["models"][0]
    assert model == dict(model, name="qwen-coder-vllm", source="Qwen/Qwen2.5-Coder-7B-Instruct-AWQ")


def test_rate_limits_and_ignored_sections_are_gone(old, rendered):
    # rate_limits / ignored_sections: present in the original, never read by LiteLLM.
    assert old["rate_limit_settings"]["limits"]["qwen-coder-vllm"] == {"rpm": 50, "tpm": 100000}
    assert "server_settings" in old and "lab_extensions" in old["router_settings"]
    assert "rate_limit_settings" not in rendered.config
    assert "server_settings" not in rendered.config
    assert "lab_extensions" not in rendered.config["router_settings"]
    # The sources set no limits, so no deployment invents one.
    for entry in rendered.config["model_list"]:
        assert "rpm" not in entry["litellm_params"] and "tpm" not in entry["litellm_params"]


def test_master_key_is_required_now(old, rendered, imported):
    assert "master_key" not in (old.get("general_settings") or {})
    assert rendered.config["general_settings"]["master_key"] == "os.environ/LITELLM_MASTER_KEY"
    assert imported["secrets"]["litellm_master_key"] == "{{ vault_litellm_master_key }}"


def test_every_correction_is_named():
    assert sorted(CORRECTIONS) == sorted(["list_aliases", "provider_fallback", "default_chain", "alias_chains",
                                          "vllm_served_name", "rate_limits", "ignored_sections", "master_key"])


# ---------------------------------------------------------------- the report accounts for every key
def _docs(original):
    docs = {}
    for key, name in (("providers", "providers.yaml"), ("mappings", "model-mappings.yaml"), ("ports", "ports.yaml")):
        with open(original[key]) as handle:
            docs[name] = yaml.safe_load(handle)
    return docs


def _entry_index(report):
    index = {}
    for kind in ("carried", "not_carried"):
        for entry in report[kind]:
            index.setdefault(entry["from"], []).append(kind)
    return index


def _ancestors(file, keys):
    for size in range(len(keys) + 1):
        yield "%s: %s" % (file, format_path(keys[:size]))


def accounting_problems(docs, report):
    """Every leaf key path must sit under exactly one report entry, and every entry must cover something."""
    index = _entry_index(report)
    problems = ["%s listed %d times" % (path, len(kinds)) for path, kinds in index.items() if len(kinds) != 1]
    used = set()
    for file, doc in docs.items():
        for keys in walk(doc):
            hits = [path for path in _ancestors(file, keys) if path in index]
            if len(hits) != 1:
                problems.append("%s: %s accounted for %d times %s" % (file, format_path(keys), len(hits), hits))
            used.update(hits)
    problems.extend("entry %s covers no source key" % path for path in sorted(set(index) - used))
    return problems


def test_every_source_key_is_accounted_for_exactly_once(original, imported):
    docs = _docs(original)
    assert accounting_problems(docs, imported["report"]) == []
    assert sum(1 for doc in docs.values() for dummy in walk(doc)) > 400


def test_the_accounting_check_catches_a_dropped_or_doubled_key(original, imported):
    docs = _docs(original)
    report = copy.deepcopy(imported["report"])
    dropped = report["not_carried"].pop(0)
    assert any(dropped["from"] in problem for problem in accounting_problems(docs, report))
    report = copy.deepcopy(imported["report"])
    report["not_carried"].append({"from": "providers.yaml: providers", "reason": "informational"})
    assert len(accounting_problems(docs, report)) > 100
    report = copy.deepcopy(imported["report"])
    report["carried"].append({"from": "providers.yaml: providers.nope", "to": "x"})
    assert accounting_problems(docs, report) == ["entry providers.yaml: providers.nope covers no source key"]


def test_real_files_hold_no_key_the_importer_does_not_know(imported):
    unknown = [e["from"] for e in imported["report"]["not_carried"] if e["reason"] == "unrecognised"]
    assert unknown == []


@pytest.mark.parametrize("path, reason", [
    ("model-mappings.yaml: routing_rules.request_metadata_routing", "no_litellm_feature"),  # header conditions
    ("model-mappings.yaml: capabilities.code.complexity_thresholds", "no_litellm_feature"),  # complexity routing
    ("model-mappings.yaml: special_cases.geographic_routing", "no_litellm_feature"),
    ("model-mappings.yaml: load_balancing", "no_litellm_feature"),  # saturation_threshold lives here
    ("model-mappings.yaml: patterns", "no_litellm_feature"),
    ("providers.yaml: providers.ollama.models[0].pulled_at", "informational"),
    ("providers.yaml: providers.ollama.features", "informational"),
    ("providers.yaml: providers.ollama.location", "informational"),
    ("ports.yaml: ollama.port", "replaced"),
    ("ports.yaml: grafana", "not_deployable"),
    ("providers.yaml: providers.custom_openai_compatible", "not_deployable"),
    ("providers.yaml: providers.anthropic", "not_deployable"),
])
def test_reasons_of_notable_keys(imported, path, reason):
    entries = dict((e["from"], e) for e in imported["report"]["not_carried"])
    assert entries[path]["reason"] == reason
    assert path.split(": ")[1] not in yaml.safe_dump(imported["registry"])


@pytest.mark.parametrize("path, to", [
    ("providers.yaml: providers.vllm-qwen.gpu_memory_utilization", "ai_backend_providers.vllm_qwen.gpu_memory_utilization"),
    ("providers.yaml: providers.llama_cpp_python.configuration.n_ctx", "ai_backend_providers.llama_cpp_python.context_size"),
    ("providers.yaml: providers.ollama_cloud.env_var", "ai_backend_providers.ollama_cloud.api_key_env"),
    ("ports.yaml: litellm_gateway.port", "ai_backend_gateway.port"),
    ("ports.yaml: redis.port", "ai_backend_redis.port"),
    ('model-mappings.yaml: fallback_chains["glm-4.6:cloud"].chain[1]',
     'ai_backend_routing.fallbacks["glm-4.6:cloud"][1]'),
    ("model-mappings.yaml: fallback_chains.default.chain[4]", "ai_backend_routing.default_fallbacks[4]"),
])
def test_carried_keys_name_their_registry_path(imported, path, to):
    entries = dict((e["from"], e) for e in imported["report"]["carried"])
    assert entries[path]["to"] == to


def test_corrections_of_the_real_files(imported):
    corrections = dict((c["where"], c) for c in imported["report"]["corrections"])
    assert sorted(corrections) == sorted([
        "providers.yaml: providers.vllm-qwen",
        "providers.yaml: providers.vllm-dolphin",
        "model-mappings.yaml: fallback_chains.default",
        "model-mappings.yaml: capabilities.large_context.preferred_models[1]",
        "model-mappings.yaml: exact_matches.qwen-coder-vllm",
    ])
    provider_name = corrections["model-mappings.yaml: capabilities.large_context.preferred_models[1]"]
    assert provider_name["original"] == "llama_cpp_python"
    assert "llama-cpp-default" in provider_name["fix"]


def test_secrets_are_placeholders_with_a_note(imported):
    assert imported["secrets"]["litellm_provider_secrets"] == {"OLLAMA_API_KEY": "{{ vault_ollama_api_key }}"}
    todo = dict((a["where"], a["todo"]) for a in imported["report"]["action_required"])
    assert "vault_ollama_api_key" in todo["litellm_provider_secrets.OLLAMA_API_KEY"]
    assert "vault_redis_password" in todo["redis_password"]


# ---------------------------------------------------------------- what validate.yml would have named
def _errors(registry):
    errors, dummy = validate_inventory({HOST: registry})
    return [p.path for p in errors]


@pytest.mark.parametrize("case", ["provider_fallback", "default_chain", "list_alias", "provider_id"])
def test_each_correction_is_one_validation_would_name(imported, case):
    """Put the original value back: the engine names exactly that spot (what validate.yml prints)."""
    registry = copy.deepcopy(imported["registry"])
    routing = registry["ai_backend_routing"]
    base = "host_vars[%s].ai_backend_" % HOST
    if case == "provider_fallback":
        routing["fallbacks"]["kimi-k2:1t-cloud"].append("llama_cpp_python")
        expected = base + 'routing.fallbacks["kimi-k2:1t-cloud"][3]'
    elif case == "default_chain":
        routing["fallbacks"]["default"] = routing.pop("default_fallbacks")
        expected = base + "routing.fallbacks.default"
    elif case == "list_alias":
        routing["aliases"]["code"] = [routing["aliases"]["code"]]
        expected = base + "routing.aliases.code"
    else:
        providers = registry["ai_backend_providers"]
        providers["vllm-qwen"] = providers.pop("vllm_qwen")
        expected = base + "providers.vllm-qwen"
    assert _errors(imported["registry"]) == []
    assert expected in _errors(registry)


# ---------------------------------------------------------------- golden files
def test_output_is_deterministic(original, imported):
    again = importer.import_files(original["providers"], original["mappings"], original["ports"])
    assert importer.render_report(again["report"]) == importer.render_report(imported["report"])
    assert importer.render_registry(again["registry"], again["report"]["sources"]) == \
        importer.render_registry(imported["registry"], imported["report"]["sources"])
