# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The importer's optional stage: the deployed litellm-unified.yaml -> router and cache settings.

The original generator wrote the same router and cache settings into every
litellm-unified.yaml whatever the sources said (response cache on for an hour,
30 s timeout, 5 allowed fails ...). They are nowhere in providers.yaml or
model-mappings.yaml, so an import of those alone would silently switch to this
collection's defaults. Given the deployed file, they are carried into
ai_backend_routing; without it, the report lists each changed default with the
old and the new value.

Everything else in that file is derived from the two sources this import reads
(model_list, aliases, fallbacks) or is one of its known defects (sections LiteLLM
ignores, list-valued aliases, the 'default' chain, no master_key), so none of it is
carried; the report says so per section.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from .importer_providers import _ENV, ProviderReader
from .importer_source import expect, format_path, looks_like_secret
from .registry_schema import ROUTING_SCHEMA, ROUTING_STRATEGIES
from .secrets import is_secret_key

# (ai_backend_routing key, its key path in litellm-unified.yaml, the value the original generator wrote)
GENERATOR_SETTINGS = (
    ("strategy", ("router_settings", "routing_strategy"), "simple-shuffle"),
    ("num_retries", ("router_settings", "num_retries"), 2),
    ("timeout", ("router_settings", "timeout"), 30),
    ("allowed_fails", ("router_settings", "allowed_fails"), 5),
    ("cooldown_time", ("router_settings", "cooldown_time"), 60),
    ("cache.enabled", ("litellm_settings", "cache"), True),
    ("cache.ttl", ("litellm_settings", "cache_params", "ttl"), 3600),
)
# litellm_settings keys that stand in for a router setting when router_settings lacks it.
_LITELLM_FALLBACK = {"num_retries": ("litellm_settings", "num_retries"),
                     "timeout": ("litellm_settings", "request_timeout")}

_SECTIONS = {
    "model_list": ("replaced", "derived from providers.yaml and model-mappings.yaml, which this import reads (its "
                               "vLLM entry sent the Hugging Face name to a vLLM serving another name: not carried)"),
    "server_settings": ("no_litellm_feature", "LiteLLM ignores this section without a warning; the gateway's "
                                              "address and port are ai_backend_gateway's"),
    "rate_limit_settings": ("no_litellm_feature", "LiteLLM ignores this section without a warning: its rpm/tpm "
                                                  "never took effect (LiteLLM reads them per deployment)"),
    "general_settings": ("no_registry_field", "health-check settings the litellm role owns; the master key is "
                                              "ai_backend_gateway.master_key_env (the original had none)"),
    "debug": ("no_registry_field", "the litellm role sets LiteLLM's logging"),
    "debug_router": ("no_registry_field", "the litellm role sets LiteLLM's logging"),
    "test_mode": ("informational", "not a LiteLLM setting"),
    "environment_variables": ("replaced", "secrets are vaulted variables (litellm_provider_secrets)"),
}
_ROUTER = {
    "model_group_alias": ("replaced", "derived from model-mappings.yaml's capabilities (its one-item list "
                                      "values are a known defect: LiteLLM wants one model name)"),
    "fallbacks": ("replaced", "derived from model-mappings.yaml's fallback_chains (its 'default' chain and the "
                              "capability chains are known defects: see the corrections)"),
    "lab_extensions": ("no_litellm_feature", "LiteLLM ignores it without a warning"),
    "redis_host": ("replaced", "ai_backend_redis.host"),
    "redis_port": ("replaced", "ai_backend_redis.port (from ports.yaml)"),
    "redis_password": ("replaced", "ai_backend_redis.password_env and the vaulted redis_password"),
    "enable_pre_call_checks": ("no_registry_field", "the litellm role decides it"),
}
_LITELLM = {
    "request_timeout": ("no_registry_field", "ai_backend_routing.timeout is the router's per-request timeout"),
    "stream_timeout": ("no_registry_field", "ai_backend_routing.timeout applies to streams too"),
    "timeout": ("no_registry_field", "ai_backend_routing.timeout is the router's per-request timeout"),
    "num_retries": ("no_registry_field", "router_settings.num_retries is the one the router uses"),
    "set_verbose": ("no_registry_field", "the litellm role sets LiteLLM's logging"),
    "json_logs": ("no_registry_field", "the litellm role sets LiteLLM's logging"),
    "cache_params": ("replaced", "Redis is ai_backend_redis; the cache's ttl is ai_backend_routing.cache.ttl"),
}


def _default(setting):
    """This collection's default for an ai_backend_routing setting (``cache.ttl`` style names)."""
    schema = ROUTING_SCHEMA
    for part in setting.split("."):
        schema = schema["properties"][part]
    return schema.get("default")


def _get(doc, keys):
    node = doc
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


class LitellmReader(ProviderReader):
    """The litellm-unified.yaml stage (importer.Importer has it and MappingReader as bases);
    ``self.ldoc`` is the parsed file or None."""

    def _read_litellm(self):
        """Router and cache settings -> self.routing_settings; every section accounted for."""
        lf, doc = self.lf, self.ldoc
        if doc is None:
            for setting, keys, old in GENERATOR_SETTINGS:
                self._changed(setting, old, "the original generator always wrote %s: %s, and this import was "
                                            "given no litellm_config" % (format_path(keys), _show(old)))
            return
        self._scan_secrets(lf, doc, ())
        used = set()
        for setting, keys, dummy in GENERATOR_SETTINGS:
            if _get(doc, keys) is None and setting in _LITELLM_FALLBACK and _get(doc, _LITELLM_FALLBACK[setting]):
                keys = _LITELLM_FALLBACK[setting]
            value = _get(doc, keys)
            if value is None:
                self._changed(setting, "not set (LiteLLM's own default)", "%s does not set %s" % (
                    lf, format_path(keys)))
                continue
            self._set(setting, self._checked(setting, keys, value))
            self.ledger.carried(lf, keys, "ai_backend_routing.%s" % setting)
            used.add(keys)
        cache = self.routing_settings.get("cache")
        if cache is not None and cache.get("enabled") and _get(doc, ("litellm_settings", "cache_params", "type")) \
                not in (None, "redis"):
            self.ledger.correction(lf, ("litellm_settings", "cache_params", "type"),
                                   _get(doc, ("litellm_settings", "cache_params", "type")),
                                   "this collection's response cache is Redis only",
                                   "carried as the Redis cache (ai_backend_routing.cache)")
        self._account(doc, used)

    def _changed(self, setting, old, why):
        new = _default(setting)
        if old != new:
            self.defaults_changed.append({
                "setting": "ai_backend_routing.%s" % setting, "old": old, "new": new,
                "why": "%s; this collection's default applies. To keep the old value, set "
                       "ai_backend_routing.%s: %s (or import again with -e litellm_config=PATH/litellm-unified.yaml)"
                       % (why, setting, _show(old) if not str(old).startswith("not set") else "VALUE")})

    def _set(self, setting, value):
        if "." in setting:
            group, key = setting.split(".")
            self.routing_settings.setdefault(group, {})[key] = value
        else:
            self.routing_settings[setting] = value

    def _checked(self, setting, keys, value):
        """The value if the registry accepts it; else a SourceError naming it and the allowed values."""
        lf = self.lf
        if setting == "strategy":
            expect(value, str, lf, keys)
            if value not in ROUTING_STRATEGIES:
                self._fail(lf, keys, "routing strategy '%s' is not one this collection renders" % value,
                           "use one of %s" % ", ".join(ROUTING_STRATEGIES))
            return value
        if setting == "cache.enabled":
            return expect(value, bool, lf, keys)
        if setting in ("num_retries", "allowed_fails", "cache.ttl"):
            expect(value, int, lf, keys)
            low = 1 if setting == "cache.ttl" else 0
            if value < low:
                self._fail(lf, keys, "%s is %d, below %d" % (format_path(keys), value, low),
                           "write a whole number of at least %d" % low)
            return value
        expect(value, (int, float), lf, keys)
        if value < 0 or (value == 0 and setting == "timeout"):
            self._fail(lf, keys, "%s is %s, which is not a valid number of seconds" % (format_path(keys), value),
                       "write a number of seconds above 0")
        return value

    def _account(self, doc, used):
        """One report entry for every other section and key of the file."""
        lf = self.lf
        for name in doc:
            if name in ("router_settings", "litellm_settings") and isinstance(doc[name], dict):
                table = _ROUTER if name == "router_settings" else _LITELLM
                for key in doc[name]:
                    keys = (name, key)
                    if keys in used or self.ledger.touches(lf, keys):
                        if key == "cache_params":
                            self._account_cache_params(doc[name][key], used)
                        continue
                    reason, detail = table.get(key, ("unrecognised", None))
                    self.ledger.dropped(lf, keys, reason, detail)
                continue
            reason, detail = _SECTIONS.get(name, ("unrecognised", None))
            self.ledger.dropped(lf, (name,), reason, detail)

    def _account_cache_params(self, params, used):
        lf = self.lf
        for key in params if isinstance(params, dict) else ():
            keys = ("litellm_settings", "cache_params", key)
            if keys not in used:
                self.ledger.dropped(lf, keys, "replaced", "this collection's cache is Redis on ai_backend_redis"
                                    if key in ("type", "host", "port", "password") else
                                    "the registry has ttl only")

    def _scan_secrets(self, file, node, keys):
        """Literal keys anywhere in the deployed file (model_list api_key, a master_key ...)."""
        if isinstance(node, dict):
            for key, value in node.items():
                self._scan_secrets(file, value, keys + (key,))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                self._scan_secrets(file, value, keys + (index,))
        elif literal_secret(keys[-1] if keys else None, node):
            if file == self.lf:
                self.ledger.leaked(file, keys, "a literal secret in the deployed LiteLLM config",
                                   "not carried (nothing of model_list or general_settings is)")
            else:
                self.ledger.leaked(file, keys, "a literal secret in the source", "not copied")


def literal_secret(key, value):
    """True for a string that is a credential itself, not the name of where one is kept."""
    if not isinstance(value, str) or not value or value.startswith("os.environ/"):
        return False
    if looks_like_secret(value):
        return True
    return is_secret_key(key) and not key.endswith("_env") and not _ENV.match(value) and \
        value.lower() not in ("none", "not-needed", "null")


def _show(value):
    return str(value).lower() if isinstance(value, bool) else value
