# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The importer's first stage: providers.yaml -> providers, models and their report entries.

Also the helpers every stage shares (ProviderReader is the base of MappingReader,
which is the base of importer.Importer), and the host-level settling that keeps
enabled providers from colliding on ports or GPUs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from urllib.parse import urlsplit

from .importer_report import Ledger
from .importer_source import SourceError, expect, format_path, looks_like_secret
try:
    from .registry import validate_inventory
except ImportError:  # pragma: no cover - the engine needs PyYAML, which every importer run has
    validate_inventory = None
from .registry_schema import ENV_NAME_PATTERN, ID_PATTERN, MODEL_NAME_PATTERN

# Provider types the original system knew, and what each becomes here.
SOURCE_TYPES = ("ollama", "ollama_cloud", "llama_cpp", "vllm", "openai", "openai_compatible", "anthropic")
UNSUPPORTED_TYPES = ("anthropic",)
LOCAL_TYPES = ("ollama", "llama_cpp", "vllm")
DEFAULT_PORTS = {"ollama": 11434, "llama_cpp": 8080, "vllm": 8000}
STATUSES = ("active", "disabled", "template")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
# Where the llama_cpp role keeps model files (roles/llama_cpp/defaults: llama_cpp_model_dir).
GGUF_DIR = "/var/lib/llama-cpp/models"

_ID = re.compile(ID_PATTERN)
_ENV = re.compile(ENV_NAME_PATTERN)
_MODEL = re.compile(MODEL_NAME_PATTERN)
_CAPABILITY = re.compile(r"^[a-z][a-z0-9_]*$")

# Provider keys that describe rather than configure.
_PROVIDER_INFO = ("description", "features", "docs", "location", "notes")
_MODEL_INFO = ("size", "quantization", "pulled_at", "model_size_gb", "kv_cache_available_gb", "description")
_REPLACED_PROVIDER_KEYS = {
    "health_endpoint": "the roles' health checks and playbooks/smoke.yml derive each endpoint from the provider type",
    "service_file": "each provider runs as this collection's own systemd unit (ollama@, llama-cpp@, vllm@<id>)",
    "api_format": "the provider type decides how LiteLLM talks to it",
    "hardware_requirements": "the roles' GPU preflight reads the real GPUs (gathewhy.ai_backend.gpu_facts) "
                             "and the vllm role checks gpu_memory_utilization against them",
}
_LLAMA_CONFIGURATION = {"n_gpu_layers": "n_gpu_layers", "n_ctx": "context_size", "n_parallel": "parallel",
                        "threads": "threads"}
_VLLM_KEYS = ("gpu_memory_utilization", "max_model_len", "tensor_parallel_size", "gpus")


def _norm_id(source_id):
    text = re.sub(r"[^a-z0-9_]", "_", str(source_id).lower())
    if not text or not text[0].isalpha():
        text = "p_" + text
    return text[:63]


def _norm_capability(value):
    text = re.sub(r"[^a-z0-9_]", "_", str(value).strip().lower()).strip("_")
    if text and not text[0].isalpha():
        text = "c_" + text
    return text


class _Model:
    def __init__(self, file, keys, source):
        self.file = file
        self.keys = keys                  # source keys of this model entry
        self.source = source              # the backend's own id
        self.name = source                # public name; exact_matches may rename it
        self.name_keys = None             # exact_matches key that set the public name
        self.capabilities = []
        self.fields = {}                  # context_length, rpm, tpm
        self.plain = True                 # listed as a bare string
        self.added = False                # named only in exact_matches
        self.path = None                  # its registry path


class _Provider:
    def __init__(self, source_id, keys):
        self.source_id = source_id
        self.keys = keys
        self.id = _norm_id(source_id)
        self.type = None
        self.enabled = True
        self.port = None
        self.base_url = None
        self.host = None
        self.api_key_env = None
        self.settings = {}                # type-specific registry keys, in order
        self.models = []
        self.deployable = True            # False: not carried (template, unsupported type)
        self.lookup = None                # source id or name -> its models, built on first use


class ProviderReader:
    """State of one import run, the shared helpers, and the providers.yaml stage."""

    def __init__(self, providers, mappings, ports=None,
                 names=("providers.yaml", "model-mappings.yaml", "ports.yaml"),
                 accept_corrections=False, litellm=None, litellm_name="litellm-unified.yaml", full_report=False):
        self.pdoc, self.mdoc, self.odoc, self.ldoc = providers, mappings, ports, litellm
        self.pf, self.mf, self.of = names
        self.lf = litellm_name
        self.accept = accept_corrections
        self.full_report = full_report
        files = [self.pf, self.mf] + ([self.of] if ports is not None else []) + (
            [self.lf] if litellm is not None else [])
        self.ledger = Ledger(files, named_roots=[self.of])
        self.hidden_models = {}           # model name -> provider, for providers that are not carried
        self.routing_settings = {}        # ai_backend_routing tunables from litellm_config
        self.defaults_changed = []        # settings whose value differs from the original deployment's
        self.providers = {}               # source id -> _Provider
        self.by_id = {}                   # registry id -> _Provider
        self.models = {}                  # public name -> (_Provider, _Model)
        self.routing = {"fallbacks": {}, "default_fallbacks": [], "aliases": {}}
        self.fallback_keys = {}           # chain key -> (source keys of its list, source index of each entry)
        self.fallback_heads = {}          # fallback_chains key -> the public name it resolved to
        self.by_source = {}               # backend model id -> public names serving it
        self.gateway = {}
        self.redis = {}
        self.listen_address = None

    # ------------------------------------------------------------------ helpers
    def _fail(self, file, keys, message, hint):
        raise SourceError(file, keys, message, hint)

    def _section(self, doc, file, key, kind=dict, required=False):
        if key not in doc:
            if required:
                self._fail(file, (key,), "required section '%s' is missing" % key,
                           "is this the right file? The original's %s has a top-level '%s:' section" % (file, key))
            return None
        return expect(doc[key], kind, file, (key,))

    @staticmethod
    def _p(provider, suffix):
        return "ai_backend_providers.%s.%s" % (provider.id, suffix)

    def _info(self, file, keys, node, names, reason="informational", detail=None):
        for name in names:
            if name in node:
                self.ledger.dropped(file, keys + (name,), reason, detail)

    # ------------------------------------------------------------------ providers.yaml
    def _read_providers(self):
        pf = self.pf
        section = self._section(self.pdoc, pf, "providers", required=True)
        if not section:
            self._fail(pf, ("providers",), "no providers are defined", "add at least one provider")
        for source_id, body in section.items():
            keys = ("providers", source_id)
            expect(body, dict, pf, keys, "a provider")
            provider = _Provider(source_id, keys)
            self.providers[source_id] = provider
            if body.get("status") != "disabled":
                self._read_provider(provider, body)
                continue
            # A disabled provider serves nothing: whatever it lacks must not stop the import.
            mark = self.ledger.checkpoint()
            try:
                self._read_provider(provider, body)
            except SourceError as exc:
                self._not_carried(provider, body, mark, "%s: %s" % (exc.path, exc.message))
                continue
            problem = self._engine_problem(provider) if provider.deployable else None
            if problem is not None:
                self._not_carried(provider, body, mark, problem)
        if "metadata" in self.pdoc:
            self.ledger.dropped(pf, ("metadata",), "informational", "counts and notes about the file itself")
        if "health_checks" in self.pdoc:
            self.ledger.dropped(pf, ("health_checks",), "replaced",
                                "the roles wait for each service's health endpoint after every (re)start and "
                                "playbooks/smoke.yml probes the whole chain; endpoints follow from the registry")

    def _not_carried(self, provider, body, mark, why):
        """Forget a disabled provider the registry cannot hold as it stands, and say what it lacks."""
        self.ledger.rollback(mark)
        if self.by_id.get(provider.id) is provider:
            del self.by_id[provider.id]
        provider.deployable = False
        provider.models = []
        items = body.get("models")
        for item in items if isinstance(items, list) else []:
            name = item.get("name") if isinstance(item, dict) else item
            if isinstance(name, str):
                self.hidden_models.setdefault(name, provider)
        self.ledger.dropped(self.pf, provider.keys, "not_deployable",
                            "disabled, and incomplete as the registry needs it (%s); complete it and import "
                            "again, or add it to ai_backend_providers by hand when you enable it" % why)

    def _provider_dict(self, provider, record=True):
        out = {"type": provider.type, "enabled": provider.enabled}
        if provider.port is not None:
            out["port"] = provider.port
        if provider.base_url is not None:
            out["base_url"] = provider.base_url
        if provider.api_key_env:
            out["api_key_env"] = provider.api_key_env
        for key in ("context_size", "parallel", "threads", "n_gpu_layers", "gpus", "gpu_memory_utilization",
                    "max_model_len", "tensor_parallel_size"):
            if key in provider.settings:
                out[key] = provider.settings[key]
        models = []
        for model in provider.models:
            entry = {"name": model.name}
            if model.source != model.name:
                entry["source"] = model.source
            if model.capabilities:
                entry["capabilities"] = list(model.capabilities)
            for key in ("context_length", "rpm", "tpm"):
                if key in model.fields:
                    entry[key] = model.fields[key]
            if provider.type == "llama_cpp":
                path = "%s/%s.gguf" % (GGUF_DIR, provider.id)
                entry["gguf"] = {"path": path}
                if not record:
                    models.append(entry)
                    continue
                where = "ai_backend_providers.%s.models[%d].gguf" % (provider.id, len(models))
                self.ledger.add(where, "the source names no model file")
                self.ledger.action(where, "the original does not say which GGUF file %s served: put it at %s on "
                                   "the host, or set gguf: {url: ..., sha256: ...}" % (provider.source_id, path))
            models.append(entry)
        out["models"] = models
        return out

    def _engine_problem(self, provider):
        """What the engine would reject in this provider alone (its first error), or None."""
        if validate_inventory is None:  # pragma: no cover
            return None
        entry = self._provider_dict(provider, record=False)
        errors, dummy = validate_inventory({"imported": {"ai_backend_providers": {provider.id: entry}}})
        prefix = "ai_backend_providers.%s" % provider.id
        for problem in errors:
            if prefix in problem.path:
                return "%s: %s" % (problem.path.split("].", 1)[-1], problem.message)
        return None

    def _read_provider(self, provider, body):
        pf, keys = self.pf, provider.keys
        if "type" not in body:
            self._fail(pf, keys + ("type",), "required key 'type' is missing",
                       "add type: one of %s" % ", ".join(SOURCE_TYPES))
        source_type = expect(body["type"], str, pf, keys + ("type",))
        if source_type not in SOURCE_TYPES:
            self._fail(pf, keys + ("type",), "unknown provider type '%s'" % source_type,
                       "use one of the original system's types: %s" % ", ".join(SOURCE_TYPES))
        status = expect(body.get("status", "active"), str, pf, keys + ("status",))
        if status not in STATUSES:
            self._fail(pf, keys + ("status",), "unknown status '%s'" % status, "use one of: %s" % ", ".join(STATUSES))
        if status == "template":
            provider.deployable = False
            self.ledger.dropped(pf, keys, "not_deployable", "a template (status: template), not a provider")
            return
        if source_type in UNSUPPORTED_TYPES:
            provider.deployable = False
            self.ledger.dropped(pf, keys, "not_deployable",
                                "this collection has no '%s' provider type (LiteLLM talks to it, but the registry "
                                "covers ollama, llama_cpp, vllm, ollama_cloud and openai_compatible)" % source_type)
            if status == "active":
                self.ledger.correction(pf, keys, source_type, "an active provider of a type this collection "
                                       "cannot configure; its models are not served",
                                       "reach it through an OpenAI-compatible endpoint (type openai_compatible) "
                                       "or keep it outside this gateway")
            provider.models = self._read_models(provider, body, record=False)
            return
        self._assign_id(provider)
        provider.enabled = status == "active"
        if "status" in body:
            self.ledger.carried(pf, keys + ("status",), self._p(provider, "enabled"))
        else:
            self.ledger.add(self._p(provider, "enabled"), "no status in the source: active assumed")

        self._read_endpoint(provider, body, source_type)
        self._read_credentials(provider, body)
        self._info(pf, keys, body, _PROVIDER_INFO)
        for name, detail in _REPLACED_PROVIDER_KEYS.items():
            if name in body:
                self.ledger.dropped(pf, keys + (name,), "replaced", detail)
        if "rate_limits" in body:
            self._read_provider_rate_limits(provider, body["rate_limits"])
        if "cost_per_1k_tokens" in body:
            self.ledger.dropped(pf, keys + ("cost_per_1k_tokens",), "replaced",
                                "LiteLLM prices known models from its own cost map")
        if provider.type == "llama_cpp" and "configuration" in body:
            config = expect(body["configuration"], dict, pf, keys + ("configuration",))
            for name, target in _LLAMA_CONFIGURATION.items():
                if name in config:
                    value = expect(config[name], int, pf, keys + ("configuration", name))
                    self._setting(provider, keys + ("configuration", name), target, value,
                                  minimum=-1 if target == "n_gpu_layers" else 1)
        if provider.type == "vllm":
            for name in _VLLM_KEYS:
                if name in body:
                    self._read_vllm_key(provider, body, name)
        provider.models = self._read_models(provider, body, record=True)

    def _setting(self, provider, keys, target, value, minimum=None, maximum=None):
        low_ok = minimum is None or value >= minimum
        high_ok = maximum is None or value <= maximum
        if low_ok and high_ok:
            provider.settings[target] = value
            self.ledger.carried(self.pf, keys, self._p(provider, target))
            return
        self.ledger.dropped(self.pf, keys, "invalid")
        self.ledger.correction(self.pf, keys, value, "out of range for %s" % target,
                               "left unset, so the role's default applies; set ai_backend_providers.%s.%s "
                               "to a valid value if it matters" % (provider.id, target))

    def _name(self, file, keys, value):
        """A model name or id: a string, and never something shaped like a credential."""
        expect(value, str, file, keys, "a model name")
        if looks_like_secret(value) or not value.strip():
            self._fail(file, keys, "a model name that is empty or shaped like a credential (value not shown)",
                       "write the model's name here; keys belong in a vaulted variable")
        return value

    def _positive(self, file, keys, value):
        """A positive integer, or None (dropped and reported) when it is zero or negative."""
        value = expect(value, int, file, keys)
        if value >= 1:
            return value
        self.ledger.dropped(file, keys, "invalid")
        self.ledger.correction(file, keys, value, "must be a positive number", "left unset")
        return None

    def _read_vllm_key(self, provider, body, name):
        keys = provider.keys + (name,)
        if name == "gpu_memory_utilization":
            value = expect(body[name], (int, float), self.pf, keys)
            if 0 < value <= 1:
                provider.settings[name] = value
                self.ledger.carried(self.pf, keys, self._p(provider, name))
            else:
                self._setting(provider, keys, name, value, minimum=1, maximum=0)
        elif name == "gpus":
            value = expect(body[name], list, self.pf, keys)
            for index, item in enumerate(value):
                expect(item, int, self.pf, keys + (index,))
            if all(item >= 0 for item in value) and len(set(value)) == len(value):
                provider.settings[name] = list(value)
                self.ledger.carried(self.pf, keys, self._p(provider, "gpus"))
            else:
                self.ledger.dropped(self.pf, keys, "invalid")
                self.ledger.correction(self.pf, keys, value, "GPU indices must be distinct and 0 or more",
                                       "left unset; list the GPU indices in ai_backend_providers.%s.gpus"
                                       % provider.id)
        else:
            self._setting(provider, keys, name, expect(body[name], int, self.pf, keys), minimum=1)

    def _read_endpoint(self, provider, body, source_type):
        pf, keys = self.pf, provider.keys
        if "base_url" not in body:
            self._fail(pf, keys + ("base_url",), "required key 'base_url' is missing",
                       "add the URL the original gateway used, e.g. http://127.0.0.1:11434")
        url = expect(body["base_url"], str, pf, keys + ("base_url",))
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self._fail(pf, keys + ("base_url",), "'%s' is not an http(s) URL" % url,
                       "write it as http://HOST:PORT")
        port = _url_port(parts.netloc)
        if port is not None and not port.isdigit():
            self._fail(pf, keys + ("base_url",), "the port '%s' in '%s' is not a number (a placeholder?)" % (
                port, url), "write the real port, or mark the provider status: template")
        if port is not None and not 1 <= int(port) <= 65535:
            self._fail(pf, keys + ("base_url",), "the port %s in '%s' is out of range 1-65535" % (port, url),
                       "write the port the service really listens on")
        port = int(port) if port is not None else None
        host = parts.hostname
        local = host in LOOPBACK_HOSTS or host == "0.0.0.0" or re.match(r"^[0-9.]+$", host) is not None
        if source_type == "ollama" and not local:
            provider.type = "ollama_cloud"
            self.ledger.carried(pf, keys + ("type",), self._p(provider, "type"),
                                "type ollama with a remote base_url: the registry's ollama_cloud")
        elif source_type == "openai":
            provider.type = "openai_compatible"
            self.ledger.carried(pf, keys + ("type",), self._p(provider, "type"), "openai: an openai_compatible endpoint")
        else:
            provider.type = source_type
            self.ledger.carried(pf, keys + ("type",), self._p(provider, "type"))
        if parts.username or parts.password:
            self.ledger.leaked(pf, keys + ("base_url",), "the URL carries credentials",
                               "removed from the URL; the key goes to an env var (see action_required)")
            url = url.replace(parts.netloc, parts.netloc.rsplit("@", 1)[1], 1)
            provider.api_key_env = provider.api_key_env or "%s_API_KEY" % provider.id.upper()
        if provider.type in LOCAL_TYPES:
            if port is None:
                port = DEFAULT_PORTS[provider.type]
                self.ledger.correction(pf, keys + ("base_url",), url, "no port in the URL",
                                       "port %d, the %s default" % (port, provider.type))
            provider.port = port
            provider.host = host
            note = "port %d; host %s -> ai_backend_listen_address" % (port, host)
            if parts.path not in ("", "/"):
                note += "; path %s not needed (the engine adds the API path)" % parts.path
            self.ledger.carried(pf, keys + ("base_url",), self._p(provider, "port"), note)
        else:
            provider.base_url = url.rstrip("/")
            self.ledger.carried(pf, keys + ("base_url",), self._p(provider, "base_url"))

    def _read_credentials(self, provider, body):
        pf, keys = self.pf, provider.keys
        env = None
        if "env_var" in body:
            value = expect(body["env_var"], str, pf, keys + ("env_var",))
            if _ENV.match(value):
                env = value
                self.ledger.carried(pf, keys + ("env_var",), self._p(provider, "api_key_env"))
            else:
                self.ledger.dropped(pf, keys + ("env_var",), "secret")
                self.ledger.leaked(pf, keys + ("env_var",), "env_var holds a value, not a variable name",
                                   "not copied; the key is read from %s_API_KEY" % provider.id.upper())
                env = "%s_API_KEY" % provider.id.upper()
        if "api_key" in body:
            value = body["api_key"]
            if isinstance(value, str) and value.startswith("os.environ/") and _ENV.match(value[11:]):
                env = env or value[11:]
                self.ledger.carried(pf, keys + ("api_key",), self._p(provider, "api_key_env"))
            elif value in (None, "", "not-needed", "none"):
                self.ledger.dropped(pf, keys + ("api_key",), "empty", "no key needed")
            else:
                self.ledger.dropped(pf, keys + ("api_key",), "secret")
                self.ledger.leaked(pf, keys + ("api_key",), "a literal API key in the source",
                                   "not copied; the registry names an env var instead, its value comes "
                                   "from a vaulted variable (see action_required)")
                env = env or "%s_API_KEY" % provider.id.upper()
        needs_key = "requires_api_key" in body and expect(body["requires_api_key"], bool, pf,
                                                          keys + ("requires_api_key",))
        if "requires_api_key" in body:
            if needs_key:
                self.ledger.carried(pf, keys + ("requires_api_key",), self._p(provider, "api_key_env"),
                                    "a key is required: the registry names its env var")
            else:
                self.ledger.dropped(pf, keys + ("requires_api_key",), "empty", "no key required")
        if needs_key and env is None:
            env = "%s_API_KEY" % provider.id.upper()
            self.ledger.add(self._p(provider, "api_key_env"), "requires_api_key without env_var: %s assumed" % env)
        if env is not None or provider.api_key_env:
            provider.api_key_env = env or provider.api_key_env

    def _read_provider_rate_limits(self, provider, limits):
        pf, keys = self.pf, provider.keys + ("rate_limits",)
        expect(limits, dict, pf, keys)
        for name in limits:
            target = {"requests_per_minute": "rpm", "rpm": "rpm",
                      "tokens_per_minute": "tpm", "tpm": "tpm"}.get(name)
            if target is None:
                self.ledger.dropped(pf, keys + (name,), "informational",
                                    "describes the remote service's own limits; nothing enforces it here")
                continue
            value = self._positive(pf, keys + (name,), limits[name])
            if value is not None:
                provider.settings.setdefault("_limits", {})[target] = value
                self.ledger.carried(pf, keys + (name,), self._p(provider, "models[*].%s" % target),
                                    "LiteLLM enforces rpm/tpm per deployment (litellm_params)")

    def _read_models(self, provider, body, record):
        pf, keys = self.pf, provider.keys + ("models",)
        if "models" not in body:
            self._fail(pf, keys, "required key 'models' is missing", "list the models this provider serves")
        items = expect(body["models"], list, pf, keys)
        if not items and record:
            self._fail(pf, keys, "the provider lists no models", "list at least one model, or remove the provider")
        models = []
        for index, item in enumerate(items):
            mkeys = keys + (index,)
            path = "ai_backend_providers.%s.models[%d]" % (provider.id, index)
            if record and index >= 1 and provider.type in ("vllm", "llama_cpp"):
                name = item.get("name") if isinstance(item, dict) else item
                self.ledger.dropped(pf, mkeys, "invalid")
                self.ledger.correction(pf, mkeys, name, "a %s instance serves exactly one model" % provider.type,
                                       "not imported; add another %s provider for it" % provider.type)
                continue
            if isinstance(item, str):
                model = _Model(pf, mkeys, self._name(pf, mkeys, item))
                model.plain = True
                model.path = path
            else:
                expect(item, dict, pf, mkeys, "a model: a name or a mapping with name:")
                if "name" not in item:
                    self._fail(pf, mkeys + ("name",), "required key 'name' is missing", "give the model's name")
                model = _Model(pf, mkeys, self._name(pf, mkeys + ("name",), item["name"]))
                model.plain = False
                model.path = path
                if record:
                    self._read_model_keys(provider, model, item)
            models.append(model)
        limits = provider.settings.pop("_limits", {})
        for model in models:
            for target, value in limits.items():
                model.fields.setdefault(target, value)
        return models

    def _read_model_keys(self, provider, model, item):
        pf, keys = self.pf, model.keys
        self._info(pf, keys, item, _MODEL_INFO)
        for name in ("specialty", "tags"):
            if name not in item:
                continue
            values = item[name] if name == "tags" else [item[name]]
            expect(values, list, pf, keys + (name,))
            for index, value in enumerate(values):
                vkeys = keys + (name,) + ((index,) if name == "tags" else ())
                expect(value, str, pf, vkeys)
                cap = _norm_capability(value)
                if looks_like_secret(value):
                    self.ledger.dropped(pf, vkeys, "secret")
                    self.ledger.leaked(pf, vkeys, "a label that looks like a credential", "not copied")
                    continue
                if not _CAPABILITY.match(cap or "-"):
                    self.ledger.dropped(pf, vkeys, "invalid")
                    self.ledger.correction(pf, vkeys, value, "not usable as a capability label", "left out")
                elif cap in model.capabilities:
                    self.ledger.dropped(pf, vkeys, "empty", "duplicate of a label already carried")
                else:
                    model.capabilities.append(cap)
                    self.ledger.carried(pf, vkeys, "%s.capabilities" % model.path,
                                        None if cap == value else "normalised to '%s'" % cap)
        for name in ("context_length", "rpm", "tpm"):
            if name in item:
                value = self._positive(pf, keys + (name,), item[name])
                if value is not None:
                    model.fields[name] = value
                    self.ledger.carried(pf, keys + (name,), "%s.%s" % (model.path, name))
        if "options" in item:
            detail = "per-model backend options are not part of the registry (the original passed them " \
                     "as extra_body.options on every request)"
            options = item["options"]
            if isinstance(options, dict) and "num_gpu_layers" in options:
                detail += "; num_gpu_layers is not an Ollama option anyway (Ollama's is num_gpu, and by " \
                          "default Ollama offloads every layer that fits)"
            self.ledger.dropped(pf, keys + ("options",), "no_registry_field", detail)

    def _assign_id(self, provider):
        base = provider.id
        candidate, n = base, 2
        while candidate in self.by_id:
            candidate, n = "%s_%d" % (base, n), n + 1
        provider.id = candidate
        self.by_id[candidate] = provider
        if candidate != provider.source_id:
            self.ledger.correction(self.pf, provider.keys, provider.source_id,
                                   "provider ids must match %s" % ID_PATTERN,
                                   "renamed to %s; every reference to it was followed" % candidate)

    def _disable(self, provider, problem, choices):
        """Two enabled providers cannot share this host as the source has them: which one gives way is
        the user's call. With accept_corrections the later one (in source order) is disabled."""
        provider.enabled = False
        self.ledger.guess(self.pf, provider.keys, provider.source_id, problem, choices,
                          "provider %s disabled (enabled: false), the later of the two in %s" % (
                              provider.id, self.pf))

    def _where(self, provider, key):
        return "%s: %s" % (self.pf, format_path(provider.keys + (key,)))

    def _settle_host(self):
        """Enabled providers must be able to run side by side on one host: one port each, one vLLM per GPU
        budget. The original never checked either; here each clash stops the import (or, accepted, the
        later provider is disabled and reported)."""
        taken = {}
        for port, name, where in ((self.gateway.get("port", 4000), "the LiteLLM gateway",
                                   "%s: litellm_gateway.port" % self.of if "port" in self.gateway else
                                   "the gateway's default port"),
                                  (self.redis.get("port", 6379), "Redis", "%s: redis.port" % self.of
                                   if "port" in self.redis else "Redis's default port")):
            taken.setdefault(port, (name, where, None))
        for provider in self.by_id.values():
            if not provider.enabled or provider.port is None:
                continue
            if provider.port not in taken:
                taken[provider.port] = ("provider %s" % provider.source_id, self._where(provider, "base_url"),
                                        provider)
                continue
            name, where, other = taken[provider.port]
            choices = ["give %s another port (%s)" % (provider.source_id, self._where(provider, "base_url")),
                       "move %s to another port (%s)" % (name, where),
                       "disable %s (status: disabled)" % provider.source_id]
            if other is not None:
                choices.append("disable %s (status: disabled)" % other.source_id)
            self._disable(provider, "port %d of %s (base_url %s) is already used by %s (%s)" % (
                provider.port, provider.source_id, provider.base_url or "http://%s:%d" % (provider.host, provider.port),
                name, where), choices)
        vllm = [p for p in self.by_id.values() if p.enabled and p.type == "vllm"]
        if len(vllm) > 1 and any(not p.settings.get("gpus") for p in vllm):
            names = ", ".join(p.source_id for p in vllm)
            without = ", ".join(p.source_id for p in vllm if not p.settings.get("gpus"))
            for provider in vllm[1:]:
                choices = ["assign gpus to every vLLM provider (%s lack them)" % without]
                choices.extend("keep only %s enabled" % p.source_id for p in vllm)
                self._disable(provider, "%d enabled vLLM instances (%s) while %s list no gpus: they would share "
                              "one GPU budget (the original ran one vLLM at a time)" % (len(vllm), names, without),
                              choices)
            vllm = vllm[:1]
        used = {}
        owners = {}
        for provider in vllm:
            share = provider.settings.get("gpu_memory_utilization", 0.9)
            gpus = provider.settings.get("gpus") or ["all"]
            full = [gpu for gpu in gpus if used.get(gpu, 0) + share > 0.95 + 1e-9]
            if full:
                others = sorted(set(p.source_id for gpu in full for p in owners.get(gpu, ())))
                self._disable(provider, "GPU %s: %s asks gpu_memory_utilization %s on top of %s already given to "
                              "%s (at most 0.95 per GPU)" % (
                                  ", ".join(str(g) for g in full), provider.source_id, share,
                                  "+".join(str(used[g]) for g in full), ", ".join(others)),
                              ["lower gpu_memory_utilization of %s or of %s" % (provider.source_id, ", ".join(others)),
                               "assign other gpus to %s (%s)" % (provider.source_id, self._where(provider, "gpus")),
                               "disable %s" % provider.source_id] +
                              ["disable %s" % other for other in others])
                continue
            for gpu in gpus:
                used[gpu] = round(used.get(gpu, 0) + share, 6)
                owners.setdefault(gpu, []).append(provider)


def _url_port(netloc):
    """The port text of a URL's netloc ('' -> None), without urlsplit's ValueError that hides the value."""
    host = netloc.rsplit("@", 1)[-1]
    if host.startswith("["):
        host = host.split("]", 1)[-1]
    if ":" not in host:
        return None
    return host.rsplit(":", 1)[1] or None
