# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The deployed litellm-unified.yaml carries the router and cache settings the original generator
hard-coded; without it, the report lists each default that changes, with the old and new value."""
import pytest
import yaml

from ansible_collections.gathewhy.ai_backend.plugins.module_utils import importer
from ansible_collections.gathewhy.ai_backend.plugins.module_utils.registry import build_gateway_config
from importer_paths import original_paths
from test_import_real import accounting_problems

# What the real deployment ran with (router_settings and litellm_settings of its litellm-unified.yaml).
DEPLOYED = {"strategy": "simple-shuffle", "num_retries": 2, "timeout": 30, "allowed_fails": 5, "cooldown_time": 60,
            "cache": {"enabled": True, "ttl": 3600}}


@pytest.fixture(scope="module")
def original():
    return original_paths()


@pytest.fixture(scope="module")
def with_config(original):
    return importer.import_files(original["providers"], original["mappings"], original["ports"], original["litellm"])


def test_deployed_settings_are_carried(with_config):
    routing = with_config["registry"]["ai_backend_routing"]
    assert dict((key, routing[key]) for key in DEPLOYED) == DEPLOYED
    assert "defaults_changed" not in with_config["report"]


def test_rendered_gateway_runs_with_the_old_settings(with_config):
    config = build_gateway_config({"imported": with_config["registry"]}).config
    router = config["router_settings"]
    assert (router["timeout"], router["allowed_fails"], router["num_retries"], router["cooldown_time"]) == \
        (30, 5, 2, 60)
    assert config["litellm_settings"]["cache"] is True
    assert config["litellm_settings"]["cache_params"]["ttl"] == 3600


def test_known_defects_are_not_carried(with_config, original):
    entries = dict((e["from"], e) for e in with_config["report"]["not_carried"])
    for section in ("server_settings", "rate_limit_settings", "router_settings.lab_extensions",
                    "router_settings.model_group_alias", "router_settings.fallbacks", "model_list"):
        assert "litellm-unified.yaml: " + section in entries, section
    text = yaml.safe_dump(with_config["registry"])
    assert "lab_extensions" not in text and "rate_limit" not in text and "server_settings" not in text
    assert all(isinstance(v, str) for v in with_config["registry"]["ai_backend_routing"]["aliases"].values())


def test_every_key_of_the_deployed_config_is_accounted_for(with_config, original):
    docs = {}
    for key, name in (("providers", "providers.yaml"), ("mappings", "model-mappings.yaml"), ("ports", "ports.yaml"),
                      ("litellm", "litellm-unified.yaml")):
        with open(original[key]) as handle:
            docs[name] = yaml.safe_load(handle)
    assert accounting_problems(docs, with_config["report"]) == []


def test_without_the_config_every_changed_default_is_listed(original):
    result = importer.import_files(original["providers"], original["mappings"], original["ports"])
    changed = dict((c["setting"], (c["old"], c["new"])) for c in result["report"]["defaults_changed"])
    assert changed == {"ai_backend_routing.timeout": (30, 120), "ai_backend_routing.allowed_fails": (5, 3),
                       "ai_backend_routing.cache.enabled": (True, False),
                       "ai_backend_routing.cache.ttl": (3600, 300)}
    assert result["report"]["summary"]["defaults_changed"] == 4
    assert any(line.startswith("changed ai_backend_routing.timeout: 30 -> 120") for line in
               importer.summary(result["report"]))
    for item in result["report"]["defaults_changed"]:
        assert "-e litellm_config=" in item["why"]


def small():
    providers = {"providers": {"ollama": {"type": "ollama", "base_url": "http://127.0.0.1:11434",
                                          "models": ["llama3.1:latest"]}}}
    return providers, {"exact_matches": {"llama3.1:latest": {"provider": "ollama"}}}


@pytest.mark.parametrize("section, key, value, words", [
    ("router_settings", "timeout", 0, "router_settings.timeout is 0, which is not a valid number of seconds"),
    ("router_settings", "timeout", "30s", "expected an integer or a number, got a string ('30s')"),
    ("router_settings", "allowed_fails", -1, "router_settings.allowed_fails is -1, below 0"),
    ("router_settings", "routing_strategy", "least-busy-ish", "routing strategy 'least-busy-ish' is not one"),
    ("litellm_settings", "cache", "yes", "expected true or false, got a string ('yes')"),
])
def test_bad_settings_name_the_value(section, key, value, words):
    providers, mappings = small()
    with pytest.raises(importer.ImportFailed) as caught:
        importer.import_documents(providers, mappings, litellm={section: {key: value}})
    error = caught.value.errors[0]
    assert error.file == "litellm-unified.yaml" and error.path == "%s.%s" % (section, key)
    assert words in str(caught.value)


def test_a_partial_config_lists_what_it_does_not_set():
    providers, mappings = small()
    result = importer.import_documents(providers, mappings, litellm={"router_settings": {"timeout": 45},
                                                                     "litellm_settings": {"request_timeout": 99}})
    routing = result["registry"]["ai_backend_routing"]
    assert routing["timeout"] == 45 and "cache" not in routing
    changed = dict((c["setting"], c["old"]) for c in result["report"]["defaults_changed"])
    assert changed == {"ai_backend_routing.strategy": "not set (LiteLLM's own default)",
                       "ai_backend_routing.num_retries": "not set (LiteLLM's own default)",
                       "ai_backend_routing.allowed_fails": "not set (LiteLLM's own default)",
                       "ai_backend_routing.cooldown_time": "not set (LiteLLM's own default)",
                       "ai_backend_routing.cache.enabled": "not set (LiteLLM's own default)",
                       "ai_backend_routing.cache.ttl": "not set (LiteLLM's own default)"}


def test_request_timeout_stands_in_when_the_router_sets_none():
    providers, mappings = small()
    result = importer.import_documents(providers, mappings, litellm={"litellm_settings": {"request_timeout": 99}})
    assert result["registry"]["ai_backend_routing"]["timeout"] == 99
