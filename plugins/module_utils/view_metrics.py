# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Metrics targets of the registry view: what Prometheus scrapes, where, and who scrapes it.

    add_metrics(view, groups, secret_state)

Called by view.build_view once the hosts and gateways are known. It adds

- ``view['hosts'][host]['metrics']``: ``{"bind_address", "targets", "scraped_by", "scraper_addresses"}``.
  ``targets`` is every metrics endpoint the host serves, each
  ``{"job", "address", "host", "port", "path", "scheme", "auth", "labels"}``
  where ``auth`` is None or ``{"type": "bearer", "secret_var", "key"}`` (the
  secret's name, never its value); ``scraped_by`` lists the monitoring hosts and
  ``scraper_addresses`` the addresses they scrape from (what a firewall opens).
- ``view['monitoring']``: ``{"hosts", "jobs", "scrape_configs"}``: the monitoring
  hosts, every target grouped by job in inventory order, and the Prometheus
  scrape configs with their file_sd entries (see scrape_configs).
- ``view['groups']['monitoring']``: the monitoring hosts.

A view with errors gets no targets: nothing is deployed from it. The Redis
exporter is a target only where redis_exporter_password is set (the redis
role deploys it only then).

Exporters bind the host's advertised address (or its listen address), never
a wildcard: a wildcard listen address falls back to its loopback, so a host
that says nothing more is scraped on loopback only. A new inference host is
in ``jobs`` as soon as it is in the inventory: nothing else is edited.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

MONITORING_GROUP = "ai_backend_monitoring"
REDIS_EXPORTER_SECRET = "redis_exporter_password"
# Default ports; the roles take theirs from the view, so the two never differ.
PORTS = {"node": 9100, "redis": 9121, "haproxy": 8404, "prometheus": 9090}
# Backend types that serve Prometheus metrics on their own API port.
# Ollama serves none: its requests are counted at the gateway.
METRICS_BACKENDS = ("llama_cpp", "vllm")
# Path of LiteLLM instance {instance}'s metrics on HAProxy's metrics listener.
LITELLM_PATH = "/litellm/{instance}/metrics"
DEFAULT_LITELLM_INSTANCES = 2
WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "[::]": "::1"}
BACKEND_KEY_VARS = {"llama_cpp": "llama_cpp_api_keys", "vllm": "vllm_api_keys"}


def bind_address(host_view):
    """Where a host's exporters listen: its advertised address, else its listen address, never a wildcard."""
    for address in (host_view.get("advertise_address"), host_view.get("listen_address")):
        if isinstance(address, str) and address and address not in WILDCARDS:
            return address
    return WILDCARDS.get(host_view.get("listen_address"), "127.0.0.1")


def _hostport(address, port):
    text = str(address)
    return "%s:%s" % ("[%s]" % text if ":" in text and not text.startswith("[") else text, port)


def target(job, host, address, port, path="/metrics", auth=None, **labels):
    labels = dict(labels, host=host)
    return {"job": job, "address": _hostport(address, port), "host": address, "port": port, "path": path,
            "scheme": "http", "auth": auth, "labels": labels}


def monitoring_hosts(inventory_all, groups, gateways):
    """The hosts of group ai_backend_monitoring, else the first gateway host, else none."""
    named = [h for h in groups.get(MONITORING_GROUP) or [] if h in inventory_all]
    return named or list(gateways[:1])


def _host_targets(host, host_view, is_redis, is_gateway, is_monitor, gateway):
    address = bind_address(host_view)
    out = [target("node", host, address, PORTS["node"])]
    for ptype in METRICS_BACKENDS:
        for pid, provider in sorted(host_view["providers"].get(ptype, {}).items()):
            if not isinstance(provider.get("port"), int):
                continue
            key = provider.get("api_key_env")
            auth = ({"type": "bearer", "secret_var": BACKEND_KEY_VARS[ptype], "key": key}
                    if isinstance(key, str) and key else None)
            out.append(target(ptype, host, address, provider["port"], auth=auth, provider=pid))
    if is_redis:
        out.append(target("redis", host, address, PORTS["redis"]))
    if is_gateway:
        # HAProxy's metrics listener also serves each LiteLLM instance's own
        # metrics at /litellm/<i>/metrics: one target per instance (see
        # expand_instances), because the instances keep separate counters.
        out.append(target("haproxy", host, address, PORTS["haproxy"]))
        out.append(target("litellm", host, address, PORTS["haproxy"], path=LITELLM_PATH))
    if is_monitor:
        out.append(target("prometheus", host, address, PORTS["prometheus"]))
    return out


def _auth_name(auth):
    return auth["secret_var"] + ("." + auth["key"] if auth.get("key") else "")


def expand_instances(targets, gateways):
    """The LiteLLM target of each gateway, once per instance.

    ``gateways``: {host: {"instances": N, "address": metrics address}} from the
    gateway hosts' litellm_instances and haproxy_stats_address (role
    variables, not registry ones); a host missing there keeps the defaults.
    """
    out = []
    for item in targets:
        if item["job"] != "litellm" or "{instance}" not in item["path"]:
            out.append(item)
            continue
        settings = gateways.get(item["labels"]["host"], {})
        address = settings.get("address") or item["host"]
        for number in range(1, int(settings.get("instances") or DEFAULT_LITELLM_INSTANCES) + 1):
            out.append(target("litellm", item["labels"]["host"], address, item["port"],
                              path=item["path"].format(instance=number), litellm_instance=str(number)))
    return out


def scrape_configs(jobs, gateways=None):
    """One Prometheus scrape config per job and credential, with its file_sd entries.

    Targets of one job that need different credentials (two vLLM providers
    with their own keys) get a scrape config each, named job-credential; the
    job label stays the job's name. ``credentials`` is the file name Prometheus
    reads the bearer token from, ``secret`` where its value lives: the
    inventory host, variable and key.
    """
    out = {}
    for job in sorted(jobs):
        for item in expand_instances(jobs[job], gateways or {}):
            auth = item["auth"]
            name = job if auth is None else "%s-%s" % (job, _auth_name(auth).replace("_", "-").lower())
            config = out.setdefault(name, {
                "name": name, "job": job, "path": "/metrics", "scheme": item["scheme"],
                "credentials": None if auth is None else _auth_name(auth),
                "secret": None if auth is None else dict(auth, host=item["labels"]["host"]),
                "file_sd": []})
            labels = dict(item["labels"])
            if item["path"] != config["path"]:
                labels["__metrics_path__"] = item["path"]
            config["file_sd"].append({"targets": [item["address"]], "labels": labels})
    return [out[name] for name in sorted(out)]


def add_metrics(view, groups, secret_state=None):
    """Add each host's metrics targets and the monitoring view (see the module docstring)."""
    hosts = view["hosts"]
    order = view["groups"]["all"]
    monitors = monitoring_hosts(order, groups, view["groups"]["gateway"])
    scrapers = sorted(set(bind_address(hosts[m]) for m in monitors))
    jobs = {}
    for host in order:
        host_view = hosts[host]
        roles = host_view["roles"]
        gateway = view["gateways"].get(host)
        # A registry with errors deploys nothing, and its malformed values are the engine's to report.
        # The Redis exporter runs where the read-only exporter user has a password.
        exporter = "redis" in roles and secret_state is not None and secret_state(host, REDIS_EXPORTER_SECRET) == "set"
        targets = [] if view["errors"] else _host_targets(
            host, host_view, exporter, gateway is not None and "litellm" in roles, host in monitors, gateway)
        host_view["metrics"] = {"bind_address": bind_address(host_view), "targets": targets,
                                "scraped_by": monitors, "scraper_addresses": scrapers}
        for item in targets:
            jobs.setdefault(item["job"], []).append(item)
    view["groups"]["monitoring"] = monitors
    view["monitoring"] = {"hosts": monitors, "jobs": jobs, "scrape_configs": scrape_configs(jobs)}
    return view
