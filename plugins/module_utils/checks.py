# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The semantic checks (2-6 and the warnings) that JSON Schema cannot express.

Each function takes the schema-clean HostView(s) and appends Problems; the
numbers match docs/registry.md and issue 2's list. Severity is not decided
here but in problems.SEVERITY.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from .inventory import LOOPBACK, WILDCARD, is_loopback
from .problems import Problem, path_join, show_value
from .render import api_base
from .similar import similar_pairs
from .validator import suggest


# -- check 2: ports --------------------------------------------------------------------------
def check_ports(view, is_gateway, out):
    """Two enabled services on one host and port: the second cannot bind."""
    services = []
    if is_gateway:
        services.append((view.gateway["port"], "the LiteLLM gateway", view.var_path("ai_backend_gateway", "port")))
        if redis_is_local(view):
            services.append((view.redis["port"], "Redis", view.var_path("ai_backend_redis", "port")))
    for pid, provider in view.local_providers():
        services.append((provider["port"], "provider '%s' (%s)" % (pid, provider["type"]),
                         view.var_path("ai_backend_providers", pid, "port")))
    taken = {}
    for port, label, path in services:
        if port in taken:
            first_label, first_path = taken[port]
            out.append(Problem("port-conflict", path, port,
                               "port %d on host %s is already used by %s (%s)" % (port, view.name, first_label,
                                                                                  first_path),
                               "give %s its own port" % label))
        else:
            taken[port] = (label, path)


def redis_is_local(view):
    host = view.redis["host"]
    return host in LOOPBACK or host in (view.listen, view.advertise, view.gateway["listen_address"])


# -- addresses: where the gateway dials each backend ---------------------------------------
def check_advertise(view, out):
    """Beyond loopback, the registry must say where the gateway dials a host's backends.

    A wildcard bind has no address to dial at all. A specific address is often
    not the one the gateway reaches (NAT, a second interface, a DNS name), and
    guessing it would render a config that fails only at the first request.
    """
    if view.advertise_set or is_loopback(view.listen) or not view.local_providers():
        return
    if view.listen in WILDCARD:
        out.append(Problem("address", view.var_path("ai_backend_listen_address"), view.listen,
                           "host %s binds its backends to %s (every interface), which the gateway cannot dial, and "
                           "sets no ai_backend_advertise_address" % (view.name, view.listen),
                           "set ai_backend_advertise_address to the address the gateway reaches %s at, or bind "
                           "ai_backend_listen_address to that address" % view.name))
        return
    out.append(Problem("address", view.var_path("ai_backend_advertise_address"), None,
                       "host %s binds its backends to %s, beyond loopback, and sets no ai_backend_advertise_address, "
                       "so the gateway's address for them would be a guess" % (view.name, view.listen),
                       "set ai_backend_advertise_address: %s in host_vars/%s when the gateway reaches %s at that "
                       "address, else set it to the address or DNS name it does reach %s at"
                       % (view.listen, view.name, view.name, view.name)))


def check_api_bases(views, out):
    """Two inference hosts whose backends render the same URL: one would get the other's traffic."""
    first = {}
    for view in views:
        for pid, provider in view.local_providers():
            url = api_base(provider, view.advertise)
            path = view.var_path("ai_backend_providers", pid, "port")
            owner = first.get(url)
            if owner is None:
                first[url] = (view, path)
                continue
            if owner[0].name == view.name:
                continue  # same host, same port: check_ports reports it
            hint = ("give each host the address the gateway reaches it at: ai_backend_advertise_address "
                    "(or ai_backend_listen_address) of %s and %s must differ" % (owner[0].name, view.name))
            if is_loopback(view.advertise):
                hint += "; %s is a loopback address, reachable only from the host itself" % view.advertise
            out.append(Problem("address", path, provider["port"],
                               "hosts %s and %s both render api_base %s (provider '%s' here, %s there): the "
                               "gateway would send both hosts' traffic to one of them" % (
                                   owner[0].name, view.name, url, pid, owner[1]), hint))


# -- check 5: duplicate model names on one host ----------------------------------------------
def check_duplicate_models(view, out):
    """LiteLLM would silently shadow one of two same-named deployments on one host."""
    seen = {}
    for dep in view.deployments():
        first = seen.get(dep.name)
        if first is not None:
            where = "provider '%s'" % first.provider_id if first.provider_id != dep.provider_id else "this provider"
            out.append(Problem("duplicate-model", path_join(dep.path, "name"), dep.name,
                               "model '%s' is already served by %s on host %s (%s)" % (
                                   dep.name, where, view.name, path_join(first.path, "name")),
                               "rename one of them; the same name on DIFFERENT hosts is how you load-balance"))
        else:
            seen[dep.name] = dep


# -- check 6: GPU budget ---------------------------------------------------------------------
def check_gpu_budget(view, out):
    vllm = [(pid, p) for pid, p in sorted(view.providers.items()) if p["type"] == "vllm"]
    if not vllm:
        return
    if len(vllm) > 1:
        for pid, provider in vllm:
            if not provider.get("gpus"):
                out.append(Problem("gpu-unassigned", view.var_path("ai_backend_providers", pid, "gpus"),
                                   provider.get("gpus"),
                                   "host %s runs %d vLLM instances but '%s' has no GPUs assigned, so it would "
                                   "grab every GPU" % (view.name, len(vllm), pid),
                                   "list its GPU indices, e.g. gpus: [0], and keep the summed "
                                   "gpu_memory_utilization per GPU <= %s" % view.ceiling))
    per_gpu = {}
    for pid, provider in vllm:
        for gpu in provider.get("gpus") or ["all"]:
            per_gpu.setdefault(gpu, []).append((pid, provider["gpu_memory_utilization"]))
    for gpu in sorted(per_gpu, key=str):
        users = per_gpu[gpu]
        total = sum(user[1] for user in users)
        if total > view.ceiling + 1e-9:
            last_pid = users[-1][0]
            parts = " + ".join("%s %s" % (pid, share) for pid, share in users)
            out.append(Problem("gpu-budget", view.var_path("ai_backend_providers", last_pid, "gpu_memory_utilization"),
                               users[-1][1],
                               "GPU %s on host %s is over budget: %s = %s > ceiling %s" % (
                                   gpu, view.name, parts, round(total, 4), view.ceiling),
                               "lower gpu_memory_utilization, move an instance to another GPU, or raise "
                               "ai_backend_gpu_memory_ceiling (at most 1.0)"))


# -- check 3: references ---------------------------------------------------------------------
class ModelIndex:
    """Which public names the gateway can route to, and why others cannot."""

    def __init__(self, views, other_views=()):
        self.enabled = {}
        self.disabled = {}
        self.invalid = set()
        self.elsewhere = {}  # name -> hosts that serve it but do not feed this gateway
        # Some inference host's providers are malformed: an unknown name may be one of
        # theirs, so it is not reported (the malformed section is, once).
        self.incomplete = any(view.providers_unknown for view in views)
        for view in other_views:
            for dep in view.deployments():
                self.elsewhere.setdefault(dep.name, set()).add(view.name)
        for view in views:
            for dep in view.deployments():
                self.enabled.setdefault(dep.name, []).append(dep)
            for name, pid in view.disabled_names.items():
                self.disabled.setdefault(name, []).append("%s on host %s" % (pid, view.name))
            self.invalid.update(view.invalid_names)

    def reference_problem(self, name, path, what):
        """None if ``name`` is routable; else the Problem (None too if its provider already failed)."""
        if name in self.enabled:
            return None
        if name in self.invalid:
            return None  # its provider already has a schema error; one report is enough
        if name in self.elsewhere:
            return Problem("reference", path, name,
                           "%s '%s' is served only by host(s) %s, which are not inference hosts of this gateway" % (
                               what, name, ", ".join(sorted(self.elsewhere[name]))),
                           "add that host to the gateway's inference hosts (group ai_backend_inference) "
                           "or point at another model")
        if name in self.disabled:
            return Problem("reference", path, name,
                           "%s '%s' is served only by disabled provider %s" % (
                               what, name, ", ".join(sorted(self.disabled[name]))),
                           "enable that provider or point at another model")
        if self.incomplete:
            return None
        near = suggest(name, self.enabled) if self.enabled else None
        return Problem("reference", path, name, "%s '%s' is not a model of any enabled provider" % (what, name),
                       ("did you mean '%s'? " % near if near else "") + "use a model `name` from ai_backend_providers")


def check_references(view, index, out):
    routing = view.routing
    rpath = view.var_path("ai_backend_routing")
    for section in ("fallbacks", "context_window_fallbacks"):
        chains = routing.get(section) or {}
        for source in sorted(chains):
            spath = path_join(path_join(rpath, section), source)
            _add(out, index.reference_problem(source, spath, "fallback source"))
            for position, target in enumerate(chains[source]):
                _add(out, index.reference_problem(target, path_join(spath, position), "fallback target"))
    for position, target in enumerate(routing.get("default_fallbacks") or []):
        _add(out, index.reference_problem(target, path_join(path_join(rpath, "default_fallbacks"), position),
                                          "default fallback"))
    aliases = routing.get("aliases") or {}
    for alias in sorted(aliases):
        apath = path_join(path_join(rpath, "aliases"), alias)
        target = aliases[alias]
        if alias in index.enabled:
            out.append(Problem("reference", apath, target,
                               "alias '%s' has the same name as a served model, which it would hide" % alias,
                               "rename the alias"))
        _add(out, index.reference_problem(target, apath, "alias target"))


def _add(out, problem):
    if problem is not None:
        out.append(problem)


# -- check 4: fallback graph -----------------------------------------------------------------
def check_fallback_graph(view, out):
    rpath = view.var_path("ai_backend_routing")
    routing = view.routing
    for section in ("fallbacks", "context_window_fallbacks"):
        chains = routing.get(section) or {}
        spath = path_join(rpath, section)
        for source in sorted(chains):
            seen = set()
            for position, target in enumerate(chains[source]):
                tpath = path_join(path_join(spath, source), position)
                if target == source:
                    out.append(Problem("fallback-self", tpath, target,
                                       "model '%s' falls back to itself" % source,
                                       "remove it from its own fallback list"))
                elif target in seen:
                    out.append(Problem("fallback-duplicate", tpath, target,
                                       "'%s' appears twice in the fallbacks of '%s'" % (target, source),
                                       "list each fallback once"))
                seen.add(target)
        for cycle in find_cycles(chains):
            first, second = cycle[0], cycle[1]
            position = list(chains[first]).index(second)
            out.append(Problem("fallback-cycle", path_join(path_join(spath, first), position), second,
                               "fallback cycle: %s" % " -> ".join(cycle),
                               "break the cycle: remove one of these fallbacks"))
    seen = set()
    for position, target in enumerate(routing.get("default_fallbacks") or []):
        if target in seen:
            out.append(Problem("fallback-duplicate", path_join(path_join(rpath, "default_fallbacks"), position),
                               target, "'%s' appears twice in default_fallbacks" % target,
                               "list each fallback once"))
        seen.add(target)


def find_cycles(chains):
    """Each elementary cycle once, as [a, b, ..., a], rotated to start at its smallest name.

    Iterative DFS (a long chain must not hit Python's recursion limit). Only the
    first cycle through each back edge is reported; fixing it reveals the next.
    """
    graph = dict((node, [t for t in targets if t != node]) for node, targets in chains.items())
    colour = {}
    found = {}
    for start in sorted(graph):
        if colour.get(start):
            continue
        stack = [(start, iter(graph.get(start, ())))]
        trail = [start]
        colour[start] = 1
        while stack:
            node, children = stack[-1]
            advanced = False
            for child in children:
                state = colour.get(child, 0)
                if state == 1:
                    loop = trail[trail.index(child):]
                    pivot = loop.index(min(loop))
                    loop = loop[pivot:] + loop[:pivot]
                    found.setdefault(tuple(loop), loop + [loop[0]])
                elif state == 0 and child in graph:
                    colour[child] = 1
                    trail.append(child)
                    stack.append((child, iter(graph[child])))
                    advanced = True
                    break
            if not advanced:
                colour[node] = 2
                trail.pop()
                stack.pop()
    return [found[key] for key in sorted(found)]


# -- warnings --------------------------------------------------------------------------------
def warn_no_fallback(view, index, out):
    routing = view.routing
    if routing.get("default_fallbacks"):
        return
    covered = set(routing.get("fallbacks") or {})
    for name in sorted(index.enabled):
        if name not in covered:
            dep = index.enabled[name][0]
            out.append(Problem("no-fallback", path_join(dep.path, "name"), name,
                               "model '%s' has no fallback: when it fails, requests fail" % name,
                               "add ai_backend_routing.fallbacks['%s'] or ai_backend_routing.default_fallbacks"
                               % name))


MAX_SIMILAR_REPORTED = 50


def warn_similar_names(index, out):
    pairs = similar_pairs(list(index.enabled))
    if len(pairs) > MAX_SIMILAR_REPORTED:
        left, right = pairs[MAX_SIMILAR_REPORTED]
        dep = index.enabled[right][0]
        out.append(Problem("similar-names", path_join(dep.path, "name"), right,
                           "%d more pairs of model names differ by at most 2 characters (the first %d are "
                           "listed)" % (len(pairs) - MAX_SIMILAR_REPORTED, MAX_SIMILAR_REPORTED),
                           "check the names for typos; a catalogue this uniform may be generated by a tool "
                           "that can be fixed once"))
    for left, right in pairs[:MAX_SIMILAR_REPORTED]:
        dep = index.enabled[right][0]
        out.append(Problem("similar-names", path_join(dep.path, "name"), right,
                           "model names %s and %s differ by at most 2 characters: a typo?" % (
                               show_value(left), show_value(right)),
                           "if they are meant to be the same model, use one name (same name on several hosts "
                           "= one load-balanced group)"))
