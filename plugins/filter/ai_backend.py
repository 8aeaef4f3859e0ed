# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that expose the registry engine to playbooks and templates."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping

from ansible.errors import AnsibleError, AnsibleFilterError
from ansible.parsing.vault import AnsibleVaultError
from jinja2 import Undefined

from ansible_collections.gathewhy.ai_backend.plugins.module_utils.plain import to_plain
from ansible_collections.gathewhy.ai_backend.plugins.module_utils.registry import (
    RegistryError, build_gateway_config, registry_vars, validate_inventory)
from ansible_collections.gathewhy.ai_backend.plugins.module_utils.atomic import WriteError
from ansible_collections.gathewhy.ai_backend.plugins.module_utils.view import (
    GATEWAY_GROUP, build_host_view, build_view, write_renders)


# What makes a string a template for Ansible's default Jinja delimiters.
_TEMPLATE_MARKERS = ("{{", "{%", "{#")


def _literal(value):
    """True when templating ``value`` would hand it back unchanged: nested dicts and
    lists of numbers, booleans, None and strings with no Jinja marker. A vaulted
    value, a template or any other type is not literal.

    Each container is looked at once, so YAML aliases (even one pointing into
    its own anchor) cost nothing extra and never loop.
    """
    stack, seen = [value], set()
    while stack:
        item = stack.pop()
        if item is None or isinstance(item, (bool, int, float)):
            continue
        if isinstance(item, str):
            if any(marker in item for marker in _TEMPLATE_MARKERS):
                return False
        elif isinstance(item, (dict, list)):
            if id(item) not in seen:
                seen.add(id(item))
                stack.extend(item.values() if isinstance(item, dict) else item)
                stack.extend(item if isinstance(item, dict) else ())
        else:
            return False
    return True


def registry_hosts(hostvars, hosts):
    """{host: its ai_backend_* registry variables}, plain types (2.19 data tags stripped).

    Only registry keys are read, so unrelated host variables are never templated.
    A key whose raw value is literal data is read raw: templating a 10,000-model
    registry value by value costs seconds and returns the same data. Any other
    key (a template, a vaulted value) is read through Ansible's templating.
    """
    result = {}
    raw_get = getattr(hostvars, "raw_get", None)
    for host in hosts:
        host_vars = hostvars[host]
        raw = raw_get(host) if raw_get is not None else {}
        raw = raw if isinstance(raw, Mapping) else {}
        names = [key for key in host_vars.keys() if isinstance(key, str)]
        picked = registry_vars(dict((key, None) for key in names))
        result[to_plain(host)] = to_plain(dict(
            (key, raw[key] if key in raw and _literal(raw[key]) else host_vars[key]) for key in picked))
    return result


def litellm_config(hosts, gateway_host=None, inference_hosts=None):
    """The rendered LiteLLM config (YAML text) for ``gateway_host``; fails with the full report."""
    try:
        return build_gateway_config(to_plain(hosts), gateway_host=to_plain(gateway_host),
                                    inference_hosts=to_plain(inference_hosts)).text
    except RegistryError as err:
        raise AnsibleFilterError(str(err))


def registry_problems(hosts, gateway_hosts=None, inference_hosts=None):
    """Every finding (errors first, then warnings) as dicts: code, severity, path, value, message, hint."""
    errors, warnings = validate_inventory(to_plain(hosts), gateway_hosts=to_plain(gateway_hosts),
                                          inference_hosts=to_plain(inference_hosts))
    return [to_plain(problem.as_dict()) for problem in list(errors) + list(warnings)]


def registry_report(hosts, gateway_hosts=None, inference_hosts=None):
    """The human report of validate_inventory, or '' when there is nothing to say."""
    from ansible_collections.gathewhy.ai_backend.plugins.module_utils.problems import format_report
    errors, warnings = validate_inventory(to_plain(hosts), gateway_hosts=to_plain(gateway_hosts),
                                          inference_hosts=to_plain(inference_hosts))
    if not errors and not warnings:
        return ""
    return format_report(list(errors) + list(warnings))


def _secret_state(hostvars):
    """("set" | "empty" | "undefined" | "unresolved" | "undecryptable") of a host's secret, or of one key of a mapping.

    Only the state leaves this function, never the value. "unresolved": the
    variable is a template that refers to something undefined (a vault_* value
    whose vaulted file was not loaded).
    """
    def state(host, var, key=None):
        try:
            host_vars = hostvars[host]
            if var not in host_vars:
                return "undefined"
            value = host_vars[var]
            if key is not None:
                if not isinstance(value, Mapping) or key not in value:
                    return "undefined"
                value = value[key]
            # ansible-core 2.19 hands back a marker, not an exception, for a
            # template that refers to an undefined variable.
            if isinstance(value, Undefined):
                # ansible-core names its marker for a value it could not decrypt *Vault*.
                return "undecryptable" if "Vault" in type(value).__name__ else "unresolved"
            if value is None:
                return "empty"
            return "set" if str(value).strip() else "empty"
        except AnsibleVaultError:  # ansible-core < 2.19 raises where 2.19 hands back a marker
            return "undecryptable"
        except AnsibleError:
            return "unresolved"
    return state


def registry_view(hostvars, groups, targets=None, cwd=None, render_dir=""):
    """The whole inventory validated once, with every derived fact (see module_utils/view.py)."""
    groups = to_plain(groups)
    hosts = registry_hosts(hostvars, groups.get("all", []))
    view = build_view(hosts, groups, _secret_state(hostvars), targets=to_plain(targets),
                      cwd=to_plain(cwd), render_dir=to_plain(render_dir) or "")
    try:
        view["rendered"] = write_renders(view)
    except WriteError as err:
        raise AnsibleFilterError("ai_backend_render_dir: %s; nothing else was written. Fix: choose a directory "
                                 "you can write to, or leave ai_backend_render_dir unset." % err)
    return view


def registry_host_view(hostvars, host):
    """One host's registry validated on its own, with its view (for a role run without validate.yml)."""
    host = to_plain(host)
    groups = to_plain((hostvars.get(host) or {}).get("group_names") or [])
    return to_plain(build_host_view(registry_hosts(hostvars, [host])[host], host,
                                    gateway=isinstance(groups, list) and GATEWAY_GROUP in groups))


class FilterModule(object):
    def filters(self):
        return {
            "registry_hosts": registry_hosts,
            "litellm_config": litellm_config,
            "registry_problems": registry_problems,
            "registry_report": registry_report,
            "registry_view": registry_view,
            "registry_host_view": registry_host_view,
        }
