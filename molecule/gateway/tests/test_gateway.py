# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""gateway: the gateway must never be the reason a request fails.

Each phase runs the load generator (tests/load/loadgen.py: 8 closed-loop
clients, unique prompts, bounded) from the controller against HAProxy on
127.0.50.1:4000 for the whole of one disruptive action, plus a lead-in and a
tail, and requires 0 failed requests (phase c allows one kind, see there):

  baseline  nothing happens (the reference throughput)
  a         site.yml reconverges with a changed routing setting
  b         site.yml reconverges with a config that fails the health gate
            (rolled back, the run fails with "ROLLED BACK:")
  c         one LiteLLM instance is SIGKILLed (and comes back)
  d         Redis stops for 30 s, then starts; throughput recovers
  e         one of the two llama.cpp deployments of the model group stops
  f         LiteLLM 1.108.6 -> 1.108.7 under load, instance by instance

Tests run in file order and each phase leaves the stack as it found it. The
last test prints one table row per phase and writes the table as JSON into
the scenario's ephemeral directory.
"""

import json
import os
import re
import subprocess
import sys
import time

import pytest

from aib_testinfra import http, run_playbook, unit_journal

sys.path.insert(0, os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "tests", "load"))
from loadgen import Background, LoadRun, wait_ready  # noqa: E402  pylint: disable=wrong-import-position

GATEWAY = "aib-gateway"
GPU2 = "aib-gateway-gpu2"
ADDRESS = "127.0.50.1"
CLIENTS = 8
OLD, NEW = "1.108.6", "1.108.7"
# Seconds of load before the action (the phase's own reference level) and after it.
LEAD_IN = 5.0
TAIL = 5.0
# Hard bounds of every phase. A converge restarts LiteLLM instances, which
# takes minutes on a busy 2-core machine, and the upgrade also installs a
# release. The load must still be running when the action ends (checked),
# so these bound the scenario without cutting a phase short.
MAX_SECONDS = {"baseline": 30, "a": 600, "b": 600, "c": 300, "d": 90, "e": 90, "f": 900}
MAX_REQUESTS = 40000
# HAProxy's per-server count of answers the server cut off mid-transfer.
SERVER_ABORTS = "haproxy_server_server_aborts_total"
BACKEND = "litellm"
REDIS_DOWN = 30.0
REDIS_RECOVERY = 15.0
BACKEND_DOWN = 25.0

testinfra_hosts = ["ansible://%s" % GATEWAY]
PHASES = []


def docker_exec(container, *argv, check=True, stdin=None, detach=False):
    done = subprocess.run(["docker", "exec"] + (["-d"] if detach else []) + (["-i"] if stdin is not None else [])
                          + [container] + list(argv), input=stdin, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=120, check=False)
    if check and done.returncode != 0:
        raise AssertionError("docker exec %s %s: exit %d\n%s" % (
            container, " ".join(argv), done.returncode, done.stdout))
    return done


def converge(**extra_vars):
    return run_playbook(os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "converge.yml"),
                        extra_vars=extra_vars or None)


def ms(value):
    return "-" if value is None else "%.0f" % value


@pytest.fixture(scope="module")
def gateway_url(hostvars):
    gw = hostvars["ai_backend_gateway"]
    return "http://%s:%s" % (gw["listen_address"], gw["port"])


@pytest.fixture(scope="module")
def phase(gateway_url, hostvars):
    """phase(name, action) runs action() under load; returns (LoadRun, window, action's result)."""

    def run(name, action, tail=TAIL, note=""):
        load = LoadRun(gateway_url, key=hostvars["litellm_master_key"], clients=CLIENTS,
                       max_requests=MAX_REQUESTS, max_seconds=MAX_SECONDS[name], timeout=60, label=name)
        with Background(load):
            time.sleep(LEAD_IN)
            began = load.now()
            result = action(load)
            ended = load.now()
            time.sleep(tail)
        report = load.summary()
        covered = load.duration >= ended + tail * 0.5
        row = {"phase": name, "note": note, "action_s": [round(began, 1), round(ended, 1)],
               "covered_whole_action": covered}
        row.update(report)
        PHASES.append(row)
        print("%s: %s" % (name, json.dumps(dict((k, v) for k, v in row.items() if k != "per_second"))))
        print("%s: ok per second: %s" % (name, row["per_second"]))
        return load, (began, ended), result

    return run


def assert_no_failure(load, cut_off=0):
    """0 failed requests besides `cut_off` answers a crash cut short, and the
    load ran for the whole action (last check of each phase)."""
    report = load.summary()
    assert report["failed"] == cut_off, "%d of %d requests failed: %s" % (
        report["failed"] - cut_off, report["sent"], report["failed_by_class"])
    assert report["ok"] > 0, "no request succeeded"
    row = PHASES[-1]
    assert row["covered_whole_action"], "the load stopped (bounds %s s / %d requests) before the action ended at %s s" % (
        MAX_SECONDS[row["phase"]], MAX_REQUESTS, row["action_s"][1])


def stats_url(hostvars):
    return "http://%s:%s" % (hostvars.get("haproxy_stats_address", ADDRESS), hostvars.get("haproxy_stats_port", 8404))


def haproxy_metrics(stats):
    status, dummy, body = http("GET", stats + "/metrics")
    assert status == 200, body
    return body


def server_values(stats, metric, proxy, labels=""):
    """{server: value} of one per-server series of HAProxy's exporter in one
    backend (the metrics backends name their servers alike)."""
    pattern = r'%s\{proxy="%s",server="([^"]+)"%s\} (\S+)$' % (re.escape(metric), re.escape(proxy), re.escape(labels))
    found = dict((match.group(1), int(float(match.group(2))))
                 for match in (re.match(pattern, line) for line in haproxy_metrics(stats).splitlines()) if match)
    assert found, "HAProxy exports no %s for backend %s" % (metric, proxy)
    return found


# Before any phase: the gateway is what the contract says it is.
def test_haproxy_in_front_of_every_instance(host, hostvars, gateway_url):
    instances = hostvars.get("litellm_instances", 2)
    for index in range(1, instances + 1):
        unit = "litellm@%d.service" % index
        assert host.service(unit).is_running, unit_journal(host, unit)
    assert host.service("haproxy.service").is_running, unit_journal(host, "haproxy.service")
    body = haproxy_metrics(stats_url(hostvars))
    for index in range(1, instances + 1):
        assert 'server="litellm%d"' % index in body, "HAProxy exports no server litellm%d" % index
    status, headers, body = http("POST", gateway_url + "/v1/chat/completions",
                                 headers={"Authorization": "Bearer %s" % hostvars["litellm_master_key"]},
                                 body={"model": "tiny-llama", "max_tokens": 4,
                                       "messages": [{"role": "user", "content": "hello %s" % time.time()}]})
    assert status == 200, body
    assert headers.get("x-litellm-version") == OLD, headers


# What HAProxy can retry when an instance crashes, on the deployed config: a
# copy of it, moved to spare ports, in front of stand-ins
# (dropping_instance.py) of which the first drops its first completion.
RETRY_TEST_PORTS = {"gateway": 4950, "stats": 4951, "servers": 4952}
RETRY_TEST_CONFIG = "/tmp/retry-test.cfg"
RETRY_TEST_STANDIN = "/tmp/dropping_instance.py"


def moved_config(deployed):
    """(config text, server names): the deployed haproxy.cfg with its frontends,
    servers and runtime socket on the retry test's ports. Each move must
    happen, so a template change that breaks one shows here."""
    lines, moves, servers, section = [], [], [], None
    for line in deployed.splitlines():
        if line[:1].isalpha():
            section = tuple(line.split()[:2])
        words = line.split()
        if section in (("frontend", "gateway"), ("frontend", "stats")) and words[:1] == ["bind"]:
            line = line.replace(words[1], "%s:%d" % (ADDRESS, RETRY_TEST_PORTS[section[1]]), 1)
            moves.append(section[1])
        elif section == ("backend", BACKEND) and words[:1] == ["server"]:
            line = line.replace(words[2], "%s:%d" % (ADDRESS, RETRY_TEST_PORTS["servers"] + len(servers)), 1)
            servers.append(words[1])
        elif words[:2] == ["stats", "socket"]:
            line = line.replace(words[2], "/run/haproxy/retry-test.sock", 1)
            moves.append("socket")
        lines.append(line)
    assert sorted(moves) == ["gateway", "socket", "stats"] and len(servers) >= 2, (
        "the deployed haproxy.cfg should have one gateway bind, one stats bind, one stats socket and at least "
        "two servers in backend %s:\n%s" % (BACKEND, deployed))
    return "\n".join(lines) + "\n", servers


def stop_in_gateway(pattern):
    """Kill the gateway container's processes matching pattern and wait until
    they are gone, so the next test can bind their ports."""
    docker_exec(GATEWAY, "pkill", "-f", pattern, check=False)
    deadline = time.monotonic() + 10
    while docker_exec(GATEWAY, "pgrep", "-f", pattern, check=False).returncode == 0:
        assert time.monotonic() < deadline, "%s still runs 10 s after SIGTERM" % pattern
        time.sleep(0.2)


@pytest.mark.parametrize("mode, retried", [("before", True), ("after-headers", False)])
def test_haproxy_retries_what_it_can(host, mode, retried):
    text, servers = moved_config(host.file("/etc/haproxy/haproxy.cfg").content_string)
    here = os.path.dirname(os.path.abspath(__file__))
    subprocess.run(["docker", "cp", os.path.join(here, "dropping_instance.py"), "%s:%s" % (GATEWAY, RETRY_TEST_STANDIN)],
                   check=True, timeout=60)
    docker_exec(GATEWAY, "sh", "-c", "cat > %s" % RETRY_TEST_CONFIG, stdin=text)
    docker_exec(GATEWAY, "haproxy", "-c", "-q", "-f", RETRY_TEST_CONFIG)
    stats = "http://%s:%d" % (ADDRESS, RETRY_TEST_PORTS["stats"])
    try:
        for index in range(len(servers)):
            docker_exec(GATEWAY, "python3", RETRY_TEST_STANDIN, ADDRESS, str(RETRY_TEST_PORTS["servers"] + index),
                        mode if index == 0 else "never", detach=True)
        docker_exec(GATEWAY, "haproxy", "-db", "-f", RETRY_TEST_CONFIG, detach=True)
        deadline = time.monotonic() + 30
        while True:
            try:
                checked = server_values(stats, "haproxy_server_check_status", BACKEND, ',state="L7OK"')
            except (AssertionError, OSError):
                checked = {}
            if checked and all(checked.get(name) == 1 for name in servers):
                break
            assert time.monotonic() < deadline, "the retry test's HAProxy never saw its stand-ins healthy"
            time.sleep(0.5)
        # Sequential requests, so each lands on an idle server in turn and the
        # first server gets its first completion (the one it drops).
        load = LoadRun("http://%s:%d" % (ADDRESS, RETRY_TEST_PORTS["gateway"]), clients=1,
                       max_requests=4 * len(servers), max_seconds=30, timeout=10, label="retry-" + mode)
        load.run()
        report = load.summary()
        aborts = server_values(stats, SERVER_ABORTS, BACKEND)
        retries = server_values(stats, "haproxy_server_retry_warnings_total", BACKEND)
    finally:
        for pattern in (RETRY_TEST_CONFIG, RETRY_TEST_STANDIN):
            stop_in_gateway(pattern)
    detail = "client %s; HAProxy server aborts %s, retries %s" % (
        dict((key, report[key]) for key in ("sent", "ok", "failed_by_class")), aborts, retries)
    assert report["sent"] == 4 * len(servers), detail
    if retried:
        # Nothing of the answer had come: HAProxy sent the request again.
        assert report["failed"] == 0 and retries[servers[0]] == 1 and sum(aborts.values()) == 0, detail
    else:
        # The headers had come: HAProxy must not resend, and the client sees the cut.
        assert report["failed_by_class"] == {"closed_mid_response": 1}, detail
        assert aborts[servers[0]] == 1 and sum(retries.values()) == 0, detail


def test_baseline(phase):
    load, dummy, dummy = phase("baseline", lambda load: time.sleep(15), note="no action")
    assert_no_failure(load)


# a) a routing change rolls through the instances one at a time
def test_a_routing_change_under_load(phase, hostvars):
    routing = dict(hostvars["ai_backend_routing"], timeout=45)
    load, dummy, (rc, output) = phase("a", lambda load: converge(ai_backend_routing=routing),
                                      note="site.yml, routing.timeout 60 -> 45")
    assert rc == 0, output[-4000:]
    assert_no_failure(load)


# b) a config failing the health gate is rolled back while the others serve
def test_b_rolled_back_config_under_load(phase, host, hostvars):
    # A registry that validates but does not come up healthy: Redis announced
    # at an address where nothing listens. The validation only accepts a
    # Redis address the Redis host binds or advertises, so the hosts
    # advertise that address too (it only changes what the gateway config
    # says; nothing binds it).
    dead = "127.0.50.9"
    redis = dict(hostvars["ai_backend_redis"], host=dead)
    before = host.file("/etc/litellm/config.yaml").sha256sum
    load, dummy, (rc, output) = phase(
        "b", lambda load: converge(ai_backend_redis=redis, ai_backend_advertise_address=dead,
                                   litellm_health_retries=3),
        note="site.yml, Redis announced where nothing listens")
    flat = " ".join(output.split())
    assert rc != 0, "the converge with a broken Redis address succeeded:\n" + output[-4000:]
    assert "ROLLED BACK:" in flat, output[-6000:]
    assert host.file("/etc/litellm/config.yaml").sha256sum == before, "the previous config was not restored"
    rejected = host.run("ls -1t /etc/litellm/rejected/").stdout.split()
    assert rejected and dead in host.file("/etc/litellm/rejected/" + rejected[0]).content_string
    assert_no_failure(load)


# c) SIGKILL of one instance: HAProxy routes around it until it is back.
# Requests the instance had not begun to answer are retried on the other one.
# An answer it had begun to send (HAProxy had its status line and headers)
# cannot be: HAProxy keeps a request for a retry only until the response
# headers arrive, and has passed them to the client by then. So the one
# failure allowed here is such an answer cut short, and only when it was in
# flight at the kill and HAProxy's own count of answers aborted by that
# server agrees; anything else fails the phase.
def test_c_sigkill_one_instance(phase, hostvars):
    port = hostvars.get("litellm_instance_base_port", 4001)
    aborts_before = server_values(stats_url(hostvars), SERVER_ABORTS, BACKEND)
    killed_at = []

    def kill(load):
        killed_at.append(load.now())
        docker_exec(GATEWAY, "systemctl", "kill", "--signal=KILL", "litellm@1.service")
        killed_at.append(load.now())
        time.sleep(2)
        back = wait_ready("http://%s:%d/health/readiness" % (ADDRESS, port), 180)
        # HAProxy's health check must see it up again before the phase ends.
        time.sleep(5)
        return back

    load, dummy, back = phase("c", kill, note="systemctl kill -s KILL litellm@1")
    aborts = dict((server, count - aborts_before.get(server, 0))
                  for server, count in server_values(stats_url(hostvars), SERVER_ABORTS, BACKEND).items())
    failed = [record for record in load.records if not record.ok]
    cut_off = [record for record in failed if record.error in ("closed_mid_response", "reset")
               and record.start <= killed_at[1] and record.end >= killed_at[0]]
    PHASES[-1]["cut_off_by_kill"] = len(cut_off)
    PHASES[-1]["note"] += " (back in %.0f s%s)" % (
        back + 2, "; %d answer(s) cut off mid-response by the kill" % len(cut_off) if cut_off else "")
    detail = "failed: %s; killed between %.2f and %.2f s; HAProxy server aborts in the phase: %s" % (
        [(round(record.start, 2), round(record.end, 2), record.error) for record in failed],
        killed_at[0], killed_at[1], aborts)
    assert len(cut_off) == len(failed), "failures other than answers the kill cut off: " + detail
    assert aborts.get("litellm1", 0) == len(cut_off), "HAProxy's count disagrees with the client's: " + detail
    assert sum(count for server, count in aborts.items() if server != "litellm1") == 0, detail
    assert_no_failure(load, cut_off=len(cut_off))


# d) Redis away for 30 s: LiteLLM fails open on its cache, and recovers
def test_d_redis_outage(phase):
    def outage(load):
        docker_exec(GATEWAY, "systemctl", "stop", "redis-server.service")
        time.sleep(REDIS_DOWN)
        docker_exec(GATEWAY, "systemctl", "start", "redis-server.service")
        return load.now()

    load, (began, dummy), returned = phase("d", outage, tail=REDIS_RECOVERY + 2,
                                           note="redis-server stopped %d s" % REDIS_DOWN)
    per_second = load.summary()["per_second"]
    # The reference: the lead-in, less its first second (connections opening).
    before = per_second[1:int(began)]
    level = sum(before) / float(len(before))
    start = int(returned)
    # Two-second mean, so one noisy second on a shared machine decides nothing.
    recovered = [second for second in range(start, start + int(REDIS_RECOVERY))
                 if (per_second[second] + per_second[second + 1]) / 2.0 >= 0.8 * level]
    PHASES[-1]["note"] += "; before %.1f rps, back to >= 80 %% %s" % (
        level, "after %d s" % (recovered[0] - start) if recovered else "NEVER within 15 s")
    assert recovered, "throughput stayed below 80 %% of %.1f rps for 15 s after Redis returned: %s" % (
        level, per_second[start:start + int(REDIS_RECOVERY) + 1])
    assert_no_failure(load)


# e) one of the two deployments of the model group stops
def test_e_one_backend_stopped(phase):
    unit = "llama-cpp@llama_b.service"

    # What the deployed unit says, in systemd's own form ("10s", "1min 30s").
    shown = docker_exec(GPU2, "systemctl", "show", "-p", "TimeoutStopUSec", "--value", unit).stdout.strip()
    parts = re.findall(r"(\d+)(min|s)\b", shown)
    assert parts, "TimeoutStopUSec of %s: %r" % (unit, shown)
    stop_timeout = sum(int(number) * (60 if suffix == "min" else 1) for number, suffix in parts)

    def stop_backend(load):
        began = time.monotonic()
        docker_exec(GPU2, "systemctl", "stop", unit)
        stopped_after = time.monotonic() - began
        time.sleep(BACKEND_DOWN)
        docker_exec(GPU2, "systemctl", "start", unit)
        wait_ready("http://127.0.50.2:8081/health", 60)
        return stopped_after

    load, dummy, stopped_after = phase("e", stop_backend, note="%s on %s stopped %d s" % (unit, GPU2, BACKEND_DOWN))
    # Known only once the phase ran; the table at the end shows it.
    PHASES[-1]["note"] += " (its stop took %.1f s)" % stopped_after
    assert_no_failure(load)
    # A request in flight when llama-server stops never finishes there; it is
    # held until systemd kills the server, then retried on llama_a. So no
    # answer may take much longer than llama_cpp_stop_timeout.
    worst = load.summary()["latency_ms"]["max"]
    assert stopped_after <= stop_timeout + 5, "systemctl stop took %.1f s (TimeoutStopSec %d)" % (
        stopped_after, stop_timeout)
    assert worst <= (stop_timeout + 10) * 1000, (
        "the slowest answer took %.0f ms, more than llama_cpp_stop_timeout (%d s) + 10 s: %s" % (
            worst, stop_timeout, load.summary()["slowest"]))


# f) the upgrade: every instance moves to the new release, one at a time
def test_f_upgrade_under_load(phase, host):
    load, (began, ended), (rc, output) = phase(
        "f", lambda load: converge(litellm_version=NEW), note="site.yml, litellm_version %s -> %s" % (OLD, NEW))
    assert rc == 0, output[-4000:]
    first = set(load.summary(until=began)["versions"])
    last = set(load.summary(since=ended)["versions"])
    PHASES[-1]["note"] += "; versions before %s, after %s" % (sorted(first), sorted(last))
    assert first == {OLD}, "before the upgrade the gateway answered with %s" % sorted(first)
    assert last == {NEW}, "after the upgrade the gateway answered with %s" % sorted(last)
    for version in (OLD, NEW):
        assert host.file("/opt/litellm/venvs/%s/bin/python" % version).exists, "venv %s is gone" % version
    assert_no_failure(load)


def test_zz_table_and_both_venvs_kept(host):
    lines = ["%-9s %7s %7s %7s %8s %8s %8s %7s  %s" % (
        "phase", "sent", "ok", "failed", "p50 ms", "p99 ms", "max ms", "rps", "action")]
    for row in PHASES:
        failed = "%d" % row["failed"] + ("" if not row["failed"] else " %s" % row["failed_by_class"])
        lines.append("%-9s %7d %7d %7s %8s %8s %8s %7s  %s" % (
            row["phase"], row["sent"], row["ok"], failed, ms(row["latency_ms"]["p50"]), ms(row["latency_ms"]["p99"]),
            ms(row["latency_ms"]["max"]), row["throughput_rps"], row["note"]))
    table = "\n".join(lines)
    print("\nGateway under load (%d closed-loop clients, unique prompts, this 2-core machine):\n%s" % (CLIENTS, table))
    # The ephemeral directory goes with the destroy step; the cache copy stays.
    cache = os.environ.get("AI_BACKEND_CACHE") or os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], ".cache")
    for out in (os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "gateway-phases.json"),
                os.path.join(cache, "molecule", "gateway-phases.json")):
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out + ".tmp", "w") as handle:
            json.dump({"clients": CLIENTS, "phases": PHASES}, handle, indent=1, sort_keys=True)
        os.replace(out + ".tmp", out)
        print("written to %s" % out)
    assert set(row["phase"] for row in PHASES) == {"baseline", "a", "b", "c", "d", "e", "f"}, \
        "phases missing from the table: a phase test failed before its load ran"
    # Each phase's own test already explained any answer a kill cut off.
    assert all(row["failed"] == row.get("cut_off_by_kill", 0) for row in PHASES), table
    for version in (OLD, NEW):
        assert host.file("/opt/litellm/venvs/%s/bin/python" % version).exists, "venv %s is gone" % version
