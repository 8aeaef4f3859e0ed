# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that expose the registry engine to playbooks and templates."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.gathewhy.ai_backend.plugins.module_utils.plain import to_plain
from ansible_collections.gathewhy.ai_backend.plugins.module_utils.registry import (
    RegistryError, build_gateway_config, registry_vars, validate_inventory)


def registry_hosts(hostvars, hosts):
    """{host: its ai_backend_* registry variables}, plain types (2.19 data tags stripped).

    Only registry keys are read, so unrelated host variables are never templated.
    """
    result = {}
    for host in hosts:
        host_vars = hostvars[host]
        names = [key for key in host_vars.keys() if isinstance(key, str)]
        picked = registry_vars(dict((key, None) for key in names))
        result[to_plain(host)] = to_plain(dict((key, host_vars[key]) for key in picked))
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


class FilterModule(object):
    def filters(self):
        return {
            "registry_hosts": registry_hosts,
            "litellm_config": litellm_config,
            "registry_problems": registry_problems,
            "registry_report": registry_report,
        }
