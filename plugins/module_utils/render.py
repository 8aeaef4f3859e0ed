# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render a validated registry into the LiteLLM 1.108.7 proxy config.

Only keys LiteLLM reads are emitted (each one checked against the 1.108.7
source: proxy_server.py load_config, Router.__init__, the provider configs).
Output is deterministic: sorted keys, no timestamps, a header carrying the
sha256 of the canonical source registry. The one exception to "only keys the
renderer knows": ai_backend_gateway.extra_settings, added as written beside
the rendered keys (checks_extras.py refuses any key the renderer owns).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import hashlib
import json
import re

try:
    import yaml
    from yaml.events import (DocumentEndEvent, DocumentStartEvent, MappingEndEvent, MappingStartEvent, ScalarEvent,
                             SequenceEndEvent, SequenceStartEvent, StreamEndEvent, StreamStartEvent)
except ImportError:  # the controller always has PyYAML (ansible-core needs it); say so if it is missing
    yaml = None

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


# LiteLLM's own Prometheus metrics (no premium gate in 1.108.7). /metrics on the
# API port stays behind the master key (require_auth_for_metrics_endpoint); the
# litellm role serves an unauthenticated copy on a loopback-only metrics port.
# Labels that name a key, user, team, org or client are dropped: one series per
# caller would grow without bound. The cap bounds whatever is left (per metric).
METRICS_SETTINGS = {
    "callbacks": ["prometheus"],
    "require_auth_for_metrics_endpoint": True,
    "prometheus_exclude_labels": [
        "api_key_alias", "client_ip", "end_user", "hashed_api_key", "org_alias", "org_id", "project_alias",
        "project_id", "tag", "team", "team_alias", "user", "user_agent", "user_alias", "user_email",
    ],
    "prometheus_metrics_max_series_per_metric": 10000,
}


# Settings the renderer writes, and the registry key (or role) each comes from:
# ai_backend_gateway.extra_settings may add any other key, never one of these.
_ROUTING = "ai_backend_routing."
OWNED_SETTINGS = {
    "litellm_settings": dict(
        [(key, "the gateway's metrics settings") for key in METRICS_SETTINGS]
        + [("cache", _ROUTING + "cache"), ("cache_params", _ROUTING + "cache")]),
    "router_settings": {
        "routing_strategy": _ROUTING + "strategy", "num_retries": _ROUTING + "num_retries",
        "timeout": _ROUTING + "timeout", "allowed_fails": _ROUTING + "allowed_fails",
        "cooldown_time": _ROUTING + "cooldown_time", "enable_weighted_failover": "the renderer",
        "fallbacks": _ROUTING + "fallbacks", "default_fallbacks": _ROUTING + "default_fallbacks",
        "context_window_fallbacks": _ROUTING + "context_window_fallbacks",
        "model_group_alias": _ROUTING + "aliases", "redis_host": "ai_backend_redis.host",
        "redis_port": "ai_backend_redis.port", "redis_password": "ai_backend_redis.password_env",
        "redis_username": "the litellm role (REDIS_USERNAME)",
    },
    "general_settings": {"master_key": "ai_backend_gateway.master_key_env"},
}


def merge_extra_settings(config, extra):
    """Add ai_backend_gateway.extra_settings to the rendered sections; a key the
    renderer wrote is an error (validation refuses it first, with its path)."""
    for section in sorted(extra or {}):
        target = config.setdefault(section, {})
        for key in sorted(extra[section] or {}):
            if key in target or key in OWNED_SETTINGS.get(section, {}):
                raise ValueError("ai_backend_gateway.extra_settings.%s.%s would replace a rendered setting"
                                 % (section, key))
            target[key] = copy.deepcopy(extra[section][key])


def env_ref(name):
    """LiteLLM resolves ``os.environ/NAME`` at start-up; the value never touches the file."""
    return "os.environ/%s" % name


def url_host(address):
    """IPv6 literals need brackets inside a URL."""
    if ":" in address and not address.startswith("["):
        return "[%s]" % address
    return address


def api_base(provider, advertise):
    """The URL LiteLLM calls for ``provider``: its base_url, or the host's advertised address and its port."""
    suffix = PROVIDER_ROUTES[provider["type"]][1]
    if "port" in provider:
        return "http://%s:%d%s" % (url_host(advertise), provider["port"], suffix)
    return provider["base_url"].rstrip("/") + suffix


def deployment_entry(dep, advertise):
    ptype = dep.ptype
    prefix = PROVIDER_ROUTES[ptype][0]
    provider = dep.provider
    model = dep.model
    if ptype in ("vllm", "llama_cpp"):
        backend_model = model["name"]  # vLLM: --served-model-name; llama.cpp: --alias
    else:
        backend_model = model.get("source") or model["name"]
    params = {"model": "%s/%s" % (prefix, backend_model), "api_base": api_base(provider, advertise)}
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
        # A retry goes to another deployment of the group, never back to the one
        # that just failed (LiteLLM otherwise re-picks at random, so with one of
        # two deployments dead a request could fail after all its retries).
        "enable_weighted_failover": True,
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
    config["litellm_settings"] = copy.deepcopy(METRICS_SETTINGS)
    cache = routing["cache"]
    if cache.get("enabled"):
        config["litellm_settings"].update({
            "cache": True,
            "cache_params": {
                "type": "redis",
                "host": redis["host"],
                "port": redis["port"],
                "password": env_ref(redis["password_env"]),
                "ttl": cache["ttl"],
            },
        })
    merge_extra_settings(config, gateway.gateway.get("extra_settings"))
    return config


def canonical_json(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def source_digest(source):
    return hashlib.sha256(canonical_json(source).encode("utf-8")).hexdigest()


# libyaml's emitter when PyYAML has it (3-4 times faster than the pure-Python one).
_DUMPER = getattr(yaml, "CSafeDumper", None) or getattr(yaml, "SafeDumper", None)
_LOADER = getattr(yaml, "CSafeLoader", None) or getattr(yaml, "SafeLoader", None)
# first character -> [(tag, regexp)]: when a plain scalar would read back as another type.
_IMPLICIT = dict((first, list(found) + list(_DUMPER.yaml_implicit_resolvers.get(None, ())))
                 for first, found in _DUMPER.yaml_implicit_resolvers.items() if first is not None) if yaml else {}
# No line folding: a long URL or source id stays on one line, so a diff shows it whole.
_NO_FOLD = 1 << 30
# An escape \UXXXXXXXX of a double-quoted scalar (preceded by an even number of backslashes).
_ASTRAL_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\U([0-9A-Fa-f]{8})")


def _unescape(match):
    return match.group(1) + chr(int(match.group(2), 16))


_SCALAR_FORMS = yaml.representer.SafeRepresenter() if yaml else None


def _events(value, out):
    """The event stream PyYAML's serializer would make for ``value`` (block style, sorted keys).

    The config holds only builtin dicts, lists, strings, numbers, bools and None
    and shares no object, so the representer's node graph (alias bookkeeping, a
    type lookup through the MRO, two resolver calls back from libyaml per
    scalar) is skipped: at 10,000 models that halves the dump. PyYAML's emitter
    still decides every scalar's quoting and escaping; a string may be written
    plain only where PyYAML's resolver would read it back as a string.
    """
    cls = value.__class__
    if cls is str:
        plain = True
        for dummy_tag, regexp in _IMPLICIT.get(value[:1], ()):
            if regexp.match(value):
                plain = False
                break
        out.append(ScalarEvent(None, None, (plain, True), value))
    elif cls is dict:
        out.append(MappingStartEvent(None, None, True, flow_style=False))
        for key in sorted(value):
            _events(key, out)
            _events(value[key], out)
        out.append(MappingEndEvent())
    elif cls is list:
        out.append(SequenceStartEvent(None, None, True, flow_style=False))
        for item in value:
            _events(item, out)
        out.append(SequenceEndEvent())
    else:  # int, float, bool, None: PyYAML's own text for them, which reads back as the same type
        node = _SCALAR_FORMS.represent_data(value)
        out.append(ScalarEvent(None, node.tag, (True, False), node.value))


def dump_yaml(config):
    """Deterministic YAML for the config: block style, keys sorted, PyYAML's quoting, so
    any string (newlines, tabs, leading indicators) loads back equal.

    Characters outside the BMP are written as real UTF-8. libyaml escapes them
    (as \\U0001F600: valid, but not the text the user wrote); such escapes are
    turned back into the characters, and the result is kept only if it loads
    back to the same config (else the escaped text, equally valid, is kept).
    The pure-Python emitter is no way out: it writes U+0085 raw, which its own
    loader then reads as a line break.
    """
    if yaml is None:
        raise RuntimeError("rendering the LiteLLM config needs PyYAML on the controller: pip install -r "
                           "requirements.txt of the gathewhy.ai_backend collection")
    events = [StreamStartEvent(), DocumentStartEvent(explicit=False)]
    _events(config, events)
    events.extend((DocumentEndEvent(explicit=False), StreamEndEvent()))
    text = yaml.emit(events, Dumper=_DUMPER, allow_unicode=True, width=_NO_FOLD)
    if "\\U" in text:
        readable = _ASTRAL_ESCAPE.sub(_unescape, text)
        try:
            if yaml.load(readable, Loader=_LOADER) == config:
                return readable
        except yaml.YAMLError:
            pass
    return text


def render_text(config, digest, gateway_host, inference_hosts):
    header = "\n".join((
        HEADER,
        "# source registry sha256: %s" % digest,
        "# gateway: %s; inference hosts: %s" % (gateway_host, ", ".join(inference_hosts)),
    ))
    return header + "\n---\n" + dump_yaml(config)
