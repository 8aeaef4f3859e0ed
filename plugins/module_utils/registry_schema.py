# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The registry schema: the ``ai_backend_*`` variables of one host.

It lives here as a Python dict, not as a file, because module_utils travel to
targets inside AnsiballZ where no schema file can be read. schemas/registry.schema.json
is this dict dumped as JSON; tests/unit/engine/test_schema_files.py keeps them equal.

Beyond JSON Schema (draft 2020-12) the engine reads one annotation keyword that
validators ignore: ``x-check`` names the problem code a failure is reported under.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

LOCAL_TYPES = ("ollama", "llama_cpp", "vllm")
REMOTE_TYPES = ("ollama_cloud", "openai_compatible")
PROVIDER_TYPES = LOCAL_TYPES + REMOTE_TYPES

# Strategies LiteLLM 1.108.7 accepts in router_settings.routing_strategy
# (litellm/router_utils/routing_groups.py VALID_ROUTING_STRATEGIES), less
# "provider-budget-routing", which needs a provider_budget_config we do not render.
ROUTING_STRATEGIES = (
    "simple-shuffle",
    "least-busy",
    "usage-based-routing",
    "usage-based-routing-v2",
    "latency-based-routing",
    "cost-based-routing",
    "lar1",
)

MODEL_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$"
ENV_NAME_PATTERN = r"^[A-Z_][A-Z0-9_]*$"
ID_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"

_PORT = {"type": "integer", "minimum": 1, "maximum": 65535, "x-check": "port"}
_ENV = {"type": "string", "pattern": ENV_NAME_PATTERN, "maxLength": 128, "x-check": "secret"}
_ADDRESS = {"type": "string", "minLength": 1, "maxLength": 253, "pattern": r"^[A-Za-z0-9.:\[\]_-]+$"}
_MODEL_REF = {"type": "string", "minLength": 1, "maxLength": 128, "pattern": MODEL_NAME_PATTERN}
_POS_INT = {"type": "integer", "minimum": 1}
_NONNEG_INT = {"type": "integer", "minimum": 0}
_MODEL_REF_LIST = {"type": "array", "items": _MODEL_REF, "minItems": 1}


def _only_for(provider_type, keys):
    """allOf clause: ``keys`` are forbidden unless the provider is of ``provider_type``."""
    return {
        "if": {"required": ["type"], "not": {"properties": {"type": {"enum": list(provider_type)}}}},
        "then": {"properties": dict((key, False) for key in keys),
                 "x-reason": "only providers of type %s use it" % " or ".join(provider_type)},
    }


MODEL_SCHEMA = {
    "type": "object",
    "description": "One model a provider serves.",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": dict(_MODEL_REF, description="Public LiteLLM model_name (vLLM: --served-model-name)."),
        "source": {"type": "string", "minLength": 1, "maxLength": 256,
                   "description": "The backend's own model id (Ollama tag, HF repo, cloud id). Default: name."},
        "capabilities": {"type": "array", "uniqueItems": True,
                         "items": {"type": "string", "pattern": r"^[a-z][a-z0-9_]*$"},
                         "description": "Metadata for people and tooling (e.g. choosing alias targets); not rendered."},
        "context_length": dict(_POS_INT, description="Context window in tokens (model_info.max_input_tokens)."),
        "rpm": dict(_POS_INT, description="Requests per minute (litellm_params.rpm)."),
        "tpm": dict(_POS_INT, description="Tokens per minute (litellm_params.tpm)."),
        "gguf": {
            "type": "object",
            "description": "llama_cpp only: the model file, {url, sha256} or {path[, sha256]}.",
            "additionalProperties": False,
            "properties": {
                "url": {"type": "string", "pattern": r"^https?://[^\s@]+$"},
                "path": {"type": "string", "pattern": r"^/\S+$"},
                "sha256": {"type": "string", "pattern": r"^[0-9a-f]{64}$"},
            },
            "oneOf": [{"required": ["url", "sha256"]}, {"required": ["path"]}],
        },
    },
}

PROVIDER_SCHEMA = {
    "type": "object",
    "description": "One inference backend instance.",
    "additionalProperties": False,
    "required": ["type", "models"],
    "properties": {
        "type": {"enum": list(PROVIDER_TYPES), "description": "Backend kind."},
        "enabled": {"type": "boolean", "default": True, "description": "Disabled providers are kept but not served."},
        "port": dict(_PORT, description="Local types only: the port the backend listens on."),
        "base_url": {"type": "string", "pattern": r"^https?://[^\s@/]+(/\S*)?$",
                     "description": "Remote types only: the endpoint's URL (no credentials in it)."},
        "api_key_env": dict(_ENV, description="Env var NAME holding the API key (never the key)."),
        "gpus": {"type": "array", "items": {"type": "integer", "minimum": 0}, "uniqueItems": True,
                 "description": "vllm only: GPU indices (CUDA_VISIBLE_DEVICES)."},
        "gpu_memory_utilization": {"type": "number", "exclusiveMinimum": 0, "maximum": 1, "default": 0.9,
                                   "description": "vllm only: share of each GPU's memory."},
        "max_model_len": dict(_POS_INT, description="vllm only."),
        "tensor_parallel_size": dict(_POS_INT, description="vllm only; default len(gpus)."),
        "context_size": dict(_POS_INT, description="llama_cpp only (-c)."),
        "parallel": dict(_POS_INT, description="llama_cpp only (-np)."),
        "threads": dict(_POS_INT, description="llama_cpp only."),
        "n_gpu_layers": {"type": "integer", "minimum": -1, "description": "llama_cpp only; unset = role decides."},
        "models": {"type": "array", "items": MODEL_SCHEMA, "minItems": 1},
    },
    "allOf": [
        {"if": {"required": ["type"], "properties": {"type": {"enum": list(LOCAL_TYPES)}}},
         "then": {"required": ["port"], "properties": {"base_url": False},
                  "x-reason": "local providers (%s) are reached on port, not base_url" % ", ".join(LOCAL_TYPES)}},
        {"if": {"required": ["type"], "properties": {"type": {"enum": list(REMOTE_TYPES)}}},
         "then": {"required": ["base_url"], "properties": {"port": False},
                  "x-reason": "remote providers (%s) are reached on base_url, not port" % ", ".join(REMOTE_TYPES)}},
        {"if": {"required": ["type"], "properties": {"type": {"enum": list(REMOTE_TYPES)}}},
         "then": {"required": ["api_key_env"],
                  "x-reason": "remote endpoints need a key; LiteLLM reads it from this env var"}},
        _only_for(("vllm",), ["gpus", "gpu_memory_utilization", "max_model_len", "tensor_parallel_size"]),
        _only_for(("llama_cpp",), ["context_size", "parallel", "threads", "n_gpu_layers"]),
        {"if": {"required": ["type"], "properties": {"type": {"enum": ["vllm", "llama_cpp"]}}},
         "then": {"properties": {"models": {"maxItems": 1}},
                  "x-reason": "a vllm or llama_cpp instance serves exactly one model; add another provider"}},
        {"if": {"required": ["type"], "properties": {"type": {"const": "llama_cpp"}}},
         "then": {"properties": {"models": {"items": {"required": ["gguf"]}}},
                  "x-reason": "llama_cpp needs the model file: gguf {url, sha256} or {path}"}},
        {"if": {"required": ["type"], "not": {"properties": {"type": {"const": "llama_cpp"}}}},
         "then": {"properties": {"models": {"items": {"properties": {"gguf": False}}}},
                  "x-reason": "only llama_cpp providers load a gguf file"}},
    ],
}

ROUTING_SCHEMA = {
    "type": "object",
    "description": "Gateway routing (read from the gateway host).",
    "additionalProperties": False,
    "properties": {
        "strategy": {"enum": list(ROUTING_STRATEGIES), "default": "simple-shuffle", "x-check": "routing-strategy",
                     "description": "router_settings.routing_strategy."},
        "num_retries": dict(_NONNEG_INT, default=2, description="Retries per request before falling back."),
        "timeout": {"type": "number", "exclusiveMinimum": 0, "default": 120, "description": "Seconds per request."},
        "allowed_fails": dict(_NONNEG_INT, default=3, description="Failures before a deployment cools down."),
        "cooldown_time": {"type": "number", "minimum": 0, "default": 60,
                          "description": "Seconds a failed deployment is skipped."},
        "fallbacks": {"type": "object", "propertyNames": _MODEL_REF, "additionalProperties": _MODEL_REF_LIST,
                      "default": {}, "description": "model -> ordered list of models tried when it fails."},
        "default_fallbacks": dict(_MODEL_REF_LIST, default=[], minItems=0,
                                  description="Tried for any model without its own fallbacks."),
        "context_window_fallbacks": {"type": "object", "propertyNames": _MODEL_REF,
                                     "additionalProperties": _MODEL_REF_LIST, "default": {},
                                     "description": "model -> models with a larger context window."},
        "aliases": {"type": "object", "propertyNames": _MODEL_REF, "additionalProperties": _MODEL_REF,
                    "default": {}, "description": "alias -> ONE model (LiteLLM model_group_alias)."},
        "cache": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "enabled": {"type": "boolean", "default": False, "description": "Redis response cache."},
                "ttl": dict(_POS_INT, default=300, description="Cache entry lifetime in seconds."),
            },
        },
    },
}

GATEWAY_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "listen_address": dict(_ADDRESS, default="127.0.0.1", description="LiteLLM bind address."),
        "port": dict(_PORT, default=4000, description="LiteLLM port."),
        "master_key_env": dict(_ENV, default="LITELLM_MASTER_KEY",
                               description="Env var NAME of the master key (general_settings.master_key)."),
    },
}

REDIS_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "host": dict(_ADDRESS, default="127.0.0.1", description="Where LiteLLM reaches Redis."),
        "port": dict(_PORT, default=6379, description="Redis port."),
        "password_env": dict(_ENV, default="REDIS_PASSWORD", description="Env var NAME of the Redis password."),
    },
}

REGISTRY_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://gathewhy.ai/schemas/ai_backend/registry.schema.json",
    "title": "gathewhy.ai_backend registry: the ai_backend_* variables of one host",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "ai_backend_listen_address": dict(_ADDRESS, default="127.0.0.1",
                                          description="Address this host's backends bind to."),
        "ai_backend_advertise_address": dict(_ADDRESS, description="How the gateway reaches this host. "
                                                                   "Default: the listen address."),
        "ai_backend_gpu_memory_ceiling": {"type": "number", "exclusiveMinimum": 0, "maximum": 1, "default": 0.95,
                                          "description": "Max summed gpu_memory_utilization per GPU."},
        "ai_backend_providers": {"type": "object", "default": {},
                                 "propertyNames": {"type": "string", "pattern": ID_PATTERN},
                                 "additionalProperties": PROVIDER_SCHEMA},
        "ai_backend_gateway": GATEWAY_SCHEMA,
        "ai_backend_redis": REDIS_SCHEMA,
        "ai_backend_routing": ROUTING_SCHEMA,
    },
}
