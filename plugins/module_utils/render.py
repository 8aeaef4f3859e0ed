# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render a validated registry into the LiteLLM 1.108.7 proxy config.

Only keys LiteLLM reads are emitted (each one checked against the 1.108.7
source: proxy_server.py load_config, Router.__init__, the provider configs).
Output is deterministic: sorted keys, no timestamps, a header carrying the
sha256 of the canonical source registry.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import re

HEADER = "# managed by Ansible (gathewhy.ai_backend): edit the inventory registry, not this file"

# type -> (LiteLLM provider prefix, path appended to the base URL). Why these:
# - ollama_chat/: Ollama's /api/chat (chat templates, tools) rather than /api/generate.
# - llamafile/: LiteLLM's provider for llama.cpp's OpenAI-compatible server; it needs
#   no API key (sends a placeholder), unlike openai/.
# - hosted_vllm/: vLLM's OpenAI server; model is the --served-model-name.
# - openai/: any OpenAI-style endpoint; the registry requires api_key_env for it.
PROVIDER_ROUTES = {
    "ollama": ("ollama_chat", ""),
    "llama_cpp": ("llamafile", "/v1"),
    "vllm": ("hosted_vllm", "/v1"),
    "ollama_cloud": ("ollama_chat", ""),
    "openai_compatible": ("openai", ""),
}


def env_ref(name):
    """LiteLLM resolves ``os.environ/NAME`` at start-up; the value never touches the file."""
    return "os.environ/%s" % name


def url_host(address):
    """IPv6 literals need brackets inside a URL."""
    if ":" in address and not address.startswith("["):
        return "[%s]" % address
    return address


def deployment_entry(dep, advertise):
    ptype = dep.ptype
    prefix, suffix = PROVIDER_ROUTES[ptype]
    provider = dep.provider
    model = dep.model
    if ptype in ("vllm", "llama_cpp"):
        backend_model = model["name"]  # vLLM: --served-model-name; llama.cpp: --alias
    else:
        backend_model = model.get("source") or model["name"]
    if "port" in provider:
        api_base = "http://%s:%d%s" % (url_host(advertise), provider["port"], suffix)
    else:
        api_base = provider["base_url"].rstrip("/") + suffix
    params = {"model": "%s/%s" % (prefix, backend_model), "api_base": api_base}
    if provider.get("api_key_env"):
        params["api_key"] = env_ref(provider["api_key_env"])
    for limit in ("rpm", "tpm"):
        if model.get(limit) is not None:
            params[limit] = model[limit]
    info = {"id": "%s/%s/%s" % (dep.host, dep.provider_id, model["name"])}
    if model.get("context_length") is not None:
        info["max_input_tokens"] = model["context_length"]
    return {"model_name": model["name"], "litellm_params": params, "model_info": info}


def _chains(mapping):
    """LiteLLM wants fallbacks as a list of single-key dicts, in a stable order."""
    return [{source: list(mapping[source])} for source in sorted(mapping)]


def build_config(gateway, deployments, advertise_of):
    """The config dict. ``gateway`` is the gateway's HostView, ``advertise_of`` host -> address."""
    model_list = [deployment_entry(dep, advertise_of[dep.host]) for dep in
                  sorted(deployments, key=lambda d: (d.name, d.host, d.provider_id))]
    routing = gateway.routing
    redis = gateway.redis
    router = {
        "routing_strategy": routing["strategy"],
        "num_retries": routing["num_retries"],
        "timeout": routing["timeout"],
        "allowed_fails": routing["allowed_fails"],
        "cooldown_time": routing["cooldown_time"],
        # Shared Redis: rpm/tpm counters and cooldowns agree across workers and gateways.
        "redis_host": redis["host"],
        "redis_port": redis["port"],
        "redis_password": env_ref(redis["password_env"]),
    }
    if routing.get("fallbacks"):
        router["fallbacks"] = _chains(routing["fallbacks"])
    if routing.get("default_fallbacks"):
        router["default_fallbacks"] = list(routing["default_fallbacks"])
    if routing.get("context_window_fallbacks"):
        router["context_window_fallbacks"] = _chains(routing["context_window_fallbacks"])
    if routing.get("aliases"):
        router["model_group_alias"] = dict((alias, routing["aliases"][alias]) for alias in sorted(routing["aliases"]))
    config = {
        "model_list": model_list,
        "router_settings": router,
        "general_settings": {"master_key": env_ref(gateway.gateway["master_key_env"])},
    }
    cache = routing["cache"]
    if cache.get("enabled"):
        config["litellm_settings"] = {
            "cache": True,
            "cache_params": {
                "type": "redis",
                "host": redis["host"],
                "port": redis["port"],
                "password": env_ref(redis["password_env"]),
                "ttl": cache["ttl"],
            },
        }
    return config


def canonical_json(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def source_digest(source):
    return hashlib.sha256(canonical_json(source).encode("utf-8")).hexdigest()


# A string may stay unquoted only if YAML 1.1 (PyYAML) reads it back as that same string:
# a letter first, no ": " or " #", no trailing colon, and not a YAML 1.1 bool/null word.
_PLAIN = re.compile(r"^[A-Za-z][A-Za-z0-9_./@+-]*(:[A-Za-z0-9_./@+-]+)*$")
_RESERVED = frozenset(("y", "n", "yes", "no", "on", "off", "true", "false", "null"))


def _scalar(value):
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        if "e" in text or "E" in text:  # PyYAML's float regex wants a dot and a signed exponent
            mantissa, exponent = text.lower().split("e")
            if "." not in mantissa:
                mantissa += ".0"
            if exponent[0] not in "+-":
                exponent = "+" + exponent
            text = "%se%s" % (mantissa, exponent)
        elif "." not in text:
            text += ".0"
        return text
    if _PLAIN.match(value) and value.lower() not in _RESERVED:
        return value
    return json.dumps(value, ensure_ascii=True)  # a JSON string is a valid YAML double-quoted scalar


def _emit(value, indent, out, keys):
    """Block-style YAML, keys sorted, sequences indented under their key.

    ``keys`` caches the rendering of mapping keys (the same few repeat per deployment).
    Tests prove yaml.safe_load(text) == config for every render.
    """
    pad = " " * indent
    if isinstance(value, dict):
        for key in sorted(value):
            item = value[key]
            text = keys.get(key)
            if text is None:
                text = keys[key] = _scalar(key)
            if isinstance(item, (dict, list)) and item:
                out.append("%s%s:\n" % (pad, text))
                _emit(item, indent + 2, out, keys)  # sequences indented too: yamllint's default style
            else:
                out.append("%s%s: %s\n" % (pad, text, _inline(item)))
    else:
        for item in value:
            if isinstance(item, (dict, list)) and item:
                lines = []
                _emit(item, indent + 2, lines, keys)
                lines[0] = pad + "- " + lines[0][indent + 2:]
                out.extend(lines)
            else:
                out.append("%s- %s\n" % (pad, _inline(item)))


def _inline(value):
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return _scalar(value)


def dump_yaml(config):
    """Deterministic YAML for the config.

    Hand-emitted because the config has a fixed, simple shape: this is ~10x
    faster than PyYAML's representer (even with libyaml), which is what keeps a
    10,000-model render under a second.
    """
    out = []
    _emit(config, 0, out, {})
    return "".join(out)


def render_text(config, digest, gateway_host, inference_hosts):
    header = "\n".join((
        HEADER,
        "# source registry sha256: %s" % digest,
        "# gateway: %s; inference hosts: %s" % (gateway_host, ", ".join(inference_hosts)),
    ))
    return header + "\n---\n" + dump_yaml(config)
