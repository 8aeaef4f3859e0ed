# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The firewall view (plugins/module_utils/view_firewall.py), called through build_view on
generated inventories: every (source, port) pair the registry allows is accepted,
everything else is dropped, the rendered nft text says exactly the same, and a
ruleset that would cut Ansible's SSH connection is recognised."""

import ipaddress
import json
import re
import shutil
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.gathewhy.ai_backend.plugins.module_utils import view as view_mod
from ansible_collections.gathewhy.ai_backend.plugins.module_utils import view_firewall as fw


def _secret_set(host, var, key=None):
    return "set"


def _gpu(address, ports):
    return {
        "ai_backend_listen_address": address,
        "ai_backend_advertise_address": address,
        "ai_backend_providers": dict(
            ("p%d" % i, {"type": "llama_cpp", "port": port, "api_key_env": "KEY_%d" % i,
                         "models": [{"name": "m-%s-%d" % (address.replace(".", "-").replace(":", "-"), i),
                                     "gguf": {"path": "/srv/m%d.gguf" % i}}]})
            for i, port in enumerate(ports)),
    }


def _gw(address, cidrs):
    return {"ai_backend_listen_address": address, "ai_backend_advertise_address": address,
            "ai_backend_gateway": {"listen_address": address, "port": 4000, "allowed_cidrs": cidrs},
            "ai_backend_redis": {"host": address}}


ADDRESSES = st.one_of(
    st.integers(min_value=0x0A000001, max_value=0x0AFFFFFE).map(lambda n: str(ipaddress.IPv4Address(n))),
    st.integers(min_value=1, max_value=2 ** 64).map(lambda n: str(ipaddress.IPv6Address((0x20010DB8 << 96) + n))))
CIDRS = st.one_of(
    st.tuples(st.integers(min_value=0xC0000000, max_value=0xDFFFFFFF), st.integers(min_value=8, max_value=32)).map(
        lambda t: str(ipaddress.IPv4Network((t[0], t[1]), strict=False))),
    st.just("::1/128"), st.just("127.0.0.0/8"))


@st.composite
def inventories(draw):
    addresses = draw(st.lists(ADDRESSES, min_size=2, max_size=6, unique=True))
    n_gw = draw(st.integers(min_value=1, max_value=len(addresses) - 1))
    gateways = ["gw%d" % i for i in range(n_gw)]
    gpus = ["gpu%d" % i for i in range(len(addresses) - n_gw)]
    registries = {}
    for name, address in zip(gateways + gpus, addresses):
        if name.startswith("gw"):
            registries[name] = _gw(address, draw(st.lists(CIDRS, max_size=3, unique=True)))
        else:
            ports = draw(st.lists(st.integers(min_value=8000, max_value=8999), min_size=1, max_size=3, unique=True))
            registries[name] = _gpu(address, ports)
    # Every gateway agrees on the one Redis, which runs on the first gateway.
    for name in gateways:
        registries[name]["ai_backend_redis"] = {"host": addresses[0]}
    monitors = draw(st.sampled_from([[], [gpus[0]], gateways[-1:]]))
    groups = {"all": gateways + gpus, "ai_backend_gateway": gateways, "ai_backend_inference": gpus}
    if monitors:
        groups["ai_backend_monitoring"] = monitors
    return registries, groups


def build(registries, groups):
    view = view_mod.build_view(json.loads(json.dumps(registries)), groups, _secret_set)
    assert view["ok"], view["report"]
    return view


def expected_pairs(view, registries, host):
    """What the registry says may reach ``host`` from outside it: {(network, port)}."""
    me = view["hosts"][host]
    gateways = [g for g in view["groups"]["gateway"] if g != host]
    gateway_nets = [ipaddress.ip_network(view["hosts"][g]["advertise_address"]) for g in gateways]
    allowed = set()
    for service in me["services"]:
        if service["role"] in ("llama_cpp", "redis"):
            allowed.update((net, service["port"]) for net in gateway_nets)
        if service["role"] == "litellm":
            allowed.update((ipaddress.ip_network(c), service["port"])
                           for c in registries[host]["ai_backend_gateway"]["allowed_cidrs"])
    for target in me["metrics"]["targets"]:
        if not ipaddress.ip_address(target["host"]).is_loopback:
            allowed.update((ipaddress.ip_network(a), target["port"]) for a in me["metrics"]["scraper_addresses"]
                           if a not in (me["listen_address"], me["advertise_address"]))
    return allowed


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inventory=inventories(),
       probes=st.lists(st.tuples(ADDRESSES, st.integers(min_value=1, max_value=65535)), min_size=20, max_size=40))
def test_every_allowed_pair_is_accepted_and_everything_else_dropped(inventory, probes):
    registries, groups = inventory
    view = build(registries, groups)
    for host in groups["all"]:
        entry = view["hosts"][host]["firewall"]
        assert entry["enabled"] is True and entry["problems"] == []
        allowed = expected_pairs(view, registries, host)
        ports = set(port for _net, port in allowed)
        # Each allowed pair, tested at the first and last address of its network.
        for net, port in allowed:
            for address in (net[0], net[-1]):
                assert fw.decide(entry["rules"], address, port) == ("accept"), (host, str(net), port)
        # Everything else: random sources on the allowed ports and on any port.
        for address, port in probes + [(a, p) for a, _p in probes for p in ports]:
            ip = ipaddress.ip_address(address)
            inside = any(ip in net and port == p for net, p in allowed if net.version == ip.version)
            assert fw.decide(entry["rules"], address, port) == ("accept" if inside or ip.is_loopback else "drop")
        # The nft text says the same thing as the rules it was rendered from.
        assert parse_rendered(fw.render(entry["rules"])) == rule_pairs(entry["rules"])


def rule_pairs(rules):
    return sorted((net, r["port"]) for r in rules for net in r["sources"])


def parse_rendered(text):
    """(source, port) pairs of the accept rules in a rendered ruleset."""
    pairs = []
    for line in text.splitlines():
        found = re.match(r'\s+(?:(ip6?) saddr \{ ([^}]*) \}|meta nfproto (ipv[46])) tcp dport (\d+) counter accept', line)
        if found:
            family, sources, everyone, port = found.groups()
            nets = ["0.0.0.0/0" if everyone == "ipv4" else "::/0"] if everyone else sources.split(", ")
            pairs.extend((net, int(port)) for net in nets)
    return sorted(pairs)


def test_backend_and_redis_only_from_the_gateways_gateway_port_from_allowed_cidrs():
    registries = {"gw": _gw("192.0.2.10", ["198.51.100.0/24"]), "gpu": _gpu("192.0.2.11", [8080])}
    registries["gw"]["ai_backend_redis"] = {"host": "192.0.2.10"}
    view = build(registries, {"all": ["gw", "gpu"], "ai_backend_gateway": ["gw"], "ai_backend_inference": ["gpu"]})
    gpu = view["hosts"]["gpu"]["firewall"]["rules"]
    gw = view["hosts"]["gw"]["firewall"]["rules"]
    assert fw.decide(gpu, "192.0.2.10", 8080) == "accept"
    assert fw.decide(gpu, "192.0.2.99", 8080) == "drop"
    assert fw.decide(gw, "198.51.100.7", 4000) == "accept"
    assert fw.decide(gw, "192.0.2.11", 4000) == "drop"
    # Redis runs on the only gateway: no other host needs it, so only loopback reaches it.
    assert fw.decide(gw, "192.0.2.11", 6379) == "drop" and fw.decide(gw, "127.0.0.1", 6379) == "accept"
    # Metrics: the monitoring host defaults to the first gateway, so the GPU host's exporter opens to it only.
    assert fw.decide(gpu, "192.0.2.10", 9100) == "accept" and fw.decide(gpu, "192.0.2.12", 9100) == "drop"


def test_a_gateway_on_loopback_is_known_by_its_gateway_address():
    # The multi-host example: gw1's Redis binds loopback, HAProxy its private address.
    registries = {"gw": _gw("192.0.2.10", []), "gpu": _gpu("192.0.2.11", [8080])}
    registries["gw"]["ai_backend_listen_address"] = registries["gw"]["ai_backend_advertise_address"] = "127.0.0.1"
    registries["gw"]["ai_backend_redis"] = {"host": "127.0.0.1"}
    view = build(registries, {"all": ["gw", "gpu"], "ai_backend_gateway": ["gw"], "ai_backend_inference": ["gpu"]})
    rules = view["hosts"]["gpu"]["firewall"]["rules"]
    assert fw.decide(rules, "192.0.2.10", 8080) == "accept" and fw.decide(rules, "192.0.2.12", 8080) == "drop"


def test_default_gateway_port_is_loopback_only():
    registries = {"gw": _gw("192.0.2.10", None)}
    del registries["gw"]["ai_backend_gateway"]["allowed_cidrs"]
    view = build(registries, {"all": ["gw"], "ai_backend_gateway": ["gw"]})
    rules = view["hosts"]["gw"]["firewall"]["rules"]
    assert [r for r in rules if r["port"] == 4000][0]["sources"] == ["127.0.0.0/8", "::1/128"]
    assert fw.decide(rules, "192.0.2.50", 4000) == "drop"


def test_a_gateway_known_by_name_only_is_a_problem_with_the_fix():
    registries = {"gw": _gw("0.0.0.0", []), "gpu": _gpu("192.0.2.11", [8080])}
    registries["gw"]["ai_backend_listen_address"] = "0.0.0.0"
    registries["gw"]["ai_backend_advertise_address"] = "gw.example.internal"
    registries["gw"]["ai_backend_redis"] = {"host": "gw.example.internal"}
    view = build(registries, {"all": ["gw", "gpu"], "ai_backend_gateway": ["gw"], "ai_backend_inference": ["gpu"]})
    problems = view["hosts"]["gpu"]["firewall"]["problems"]
    assert problems and problems[0]["path"] == "host_vars[gw].ai_backend_advertise_address"
    assert problems[0]["value"] == "gw.example.internal" and "IP address" in problems[0]["hint"]


def test_opt_out_is_read_from_the_registry():
    registries = {"gw": dict(_gw("127.0.0.1", []), ai_backend_firewall={"enabled": False})}
    view = build(registries, {"all": ["gw"], "ai_backend_gateway": ["gw"]})
    assert view["hosts"]["gw"]["firewall"]["enabled"] is False


def test_a_bad_allowed_cidr_is_a_schema_error():
    registries = {"gw": _gw("127.0.0.1", ["10.0.0.0/33x"])}
    view = view_mod.build_view(registries, {"all": ["gw"], "ai_backend_gateway": ["gw"]}, _secret_set)
    assert not view["ok"]
    assert any("allowed_cidrs" in e["path"] for e in view["errors"]), view["report"]


@pytest.mark.parametrize("rules_sources, client, cut", [
    (fw.ANY, "203.0.113.5", ""),
    (["192.0.2.0/24"], "192.0.2.1", ""),
    (["192.0.2.0/24"], "203.0.113.5", "not to 203.0.113.5"),
    (["192.0.2.0/24"], "", ""),
])
def test_ssh_cut_is_recognised(rules_sources, client, cut):
    rules = fw.with_ssh([], 22, rules_sources)
    assert (cut in fw.ssh_cut(rules, 22, client)) if cut else fw.ssh_cut(rules, 22, client) == ""


def test_ssh_on_another_port_than_ansible_uses_is_a_cut():
    assert "SSH port 2222" in fw.ssh_cut(fw.with_ssh([], 22), 2222, "")


@pytest.mark.skipif(shutil.which("nft") is None, reason="nft is not installed")
def test_nft_accepts_the_rendered_ruleset(tmp_path):
    rules = fw.with_ssh([{"port": 8080, "protocol": "tcp", "sources": ["192.0.2.10/32", "2001:db8::1/128"],
                          "services": ["llama_cpp/p0", 'a "quoted" name']},
                         {"port": 4000, "protocol": "tcp", "sources": list(fw.ANY), "services": ["gateway"]}], 22)
    path = tmp_path / "rules.nft"
    path.write_text(fw.render(rules))
    result = subprocess.run(["nft", "-c", "-f", str(path)], capture_output=True, text=True, check=False)
    if "Operation not permitted" in result.stderr:
        pytest.skip("nft -c needs CAP_NET_ADMIN")
    assert result.returncode == 0, result.stderr
