# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Invalid-but-readable sources: with accept_corrections the import writes a registry that
validates, and the report lists each problem with its original value and fix. (Which of
these corrections stop an import without accept_corrections: test_import_guesses.py.)"""
import copy

import pytest
import yaml

from ansible_collections.gathewhy.ai_backend.plugins.module_utils import importer
from ansible_collections.gathewhy.ai_backend.plugins.module_utils.registry import validate_inventory

SECRET = "sk-live-0123456789abcdefghijklmnopqrstuv"


def sources():
    providers = {"providers": {
        "ollama": {"type": "ollama", "base_url": "http://127.0.0.1:11434", "status": "active",
                   "models": [{"name": "llama3.1:latest", "specialty": "general_chat"}, "qwen2.5-coder:7b"]},
        "vllm-a": {"type": "vllm", "base_url": "http://127.0.0.1:8001", "status": "active",
                   "gpu_memory_utilization": 0.4, "models": [{"name": "Org/Coder-AWQ"}]},
        "vllm-b": {"type": "vllm", "base_url": "http://127.0.0.1:8002", "status": "disabled",
                   "models": [{"name": "Org/Chat-AWQ"}]},
        "cloud": {"type": "ollama", "base_url": "https://ollama.com", "status": "active",
                  "requires_api_key": True, "env_var": "OLLAMA_API_KEY", "models": [{"name": "gpt-oss:20b-cloud"}]},
    }}
    mappings = {
        "exact_matches": {
            "llama3.1:latest": {"provider": "ollama"},
            "coder": {"provider": "vllm-a", "backend_model": "Org/Coder-AWQ"},
            "chatty": {"provider": "vllm-b", "backend_model": "Org/Chat-AWQ"},
        },
        "fallback_chains": {
            "coder": {"chain": ["chatty", "llama3.1:latest"]},
            "llama3.1:latest": {"chain": ["cloud"]},
        },
        "capabilities": {"chat": {"preferred_models": ["llama3.1:latest", "ollama"]}},
    }
    return providers, mappings


def run(providers, mappings, ports=None):
    result = importer.import_documents(providers, mappings, ports, accept_corrections=True)
    errors, dummy = validate_inventory({"imported": result["registry"]})
    assert [p.render() for p in errors] == [], "the imported registry must validate as it stands"
    return result


def corrections(result):
    return dict((c["where"], c) for c in result["report"]["corrections"])


def test_chain_entry_pointing_at_a_disabled_provider_is_dropped_and_reported():
    result = run(*sources())
    assert result["registry"]["ai_backend_routing"]["fallbacks"]["coder"] == ["llama3.1:latest"]
    found = corrections(result)["model-mappings.yaml: fallback_chains.coder.chain[0]"]
    assert found["original"] == "chatty"
    assert "disabled provider vllm_b" in found["problem"]
    assert "enable ai_backend_providers.vllm_b" in found["fix"]
    # The disabled provider itself is kept, disabled, one switch away.
    assert result["registry"]["ai_backend_providers"]["vllm_b"]["enabled"] is False


def test_engine_would_name_the_disabled_reference():
    result = run(*sources())
    registry = copy.deepcopy(result["registry"])
    registry["ai_backend_routing"]["fallbacks"]["coder"].insert(0, "chatty")
    errors, dummy = validate_inventory({"imported": registry})
    assert ["host_vars[imported].ai_backend_routing.fallbacks.coder[0]"] == [p.path for p in errors]
    assert "disabled" in errors[0].message


def test_provider_named_where_a_model_belongs():
    result = run(*sources())
    chain = result["registry"]["ai_backend_routing"]["fallbacks"]["llama3.1:latest"]
    assert chain == ["gpt-oss:20b-cloud"], "a single-model provider is replaced by its only model"
    found = corrections(result)["model-mappings.yaml: fallback_chains[\"llama3.1:latest\"].chain[0]"]
    assert found["original"] == "cloud" and "gpt-oss:20b-cloud" in found["fix"]
    # A provider with two models is ambiguous: dropped, with the choices in the report.
    ambiguous = corrections(result)["model-mappings.yaml: capabilities.chat.preferred_models[1]"]
    assert "2 models" in ambiguous["problem"] and ambiguous["fix"].startswith("dropped")


def test_literal_secret_is_never_copied():
    providers, mappings = sources()
    providers["providers"]["cloud"]["api_key"] = SECRET
    providers["providers"]["cloud"].pop("env_var")
    providers["providers"]["ollama"]["password"] = "hunter2-hunter2"
    result = run(providers, mappings)
    texts = [importer.render_registry(result["registry"], result["report"]["sources"]),
             importer.render_report(result["report"]), importer.render_secrets(result["secrets"]),
             "\n".join(importer.summary(result["report"]))]
    for text in texts:
        assert SECRET not in text and "hunter2" not in text
    assert result["registry"]["ai_backend_providers"]["cloud"]["api_key_env"] == "CLOUD_API_KEY"
    assert result["secrets"]["litellm_provider_secrets"] == {"CLOUD_API_KEY": "{{ vault_cloud_api_key }}"}
    found = corrections(result)
    assert found["providers.yaml: providers.cloud.api_key"]["original"] == "<redacted>"
    assert found["providers.yaml: providers.ollama.password"]["original"] == "<redacted>"
    todo = dict((a["where"], a["todo"]) for a in result["report"]["action_required"])
    assert "vault_cloud_api_key" in todo["litellm_provider_secrets.CLOUD_API_KEY"]


def test_credentials_in_a_url_are_stripped():
    providers, mappings = sources()
    providers["providers"]["cloud"]["base_url"] = "https://user:%s@ollama.com" % SECRET
    result = run(providers, mappings)
    assert result["registry"]["ai_backend_providers"]["cloud"]["base_url"] == "https://ollama.com"
    assert SECRET not in importer.render_report(result["report"])


def test_os_environ_reference_becomes_the_env_name():
    providers, mappings = sources()
    providers["providers"]["cloud"].pop("env_var")
    providers["providers"]["cloud"]["api_key"] = "os.environ/MY_CLOUD_KEY"
    result = run(providers, mappings)
    assert result["registry"]["ai_backend_providers"]["cloud"]["api_key_env"] == "MY_CLOUD_KEY"


def test_unknown_keys_are_reported_not_dropped():
    providers, mappings = sources()
    providers["providers"]["ollama"]["keep_alive"] = "5m"
    mappings["shiny_new_section"] = {"a": [1, 2]}
    result = run(providers, mappings)
    unknown = [e["from"] for e in result["report"]["not_carried"] if e["reason"] == "unrecognised"]
    assert unknown == ["providers.yaml: providers.ollama.keep_alive", "model-mappings.yaml: shiny_new_section"]


def test_ports_file_disagreeing_with_base_url():
    providers, mappings = sources()
    ports = {"ollama": {"port": 11435}, "vllm_a": {"port": 8001}, "litellm_gateway": {"port": 4001},
             "grafana": {"port": 3000}}
    result = run(providers, mappings, ports)
    assert result["registry"]["ai_backend_providers"]["ollama"]["port"] == 11434
    assert result["registry"]["ai_backend_gateway"]["port"] == 4001
    found = corrections(result)["ports.yaml: ollama.port"]
    assert found["original"] == 11435 and "11434" in found["fix"]


def test_templates_and_unsupported_types_are_not_carried():
    providers, mappings = sources()
    providers["providers"]["tmpl"] = {"type": "openai_compatible", "base_url": "http://localhost:CUSTOM_PORT",
                                      "status": "template"}
    providers["providers"]["claude"] = {"type": "anthropic", "base_url": "https://api.anthropic.com",
                                        "status": "active", "models": ["claude-3"]}
    mappings["fallback_chains"]["qwen2.5-coder:7b"] = {"chain": ["claude-3"]}
    result = run(providers, mappings)
    assert sorted(result["registry"]["ai_backend_providers"]) == ["cloud", "ollama", "vllm_a", "vllm_b"]
    found = corrections(result)
    assert "providers.yaml: providers.claude" in found
    assert "qwen2.5-coder:7b" not in result["registry"]["ai_backend_routing"]["fallbacks"]


def test_exact_match_for_an_unknown_provider():
    providers, mappings = sources()
    mappings["exact_matches"]["ghost"] = {"provider": "nowhere"}
    result = run(providers, mappings)
    found = corrections(result)["model-mappings.yaml: exact_matches.ghost.provider"]
    assert found["original"] == "nowhere" and "'ghost' names provider 'nowhere'" in found["problem"]
    assert "ghost" not in [m["name"] for p in result["registry"]["ai_backend_providers"].values()
                           for m in p["models"]]


def test_duplicate_public_names_are_made_unique():
    providers, mappings = sources()
    providers["providers"]["ollama2"] = {"type": "ollama", "base_url": "http://127.0.0.1:11435",
                                         "models": ["qwen2.5-coder:7b"]}
    result = run(providers, mappings)
    names = [m["name"] for m in result["registry"]["ai_backend_providers"]["ollama2"]["models"]]
    assert names == ["qwen2.5-coder:7b-ollama2"]


def test_default_chain_becomes_default_fallbacks():
    providers, mappings = sources()
    mappings["fallback_chains"]["default"] = {"chain": ["llama3.1:latest", "coder"]}
    result = run(providers, mappings)
    assert result["registry"]["ai_backend_routing"]["default_fallbacks"] == ["llama3.1:latest", "coder"]
    assert "default" not in result["registry"]["ai_backend_routing"]["fallbacks"]


def test_self_and_duplicate_chain_entries():
    providers, mappings = sources()
    mappings["fallback_chains"]["llama3.1:latest"] = {"chain": ["llama3.1:latest", "coder", "coder"]}
    result = run(providers, mappings)
    found = [c for c in result["report"]["corrections"] if "llama3.1:latest" in c["where"]]
    assert [c["where"].rsplit(".", 1)[1] for c in found] == ["chain[0]", "chain[2]", "chain[1]"]
    assert "falls back to its own model" in found[0]["problem"]
    assert "repeats coder" in found[1]["problem"]
    # coder -> llama3.1 -> coder: the later chain's entry is cut, which empties it.
    assert found[2]["problem"] == "fallback cycle: coder -> llama3.1:latest -> coder"
    fallbacks = result["registry"]["ai_backend_routing"]["fallbacks"]
    assert fallbacks == {"coder": ["llama3.1:latest"]}


def test_cycle_cut_keeps_report_paths_in_step():
    providers, mappings = sources()
    mappings["fallback_chains"]["llama3.1:latest"] = {"chain": ["coder", "gpt-oss:20b-cloud"]}
    result = run(providers, mappings)
    assert result["registry"]["ai_backend_routing"]["fallbacks"]["llama3.1:latest"] == ["gpt-oss:20b-cloud"]
    carried = dict((e["from"], e["to"]) for e in result["report"]["carried"])
    assert carried['model-mappings.yaml: fallback_chains["llama3.1:latest"].chain[1]'] == \
        'ai_backend_routing.fallbacks["llama3.1:latest"][0]'


def test_registry_text_round_trips():
    result = run(*sources())
    text = importer.render_registry(result["registry"], result["report"]["sources"])
    assert yaml.safe_load(text) == result["registry"]


@pytest.mark.parametrize("url, port", [("http://localhost:11434", 11434), ("http://0.0.0.0:11434", 11434)])
def test_local_hosts_bind_to_loopback(url, port):
    providers, mappings = sources()
    providers["providers"]["ollama"]["base_url"] = url
    result = run(providers, mappings)
    assert result["registry"]["ai_backend_listen_address"] == "127.0.0.1"
    assert result["registry"]["ai_backend_providers"]["ollama"]["port"] == port


def test_two_enabled_vllm_without_gpus_keep_the_first():
    providers, mappings = sources()
    providers["providers"]["vllm-b"]["status"] = "active"
    result = run(providers, mappings)
    registry = result["registry"]["ai_backend_providers"]
    assert registry["vllm_a"]["enabled"] is True and registry["vllm_b"]["enabled"] is False
    found = corrections(result)["providers.yaml: providers.vllm-b"]
    assert "one vLLM at a time" in found["problem"] and "vllm_b disabled" in found["fix"]
    assert "assign gpus to every vLLM provider (vllm-a, vllm-b lack them)" in found["choices"]


def test_two_vllm_with_their_own_gpus_both_run():
    providers, mappings = sources()
    providers["providers"]["vllm-b"]["status"] = "active"
    providers["providers"]["vllm-a"]["gpus"] = [0]
    providers["providers"]["vllm-b"]["gpus"] = [1]
    result = run(providers, mappings)
    registry = result["registry"]["ai_backend_providers"]
    assert registry["vllm_a"]["enabled"] is True and registry["vllm_b"]["enabled"] is True
    # Now the chain entry that pointed at the disabled model is kept.
    assert result["registry"]["ai_backend_routing"]["fallbacks"]["coder"] == ["chatty", "llama3.1:latest"]


def test_port_taken_twice_disables_the_later_provider():
    providers, mappings = sources()
    providers["providers"]["vllm-a"]["base_url"] = "http://127.0.0.1:4000"
    result = run(providers, mappings)
    assert result["registry"]["ai_backend_providers"]["vllm_a"]["enabled"] is False
    found = corrections(result)["providers.yaml: providers.vllm-a"]
    assert found["problem"].startswith("port 4000 of vllm-a (base_url http://127.0.0.1:4000) is already used by "
                                       "the LiteLLM gateway")


def test_a_second_model_on_a_single_model_backend():
    providers, mappings = sources()
    providers["providers"]["vllm-a"]["models"].append({"name": "Org/Other-AWQ"})
    result = run(providers, mappings)
    assert [m["name"] for m in result["registry"]["ai_backend_providers"]["vllm_a"]["models"]] == ["coder"]
    found = corrections(result)["providers.yaml: providers.vllm-a.models[1]"]
    assert found["original"] == "Org/Other-AWQ" and "exactly one model" in found["problem"]


def test_bad_gpu_indices_are_left_unset():
    providers, mappings = sources()
    providers["providers"]["vllm-a"]["gpus"] = [0, 0]
    result = run(providers, mappings)
    assert "gpus" not in result["registry"]["ai_backend_providers"]["vllm_a"]
    assert "providers.yaml: providers.vllm-a.gpus" in corrections(result)
