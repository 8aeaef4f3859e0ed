# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter that gives the monitoring role its Prometheus scrape configs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.gathewhy.ai_backend.plugins.module_utils.plain import to_plain
from ansible_collections.gathewhy.ai_backend.plugins.module_utils.view_metrics import PORTS, bind_address, scrape_configs


def metrics_scrape_configs(view, hostvars):
    """The view's scrape configs, with each gateway's LiteLLM instances and HAProxy metrics address."""
    view = to_plain(view)
    if not isinstance(view, dict) or "monitoring" not in view:
        raise AnsibleFilterError("metrics_scrape_configs: the input is not a registry view "
                                 "(build it with the gathewhy.ai_backend.registry_view filter)")
    gateways = {}
    for host in view["groups"]["gateway"]:
        facts = hostvars[host] if host in hostvars else {}
        instances = to_plain(facts.get("litellm_instances"))
        address = to_plain(facts.get("haproxy_stats_address"))
        if instances is not None and (not str(instances).isdigit() or int(instances) < 1):
            raise AnsibleFilterError("metrics_scrape_configs: litellm_instances of %s is %r; it must be a whole "
                                     "number of at least 1" % (host, instances))
        gateways[host] = {"instances": int(instances) if instances is not None else None,
                          "address": address if isinstance(address, str) and address not in ("0.0.0.0", "::")
                          else None}
    return scrape_configs(view["monitoring"]["jobs"], gateways)


def metrics_address(host_view, job):
    """host:port where a host's exporter of ``job`` listens (its metrics address, never a wildcard)."""
    host_view = to_plain(host_view)
    if not isinstance(host_view, dict) or job not in PORTS:
        raise AnsibleFilterError("metrics_address: give a host's view and one of %s" % ", ".join(sorted(PORTS)))
    address = bind_address(host_view)
    return "%s:%s" % ("[%s]" % address if ":" in address else address, PORTS[job])


class FilterModule(object):
    def filters(self):
        return {"metrics_scrape_configs": metrics_scrape_configs, "metrics_address": metrics_address}
