# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine's public API: validate the registry, render the LiteLLM config.

    result = build_gateway_config(hosts, gateway_host=None, inference_hosts=None, master_key=None)
    problems, warnings = validate_inventory(hosts, gateway_hosts=None, inference_hosts=None)
    problems, warnings, configs = validate_and_render(hosts, gateway_hosts=None, inference_hosts=None)

``hosts`` maps inventory_hostname -> that host's ``ai_backend_*`` variables.
Plain Python + PyYAML; no Ansible imports. It runs on the controller (the
litellm_config action plugin, the filters, the tests); the schema it validates
against is schemas/registry.schema.json.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from . import checks
from . import checks_extras
from . import secrets
from .inventory import HostView
from .plain import to_plain
from .problems import Problem, RegistryError, host_path  # noqa: F401  (RegistryError re-exported)
from .registry_schema import REGISTRY_SCHEMA
from .render import build_config, render_text, source_digest
from .validator import Validator, json_type

__all__ = ("build_gateway_config", "validate_inventory", "validate_and_render", "write_gateway_config", "RegistryError",
           "GatewayConfig", "Problem", "REGISTRY_VARS", "registry_vars")

REGISTRY_VARS = tuple(sorted(REGISTRY_SCHEMA["properties"]))
# ai_backend_* variables that steer the tooling but are not registry content.
NON_REGISTRY_VARS = ("ai_backend_render_dir",)
_PRINTABLE = re.compile(r"[^\x20-\x7e]")


def registry_vars(host_vars):
    """The registry part of one host's variables: every ai_backend_* key but NON_REGISTRY_VARS."""
    return dict((key, host_vars[key]) for key in host_vars
                if isinstance(key, str) and key.startswith("ai_backend_") and key not in NON_REGISTRY_VARS)


class GatewayConfig:
    """A rendered, validated gateway config."""

    __slots__ = ("text", "config", "warnings", "warning_problems", "model_groups", "aliases",
                 "source_sha256", "gateway_host", "inference_hosts")

    def __init__(self, **kwargs):
        for key, value in kwargs.items():
            setattr(self, key, value)


def _host_problems(hosts):
    if not isinstance(hosts, dict):
        return [Problem("schema", "registry", hosts, "expected a mapping of inventory host -> its ai_backend_* "
                        "variables, got %s" % json_type(hosts), "pass {host: {ai_backend_...: ...}}")]
    problems = []
    if not hosts:
        problems.append(Problem("schema", "registry", hosts, "no hosts given", "pass at least one host"))
    for name in hosts:
        if not isinstance(name, str) or not name:
            problems.append(Problem("host", "registry", name, "host names must be non-empty strings",
                                    "use the inventory_hostname"))
    return problems


def _select(hosts, wanted, label, out):
    names = sorted(hosts)
    if wanted is None:
        return names
    if isinstance(wanted, str):
        wanted = [wanted]
    chosen = []
    for name in wanted:
        if name in hosts:
            if name not in chosen:
                chosen.append(name)
        else:
            out.append(Problem("host", label, name, "host '%s' is not in the registry (known: %s)" % (
                name, ", ".join(names)), "name an inventory host whose variables were passed"))
    return sorted(chosen)


def _validate(hosts, gateway_hosts, inference_hosts, master_key, master_key_path):
    """Everything but the render. Returns (errors, warnings, views, gateways, inference, plain hosts)."""
    problems = _host_problems(hosts)
    if problems:
        return problems, [], {}, [], [], {}
    hosts = to_plain(hosts)
    gateways = _select(hosts, gateway_hosts, "gateway_host", problems)
    inference = _select(hosts, inference_hosts, "inference_hosts", problems)
    validator = Validator(unknown_key_hook=secrets.unknown_key_hook, string_hook=secrets.string_hook)
    views = {}
    for name in sorted(hosts):
        raw = hosts[name]
        found = validator.validate(raw, REGISTRY_SCHEMA, host_path(name))
        problems.extend(found)
        views[name] = HostView(name, raw, set(p.path for p in found))
    for name in sorted(views):
        view = views[name]
        checks.check_ports(view, name in gateways, problems)
        checks.check_duplicate_models(view, problems)
        checks.check_gpu_budget(view, problems)
        checks_extras.check_provider_extras(view, problems)
        if name in gateways:
            checks_extras.check_extra_settings(view, problems)
        if name in inference:
            checks.check_advertise(view, problems)
    checks.check_api_bases([views[name] for name in inference], problems)
    index = checks.ModelIndex([views[name] for name in inference],
                              [views[name] for name in sorted(views) if name not in inference])
    for name in gateways:
        if not index.enabled and not index.invalid and not index.incomplete:
            problems.append(Problem("no-models", host_path(name), None,
                                    "gateway %s has no model to serve: no enabled provider on its inference hosts "
                                    "(%s)" % (name, ", ".join(inference) or "none"),
                                    "add providers to ai_backend_providers of an inference host"))
        checks.check_references(views[name], index, problems)
        checks.check_fallback_graph(views[name], problems)
        checks.warn_no_fallback(views[name], index, problems)
    checks.warn_similar_names(index, problems)
    if master_key is not None:
        problems.extend(secrets.check_master_key(master_key, master_key_path))
    secrets.redact(problems)
    errors = _dedupe([p for p in problems if p.is_error])
    warnings = _dedupe([p for p in problems if not p.is_error])
    return errors, warnings, views, gateways, inference, hosts


def _dedupe(problems):
    seen = set()
    out = []
    for problem in problems:
        key = (problem.code, problem.path, problem.message)
        if key not in seen:
            seen.add(key)
            out.append(problem)
    return out


def validate_inventory(hosts, gateway_hosts=None, inference_hosts=None, master_key=None,
                       master_key_path="litellm_master_key"):
    """Validate every host; returns (errors, warnings) as lists of Problem. Never raises for bad input."""
    found = _validate(hosts, gateway_hosts, inference_hosts, master_key, master_key_path)
    return found[0], found[1]


def build_gateway_config(hosts, gateway_host=None, inference_hosts=None, master_key=None,
                         master_key_path="litellm_master_key"):
    """Validate, then render the config of ``gateway_host``. Raises RegistryError on any error.

    gateway_host: whose ai_backend_gateway/redis/routing is used (default: first host, sorted).
    inference_hosts: whose providers feed this gateway (default: every host).
    master_key: optional value to strength-check (never rendered; the file holds os.environ/NAME).
    """
    if gateway_host is None and isinstance(hosts, dict) and hosts:
        gateway_host = sorted(hosts, key=str)[0]
    errors, warnings, views, gateways, inference, _plain_hosts = _validate(
        hosts, [gateway_host] if gateway_host is not None else None, inference_hosts, master_key, master_key_path)
    if errors:
        raise RegistryError(errors, warnings)
    return _render(views, gateways[0], inference, warnings)


def validate_and_render(hosts, gateway_hosts=None, inference_hosts=None, master_key=None,
                        master_key_path="litellm_master_key"):
    """Validate once and render every gateway: (errors, warnings, {gateway: GatewayConfig}).

    For a caller that needs the report and the configs of several gateways (the
    registry view of validate.yml): one validation instead of one per gateway
    plus one for the report. The configs are empty when there are errors; each
    config's warnings are those of the whole validation. Never raises for bad input.
    """
    errors, warnings, views, gateways, inference, _plain_hosts = _validate(
        hosts, gateway_hosts, inference_hosts, master_key, master_key_path)
    if errors:
        return errors, warnings, {}
    return errors, warnings, dict((name, _render(views, name, inference, warnings)) for name in gateways)


def _render(views, gateway_name, inference, warnings):
    gateway = views[gateway_name]
    deployments = []
    for name in inference:
        deployments.extend(views[name].deployments())
    advertise = dict((name, views[name].advertise) for name in inference)
    config = build_config(gateway, deployments, advertise)
    # Hash only what this gateway is derived from (its routing and the deployments
    # of its inference hosts), not the hosts' whole registries: a llama.cpp-only
    # change such as `threads` on one GPU host must not rewrite (and restart) the
    # gateway.
    source = {"gateway_host": gateway.name, "inference_hosts": inference, "derived": config}
    digest = source_digest(source)
    text = render_text(config, digest, _PRINTABLE.sub("?", gateway.name),
                       [_PRINTABLE.sub("?", name) for name in inference])
    return GatewayConfig(
        text=text, config=config, warnings=[p.one_line() for p in warnings], warning_problems=warnings,
        model_groups=sorted(set(d.name for d in deployments)),
        aliases=sorted(gateway.routing.get("aliases") or {}),
        source_sha256=digest, gateway_host=gateway.name, inference_hosts=inference)


def write_gateway_config(hosts, dest, gateway_host=None, inference_hosts=None, master_key=None,
                         owner=None, group=None, mode="0640", backups=10, check_mode=False):
    """Validate and render first; only a clean registry reaches the disk.

    Returns (GatewayConfig, write result dict from atomic.write_atomic).
    Raises RegistryError (nothing written) or atomic.WriteError.
    """
    from .atomic import write_atomic
    result = build_gateway_config(hosts, gateway_host=gateway_host, inference_hosts=inference_hosts,
                                  master_key=master_key)
    written = write_atomic(dest, result.text.encode("utf-8"), owner=owner, group=group, mode=mode,
                           backups=backups, check_mode=check_mode)
    return result, written
