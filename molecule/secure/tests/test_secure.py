"""The secure scenario: who may connect to what, across real network namespaces.

Every probe is recorded (who, what, expected, got) and the table and its
counts are printed at the end (-r P shows them in the log), next to the
firewall's own counters and what the egress proxy let out.
"""

import json
import os
import subprocess

import pytest

from aib_testinfra import run_playbook

HERE = os.environ["MOLECULE_SCENARIO_DIRECTORY"]
STATE = os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]
GATEWAY, GPU, OUTSIDER = "aib-secure-gateway", "aib-secure-gpu", "aib-secure-out"
GW_IP, GPU_IP = "192.0.2.1", "192.0.2.2"
BACKEND_KEY = "molecule-secure-backend-key-0123456789abcdef"
MASTER_KEY = "sk-molecule-secure-0123456789abcdef0123456789ab"
RECORD = []

testinfra_hosts = ["ansible://" + GATEWAY]


def in_ns(who, argv, stdin=None, timeout=60):
    """Run argv in the network namespace of a container, or of the outsider's namespace."""
    prefix = ["ip", "netns", "exec", OUTSIDER] if who == OUTSIDER else ["docker", "exec", "-i", who]
    return subprocess.run(prefix + argv, input=stdin, capture_output=True, text=True, timeout=timeout, check=False)


def probe(who, targets):
    with open(os.path.join(HERE, "probe.py")) as handle:
        done = in_ns(who, ["python3", "-", *targets], stdin=handle.read())
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def record(who, what, expected, got):
    RECORD.append((who, what, expected, got))
    return got


def http(who, url, key=None, body=None, extra=()):
    """(HTTP status or curl's error, curl's exit code), sent with curl (the outsider) or Python (containers)."""
    if who == OUTSIDER:
        argv = ["curl", "-sS", "-m", "20", "-o", "/dev/null", "-w", "%{http_code}", *extra]
        if key:
            argv += ["-H", "Authorization: Bearer %s" % key]
        if body:
            argv += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
        done = in_ns(who, argv + [url])
        return (done.stdout.strip() if done.returncode == 0 else "curl exit %d" % done.returncode), done.returncode
    script = (
        "import json, sys, urllib.request, urllib.error\n"
        "req = urllib.request.Request(sys.argv[1], data=sys.argv[3].encode() or None,\n"
        "    headers=dict([('Content-Type', 'application/json')] + ([('Authorization', 'Bearer ' + sys.argv[2])]\n"
        "    if sys.argv[2] else [])))\n"
        "try:\n"
        "    print(urllib.request.urlopen(req, timeout=60).status)\n"
        "except urllib.error.HTTPError as err:\n"
        "    print(err.code)\n")
    done = in_ns(who, ["python3", "-c", script, url, key or "", json.dumps(body) if body else ""])
    assert done.returncode == 0, done.stderr
    return done.stdout.strip(), 0


COMPLETION = {"model": "tiny-llama", "prompt": "Hello", "max_tokens": 4}


def test_the_gateway_reaches_the_backend_and_redis():
    got = probe(GATEWAY, ["%s:8080" % GPU_IP, "%s:6379" % GW_IP])
    assert record(GATEWAY, "tcp %s:8080 (llama.cpp)" % GPU_IP, "open", got["%s:8080" % GPU_IP]) == "open"
    assert record(GATEWAY, "tcp %s:6379 (Redis)" % GW_IP, "open", got["%s:6379" % GW_IP]) == "open"
    status, _rc = http(GATEWAY, "http://%s:8080/v1/completions" % GPU_IP, BACKEND_KEY, COMPLETION)
    assert record(GATEWAY, "POST llama.cpp /v1/completions with its key", "200", status) == "200"


def test_a_backend_without_its_key_answers_401():
    status, _rc = http(GATEWAY, "http://%s:8080/v1/completions" % GPU_IP, None, COMPLETION)
    assert record(GATEWAY, "POST llama.cpp /v1/completions without key", "401", status) == "401"
    status, _rc = http(GATEWAY, "http://%s:8080/v1/completions" % GPU_IP, "wrong-key-0123456789", COMPLETION)
    assert record(GATEWAY, "POST llama.cpp /v1/completions with a wrong key", "401", status) == "401"


# Ports the outsider must not reach at all: backend, Redis, metrics, the
# LiteLLM instance and HAProxy's stats, SSH-less hosts' other ports.
OUTSIDER_DENIED = ["%s:8080" % GPU_IP, "%s:9100" % GPU_IP, "%s:6379" % GW_IP, "%s:9121" % GW_IP,
                   "%s:9100" % GW_IP, "%s:8404" % GW_IP, "%s:4001" % GW_IP, "%s:9090" % GW_IP]


def test_the_outsider_gets_nothing_from_backend_redis_or_metrics_ports():
    got = probe(OUTSIDER, OUTSIDER_DENIED)
    for target in OUTSIDER_DENIED:
        record(OUTSIDER, "tcp %s" % target, "filtered", got[target])
    assert all(got[t] == "filtered" for t in OUTSIDER_DENIED), got


def test_only_the_gateways_reach_backend_and_redis():
    # The GPU host is neither a gateway nor in allowed_cidrs: Redis and the gateway port are closed to it.
    got = probe(GPU, ["%s:6379" % GW_IP, "%s:4000" % GW_IP])
    record(GPU, "tcp %s:6379 (Redis)" % GW_IP, "filtered", got["%s:6379" % GW_IP])
    record(GPU, "tcp %s:4000 (gateway, not in allowed_cidrs)" % GW_IP, "filtered", got["%s:4000" % GW_IP])
    assert got == {"%s:6379" % GW_IP: "filtered", "%s:4000" % GW_IP: "filtered"}


def test_the_outsider_reaches_the_gateway_only_with_a_key_and_only_over_tls(hostvars):
    tls = hostvars["ai_backend_gateway"].get("tls")
    scheme = "https" if tls else "http"
    extra = ["--cacert", os.path.join(STATE, "tls", "ca.crt")] if tls else []
    url = "%s://%s:4000/v1/models" % (scheme, GW_IP)
    status, _rc = http(OUTSIDER, url, MASTER_KEY, extra=extra)
    assert record(OUTSIDER, "GET %s with the key" % url, "200", status) == "200"
    status, _rc = http(OUTSIDER, url, None, extra=extra)
    assert record(OUTSIDER, "GET %s without key" % url, "401", status) == "401"
    if not tls:
        pytest.skip("ai_backend_gateway.tls is not set in this scenario: TLS-only is not proven here")
    status, rc = http(OUTSIDER, url.replace("https", "http"), MASTER_KEY)
    assert record(OUTSIDER, "GET http:// (plain) with the key", "no HTTP answer", status) != "200" and rc != 0
    status, rc = http(OUTSIDER, url, MASTER_KEY, extra=["--insecure", "--tls-max", "1.1"])
    assert record(OUTSIDER, "GET https:// over TLS 1.1", "no HTTP answer", status) != "200" and rc != 0


def test_nothing_leaves_the_namespaces_but_apt_and_pip():
    # A documentation address (TEST-NET-2) outside the namespaces' subnet: with
    # no route out the connect fails locally, so nothing is ever sent.
    got = probe(GATEWAY, ["198.51.100.1:443", "192.0.2.254:80"])
    record(GATEWAY, "tcp 198.51.100.1:443 (outside the subnet)", "unreachable", got["198.51.100.1:443"])
    assert got["198.51.100.1:443"] == "unreachable"
    with open(os.path.join(STATE, "egress.log")) as handle:
        lines = [line.split() for line in handle if line.strip()]
    allowed = set((h, p) for verdict, h, p in lines if verdict == "allow")
    assert allowed <= {("deb.debian.org", "80"), ("pypi.org", "443"), ("files.pythonhosted.org", "443")}
    print("egress proxy: %d requests let out (%s), %d refused" % (
        sum(1 for v, _h, _p in lines if v == "allow"), ", ".join("%s:%s" % a for a in sorted(allowed)),
        sum(1 for v, _h, _p in lines if v == "refuse")))


def _file_and_table(who):
    done = in_ns(who, ["sh", "-c", "sha256sum /etc/ai-backend/firewall.nft; nft -s list table inet ai_backend"])
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_ruleset_that_cuts_ansibles_ssh_is_refused():
    before = _file_and_table(GPU)
    rc, out = run_playbook(os.path.join(HERE, "ssh_cut.yml"),
                           extra_vars={"firewall_client_address": "192.0.2.99",
                                       "firewall_ssh_sources": ["192.0.2.1/32"]})
    record("ansible", "firewall role with SSH open to 192.0.2.1/32 only, Ansible at 192.0.2.99", "refused",
           "refused" if rc != 0 and "refused, nothing was changed" in out else "rc %d" % rc)
    assert rc != 0 and "not to 192.0.2.99" in out, out[-3000:]
    assert _file_and_table(GPU) == before
    # The same role with Ansible's address allowed changes nothing either: the ruleset is the converged one.
    rc, out = run_playbook(os.path.join(HERE, "ssh_cut.yml"), extra_vars={"firewall_client_address": "192.0.2.1"})
    assert rc == 0 and "changed=0" in out, out[-3000:]


def _counters(who):
    done = in_ns(who, ["nft", "-j", "list", "table", "inet", "ai_backend"])
    assert done.returncode == 0, done.stderr
    out = {}
    for item in json.loads(done.stdout)["nftables"]:
        rule = item.get("rule")
        if rule:
            counter = [e["counter"] for e in rule["expr"] if "counter" in e]
            if counter:
                out[rule.get("comment", "?")] = counter[0]["packets"]
    return out


def test_zz_report():
    """Last: the table of what was sent and what came back, the firewall's counters, the totals."""
    lines = ["%-10s %-68s %-15s %s" % ("FROM", "SENT", "EXPECTED", "GOT")]
    lines += ["%-10s %-68s %-15s %s" % row for row in RECORD]
    refused = sum(1 for row in RECORD if row[3] in ("filtered", "401", "refused", "unreachable")
                  or str(row[3]).startswith("curl exit"))
    lines.append("sent %d, refused %d, allowed %d" % (len(RECORD), refused, len(RECORD) - refused))
    for who in (GATEWAY, GPU):
        counters = _counters(who)
        lines.append("nft counters on %s (packets): %s" % (who, json.dumps(counters, sort_keys=True)))
        assert counters.get("refused", 0) > 0
    print("\n".join(lines))
    assert RECORD
