# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The firewall role's ruleset, rendered from the registry view (see module_utils/view_firewall.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.gathewhy.ai_backend.plugins.module_utils.plain import to_plain
from ansible_collections.gathewhy.ai_backend.plugins.module_utils.view_firewall import network, render, ssh_cut, with_ssh


def firewall_ruleset(host_firewall, ssh_port=22, ssh_sources=None, client_address=""):
    """{rules, text, ssh_cut}: the host's rules plus SSH, the nft text, and why it would cut Ansible's SSH ('' if not)."""
    host_firewall = to_plain(host_firewall)
    sources = list(to_plain(ssh_sources) or ("0.0.0.0/0", "::/0"))
    bad = [s for s in sources if network(s) is None]
    if bad:
        raise AnsibleFilterError("firewall_ssh_sources: %s is not an IP address or CIDR network; write e.g. "
                                 "192.0.2.0/24 or 2001:db8::/32" % ", ".join(repr(s) for s in bad))
    try:
        port = int(ssh_port)
    except (TypeError, ValueError):
        raise AnsibleFilterError("ansible_port: %r is not a port number" % (ssh_port,))
    rules = with_ssh(host_firewall.get("rules", []), port, [str(network(s)) for s in sources])
    return {"rules": rules, "text": render(rules), "ssh_cut": ssh_cut(rules, port, to_plain(client_address) or "")}


class FilterModule(object):
    def filters(self):
        return {"firewall_ruleset": firewall_ruleset}
