# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/status.yml in Python: what to probe on a host, and its status table.

    probe_request(view, host) -> the request playbooks/files/status_probe.py reads
    status_lines(view, host, probe) -> list of lines, one table per host

Everything expected comes from the registry view (view.py); everything found
comes from the probe. The lines are plain ASCII without quotes or backslashes,
so Ansible's default callback prints them as they are (a list of strings, no
escaped newlines), with or without the collection's ansible.cfg.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

LITELLM_CONFIG = "/etc/litellm/config.yaml"
ROLLOUT_FILE = "/var/lib/litellm/last-rollout"
DIGEST_LINE = re.compile(r"^# source registry sha256: ([0-9a-f]{64})$")
# Units of each role; every host also runs node_exporter (the monitoring role).
UNITS = {
    "redis": ["redis-server.service", "prometheus-redis-exporter.service"],
    "litellm": ["haproxy.service", "litellm@*.service"],
    "llama_cpp": ["llama-cpp@*.service"],
    "ollama": ["ollama.service"],
    "vllm": ["vllm@*.service"],
}
ALWAYS = ["prometheus-node-exporter.service"]
MONITOR = ["prometheus.service"]
_UNSAFE = re.compile(r"[^\x20-\x7e]|[\"\\]")


def clean(value):
    """Printable ASCII without quote or backslash: the default callback prints it unescaped."""
    return _UNSAFE.sub("?", "%s" % (value,))


def _host(view, host):
    return view["hosts"][host]


def _is_monitor(view, host):
    return host in (view.get("groups", {}).get("monitoring") or [])


def probe_request(view, host):
    """What status_probe.py looks at on ``host``: its units, the health URLs it can reach, the gateway files."""
    host_view = _host(view, host)
    units = list(ALWAYS)
    for role in host_view["roles"]:
        units.extend(UNITS.get(role, []))
    if _is_monitor(view, host):
        units.extend(MONITOR)
    urls = list(host_view.get("health_urls") or [])
    request = {"units": sorted(set(units)), "health_urls": urls}
    if host in view.get("gateways", {}):
        urls.extend(b["health_url"] for b in view.get("backends", []) if b.get("health_url"))
        request.update(config_file=LITELLM_CONFIG, rollout_file=ROLLOUT_FILE)
    request["health_urls"] = sorted(set(urls))
    return request


def _table(rows, indent="  "):
    """Rows of cells, columns padded to their widest cell."""
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(max(len(row) for row in rows))]
    return [(indent + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row))).rstrip() for row in rows]


def _units_section(probe):
    rows = [["UNIT", "STATE", "SINCE", "VERSION"]]
    for unit in probe.get("units") or []:
        state = "%s (%s)" % (unit.get("ActiveState", "?"), unit.get("SubState", "?"))
        if unit.get("LoadState") not in (None, "loaded"):
            state = unit.get("LoadState")
        rows.append([clean(unit.get("Id", "?")), clean(state), clean(unit.get("ActiveEnterTimestamp") or "-"),
                     clean(unit.get("Version") or "-")])
    if len(rows) == 1:
        return ["units: none of this host's units are installed"]
    return ["units:"] + _table(rows)


def _listen_section(host_view, probe):
    listening = set(probe.get("listening") or [])
    wildcard_ports = set(entry.rsplit(":", 1)[1] for entry in listening
                         if entry.rsplit(":", 1)[0] in ("0.0.0.0", "[::]"))
    rows = [["SERVICE", "ADDRESS", "LISTENING"]]
    for service in host_view["services"]:
        address = service["address"]
        where = "%s:%s" % ("[%s]" % address if ":" in address else address, service["port"])
        found = where in listening or str(service["port"]) in wildcard_ports
        name = service["role"] if service["id"] == service["role"] else "%s/%s" % (service["role"], service["id"])
        rows.append([clean(name), clean(where), "yes" if found else "NO"])
    if len(rows) == 1:
        return ["listen: this host serves nothing from the registry"]
    return ["listen:"] + _table(rows)


def _health_word(code):
    if code is None:
        return "not probed"
    return "up" if code == "200" else "DOWN %s" % code


def _model_groups_section(view, probe):
    backends = dict(("%s/%s" % (b["host"], b["id"]), b) for b in view.get("backends", []))
    health = probe.get("health") or {}
    groups = view.get("model_groups") or {}
    rows = [["MODEL GROUP", "BACKEND", "TYPE", "HEALTH"]]
    for name in sorted(groups):
        for index, deployment in enumerate(groups[name]):
            backend = backends.get(deployment)
            if backend is None:
                kind, state = "remote", "not probed (remote)"
            else:
                kind, state = backend["type"], _health_word(health.get(backend["health_url"]))
            rows.append([clean(name) if index == 0 else "", clean(deployment), clean(kind), clean(state)])
    if len(rows) == 1:
        return ["model groups: none (the registry has no enabled model)"]
    return ["model groups (health as seen from this gateway):"] + _table(rows)


def _gpu_section(host_view, probe):
    vllm = (host_view.get("providers") or {}).get("vllm") or {}
    gpus = probe.get("gpus")
    ceiling = host_view.get("gpu_memory_ceiling")
    if gpus is None:
        if vllm:
            return ["gpus: nvidia-smi did not answer on this host, but vLLM providers are assigned to it"]
        return ["gpus: none (no nvidia-smi)"]
    rows = [["GPU", "NAME", "USED MiB", "TOTAL MiB", "USED", "BUDGET", "PROVIDERS"]]
    for gpu in gpus:
        users = sorted(pid for pid, p in vllm.items() if not p.get("gpus") or gpu["index"] in p["gpus"])
        budget = sum(float(vllm[pid].get("gpu_memory_utilization", 0.9)) for pid in users)
        share = float(gpu["used_mib"]) / gpu["total_mib"] if gpu["total_mib"] else 0.0
        rows.append([str(gpu["index"]), clean(gpu["name"]), str(gpu["used_mib"]), str(gpu["total_mib"]),
                     "%.0f%%" % (share * 100), "%.2f of %s" % (budget, ceiling), clean(", ".join(users) or "-")])
    return ["gpus (budget: summed gpu_memory_utilization against ai_backend_gpu_memory_ceiling):"] + _table(rows)


def _config_section(view, host, probe):
    expected = view["gateways"][host].get("config_sha256")
    expected_file = view["gateways"][host].get("config_file_sha256")
    header = probe.get("config_header")
    deployed = None
    for line in header or []:
        match = DIGEST_LINE.match(line)
        if match:
            deployed = match.group(1)
    if header is None:
        state = "NOT DEPLOYED (%s is missing)" % LITELLM_CONFIG
    elif deployed is None:
        state = "UNKNOWN (%s has no registry checksum)" % LITELLM_CONFIG
    elif expected is None:
        state = "not compared (the inventory has errors: run validate.yml)"
    elif deployed != expected:
        state = "DRIFT: the inventory changed since the last deploy"
    elif probe.get("config_sha256") != expected_file:
        state = "DRIFT: same registry, but the config renders differently now (collection upgraded?)"
    else:
        state = "in sync"
    rollout = probe.get("rollout") or {}
    when = rollout.get("time")
    lines = ["config: %s" % state,
             "  deployed registry sha256:  %s" % clean(deployed or "-"),
             "  inventory registry sha256: %s" % clean(expected or "-")]
    if when:
        lines.append("last rollout: %s (release %s, instances %s)" % (
            clean(when), clean(rollout.get("version", "?")), clean(rollout.get("instances", "?"))))
    else:
        lines.append("last rollout: none recorded")
    return lines


def status_lines(view, host, probe):
    """The status table of ``host``: a list of lines."""
    host_view = _host(view, host)
    title = "%s  (%s)" % (host, ", ".join(host_view["roles"]) or "no role")
    lines = [clean(title), "=" * len(title)]
    lines.extend(_units_section(probe))
    lines.extend(_listen_section(host_view, probe))
    if host in view.get("gateways", {}):
        lines.extend(_model_groups_section(view, probe))
        lines.extend(_config_section(view, host, probe))
    lines.extend(_gpu_section(host_view, probe))
    return lines
