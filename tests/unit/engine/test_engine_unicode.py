# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property test over all of Unicode: every free-text value the schema allows
reaches the rendered file and loads back, with the pure-Python loader and with
libyaml, to exactly the structure the engine built. Values the schema rejects
give a RegistryError whose every problem has a path; nothing else is raised.

Free text: a model's ``source``, the path part of ``base_url`` and of a gguf
``url``, a gguf ``path``, and inventory host names (they end up in
``model_info.id``). Strings come from st.text() with no alphabet restriction,
mixed with the strings YAML is known to trip over.
"""

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine_import import registry, schema, validator

C_LOADER = getattr(yaml, "CSafeLoader", None)
SETTINGS = dict(deadline=None, database=None, derandomize=True, max_examples=300,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

TRICKY = ["\n", "a\n", "\na", "a\nb", "\t", "a\tb", " a", "a ", ": #", "a: b", "a #b", "- x", "? x", "&a", "*a",
          "!tag", "|", ">", "'", '"', "%", "@", "`", ",", "[", "]", "{", "}", "#", "---", "...", "~", "null",
          "Null", "true", "yes", "no", "on", "off", "y", "n", "0x1F", "1e3", "0o17", "012", ".inf", "-.nan",
          "2026-11-30", "12:30:00", "=", "<<", "\U0001F600", "emoji \U0001F680 rocket", "\U00010348\U0001D11E",
          "\ufeff", "a\ufeffb", "\x85", "\u2028", "\u2029", "\x00", "\x1b[0m", "\x7f", "\ud7ff", "\ue000",
          "\U0010FFFF", "\r", "a\r\nb", "\u00a0", "é", "ﬁ", "İ", "\u0301"]
TEXT = st.text(min_size=1, max_size=30) | st.sampled_from(TRICKY) | st.builds(
    lambda a, b, c: a + b + c, st.sampled_from(TRICKY), st.text(max_size=10), st.sampled_from(TRICKY))


def loads_back(result):
    loaded = yaml.load(result.text, Loader=yaml.SafeLoader)
    assert loaded == result.config
    if C_LOADER is not None:
        assert yaml.load(result.text, Loader=C_LOADER) == result.config
    return loaded


def render_or_error(hosts, gateway):
    try:
        result = registry.build_gateway_config(hosts, gateway_host=gateway)
    except registry.RegistryError as err:
        assert err.problems
        for problem in err.problems:
            assert isinstance(problem.path, str) and problem.path, problem
            assert problem.message and problem.hint, problem
        return None
    loads_back(result)
    return result


@settings(**SETTINGS)
@given(source=TEXT, url_tail=TEXT, gguf_tail=TEXT, gguf_path=TEXT, host=TEXT)
def test_free_text_round_trips_or_is_refused_with_a_path(source, url_tail, gguf_tail, gguf_path, host):
    hosts = {host: {
        "ai_backend_providers": {
            "ollama_main": {"type": "ollama", "port": 11434, "models": [{"name": "llama3.1-8b", "source": source}]},
            "remote": {"type": "openai_compatible", "base_url": "https://api.example.org/" + url_tail,
                       "api_key_env": "REMOTE_KEY", "models": [{"name": "remote-model", "source": source}]},
            "tiny": {"type": "llama_cpp", "port": 8080, "models": [
                {"name": "tiny", "gguf": {"url": "https://example.org/" + gguf_tail, "sha256": "a" * 64}}]},
            "tiny_local": {"type": "llama_cpp", "port": 8081,
                           "models": [{"name": "tiny-local", "gguf": {"path": "/" + gguf_path}}]},
        },
        "ai_backend_routing": {"default_fallbacks": ["llama3.1-8b"]},
    }}
    result = render_or_error(hosts, host)
    if result is None:
        return
    entries = dict((entry["model_name"], entry) for entry in result.config["model_list"])
    # What the engine built carries the input unchanged (the loads_back check compares the rest).
    assert entries["llama3.1-8b"]["litellm_params"]["model"] == "ollama_chat/" + source
    assert entries["llama3.1-8b"]["model_info"]["id"] == host + "/ollama_main/llama3.1-8b"


@settings(**SETTINGS)
@given(st.text(min_size=1, max_size=20))
def test_any_source_string_is_written_as_itself(source):
    provider = {"type": "ollama", "port": 11434, "models": [{"name": "m", "source": source}]}
    hosts = {"gw": {"ai_backend_providers": {"o": provider}, "ai_backend_routing": {"default_fallbacks": ["m"]}}}
    result = render_or_error(hosts, "gw")
    if result is not None:
        assert loads_back(result)["model_list"][0]["litellm_params"]["model"] == "ollama_chat/" + source


def test_astral_characters_are_real_utf8_not_surrogate_escapes():
    hosts = {"gw": {"ai_backend_providers": {"o": {"type": "ollama", "port": 11434, "models": [
        {"name": "m", "source": "emoji-\U0001F600"}]}}, "ai_backend_routing": {"default_fallbacks": ["m"]}}}
    result = registry.build_gateway_config(hosts, gateway_host="gw")
    assert "\U0001F600" in result.text and "\\ud83d" not in result.text.lower()
    loads_back(result)


def _patterned(node, path, out):
    """Every (path, pattern) of a string field in the schema."""
    if not isinstance(node, dict):
        return
    if "pattern" in node:
        out.append((path, node["pattern"]))
    for key, sub in node.get("properties", {}).items():
        _patterned(sub, path + (key,), out)
    for key in ("items", "additionalProperties", "propertyNames"):
        _patterned(node.get(key), path + ("<%s>" % key,), out)
    return out


PATTERNED = _patterned(schema.REGISTRY_SCHEMA, (), [])


@pytest.mark.parametrize("path,pattern", PATTERNED, ids=["/".join(p) for p, dummy in PATTERNED])
def test_a_trailing_newline_fails_every_pattern(path, pattern):
    # Python's `$` matches before a final newline; JSON Schema's (ECMA-262) does not.
    samples = {"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$": "name", "^[A-Z_][A-Z0-9_]*$": "OLLAMA_API_KEY",
               "^[a-z][a-z0-9_]{0,62}$": "ollama_main", "^[A-Za-z0-9.:\\[\\]_-]+$": "127.0.0.1",
               "^https?://[^\\s@/]+(/\\S*)?$": "https://example.org/v1", "^https?://[^\\s@]+$": "https://x.org/m",
               "^/\\S+$": "/models/m.gguf", "^[0-9a-f]{64}$": "a" * 64, "^[a-z][a-z0-9_]*$": "chat",
               # extra_args items and extra_env values (negated classes that include the newline)
               "^[^\\s\"'\\\\$%`;]+$": "--flash-attn", "^[^\\x00-\\x1f\"\\\\$`\\x7f]*$": "8",
               # tls certificate_var / key_var / ca_var: variable names
               "^[A-Za-z_][A-Za-z0-9_]*$": "gateway_tls_key",
               # allowed_cidrs items: an address or a CIDR
               "^[0-9A-Fa-f.:]+(/[0-9]{1,3})?$": "192.0.2.0/24"}
    good = samples[pattern]
    assert validator.pattern_matches(pattern, good)
    assert not validator.pattern_matches(pattern, good + "\n")
    checker = validator.ecma_jsonschema_validator({"type": "string", "pattern": pattern})
    assert checker.is_valid(good) and not checker.is_valid(good + "\n")


@pytest.mark.parametrize("field,value", [
    (("ai_backend_listen_address",), "127.0.0.1\n"),
    (("ai_backend_gateway", "master_key_env"), "LITELLM_MASTER_KEY\n"),
    (("ai_backend_redis", "host"), "127.0.0.1\n"),
    (("ai_backend_routing", "default_fallbacks"), ["llama3.1-8b\n"]),
])
def test_a_trailing_newline_is_a_registry_error_with_its_path(field, value):
    host = {"ai_backend_providers": {"o": {"type": "ollama", "port": 11434, "models": [{"name": "llama3.1-8b"}]}}}
    target = host
    for key in field[:-1]:
        target = target.setdefault(key, {})
    target[field[-1]] = value
    with pytest.raises(registry.RegistryError) as caught:
        registry.build_gateway_config({"gw": host}, gateway_host="gw")
    assert any(p.path.startswith("host_vars[gw]." + field[0]) for p in caught.value.problems)


def test_a_model_name_with_a_trailing_newline_is_refused():
    host = {"ai_backend_providers": {"o": {"type": "ollama", "port": 11434, "models": [{"name": "m\n"}]}}}
    with pytest.raises(registry.RegistryError) as caught:
        registry.build_gateway_config({"gw": host}, gateway_host="gw")
    assert [p.path for p in caught.value.problems] == ["host_vars[gw].ai_backend_providers.o.models[0].name"]
