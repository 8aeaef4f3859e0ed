# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""An import that would have to guess stops: ImportFailed listing each place with its values and
the choices, nothing returned (so nothing written). accept_corrections applies the listed fix
and the report records it. The same for a literal secret, which must also be rotated."""
import copy

import pytest

from ansible_collections.gathewhy.ai_backend.plugins.module_utils import importer
from ansible_collections.gathewhy.ai_backend.plugins.module_utils.importer_source import GuessError
from ansible_collections.gathewhy.ai_backend.plugins.module_utils.registry import validate_inventory

SECRET = "sk-live-0123456789abcdefghijklmnopqrstuv"


def clean():
    """Sources with nothing to guess at: they import without accept_corrections."""
    providers = {"providers": {
        "ollama": {"type": "ollama", "base_url": "http://127.0.0.1:11434", "status": "active",
                   "models": ["llama3.1:latest", "qwen2.5-coder:7b"]},
        "vllm-a": {"type": "vllm", "base_url": "http://127.0.0.1:8001", "status": "active",
                   "gpu_memory_utilization": 0.5, "models": [{"name": "Org/Coder-AWQ"}]},
        "vllm-b": {"type": "vllm", "base_url": "http://127.0.0.1:8002", "status": "disabled",
                   "gpu_memory_utilization": 0.5, "models": [{"name": "Org/Chat-AWQ"}]},
        "cloud": {"type": "ollama", "base_url": "https://ollama.com", "status": "active",
                  "env_var": "OLLAMA_API_KEY", "models": ["gpt-oss:20b-cloud"]},
    }}
    mappings = {
        "exact_matches": {"coder": {"provider": "vllm-a", "backend_model": "Org/Coder-AWQ"}},
        "fallback_chains": {"coder": {"chain": ["llama3.1:latest"]},
                            "llama3.1:latest": {"chain": ["gpt-oss:20b-cloud"]}},
    }
    return providers, mappings


def stopped(providers, mappings, ports=None, litellm=None):
    with pytest.raises(importer.ImportFailed) as caught:
        importer.import_documents(providers, mappings, ports, litellm=litellm)
    guesses = [e for e in caught.value.errors if isinstance(e, GuessError)]
    assert guesses and len(guesses) == len(caught.value.errors)
    message = str(caught.value)
    assert message.startswith("import stopped:") and "nothing was written" in message
    assert "-e accept_corrections=true" in message and "Traceback" not in message
    return guesses, message


def accepted(providers, mappings, ports=None, litellm=None):
    result = importer.import_documents(providers, mappings, ports, litellm=litellm, accept_corrections=True)
    errors, dummy = validate_inventory({"imported": result["registry"]})
    assert [p.render() for p in errors] == []
    assert result["report"]["summary"]["accepted_corrections"] >= 1
    return result


def correction(result, where):
    found = [c for c in result["report"]["corrections"] if c["where"] == where]
    assert len(found) == 1, [c["where"] for c in result["report"]["corrections"]]
    return found[0]


def test_clean_sources_import_without_accepting_anything():
    result = importer.import_documents(*clean())
    assert "accepted_corrections" not in result["report"]["summary"]
    assert result["registry"]["ai_backend_routing"]["fallbacks"] == {
        "coder": ["llama3.1:latest"], "llama3.1:latest": ["gpt-oss:20b-cloud"]}


def test_fallback_cycle_stops_with_both_cuts_as_choices():
    providers, mappings = clean()
    mappings["fallback_chains"]["llama3.1:latest"]["chain"].insert(0, "coder")
    guesses, message = stopped(providers, mappings)
    assert len(guesses) == 1
    assert guesses[0].message == "fallback cycle: coder -> llama3.1:latest -> coder"
    assert guesses[0].choices == [
        "cut coder -> llama3.1:latest (model-mappings.yaml: fallback_chains.coder.chain[0])",
        'cut llama3.1:latest -> coder (model-mappings.yaml: fallback_chains["llama3.1:latest"].chain[0])']
    assert guesses[0].file == "model-mappings.yaml"
    assert "cut llama3.1:latest -> coder (model-mappings.yaml" in message
    result = accepted(providers, mappings)
    assert result["registry"]["ai_backend_routing"]["fallbacks"]["llama3.1:latest"] == ["gpt-oss:20b-cloud"]
    found = correction(result, 'model-mappings.yaml: fallback_chains["llama3.1:latest"].chain[0]')
    assert found["original"] == "coder" and found["fix"].startswith("cut llama3.1:latest -> coder")
    assert len(found["choices"]) == 2


def test_duplicate_public_name_stops_naming_both_providers():
    providers, mappings = clean()
    providers["providers"]["ollama2"] = {"type": "ollama", "base_url": "http://127.0.0.1:11435",
                                         "models": ["qwen2.5-coder:7b"]}
    guesses, message = stopped(providers, mappings)
    assert len(guesses) == 1
    assert guesses[0].path == "providers.ollama2.models[0]"
    assert "'qwen2.5-coder:7b' is served by both ollama (providers.yaml: providers.ollama.models[1]) and " \
           "ollama2 (providers.yaml: providers.ollama2.models[0])" in guesses[0].message
    assert len(guesses[0].choices) == 3
    result = accepted(providers, mappings)
    names = [m["name"] for m in result["registry"]["ai_backend_providers"]["ollama2"]["models"]]
    assert names == ["qwen2.5-coder:7b-ollama2"]
    found = correction(result, "providers.yaml: providers.ollama2.models[0]")
    assert found["original"] == "qwen2.5-coder:7b" and "reach only ollama" in found["fix"]


@pytest.mark.parametrize("clash, with_what", [(4000, "the LiteLLM gateway (the gateway's default port)"),
                                              (11434, "provider ollama (providers.yaml: providers.ollama.base_url)")])
def test_port_clash_stops(clash, with_what):
    providers, mappings = clean()
    providers["providers"]["vllm-a"]["base_url"] = "http://127.0.0.1:%d" % clash
    guesses, message = stopped(providers, mappings)
    assert [g.path for g in guesses] == ["providers.vllm-a"]
    assert guesses[0].message == "port %d of vllm-a (base_url http://127.0.0.1:%d) is already used by %s" % (
        clash, clash, with_what)
    assert guesses[0].choices[0] == "give vllm-a another port (providers.yaml: providers.vllm-a.base_url)"
    result = accepted(providers, mappings)
    assert result["registry"]["ai_backend_providers"]["vllm_a"]["enabled"] is False


def test_port_clash_with_ports_yaml_gateway_names_that_file():
    providers, mappings = clean()
    guesses, dummy = stopped(providers, mappings, ports={"litellm_gateway": {"port": 8001}})
    assert "the LiteLLM gateway (ports.yaml: litellm_gateway.port)" in guesses[0].message


def test_gpu_clash_stops_with_the_shares():
    providers, mappings = clean()
    providers["providers"]["vllm-b"]["status"] = "active"
    providers["providers"]["vllm-a"]["gpus"] = [0]
    providers["providers"]["vllm-b"]["gpus"] = [0]
    providers["providers"]["vllm-b"]["gpu_memory_utilization"] = 0.6
    guesses, message = stopped(providers, mappings)
    assert guesses[0].path == "providers.vllm-b"
    assert guesses[0].message == ("GPU 0: vllm-b asks gpu_memory_utilization 0.6 on top of 0.5 already given to "
                                  "vllm-a (at most 0.95 per GPU)")
    assert "lower gpu_memory_utilization of vllm-b or of vllm-a" in guesses[0].choices
    accepted(providers, mappings)


def test_two_vllm_without_gpus_stop():
    providers, mappings = clean()
    providers["providers"]["vllm-b"]["status"] = "active"
    guesses, dummy = stopped(providers, mappings)
    assert "2 enabled vLLM instances (vllm-a, vllm-b) while vllm-a, vllm-b list no gpus" in guesses[0].message
    assert guesses[0].choices[1:] == ["keep only vllm-a enabled", "keep only vllm-b enabled"]


@pytest.mark.parametrize("where", ["chain", "head", "capability", "default"])
def test_dangling_reference_stops_naming_the_missing_model(where):
    providers, mappings = clean()
    if where == "chain":
        mappings["fallback_chains"]["coder"]["chain"].append("llama3.2:gone")
        path = "fallback_chains.coder.chain[1]"
    elif where == "head":
        mappings["fallback_chains"]["llama3.2:gone"] = {"chain": ["coder"]}
        path = 'fallback_chains["llama3.2:gone"]'
    elif where == "capability":
        mappings["capabilities"] = {"chat": {"preferred_models": ["llama3.2:gone"]}}
        path = "capabilities.chat.preferred_models[0]"
    else:
        mappings["fallback_chains"]["default"] = {"chain": ["coder", "llama3.2:gone"]}
        path = "fallback_chains.default.chain[1]"
    guesses, message = stopped(providers, mappings)
    assert [g.path for g in guesses] == [path]
    assert "'llama3.2:gone' is not a model any provider in providers.yaml serves" in guesses[0].message
    assert "add model 'llama3.2:gone' to a provider in providers.yaml" in guesses[0].choices
    result = accepted(providers, mappings)
    found = correction(result, "model-mappings.yaml: " + path)
    assert found["original"] == "llama3.2:gone" and found["fix"] == "dropped 'llama3.2:gone'"


def test_provider_with_several_models_named_as_a_fallback_stops():
    providers, mappings = clean()
    mappings["fallback_chains"]["coder"]["chain"].append("ollama")
    guesses, dummy = stopped(providers, mappings)
    assert "names provider ollama, not a model, and it serves 2 models" in guesses[0].message
    assert "llama3.1:latest" in guesses[0].choices and "qwen2.5-coder:7b" in guesses[0].choices


def test_every_guess_is_listed_at_once():
    providers, mappings = clean()
    mappings["fallback_chains"]["coder"]["chain"].append("nope-1")
    mappings["fallback_chains"]["llama3.1:latest"]["chain"].append("nope-2")
    providers["providers"]["ollama3"] = {"type": "ollama", "base_url": "http://127.0.0.1:11434", "models": ["m3"]}
    guesses, message = stopped(providers, mappings)
    assert len(guesses) == 3 and "3 place(s)" in message


# ---------------------------------------------------------------- literal secrets
@pytest.mark.parametrize("where", ["api_key", "url", "env_var", "unknown_key"])
def test_literal_secret_stops_without_showing_it(where):
    providers, mappings = clean()
    cloud = providers["providers"]["cloud"]
    if where == "api_key":
        cloud["api_key"] = SECRET
        path = "providers.cloud.api_key"
    elif where == "url":
        cloud["base_url"] = "https://me:%s@ollama.com" % SECRET
        path = "providers.cloud.base_url"
    elif where == "env_var":
        cloud["env_var"] = SECRET
        path = "providers.cloud.env_var"
    else:
        cloud["extra"] = {"token": SECRET}
        path = "providers.cloud.extra.token"
    guesses, message = stopped(providers, mappings)
    assert [g.path for g in guesses] == [path]
    assert SECRET not in message and "(value not shown)" in message
    assert "rotate this key now" in message and "ansible-vault encrypt_string" in message
    assert "secret(s): rotate them" in message
    result = accepted(providers, mappings)
    texts = importer.render_report(result["report"]) + importer.render_registry(
        result["registry"], result["report"]["sources"]) + "\n".join(importer.summary(result["report"]))
    assert SECRET not in texts
    todo = dict((a["where"], a["todo"]) for a in result["report"]["action_required"])
    assert todo["providers.yaml: " + path].startswith("rotate this key now")
    assert correction(result, "providers.yaml: " + path)["original"] == "<redacted>"


def test_secret_in_the_deployed_litellm_config_stops():
    providers, mappings = clean()
    litellm = {"model_list": [{"model_name": "x", "litellm_params": {"model": "openai/x", "api_key": SECRET}}],
               "general_settings": {"master_key": "sk-1234567890abcdefghijklmnop"}}
    guesses, message = stopped(providers, mappings, litellm=litellm)
    assert [g.path for g in guesses] == ["model_list[0].litellm_params.api_key", "general_settings.master_key"]
    assert all(g.file == "litellm-unified.yaml" for g in guesses)
    assert SECRET not in message and "sk-1234567890" not in message


def test_env_references_are_not_secrets():
    providers, mappings = clean()
    providers["providers"]["cloud"]["api_key"] = "os.environ/OLLAMA_API_KEY"
    litellm = {"model_list": [{"model_name": "x", "litellm_params": {"api_key": "os.environ/OLLAMA_API_KEY"}}]}
    result = importer.import_documents(providers, mappings, litellm=litellm)
    assert result["registry"]["ai_backend_providers"]["cloud"]["api_key_env"] == "OLLAMA_API_KEY"


def test_a_stop_leaves_the_inputs_alone():
    providers, mappings = clean()
    mappings["fallback_chains"]["coder"]["chain"].append("nope")
    before = copy.deepcopy((providers, mappings))
    stopped(providers, mappings)
    assert (providers, mappings) == before
