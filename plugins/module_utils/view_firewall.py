# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Firewall rules of the registry view: who may connect to which port of each host.

    mark_firewall(hosts, registries)   # before the security checks: sets "enabled"
    add_firewall(view, registries)     # after the metrics view: the rules

Called by view.build_view after the metrics view (whose targets and scraper
addresses it reads). It adds ``view['hosts'][host]['firewall']``::

    {"enabled": bool,            # ai_backend_firewall.enabled, default true
     "rules": [{"port", "protocol", "sources", "services"}],
     "problems": [finding, ...]} # what stops the role before it applies anything

Inbound is denied unless a rule allows it: each backend port and Redis only
from the gateway hosts' advertised addresses, the gateway port only from
``ai_backend_gateway.allowed_cidrs``, each metrics port only from the
monitoring hosts. Loopback is always allowed by the ruleset itself, so a
service that only a process on the same host uses needs no rule. SSH is not
here: the port Ansible connects to is a connection variable the view never
sees, so the role adds it.

``decide(rules, source, port)`` is the ruleset's own semantics in plain
Python (what nft does with the rendered file), so tests can check every
(source, port) pair, and the role can refuse a ruleset that would cut the
SSH connection Ansible is using before applying it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from .registry_schema import GATEWAY_SCHEMA

ANY = ("0.0.0.0/0", "::/0")
BACKEND_ROLES = ("llama_cpp", "ollama", "vllm")
# Defaults come from the registry schema, nowhere else.
DEFAULT_ALLOWED_CIDRS = GATEWAY_SCHEMA["properties"]["allowed_cidrs"]["default"]


def network(text):
    """An address or CIDR as an ip_network, or None when it is neither (a host name, a typo)."""
    try:
        return ipaddress.ip_network(str(text).strip("[]"), strict=False)
    except ValueError:
        return None


def _finding(path, value, message, hint):
    return {"code": "firewall", "severity": "error", "path": path, "value": value, "message": message, "hint": hint}


class _Rules:
    """Rules of one host, merged by port: one port, the union of its sources and of the services behind it."""

    def __init__(self):
        self.ports = {}

    def allow(self, port, sources, service):
        entry = self.ports.setdefault(port, {"port": port, "protocol": "tcp", "sources": [], "services": []})
        entry["sources"].extend(s for s in sources if s not in entry["sources"])
        if service not in entry["services"]:
            entry["services"].append(service)

    def as_list(self):
        out = []
        for port in sorted(self.ports):
            entry = self.ports[port]
            entry["sources"] = sorted(entry["sources"], key=lambda s: (network(s).version, network(s)))
            out.append(entry)
        return out


def _host_sources(view, host, role, problems):
    """The address a host connects from, as a /32 or /128.

    Its advertised address, else its listen address, else (a gateway) the
    gateway's listen address: the first that is one IP address beyond loopback.
    A host that serves on loopback only still connects from its network address.
    """
    candidates = [view["hosts"][host]["advertise_address"], view["hosts"][host]["listen_address"],
                  view["gateways"].get(host, {}).get("listen_address")]
    for address in candidates:
        net = network(address) if address else None
        if net is not None and net.num_addresses == 1 and not (net.network_address.is_unspecified
                                                               or net.network_address.is_loopback):
            return [str(net)]
    problems.append(_finding(
        "host_vars[%s].ai_backend_advertise_address" % host, candidates[0],
        "the firewall opens ports to the %s host %s by its address, but none of its addresses (%s) is one IP "
        "address beyond loopback" % (role, host, ", ".join(sorted(set(str(c) for c in candidates if c)))),
        "set ai_backend_advertise_address of %s to the IP address it connects from, or turn the firewall "
        "off on the hosts it connects to with ai_backend_firewall.enabled: false" % host))
    return []


def _allowed_cidrs(host, gateway_registry, problems):
    values = gateway_registry.get("allowed_cidrs", DEFAULT_ALLOWED_CIDRS)
    out = []
    for index, value in enumerate(values if isinstance(values, list) else []):
        net = network(value)
        if net is None:
            problems.append(_finding(
                "host_vars[%s].ai_backend_gateway.allowed_cidrs[%d]" % (host, index), value,
                "'%s' is not an IP address or CIDR network" % value,
                "write an address (192.0.2.7) or a network (192.0.2.0/24, 2001:db8::/32)"))
        else:
            out.append(str(net))
    return out


def _enabled(registry):
    section = registry.get("ai_backend_firewall")
    value = section.get("enabled", True) if isinstance(section, dict) else True
    return value is not False


def host_rules(view, host, registry):
    """The firewall entry of one host (see the module docstring)."""
    host_view = view["hosts"][host]
    problems = []
    rules = _Rules()
    gateways = [gw for gw in view["groups"]["gateway"] if gw != host]
    gateway_sources = []
    if any(s["role"] in BACKEND_ROLES + ("redis",) for s in host_view["services"]):
        for gw in gateways:
            gateway_sources.extend(s for s in _host_sources(view, gw, "gateway", problems)
                                   if s not in gateway_sources)
    for service in host_view["services"]:
        name = service["role"] if service["id"] == service["role"] else "%s/%s" % (service["role"], service["id"])
        if service["role"] in BACKEND_ROLES + ("redis",):
            rules.allow(service["port"], gateway_sources, name)
        elif service["role"] == "litellm":
            gateway = registry.get("ai_backend_gateway")
            gateway = gateway if isinstance(gateway, dict) else {}
            rules.allow(service["port"], _allowed_cidrs(host, gateway, problems), "gateway")
    metrics = host_view.get("metrics") or {}
    # A host scraping itself connects over loopback, which the ruleset always accepts.
    own = set(str(network(a)) for a in (host_view["listen_address"], host_view["advertise_address"]) if network(a))
    scrapers = [str(network(a)) for a in metrics.get("scraper_addresses", []) if network(a) is not None]
    scrapers = [s for s in scrapers if s not in own and not network(s).is_loopback]
    for target in metrics.get("targets", []):
        net = network(target.get("host"))
        if net is not None and net.is_loopback:
            continue
        rules.allow(target["port"], scrapers, "metrics/%s" % target["job"])
    return {"enabled": _enabled(registry), "rules": rules.as_list(), "problems": problems}


def mark_firewall(hosts, registries):
    """Whether the role covers each host, known before the checks that depend on it; rules come later."""
    for host, host_view in hosts.items():
        host_view["firewall"] = {"enabled": _enabled(registries.get(host, {})), "rules": [], "problems": []}


def add_firewall(view, registries):
    """Add each host's rules (after the metrics view); a view with errors deploys nothing, so they stay empty."""
    for host in view["groups"]["all"]:
        if not view["errors"]:
            view["hosts"][host]["firewall"] = host_rules(view, host, registries.get(host, {}))
    return view


def with_ssh(rules, port, sources=ANY):
    """The host's rules plus the SSH port, as the role renders them."""
    return sorted(rules + [{"port": int(port), "protocol": "tcp", "sources": list(sources), "services": ["ssh"]}],
                  key=lambda r: r["port"])


def decide(rules, source, port):
    """"accept" or "drop" for a new TCP connection from ``source`` to ``port``, as the rendered ruleset decides."""
    address = ipaddress.ip_address(str(source))
    if address.is_loopback:
        return "accept"
    for rule in rules:
        if rule["port"] == port and any(address in network(s) for s in rule["sources"]
                                        if network(s).version == address.version):
            return "accept"
    return "drop"


def ssh_cut(rules, ssh_port, client_address):
    """Why applying ``rules`` would cut the SSH connection Ansible uses, or '' when it would not.

    ``client_address`` is the controller's address as the host sees it (the
    first field of SSH_CONNECTION), or '' when the connection is not SSH.
    """
    if not any(r["port"] == ssh_port and "ssh" in r["services"] for r in rules):
        return "no rule opens the SSH port %s that Ansible connects to" % ssh_port
    if client_address and network(client_address) is not None and decide(rules, client_address, ssh_port) != "accept":
        return ("the rules open the SSH port %s only to %s, not to %s, the address this Ansible connection comes from"
                % (ssh_port, ", ".join(s for r in rules if r["port"] == ssh_port for s in r["sources"]),
                   client_address))
    return ""


def _family_sets(sources):
    v4 = [s for s in sources if network(s).version == 4]
    v6 = [s for s in sources if network(s).version == 6]
    return v4, v6


def render(rules, table="ai_backend"):
    """The nft ruleset: one transaction that replaces the whole table ``inet <table>`` and touches no other."""
    lines = [
        "# Replaces only table inet %s, in one transaction: created if missing, deleted, defined again." % table,
        "table inet %s {}" % table,
        "delete table inet %s" % table,
        "table inet %s {" % table,
        "  chain input {",
        "    type filter hook input priority filter; policy drop;",
        "    ct state established,related accept",
        "    ct state invalid drop",
        '    iif "lo" accept',
        "    icmp type { echo-request, destination-unreachable, time-exceeded, parameter-problem } accept",
        "    icmpv6 type { echo-request, destination-unreachable, packet-too-big, time-exceeded, parameter-problem,"
        " nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept",
    ]
    for rule in rules:
        comment = ", ".join(rule["services"])[:120].replace('"', "'")
        v4, v6 = _family_sets(rule["sources"])
        for family, nets, everyone, nfproto in (("ip", v4, "0.0.0.0/0", "ipv4"), ("ip6", v6, "::/0", "ipv6")):
            if not nets:
                continue
            match = "meta nfproto %s" % nfproto if everyone in nets else "%s saddr { %s }" % (family, ", ".join(nets))
            lines.append('    %s tcp dport %d counter accept comment "%s"' % (match, rule["port"], comment))
    lines.extend([
        '    counter comment "refused"',
        "  }",
        "}",
    ])
    return "\n".join(lines) + "\n"
