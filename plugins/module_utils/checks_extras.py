# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The user's escape hatches, checked: a provider's extra_args / extra_env and the
gateway's extra_settings may add to what the roles and the renderer write, never
replace it.

The schema already fixes their shape (one word per argument, no character
systemd would expand, environment names in capitals). Here: a flag or a
variable the role sets itself is refused with the registry key to use instead,
a variable named like a secret is refused (secrets never live in the registry),
and a LiteLLM setting the registry owns is refused with its registry key.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from .problems import Problem, path_join
from .render import OWNED_SETTINGS

# Flags each server gets from the role, and where the registry sets them instead.
_LLAMA_CPP_FLAGS = {
    "-m": "models[0].gguf", "--model": "models[0].gguf", "-mu": "models[0].gguf", "--model-url": "models[0].gguf",
    "-hf": "models[0].gguf", "-hfr": "models[0].gguf", "--hf-repo": "models[0].gguf",
    "-a": "models[0].name", "--alias": "models[0].name",
    "--host": "ai_backend_listen_address", "--port": "port",
    "-c": "context_size", "--ctx-size": "context_size",
    "-np": "parallel", "--parallel": "parallel",
    "-t": "threads", "--threads": "threads", "--poll": "poll",
    "-ngl": "n_gpu_layers", "--gpu-layers": "n_gpu_layers", "--n-gpu-layers": "n_gpu_layers",
    "--api-key": "api_key_env", "--api-key-file": "api_key_env",
    "--offline": None, "--metrics": None,
}
_VLLM_FLAGS = {
    "--model": "models[0].source", "--served-model-name": "models[0].name",
    "--host": "ai_backend_listen_address", "--port": "port",
    "--gpu-memory-utilization": "gpu_memory_utilization", "--max-model-len": "max_model_len",
    "-tp": "tensor_parallel_size", "--tensor-parallel-size": "tensor_parallel_size",
    "--api-key": "api_key_env",
}
FLAGS = {"llama_cpp": _LLAMA_CPP_FLAGS, "vllm": _VLLM_FLAGS}
# Environment variables each role writes itself (AIB_* are the roles' own, for any type).
ENV = {
    "llama_cpp": frozenset((
        "LLAMA_ARG_MODEL", "LLAMA_ARG_ALIAS", "LLAMA_ARG_HOST", "LLAMA_ARG_PORT", "LLAMA_ARG_CTX_SIZE",
        "LLAMA_ARG_N_PARALLEL", "LLAMA_ARG_THREADS", "LLAMA_ARG_N_GPU_LAYERS", "LLAMA_API_KEY",
        "LLAMA_ARG_API_KEY_FILE", "LLAMA_ARG_OFFLINE", "LLAMA_ARG_ENDPOINT_METRICS", "LLAMA_ARG_MODEL_URL",
        "LLAMA_ARG_HF_REPO")),
    "vllm": frozenset((
        "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "VLLM_API_KEY", "VLLM_PORT", "HOME", "HF_HOME",
        "XDG_CACHE_HOME", "VLLM_NO_USAGE_STATS", "DO_NOT_TRACK")),
}
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL")
# A URL with a password in it (scheme://user:password@host).
_URL_CREDENTIALS = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/@\s]*:[^/@\s]+@")
_ENV_REF = "os.environ/"
_SECRET_HINT = {
    "llama_cpp": "set api_key_env and put the key in llama_cpp_api_keys (vaulted)",
    "vllm": "set api_key_env and put the key in vllm_api_keys; other secrets (e.g. HF_TOKEN) go in the vllm "
            "role's vllm_environment, in a vaulted file",
}


def _owned_flag_problem(path, arg, ptype, field):
    where = ("set it with the registry key '%s' instead" % field if field
             else "the role always sets it; remove it")
    return Problem("schema", path, arg, "%s is set by the %s role from the registry, so it cannot be an extra "
                   "argument" % (arg.split("=", 1)[0], ptype), where)


def check_provider_extras(view, out):
    """extra_args and extra_env of every schema-clean llama_cpp / vllm provider of ``view``."""
    for pid, provider in sorted(view.providers.items()):
        ptype = provider.get("type")
        if ptype not in FLAGS:
            continue
        base = view.var_path("ai_backend_providers", pid)
        for index, arg in enumerate(provider.get("extra_args") or []):
            flag = arg.split("=", 1)[0]
            if arg.startswith("-") and flag in FLAGS[ptype]:
                out.append(_owned_flag_problem(path_join(path_join(base, "extra_args"), index), arg, ptype,
                                               FLAGS[ptype][flag]))
        for name in sorted(provider.get("extra_env") or {}):
            path = path_join(path_join(base, "extra_env"), name)
            if name in ENV[ptype] or name.startswith("AIB_"):
                out.append(Problem("schema", path, name, "%s is written by the %s role itself" % (name, ptype),
                                   "remove it; use the registry key or role variable that sets it"))
            elif _SECRET_NAME.search(name):
                out.append(Problem("secret", path, name, "%s looks like a secret; the registry holds no secret "
                                   "values" % name, _SECRET_HINT[ptype]))


def _literal_secrets(value, path, key, out):
    """Strings under a secret-like key, or URLs with a password, that are not os.environ/NAME references."""
    if isinstance(value, dict):
        for sub in sorted(value, key=str):
            _literal_secrets(value[sub], path_join(path, sub), str(sub), out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _literal_secrets(item, path_join(path, index), key, out)
    elif isinstance(value, str) and value and not value.startswith(_ENV_REF) and (
            _SECRET_NAME.search(key.upper()) or _URL_CREDENTIALS.match(value)):
        out.append(Problem("secret", path, value, "a literal secret in the registry: LiteLLM reads it from the "
                           "rendered config file", "write os.environ/NAME here and put the value in "
                           "litellm_provider_secrets[NAME] (vaulted): the role passes it to LiteLLM's environment",
                           secret=True))


def check_extra_settings(view, out):
    """ai_backend_gateway.extra_settings: only keys the registry does not render."""
    extra = (view.gateway or {}).get("extra_settings") or {}
    base = view.var_path("ai_backend_gateway", "extra_settings")
    for section in sorted(extra):
        for key in sorted(extra[section] or {}):
            owner = OWNED_SETTINGS.get(section, {}).get(key)
            if owner is None:
                _literal_secrets(extra[section][key], path_join(path_join(base, section), key), key, out)
                continue
            fix = ("set %s instead, and remove this key" % owner if owner.startswith("ai_backend_")
                   else "remove this key: %s writes it" % owner)
            out.append(Problem("schema", path_join(path_join(base, section), key), extra[section][key],
                               "%s.%s is written by the renderer, so an extra setting cannot replace it"
                               % (section, key), fix))
