# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The importer's second stage: model-mappings.yaml -> public names, aliases and fallback chains.

References are resolved against the providers read in the first stage; what
cannot be resolved is dropped and listed in the report with its fix."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

try:
    from .checks import find_cycles
except ImportError:  # pragma: no cover - the engine needs PyYAML, which every importer run has
    find_cycles = None
from .importer_providers import ProviderReader, _MODEL, _Model, _norm_id
from .importer_source import expect, format_path, looks_like_secret
from .problems import path_join
from .registry_schema import MODEL_NAME_PATTERN


class MappingReader(ProviderReader):
    """exact_matches, fallback_chains, capabilities and the keys LiteLLM has no use for."""

    def _find_provider(self, name):
        """Source id or registry id -> _Provider (deployable or not), or None."""
        if not isinstance(name, str):
            return None
        if name in self.providers:
            return self.providers[name]
        provider = self.by_id.get(_norm_id(name))
        return provider if provider is not None and provider.deployable else None

    def _read_exact_matches(self):
        mf = self.mf
        section = self._section(self.mdoc, mf, "exact_matches", required=True)
        for public, body in section.items():
            keys = ("exact_matches", public)
            self._name(mf, keys, public)
            expect(body, dict, mf, keys, "the model's routing entry")
            if "provider" not in body:
                self._fail(mf, keys + ("provider",), "required key 'provider' is missing",
                           "name the provider (a key of providers.yaml's providers:) that serves it")
            pname = expect(body["provider"], str, mf, keys + ("provider",))
            provider = self._find_provider(pname)
            backend = self._name(mf, keys + ("backend_model",), body["backend_model"]) \
                if "backend_model" in body else None
            model = self._claim(provider, public, backend, keys) if provider is not None else None
            if model is None:
                self.ledger.dropped(mf, keys, "invalid")
                if provider is None:
                    self.ledger.guess(mf, keys + ("provider",), pname, "client-visible model '%s' names provider "
                                      "'%s', which %s does not define" % (public, pname, self.pf),
                                      ["fix the provider name in %s: exact_matches.%s.provider" % (mf, public),
                                       "add provider '%s' to %s" % (pname, self.pf),
                                       "remove exact_matches entry '%s' (clients calling it get an error)" % public],
                                      "model '%s' not imported: clients calling it get an error" % public)
                    continue
                if not provider.deployable:
                    problem = "its provider '%s' is not carried (a template or unsupported type)" % pname
                    fix = "not imported"
                else:
                    problem = "provider '%s' (type %s) serves exactly one model, already taken" % (
                        pname, provider.type)
                    fix = "not imported; add another %s provider for it" % provider.type
                self.ledger.correction(mf, keys, public, problem, fix)
                continue
            self.ledger.carried(mf, keys + ("provider",), self._p(provider, "models"),
                                "served by provider %s" % provider.id)
            if backend is not None:
                self.ledger.carried(mf, keys + ("backend_model",), "%s.source" % model.path)
            self._info(mf, keys, body, ("description",))
            if "priority" in body:
                self.ledger.dropped(mf, keys + ("priority",), "no_litellm_feature",
                                    "LiteLLM orders deployments inside one model group only, and each group here "
                                    "has one deployment")
            if "fallback" in body:
                value = body["fallback"]
                if value in (None, "", []):
                    self.ledger.dropped(mf, keys + ("fallback",), "empty")
                else:
                    self.ledger.dropped(mf, keys + ("fallback",), "no_litellm_feature",
                                        "a fallback to a provider: LiteLLM falls back between model groups, not "
                                        "providers, and the original generator never emitted it; the model's "
                                        "fallback_chains entry is carried instead")

    def _claim(self, provider, public, backend, keys):
        """Give a provider's model its public name; returns the _Model or None."""
        if not provider.deployable:
            return None
        wanted = backend or public
        if provider.lookup is None:
            provider.lookup = {}
            for item in provider.models:
                for key in (item.source, item.name):
                    provider.lookup.setdefault(key, []).append(item)
        model = next((m for m in provider.lookup.get(wanted, ()) if m.name_keys is None), None)
        if model is None and provider.type in ("vllm", "llama_cpp"):
            free = [m for m in provider.models if m.name_keys is None]
            model = free[0] if len(free) == 1 else None
            if model is not None and backend is not None and backend != model.source:
                self.ledger.correction(self.mf, keys + ("backend_model",), backend,
                                       "differs from the model providers.yaml lists (%s)" % model.source,
                                       "the backend serves %s; it is the model's source" % backend)
                model.source = backend
        if model is None and provider.type not in ("vllm", "llama_cpp"):
            model = _Model(self.mf, keys, wanted)
            model.plain = True
            model.added = True
            model.path = "ai_backend_providers.%s.models[%d]" % (provider.id, len(provider.models))
            provider.models.append(model)
            provider.lookup.setdefault(wanted, []).append(model)
        if model is None:
            return None
        model.name = public
        model.name_keys = keys
        if backend is not None:
            model.source = backend
        return model

    def _index_models(self):
        for provider in self.providers.values():
            if not provider.deployable:
                continue
            for model in provider.models:
                name = model.name
                if not _MODEL.match(name):
                    fixed = re.sub(r"[^A-Za-z0-9._:/@+-]", "-", name).lstrip("-._:/@+") or "model"
                    self.ledger.correction(model.file, model.name_keys or model.keys, name,
                                           "not a valid public model name (%s)" % MODEL_NAME_PATTERN,
                                           "published as '%s'" % fixed)
                    name = model.name = fixed
                if name in self.models:
                    other, first = self.models[name]
                    fixed = "%s-%s" % (name, provider.id)
                    here = "%s: %s" % (model.file, format_path(model.name_keys or model.keys))
                    there = "%s: %s" % (first.file, format_path(first.name_keys or first.keys))
                    self.ledger.guess(model.file, model.name_keys or model.keys, name,
                                      "client-visible model name '%s' is served by both %s (%s) and %s (%s); "
                                      "names are unique per host" % (name, other.source_id, there,
                                                                     provider.source_id, here),
                                      ["publish %s's model under another name (%s)" % (provider.source_id, here),
                                       "publish %s's model under another name (%s)" % (other.source_id, there),
                                       "remove the model from one of the two providers"],
                                      "published as '%s': clients calling '%s' reach only %s" % (
                                          fixed, name, other.source_id))
                    name = model.name = fixed
                self.models[name] = (provider, model)
                self.by_source.setdefault(model.source, []).append(name)

    def _resolve(self, file, keys, ref, note=""):
        """A model reference from the mappings -> an enabled public model name, or None (reported)."""
        if ref in self.models:
            provider, model = self.models[ref]
            if provider.enabled:
                return ref
            self.ledger.correction(file, keys, ref, "points at a model of disabled provider %s (LiteLLM would "
                                   "have no such model group)" % provider.id,
                                   "dropped; enable ai_backend_providers.%s and add it back" % provider.id)
            return None
        sources = [name for name in self.by_source.get(ref, ()) if self.models[name][0].enabled]
        if len(sources) == 1:
            self.ledger.correction(file, keys, ref, "the backend's model id, not its public name",
                                   "replaced by the public name %s" % sources[0])
            return sources[0]
        provider = self._find_provider(ref)
        if provider is not None:
            served = [m.name for m in provider.models] if provider.deployable else []
            if provider.deployable and provider.enabled and len(served) == 1:
                self.ledger.correction(file, keys, ref, "names a provider, not a model",
                                       "replaced by %s, the only model provider %s serves%s" % (
                                           served[0], provider.id, note))
                return served[0]
            if provider.deployable and provider.enabled:
                self.ledger.guess(file, keys, ref, "names provider %s, not a model, and it serves %d models (%s)" % (
                    ref, len(served), ", ".join(served[:10]) + (", ..." if len(served) > 10 else "")),
                    ["name one of its models here instead"] + ["%s" % name for name in served[:10]] +
                    ["remove the entry"], "dropped")
                return None
            self.ledger.correction(file, keys, ref, "names a provider, not a model, and provider %s is not "
                                   "carried" % provider.source_id, "dropped; name a served model instead")
            return None
        hidden = self.hidden_models.get(ref)
        if hidden is not None:
            self.ledger.correction(file, keys, ref, "a model of provider %s, which is not carried (see "
                                   "not_carried)" % hidden.source_id, "dropped; add it back with its provider")
            return None
        self.ledger.guess(file, keys, ref, "'%s' is not a model any provider in %s serves (a dangling "
                          "reference)" % (ref, self.pf),
                          ["fix the name in %s: %s" % (file, format_path(keys)),
                           "add model '%s' to a provider in %s" % (ref, self.pf),
                           "remove the entry"], "dropped '%s'" % ref)
        return None

    def _resolve_list(self, file, keys, items, head=None, tail_note=""):
        """Resolve a list of references; drops duplicates and self references. -> [(index, name)]."""
        out = []
        for index, ref in enumerate(items):
            ikeys = keys + (index,)
            expect(ref, str, file, ikeys, "a model name")
            name = self._resolve(file, ikeys, ref, note=tail_note if index else "")
            if name is not None and (name == head or name in [n for i, n in out]):
                self.ledger.correction(file, ikeys, ref, "repeats %s earlier in the same chain" % name
                                       if name != head else "the chain falls back to its own model",
                                       "dropped")
                name = None
            if name is None:
                self.ledger.dropped(file, ikeys, "invalid")
            else:
                out.append((index, name))
        return out

    def _read_capabilities(self):
        mf = self.mf
        section = self._section(self.mdoc, mf, "capabilities")
        if section is None:
            return
        for cap, body in section.items():
            keys = ("capabilities", cap)
            expect(body, dict, mf, keys, "a capability")
            self._info(mf, keys, body, ("description", "notes"))
            for name in sorted(body):
                if name.endswith("_thresholds") or name.startswith("min_") or name == "routing_strategy":
                    self.ledger.dropped(mf, keys + (name,), "no_litellm_feature",
                                        "per-capability routing by complexity, context size or load: LiteLLM "
                                        "has one router-wide strategy (ai_backend_routing.strategy)")
            for name in ("provider", "fallback"):
                if name in body:
                    target = self._find_provider(body[name])
                    served = [m.name for m in target.models] if target is not None and target.deployable else []
                    hint = (" To keep it, add ai_backend_routing.aliases.%s: %s" % (cap, served[0])
                            if len(served) == 1 and name == "provider" else "")
                    self.ledger.dropped(mf, keys + (name,), "no_litellm_feature",
                                        "routes a capability to a provider: LiteLLM routes model names, and the "
                                        "original emitted nothing for it.%s" % hint)
            if "preferred_models" not in body:
                continue
            lkeys = keys + ("preferred_models",)
            items = expect(body["preferred_models"], list, mf, lkeys)
            resolved = self._resolve_list(mf, lkeys, items, tail_note=" (as a fallback of the alias, which "
                                          "is not carried: see not_carried)")
            if not resolved:
                if not items:
                    self.ledger.dropped(mf, lkeys, "empty")
                continue
            if not _MODEL.match(str(cap)) or cap in self.models or looks_like_secret(cap):
                for index, dummy in resolved:
                    self.ledger.dropped(mf, lkeys + (index,), "invalid")
                why = "is also a model's name" if cap in self.models else "is not a valid alias name"
                self.ledger.correction(mf, keys, cap, "capability name %s" % why, "no alias written for it")
                continue
            first_index, first = resolved[0]
            self.routing["aliases"][cap] = first
            self.ledger.carried(mf, lkeys + (first_index,), path_join("ai_backend_routing.aliases", cap),
                                "LiteLLM's model_group_alias takes ONE model: the first preferred one")
            target = self.routing["fallbacks"].get(first)
            for index, name in resolved[1:]:
                self.ledger.dropped(mf, lkeys + (index,), "no_registry_field",
                                    "the rest of the preferred models made a fallback chain keyed by the alias "
                                    "name; the registry keys chains by served model only. Requests for '%s' "
                                    "go to %s and follow %s" % (
                                        cap, first, "its own chain (fallback_chains)" if target else
                                        "default_fallbacks"))

    def _read_fallback_chains(self):
        mf = self.mf
        section = self._section(self.mdoc, mf, "fallback_chains")
        if section is None:
            return
        for head, body in section.items():
            keys = ("fallback_chains", head)
            expect(body, dict, mf, keys, "a chain: a mapping with chain:")
            self._info(mf, keys, body, ("description", "notes"))
            if "tier" in body:
                self.ledger.dropped(mf, keys + ("tier",), "informational", "a label; nothing routes by it")
            if "chain" not in body:
                self._fail(mf, keys + ("chain",), "required key 'chain' is missing", "list the fallback models")
            lkeys = keys + ("chain",)
            items = expect(body["chain"], list, mf, lkeys)
            if not items:
                self.ledger.dropped(mf, lkeys, "empty", "a terminal model: no chain needed")
                continue
            if head == "default":
                resolved = self._resolve_list(mf, lkeys, items)
                self.routing["default_fallbacks"] = [name for dummy, name in resolved]
                for position, (index, dummy) in enumerate(resolved):
                    self.ledger.carried(mf, lkeys + (index,), "ai_backend_routing.default_fallbacks[%d]" % position)
                self.ledger.correction(mf, keys, "default", "the original emitted it as the chain of a model "
                                       "group named 'default', which no request ever uses",
                                       "carried as ai_backend_routing.default_fallbacks: LiteLLM's chain for "
                                       "every model without one of its own")
                continue
            name = self._resolve(mf, keys, head)
            if name is None:
                for index in range(len(items)):
                    self.ledger.dropped(mf, lkeys + (index,), "invalid")
                continue
            resolved = self._resolve_list(mf, lkeys, items, head=name)
            if not resolved:
                continue
            if name in self.routing["fallbacks"]:
                for index, dummy in resolved:
                    self.ledger.dropped(mf, lkeys + (index,), "invalid")
                first = next(key for key, value in self.fallback_heads.items() if value == name)
                self.ledger.guess(mf, keys, head, "a second fallback chain for model %s (the first is "
                                  "fallback_chains.%s)" % (name, first),
                                  ["keep the chain of fallback_chains.%s" % first,
                                   "keep this one", "merge the two by hand"],
                                  "dropped this one; the first is kept")
                continue
            self.fallback_heads[head] = name
            self.routing["fallbacks"][name] = [n for dummy, n in resolved]
            self.fallback_keys[name] = (lkeys, [index for index, dummy in resolved])
            chain_path = path_join("ai_backend_routing.fallbacks", name)
            for position, (index, dummy) in enumerate(resolved):
                self.ledger.carried(mf, lkeys + (index,), path_join(chain_path, position))

    def _break_cycles(self):
        """LiteLLM would bounce between models forever; the engine rejects cycles. Where to cut is the
        user's call: the import stops with each edge as a choice. Accepted, the closing edge that comes
        latest in the source is cut (the chain written last is the likelier afterthought)."""
        chains = self.routing["fallbacks"]
        order = dict((name, rank) for rank, name in enumerate(chains))
        cycles = find_cycles(chains)
        while cycles:
            loop = cycles[0]
            edges = list(zip(loop[:-1], loop[1:]))
            source, target = max(edges, key=lambda edge: order[edge[0]])
            position = chains[source].index(target)
            lkeys, indexes = self.fallback_keys[source]
            keys = lkeys + (indexes[position],)
            choices = []
            for head, tail in edges:
                hkeys, hindexes = self.fallback_keys[head]
                choices.append("cut %s -> %s (%s: %s)" % (head, tail, self.mf, format_path(
                    hkeys + (hindexes[chains[head].index(tail)],))))
            self.ledger.forget(self.mf, keys)
            self.ledger.dropped(self.mf, keys, "invalid")
            self.ledger.guess(self.mf, keys, target, "fallback cycle: %s" % " -> ".join(loop), choices,
                              "cut %s -> %s (dropped this entry)" % (source, target))
            del chains[source][position]
            del indexes[position]
            if not chains[source]:
                del chains[source]
            # Entries after the cut moved up one place in the registry list.
            for later, index in enumerate(indexes[position:], start=position):
                self.ledger.retarget(self.mf, lkeys + (index,),
                                     path_join(path_join("ai_backend_routing.fallbacks", source), later))
            cycles = find_cycles(chains)

    def _read_mapping_misc(self):
        mf = self.mf
        for name in ("patterns", "load_balancing", "routing_rules", "special_cases"):
            self._section(self.mdoc, mf, name, kind=(dict, list))
        if "patterns" in self.mdoc:
            self.ledger.dropped(mf, ("patterns",), "no_litellm_feature",
                                "regex -> provider routing: LiteLLM routes by exact model group name (and provider "
                                "wildcards); the original only parked these in router_settings.lab_extensions, "
                                "which LiteLLM ignores. Request models by their public names")
        if "load_balancing" in self.mdoc:
            self.ledger.dropped(mf, ("load_balancing",), "no_litellm_feature",
                                "weighted, adaptive, saturation- and quality-based splits across providers with "
                                "request conditions: LiteLLM has no conditions, and the original never applied "
                                "any of it (lab_extensions). To spread one model over several backends, list "
                                "the same public name under each provider")
        rules = self.mdoc.get("routing_rules")
        if isinstance(rules, dict):
            info = {
                "default_provider": ("no_litellm_feature", "LiteLLM has no default provider: a request for an "
                                     "unknown model fails; models without a chain use default_fallbacks"),
                "default_fallback": ("replaced", "a provider as the universal fallback: replaced by "
                                     "ai_backend_routing.default_fallbacks (from fallback_chains.default)"),
                "request_metadata_routing": ("no_litellm_feature", "header- and request-condition routing "
                                             "(x-priority, batch size, stream): LiteLLM cannot route on these"),
                "model_size_routing": ("no_litellm_feature", "routing by model size: LiteLLM routes by name"),
            }
            for name in rules:
                if name in info:
                    self.ledger.dropped(mf, ("routing_rules", name), info[name][0], info[name][1])
        elif "routing_rules" in self.mdoc:
            self.ledger.dropped(mf, ("routing_rules",), "no_litellm_feature")
        cases = self.mdoc.get("special_cases")
        if isinstance(cases, dict):
            info = {
                "first_request_routing": ("no_litellm_feature", "warm-provider preference and warm checks"),
                "rate_limited_fallback": ("replaced", "LiteLLM always cools a deployment down after failures "
                                          "(429 included) and then tries its fallbacks; the duration is the "
                                          "router-wide ai_backend_routing.cooldown_time. The original never "
                                          "applied this entry (lab_extensions)"),
                "error_based_routing": ("replaced", "error thresholds: LiteLLM's nearest are "
                                        "ai_backend_routing.allowed_fails and cooldown_time (router-wide). The "
                                        "original never applied this entry (lab_extensions); set those two if "
                                        "its numbers matter"),
                "geographic_routing": ("no_litellm_feature", "routing by provider location"),
            }
            for name in cases:
                if name in info:
                    self.ledger.dropped(mf, ("special_cases", name), info[name][0], info[name][1])
        elif "special_cases" in self.mdoc:
            self.ledger.dropped(mf, ("special_cases",), "no_litellm_feature")
        for name in ("metadata", "notes"):
            if name in self.mdoc:
                self.ledger.dropped(mf, (name,), "informational", "about the file itself")
