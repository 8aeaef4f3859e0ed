# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of playbooks/status.yml: what to probe on a host, and its status table."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.gathewhy.ai_backend.plugins.module_utils.plain import to_plain
from ansible_collections.gathewhy.ai_backend.plugins.module_utils.status import probe_request, status_lines


def _checked(view, host, name):
    view = to_plain(view)
    host = to_plain(host)
    if not isinstance(view, dict) or "hosts" not in view or "gateways" not in view:
        raise AnsibleFilterError("%s: the input is not a registry view (build it with the "
                                 "gathewhy.ai_backend.registry_view filter)" % name)
    if host not in view["hosts"]:
        raise AnsibleFilterError("%s: host %r is not in the registry view (hosts: %s)"
                                 % (name, host, ", ".join(sorted(view["hosts"])) or "none"))
    return view, host


def status_request(view, host):
    """The request the status probe reads on ``host``."""
    view, host = _checked(view, host, "status_request")
    return probe_request(view, host)


def status_table(view, host, probe):
    """The status table of ``host`` as a list of lines, from the view and the probe's JSON result."""
    view, host = _checked(view, host, "status_table")
    probe = to_plain(probe)
    if not isinstance(probe, dict):
        raise AnsibleFilterError("status_table: the probe result of %s is %r, not a mapping" % (host, probe))
    return status_lines(view, host, probe)


class FilterModule(object):
    def filters(self):
        return {"status_request": status_request, "status_table": status_table}
