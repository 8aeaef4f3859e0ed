# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The registry view: everything the playbooks and roles derive from the inventory, in one pass.

    view = build_view(registries, groups, secret_state, targets=None, cwd=None, render_dir="")

It validates the whole inventory once (registry.validate_and_render), adds the
checks that need the inventory itself (groups, which hosts the run targets,
where the shared Redis runs, the secrets each role will read) and returns plain
data: errors, warnings, the report, one summary line, and per host and per
gateway the facts with defaults applied, so that no playbook, role or template
derives them again in Jinja. Defaults come from the registry schema, nowhere else.

``secret_state(host, var, key=None)`` says whether a secret is usable on a host
("set", "empty" or "undefined") without handing its value over: this module
never sees a secret.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
import hashlib
import os

from .atomic import WriteError, write_atomic
from .registry import validate_and_render, validate_inventory
from .registry_schema import GATEWAY_SCHEMA, LOCAL_TYPES, PROVIDER_SCHEMA, REDIS_SCHEMA, REGISTRY_SCHEMA, ROUTING_SCHEMA
from .view_metrics import MONITORING_GROUP, add_metrics
from .view_firewall import add_firewall, mark_firewall
from .view_security import check_security

GATEWAY_GROUP = "ai_backend_gateway"
INFERENCE_GROUP = "ai_backend_inference"
REDIS_GROUP = "ai_backend_redis"
KNOWN_GROUPS = (GATEWAY_GROUP, INFERENCE_GROUP, REDIS_GROUP, MONITORING_GROUP)
BACKEND_ROLES = ("llama_cpp", "ollama", "vllm")
# Health endpoint of each local backend type, as the real servers serve it.
HEALTH_PATHS = {"llama_cpp": "/health", "ollama": "/api/version", "vllm": "/health"}
# A wildcard bind is reached on the loopback of its address family.
WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "[::]": "::1"}
# Role variables that hold the API keys named by a provider's api_key_env.
BACKEND_KEY_VARS = {"llama_cpp": "llama_cpp_api_keys", "vllm": "vllm_api_keys"}
PROVIDER_SECRETS_VAR = "litellm_provider_secrets"


def schema_defaults(schema):
    return dict((key, sub["default"]) for key, sub in schema.get("properties", {}).items()
                if isinstance(sub, dict) and "default" in sub)


def url_host(address):
    address = str(address)
    return "[%s]" % address if ":" in address and not address.startswith("[") else address


def http_url(address, port, path=""):
    return "http://%s:%s%s" % (url_host(address), port, path)


def reach(address):
    return WILDCARDS.get(address, address) if isinstance(address, str) else address


def finding(path, value, message, hint, severity="error", code="inventory"):
    return {"code": code, "severity": severity, "path": path, "value": value, "message": message, "hint": hint}


def format_findings(findings):
    """The report: the engine's layout (problems.format_report), for plain finding dicts."""
    errors = [f for f in findings if f["severity"] == "error"]
    warnings = [f for f in findings if f["severity"] != "error"]
    lines = ["ai_backend registry: %d error(s), %d warning(s)" % (len(errors), len(warnings))]
    for item in sorted(errors, key=_order) + sorted(warnings, key=_order):
        lines.extend(["", "%s: %s" % (item["severity"].upper(), item["path"]), "  value: %s" % _show(item["value"]),
                      "  problem: %s" % item["message"], "  fix: %s" % item["hint"]])
    return "\n".join(lines)


def _order(item):
    return (item["path"], item["code"], item["message"])


def _show(value):
    text = "'%s'" % value if isinstance(value, str) else "null" if value is None else repr(value)
    text = text.replace("\n", "\\n")
    return text if len(text) <= 80 else text[:77] + "..."


def _section(registry, var, schema):
    values = schema_defaults(schema)
    if isinstance(registry.get(var), dict):
        values.update((k, v) for k, v in registry[var].items() if k in schema["properties"])
    return values


class _Inventory:
    """Which host does what, from the inventory's groups; records what is wrong with them."""

    def __init__(self, registries, groups, targets):
        self.findings = []
        self.all = [h for h in groups.get("all", sorted(registries)) if h in registries]
        self.gateways = self._members(groups, GATEWAY_GROUP)
        self.inference = self._members(groups, INFERENCE_GROUP)
        self.redis_candidates = self._members(groups, REDIS_GROUP)
        self.redis_host = (self.redis_candidates + self.gateways + [""])[0]
        self.targets = [h for h in (self.all if targets is None else targets) if h in registries]
        self._check_groups(groups, targets)

    def _members(self, groups, name):
        return [h for h in groups.get(name) or [] if h in self.all]

    def _check_groups(self, groups, targets):
        present = [g for g in KNOWN_GROUPS if groups.get(g)]
        for group in sorted(groups):
            if group in KNOWN_GROUPS or group in ("all", "ungrouped"):
                continue
            close = difflib.get_close_matches(group, KNOWN_GROUPS, n=1, cutoff=0.8)
            if close:
                self.findings.append(finding(
                    "groups[%s]" % group, groups[group],
                    "the collection reads no group '%s'; did you mean %s?" % (group, close[0]),
                    "rename the group to %s in the inventory" % close[0],
                    severity="warning" if close[0] in present else "error", code="group-name"))
        if not self.all:
            self.findings.append(finding(
                "inventory", [], "the inventory has no host: it is empty, did not parse, or names no host",
                "pass the inventory with -i PATH and check that ansible-inventory -i PATH --graph lists your hosts"))
            return
        if not self.gateways and not self.inference:
            self.findings.append(finding(
                "groups", sorted(g for g in groups if g not in ("all", "ungrouped")),
                "no host is in %s or %s, so nothing would be deployed" % (GATEWAY_GROUP, INFERENCE_GROUP),
                "put the hosts that run LiteLLM in %s and the GPU hosts in %s" % (GATEWAY_GROUP, INFERENCE_GROUP)))
            return
        if not self.gateways:
            self.findings.append(finding(
                "groups[%s]" % GATEWAY_GROUP, [], "the inventory has no gateway host",
                "add the host that should run LiteLLM (and Redis) to %s" % GATEWAY_GROUP))
        involved = set(self.gateways + self.inference + self.redis_candidates)
        if targets is not None and not involved.intersection(targets):
            self.findings.append(finding(
                "limit", sorted(targets), "no host of %s or %s matched this run" % (GATEWAY_GROUP, INFERENCE_GROUP),
                "check --limit and the play's host pattern; the inventory's hosts are: %s" % ", ".join(self.all)))

    def roles_of(self, host, providers):
        roles = []
        if host in self.inference:
            types = set(p["type"] for p in providers.values())
            roles.extend(r for r in BACKEND_ROLES if r in types)
        if host == self.redis_host:
            roles.append("redis")
        if host in self.gateways:
            roles.append("litellm")
        return roles


def _enabled_providers(registry):
    """{id: provider with the schema's defaults}, enabled ones only; malformed entries are the engine's to report."""
    providers = registry.get("ai_backend_providers")
    defaults = schema_defaults(PROVIDER_SCHEMA)
    out = {}
    for pid in sorted(providers if isinstance(providers, dict) else {}, key=str):
        provider = providers[pid]
        if isinstance(provider, dict) and isinstance(provider.get("type"), str):
            merged = dict(defaults)
            merged.update(provider)
            if merged.get("enabled") is True:
                out[str(pid)] = merged
    return out


def _string(registry, var, default):
    """A malformed value is the engine's to report; the view falls back to the default meanwhile."""
    value = registry.get(var)
    return value if isinstance(value, str) and value else default


# llama.cpp's threads busy-wait for work (its --poll, 50 by default). Beside
# the gateway on one CPU that spinning is CPU LiteLLM cannot use: measured in
# the demo sandbox (2 cores), a LiteLLM instance in front of llama-server
# served 1.37 times the requests per second with --poll 0, llama-server's CPU
# time per request falling from 31 to 11 ms (bench/gateway_variants.py).
SHARED_CPU_POLL = 0


def llama_cpp_poll(provider, roles):
    """The --poll a llama_cpp provider runs with: the registry's, else 0 beside a gateway, else llama.cpp's own."""
    if isinstance(provider.get("poll"), int) and not isinstance(provider.get("poll"), bool):
        return provider["poll"]
    return SHARED_CPU_POLL if "litellm" in roles else None


def _host_view(host, registry, inventory):
    base = schema_defaults(REGISTRY_SCHEMA)
    listen = _string(registry, "ai_backend_listen_address", base["ai_backend_listen_address"])
    advertise = _string(registry, "ai_backend_advertise_address", listen)
    providers = _enabled_providers(registry)
    roles = inventory.roles_of(host, providers)
    by_type = {}
    services = []
    for pid, provider in providers.items():
        # The models themselves stay in the registry and the rendered config: at
        # real scale (10,000 models) carrying them here costs Ansible seconds.
        entry = dict(((k, v) for k, v in provider.items() if k != "models"), id=pid,
                     model_count=len(provider["models"]) if isinstance(provider.get("models"), list) else 0)
        if provider["type"] in LOCAL_TYPES and isinstance(provider.get("port"), int):
            path = HEALTH_PATHS[provider["type"]]
            entry.update(url=http_url(advertise, provider["port"]), health_url=http_url(advertise, provider["port"], path),
                         probe_url=http_url(reach(listen), provider["port"], path))
            services.append({"role": provider["type"], "id": pid, "address": listen, "port": provider["port"],
                             "health_url": entry["health_url"]})
        if provider["type"] == "llama_cpp":
            entry["poll"] = llama_cpp_poll(provider, roles)
        by_type.setdefault(provider["type"], {})[pid] = entry
    view = {
        "listen_address": listen,
        "advertise_address": advertise,
        "probe_address": reach(listen),
        "gpu_memory_ceiling": registry.get("ai_backend_gpu_memory_ceiling", base["ai_backend_gpu_memory_ceiling"]),
        "providers": by_type,
        "roles": roles,
        "services": services,
        "secrets": [],
    }
    if "redis" in view["roles"]:
        redis = _section(registry, "ai_backend_redis", REDIS_SCHEMA)
        services.append({"role": "redis", "id": "redis", "address": listen, "port": redis["port"], "health_url": None})
    if "litellm" in view["roles"]:
        gateway = _section(registry, "ai_backend_gateway", GATEWAY_SCHEMA)
        services.append({"role": "litellm", "id": "litellm", "address": gateway["listen_address"],
                         "port": gateway["port"], "health_url": http_url(reach(gateway["listen_address"]),
                                                                         gateway["port"], "/health/readiness")})
    view["health_urls"] = [s["health_url"] for s in services if s["health_url"]]
    return view


def _gateway_view(host, registry, inventory, hosts):
    gateway = _section(registry, "ai_backend_gateway", GATEWAY_SCHEMA)
    redis = _section(registry, "ai_backend_redis", REDIS_SCHEMA)
    routing = _section(registry, "ai_backend_routing", ROUTING_SCHEMA)
    cache = schema_defaults(ROUTING_SCHEMA["properties"]["cache"])
    if isinstance(routing.get("cache"), dict):
        cache.update(routing["cache"])
    routing["cache"] = cache
    redis_host = hosts.get(inventory.redis_host, {})
    redis.update(runs_on=inventory.redis_host, bind_address=redis_host.get("listen_address"))
    return {
        "listen_address": gateway["listen_address"],
        "port": gateway["port"],
        "master_key_env": gateway["master_key_env"],
        "url": http_url(gateway["listen_address"], gateway["port"]),
        "probe_url": http_url(reach(gateway["listen_address"]), gateway["port"]),
        "redis": redis,
        "routing": routing,
        "inference_hosts": list(inventory.inference),
        "secrets": [],
    }


def _check_redis(inventory, registries, gateways, hosts):
    out = []
    if len(inventory.redis_candidates) > 1 or (inventory.redis_host and inventory.redis_host not in inventory.gateways):
        out.append(finding("groups[%s]" % REDIS_GROUP, inventory.redis_candidates,
                           "group %s must name exactly one host, and that host must also be in %s, because all "
                           "gateways share one Redis" % (REDIS_GROUP, GATEWAY_GROUP),
                           "remove the group to run Redis on the first gateway host (%s)"
                           % (inventory.gateways[0] if inventory.gateways else "none")))
        return out
    seen = dict((gw, registries[gw].get("ai_backend_redis", {})) for gw in inventory.gateways)
    if len(set(repr(sorted(v.items())) if isinstance(v, dict) else repr(v) for v in seen.values())) > 1:
        out.append(finding("ai_backend_redis", seen, "the gateway hosts disagree on ai_backend_redis",
                           "all gateways share one Redis: set ai_backend_redis once, in group_vars/all "
                           "or group_vars/%s" % GATEWAY_GROUP))
        return out
    if inventory.redis_host and gateways:
        bind = hosts[inventory.redis_host]["listen_address"]
        addresses = [bind, hosts[inventory.redis_host]["advertise_address"]]
        target = gateways[inventory.gateways[0]]["redis"]["host"]
        if bind not in WILDCARDS and target not in addresses:
            out.append(finding(
                "host_vars[%s].ai_backend_redis.host" % inventory.gateways[0], target,
                "Redis runs on %s and binds to its ai_backend_listen_address %s, so the gateways cannot reach it at %s"
                % (inventory.redis_host, bind, target),
                "set ai_backend_redis.host to %s, or choose the Redis host with the %s group"
                % (" or ".join(sorted(set(addresses))), REDIS_GROUP)))
    return out


def _vault_hint(var, key=None):
    if key is None:
        return ("set it in a vaulted file, e.g. the output of `ansible-vault encrypt_string --name %s '<value>'` "
                "in group_vars/all/vault.yml" % var)
    return ("add the key %s under %s in a vaulted file: %s: {%s: <vaulted value>}, the value made with "
            "`ansible-vault encrypt_string --name %s '<value>'`" % (key, var, var, key, key))


_STATES = {
    "undefined": "is not defined",
    "empty": "is empty",
    "unresolved": "is a template that refers to an undefined variable (such as a vault_* value whose vaulted "
                  "file was not loaded)",
    "undecryptable": "is vaulted but could not be decrypted (give the vault password with --ask-vault-pass or "
                     "--vault-password-file)",
}


def _require(host, role, var, key, why, secret_state, out, sink):
    state = secret_state(host, var, key)
    label = "%s[%s]" % (var, key) if key is not None else var
    sink.append({"role": role, "var": var, "key": key, "state": state})
    if state != "set":
        out.append(finding("host_vars[%s].%s" % (host, label), "<%s>" % state,
                           "%s %s on %s, but %s" % (label, _STATES.get(state, state), host, why),
                           _vault_hint(var, key), code="missing-secret"))


def _check_secrets(inventory, hosts, gateways, secret_state):
    """Every secret a role the inventory enables will read, checked by state only (values never leave Ansible)."""
    out = []
    served = []
    for host in inventory.inference:
        for ptype, providers in hosts[host]["providers"].items():
            for pid, provider in sorted(providers.items()):
                if isinstance(provider.get("api_key_env"), str):
                    served.append((host, pid, ptype, provider["api_key_env"]))
                    if ptype in BACKEND_KEY_VARS:
                        _require(host, ptype, BACKEND_KEY_VARS[ptype], provider["api_key_env"],
                                 "provider %s names it as api_key_env and the %s role needs the key" % (pid, ptype),
                                 secret_state, out, hosts[host]["secrets"])
    if inventory.redis_host:
        _require(inventory.redis_host, "redis", "redis_password", None, "the redis role sets it as requirepass",
                 secret_state, out, hosts[inventory.redis_host]["secrets"])
    for gw in inventory.gateways:
        sink = gateways[gw]["secrets"]
        _require(gw, "litellm", "litellm_master_key", None, "LiteLLM refuses to start without its master key",
                 secret_state, out, sink)
        if gw != inventory.redis_host and secret_state(gw, "litellm_redis_password", None) != "set":
            _require(gw, "litellm", "redis_password", None, "LiteLLM authenticates to the shared Redis with it",
                     secret_state, out, sink)
        for env in sorted(set(item[3] for item in served)):
            users = ", ".join("%s/%s" % (h, p) for h, p, _t, e in served if e == env)
            _require(gw, "litellm", PROVIDER_SECRETS_VAR, env,
                     "the gateway sends it to %s (api_key_env %s)" % (users, env), secret_state, out, sink)
        hosts[gw]["secrets"].extend(sink)
    return out


def _render(configs, inventory, gateways, all_gateways):
    """Each gateway's config from the engine's own render, so api_base is never derived twice.

    The model list is the same for every gateway (they share the inference
    hosts), so only the first gateway's text is kept unless every text is wanted.
    """
    for gw in inventory.gateways if all_gateways else inventory.gateways[:1]:
        result = configs[gw]
        gateways[gw]["config_text"] = result.text
        config = result.config
    # Every gateway's checksums (a few bytes each): status.yml compares them with the deployed
    # config, the source registry's (its header) and the whole file's (a renderer change too).
    for gw in inventory.gateways:
        gateways[gw]["config_sha256"] = configs[gw].source_sha256
        gateways[gw]["config_file_sha256"] = hashlib.sha256(configs[gw].text.encode("utf-8")).hexdigest()
    # Deployments as "<host>/<provider id>" strings: their details are in
    # hosts[host].providers and the rendered config, and at 10,000 models a
    # dict per deployment costs Ansible about a second to carry.
    groups = {}
    for entry in config["model_list"]:
        host, provider = entry["model_info"]["id"].split("/", 2)[:2]
        groups.setdefault(entry["model_name"], []).append("%s/%s" % (host, provider))
    return groups


def resolve_render_dir(render_dir, cwd):
    """A relative render dir is relative to where the user ran ansible-playbook, never to the playbook."""
    if not render_dir:
        return ""
    return os.path.normpath(os.path.join(cwd or os.getcwd(), os.path.expanduser(render_dir)))


def host_table(hosts):
    """One line per host: its roles and what it serves, for Ansible's default callback."""
    row = "%-24s  %-34s  %s"
    lines = [row % ("HOST", "ROLES", "SERVES")]
    for host in sorted(hosts):
        view = hosts[host]
        serves = ", ".join("%s %s:%s" % (s["id"] if s["id"] == s["role"] else "%s/%s" % (s["role"], s["id"]),
                                         url_host(s["address"]), s["port"]) for s in view["services"])
        lines.append(row % (host, ", ".join(view["roles"]) or "-", serves or "-"))
    return lines


def summary_line(view):
    return ("ai_backend validate: %d hosts, %d gateways, %d inference hosts, %d model groups, %d warnings"
            % (len(view["hosts"]), len(view["gateways"]), len(view["groups"]["inference"]),
               len(view["model_groups"]), len(view["warnings"])))


def _trace():
    """Test hook: one line per view built, so a test can prove the registry is validated once per run."""
    path = os.environ.get("AI_BACKEND_VIEW_TRACE")
    if path:
        with open(path, "a") as out:
            out.write("view built\n")


def build_view(registries, groups, secret_state, targets=None, cwd=None, render_dir=""):
    """The view of the whole inventory. ``registries``: {host: ai_backend_* vars}, plain types."""
    _trace()
    inventory = _Inventory(registries, groups, targets)
    engine, configs = [], {}
    if inventory.all:
        # One validation that also renders every gateway: the report and the
        # configs come from the same pass.
        errors, warnings, configs = validate_and_render(registries, gateway_hosts=inventory.gateways,
                                                        inference_hosts=inventory.inference)
        engine = [p.as_dict() for p in list(errors) + list(warnings)]
    hosts = dict((h, _host_view(h, registries[h], inventory)) for h in inventory.all)
    gateways = dict((gw, _gateway_view(gw, registries[gw], inventory, hosts)) for gw in inventory.gateways)
    own = inventory.findings + _check_redis(inventory, registries, gateways, hosts)
    # The security check reads which hosts the firewall role covers.
    mark_firewall(hosts, registries)
    if inventory.all:
        own += _check_secrets(inventory, hosts, gateways, secret_state)
        own += check_security(hosts, gateways, registries, inventory.inference, secret_state, _require)
    findings = engine + own
    view = {
        "errors": [f for f in findings if f["severity"] == "error"],
        "warnings": [f for f in findings if f["severity"] != "error"],
        "hosts": hosts,
        "gateways": gateways,
        "groups": {"all": inventory.all, "gateway": inventory.gateways, "inference": inventory.inference,
                   "redis_host": inventory.redis_host, "targets": inventory.targets},
        "model_groups": {},
        "render_dir": resolve_render_dir(render_dir, cwd),
        "health_paths": dict(HEALTH_PATHS),
        # Every local backend the gateways route to, with the health URL at the address they use.
        "backends": [{"host": h, "id": s["id"], "type": s["role"], "health_url": s["health_url"]}
                     for h in inventory.inference for s in hosts[h]["services"] if s["role"] in BACKEND_ROLES],
    }
    if not view["errors"] and inventory.gateways:
        view["model_groups"] = _render(configs, inventory, gateways, bool(render_dir))
    add_metrics(view, groups, secret_state)
    add_firewall(view, registries)
    view["ok"] = not view["errors"]
    view["report"] = format_findings(findings) if findings else ""
    view["summary"] = summary_line(view)
    view["table"] = host_table(hosts)
    return view


def write_renders(view):
    """Write each gateway's rendered config to RENDER_DIR/<gateway>.litellm.yaml, atomically, when it differs.

    Called on the controller right after build_view, so the config texts (megabytes
    at real scale) never travel through Ansible's variables: every text leaves the
    view here, written or not; its checksum stays (gateways[gw].config_sha256).
    Returns [{gateway, path, changed}].
    """
    written = []
    texts = dict((gw, view["gateways"][gw].pop("config_text", None)) for gw in view["groups"]["gateway"])
    if not view["ok"] or not view["render_dir"]:
        return written
    try:
        os.makedirs(view["render_dir"], mode=0o755, exist_ok=True)
    except OSError as exc:
        raise WriteError("cannot create the render directory %s: %s" % (view["render_dir"], exc.strerror or exc))
    for gw in view["groups"]["gateway"]:
        path = os.path.join(view["render_dir"], "%s.litellm.yaml" % gw)
        done = write_atomic(path, texts[gw], mode="0644", backups=0)
        written.append({"gateway": gw, "path": path, "changed": done["changed"]})
    return written


def build_host_view(registry, host, gateway=False):
    """One host's registry, validated on its own, for a backend role applied without validate.yml.

    Only what that host's roles rely on is checked (its own registry: schema,
    ports, models, GPU budget); the inventory-wide checks need the whole run.
    """
    _trace()
    registries = {host: registry}
    groups = {"all": [host], INFERENCE_GROUP: [host]}
    if gateway:
        # Only so that the host's derived settings match a site.yml run's
        # (llama.cpp's poll beside a gateway); the gateway itself is not checked here.
        groups[GATEWAY_GROUP] = [host]
    inventory = _Inventory(registries, groups, None)
    errors, warnings = validate_inventory(registries, gateway_hosts=[], inference_hosts=[host])
    findings = [p.as_dict() for p in list(errors) + list(warnings)]
    return {
        "ok": not errors,
        "errors": [f for f in findings if f["severity"] == "error"],
        "warnings": [f for f in findings if f["severity"] != "error"],
        "report": format_findings(findings) if findings else "",
        "host": _host_view(host, registry, inventory),
    }
