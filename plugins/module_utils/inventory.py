# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A validated, defaults-applied view of each host's registry variables.

The schema check runs first; parts that failed it are left out of this view
(so later checks never trip over a wrong type), but the model names they
declare are remembered, so a reference to them is not reported twice.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from .problems import host_path, path_join
from .registry_schema import (GATEWAY_SCHEMA, LOCAL_TYPES, PROVIDER_SCHEMA, REDIS_SCHEMA, REGISTRY_SCHEMA,
                              ROUTING_SCHEMA)

LOOPBACK = ("127.0.0.1", "localhost", "::1")
# Addresses that mean "every interface": a server binds them, no client can dial them.
WILDCARD = ("0.0.0.0", "::", "[::]", "*")


def is_loopback(address):
    """127.0.0.0/8, ::1 and localhost."""
    return address in LOOPBACK or address.startswith("127.") or address == "[::1]"


def defaults_of(schema):
    return dict((key, sub["default"]) for key, sub in schema.get("properties", {}).items()
                if isinstance(sub, dict) and "default" in sub)


def has_problem_under(bad_paths, prefix):
    """True when any problem path is ``prefix`` or lies below it."""
    for path in bad_paths:
        if path == prefix or path.startswith(prefix + ".") or path.startswith(prefix + "["):
            return True
    return False


class Deployment:
    """One model served by one enabled provider on one host."""

    __slots__ = ("host", "provider_id", "provider", "model", "index", "path", "name")

    def __init__(self, host, provider_id, provider, model, index, path):
        self.host = host
        self.provider_id = provider_id
        self.provider = provider
        self.model = model
        self.index = index
        self.path = path
        self.name = model["name"]

    @property
    def ptype(self):
        return self.provider["type"]


class HostView:
    """One host's registry with defaults applied; only schema-clean parts."""

    def __init__(self, name, raw, bad_paths):
        self.name = name
        self.raw = raw if isinstance(raw, dict) else {}
        self.path = host_path(name)
        base = REGISTRY_SCHEMA["properties"]
        self.listen = self._scalar("ai_backend_listen_address", bad_paths, base["ai_backend_listen_address"]["default"])
        self.advertise_set = "ai_backend_advertise_address" in self.raw
        self.advertise = self._scalar("ai_backend_advertise_address", bad_paths, self.listen)
        self.ceiling = self._scalar("ai_backend_gpu_memory_ceiling", bad_paths,
                                    base["ai_backend_gpu_memory_ceiling"]["default"])
        self._deployments = None
        self.providers = {}          # id -> provider dict with defaults (schema-clean only)
        self.invalid_names = {}      # model name -> path, from providers that failed the schema
        self.disabled_names = {}     # model name -> provider id, from disabled providers
        # True when ai_backend_providers itself is malformed (a list, a string...): which
        # models this host serves is unknown, so references to them are not judged.
        self.providers_unknown = False
        self._load_providers(bad_paths)
        self.gateway = self._section("ai_backend_gateway", GATEWAY_SCHEMA, bad_paths)
        self.redis = self._section("ai_backend_redis", REDIS_SCHEMA, bad_paths)
        self.routing = self._section("ai_backend_routing", ROUTING_SCHEMA, bad_paths, per_key=True)
        cache = dict(defaults_of(ROUTING_SCHEMA["properties"]["cache"]))
        if isinstance(self.routing.get("cache"), dict):
            cache.update(self.routing["cache"])
        self.routing["cache"] = cache

    def var_path(self, var, *keys):
        path = host_path(self.name, var)
        for key in keys:
            path = path_join(path, key)
        return path

    def _scalar(self, var, bad_paths, default):
        if var in self.raw and not has_problem_under(bad_paths, self.var_path(var)):
            return self.raw[var]
        return default

    def _section(self, var, schema, bad_paths, per_key=False):
        values = defaults_of(schema)
        raw = self.raw.get(var)
        if not isinstance(raw, dict) or (not per_key and has_problem_under(bad_paths, self.var_path(var))):
            return values
        for key, value in raw.items():
            if key in schema["properties"] and not has_problem_under(bad_paths, self.var_path(var, key)):
                values[key] = value
        return values

    def _load_providers(self, bad_paths):
        providers = self.raw.get("ai_backend_providers")
        if not isinstance(providers, dict):
            self.providers_unknown = "ai_backend_providers" in self.raw
            return
        pdefaults = defaults_of(PROVIDER_SCHEMA)
        for pid in sorted(providers, key=str):
            provider = providers[pid]
            ppath = self.var_path("ai_backend_providers", pid)
            if not isinstance(provider, dict):
                self.providers_unknown = True
                continue
            if has_problem_under(bad_paths, ppath):
                models = provider.get("models")
                if not isinstance(models, list):
                    self.providers_unknown = True
                    continue
                for index, model in enumerate(models):
                    if isinstance(model, dict) and isinstance(model.get("name"), str):
                        self.invalid_names.setdefault(model["name"], path_join(path_join(ppath, "models"), index))
                    else:
                        self.providers_unknown = True
                continue
            merged = dict(pdefaults)
            merged.update(provider)
            if merged.get("enabled", True):
                self.providers[pid] = merged
            else:
                for model in merged["models"]:
                    self.disabled_names.setdefault(model["name"], pid)

    def deployments(self):
        """Cached: the checks and the render each walk them."""
        if self._deployments is None:
            self._deployments = self._build_deployments()
        return self._deployments

    def _build_deployments(self):
        out = []
        for pid in sorted(self.providers):
            provider = self.providers[pid]
            mpath = self.var_path("ai_backend_providers", pid, "models")
            for index, model in enumerate(provider["models"]):
                out.append(Deployment(self.name, pid, provider, model, index, path_join(mpath, index)))
        return out

    def local_providers(self):
        return [(pid, p) for pid, p in sorted(self.providers.items()) if p["type"] in LOCAL_TYPES]
