# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""gateway: the gateway must never be the reason a request fails.

Each phase runs the load generator (tests/load/loadgen.py: 8 closed-loop
clients, unique prompts, bounded) from the controller against HAProxy on
127.0.50.1:4000 for the whole of one disruptive action, plus a lead-in and a
tail, and requires 0 failed requests:

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
REDIS_DOWN = 30.0
REDIS_RECOVERY = 15.0
BACKEND_DOWN = 25.0

testinfra_hosts = ["ansible://%s" % GATEWAY]
PHASES = []


def docker_exec(container, *argv, check=True):
    done = subprocess.run(["docker", "exec", container] + list(argv), stdout=subprocess.PIPE,
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


def assert_no_failure(load):
    """0 failed requests, and the load ran for the whole action (last check of each phase)."""
    report = load.summary()
    assert report["failed"] == 0, "%d of %d requests failed: %s" % (
        report["failed"], report["sent"], report["failed_by_class"])
    assert report["ok"] > 0, "no request succeeded"
    row = PHASES[-1]
    assert row["covered_whole_action"], "the load stopped (bounds %s s / %d requests) before the action ended at %s s" % (
        MAX_SECONDS[row["phase"]], MAX_REQUESTS, row["action_s"][1])


# Before any phase: the gateway is what the contract says it is.
def test_haproxy_in_front_of_every_instance(host, hostvars, gateway_url):
    instances = hostvars.get("litellm_instances", 2)
    for index in range(1, instances + 1):
        unit = "litellm@%d.service" % index
        assert host.service(unit).is_running, unit_journal(host, unit)
    assert host.service("haproxy.service").is_running, unit_journal(host, "haproxy.service")
    stats = "http://%s:%s" % (hostvars.get("haproxy_stats_address", ADDRESS), hostvars.get("haproxy_stats_port", 8404))
    status, dummy, body = http("GET", stats + "/metrics")
    assert status == 200, body
    for index in range(1, instances + 1):
        assert 'server="litellm%d"' % index in body, "HAProxy exports no server litellm%d" % index
    status, headers, body = http("POST", gateway_url + "/v1/chat/completions",
                                 headers={"Authorization": "Bearer %s" % hostvars["litellm_master_key"]},
                                 body={"model": "tiny-llama", "max_tokens": 4,
                                       "messages": [{"role": "user", "content": "hello %s" % time.time()}]})
    assert status == 200, body
    assert headers.get("x-litellm-version") == OLD, headers


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


# c) SIGKILL of one instance: HAProxy routes around it until it is back
def test_c_sigkill_one_instance(phase, hostvars):
    port = hostvars.get("litellm_instance_base_port", 4001)

    def kill(load):
        docker_exec(GATEWAY, "systemctl", "kill", "--signal=KILL", "litellm@1.service")
        time.sleep(2)
        back = wait_ready("http://%s:%d/health/readiness" % (ADDRESS, port), 180)
        # HAProxy's health check must see it up again before the phase ends.
        time.sleep(5)
        return back

    load, dummy, back = phase("c", kill, note="systemctl kill -s KILL litellm@1")
    PHASES[-1]["note"] += " (back in %.0f s)" % (back + 2)
    assert_no_failure(load)


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
    assert all(row["failed"] == 0 for row in PHASES), table
    for version in (OLD, NEW):
        assert host.file("/opt/litellm/venvs/%s/bin/python" % version).exists, "venv %s is gone" % version
