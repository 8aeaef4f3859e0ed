# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""multi_host: two inference hosts behind one gateway, converged by site.yml.

The tests run on the controller against the real services (the containers
share the host network) and read each container's files and journal through
testinfra. They run in file order; the failover test stops a backend and
starts it again before it returns.
"""

import os
import re
import subprocess
import sys
import time
import uuid

import pytest
import testinfra
import yaml

from aib_testinfra import http, unit_journal, wait_for

GATEWAY = "aib-multi_host-gateway"
GPUS = ("aib-multi_host-gpu1", "aib-multi_host-gpu2")
PROVIDER = "llama_shared"
UNIT = "llama-cpp@%s.service" % PROVIDER
MODEL = "tiny-llama"
API_BASE = {"aib-multi_host-gpu1": "http://127.0.1.1:8080/v1", "aib-multi_host-gpu2": "http://127.0.2.1:8080/v1"}
REQUESTS = 40
# llama-server logs this line once per completion it starts working on.
TASK_LINE = re.compile(r"launch_slot_: .*processing task")

# Every test works from the gateway's point of view; other hosts are opened
# explicitly below.
testinfra_hosts = ["ansible://%s" % GATEWAY]


def open_host(name):
    return testinfra.get_host("ansible://%s?ansible_inventory=%s" % (name, os.environ["MOLECULE_INVENTORY_FILE"]))


@pytest.fixture(scope="module")
def gpus():
    return dict((name, open_host(name)) for name in GPUS)


@pytest.fixture(scope="module")
def gateway_url(hostvars):
    gw = hostvars["ai_backend_gateway"]
    return "http://%s:%s" % (gw["listen_address"], gw["port"])


@pytest.fixture(scope="module")
def master_key(hostvars):
    return hostvars["litellm_master_key"]


def complete(gateway_url, master_key, content):
    """One completion that must reach a backend (the response cache is bypassed)."""
    return http("POST", gateway_url + "/v1/chat/completions",
                headers={"Authorization": "Bearer %s" % master_key},
                body={"model": MODEL, "max_tokens": 4, "cache": {"no-cache": True},
                      "messages": [{"role": "user", "content": content}]}, timeout=60)


def served_tasks(gpu_host, since):
    """Completions llama-server started on this host since the epoch second `since`."""
    out = gpu_host.check_output("journalctl --no-pager --output=cat --unit=%s --since=%s", UNIT, "@%d" % since)
    return sum(1 for line in out.splitlines() if TASK_LINE.search(line))


def now(host):
    return int(host.check_output("date +%s"))


def wait_healthy(gpu_host, api_base, timeout=60):
    url = api_base.rsplit("/v1", 1)[0] + "/health"
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if http("GET", url, timeout=2)[0] == 200:
                return
        except OSError:
            pass  # not listening yet
        time.sleep(1)
    pytest.fail("%s did not become healthy again\n%s" % (url, unit_journal(gpu_host, UNIT)))


# 1. The gateway's config lists both inference hosts as deployments of the one group.
def test_gateway_config_lists_both_hosts_in_one_model_group(host):
    config = yaml.safe_load(host.file("/etc/litellm/config.yaml").content_string)
    deployments = [d for d in config["model_list"] if d["model_name"] == MODEL]
    assert sorted(d["litellm_params"]["api_base"] for d in deployments) == sorted(API_BASE.values()), deployments
    assert sorted(d["model_info"]["id"] for d in deployments) == sorted(
        "%s/%s/%s" % (gpu, PROVIDER, MODEL) for gpu in GPUS)
    # No other model group: both hosts serve the same one.
    assert set(d["model_name"] for d in config["model_list"]) == {MODEL}


# 2. 40 requests to the group are served by both hosts.
def test_gateway_is_haproxy_in_front_of_two_healthy_instances(host, hostvars):
    out = host.check_output("echo 'show stat' | socat -t 5 stdio UNIX-CONNECT:/run/haproxy/admin.sock")
    servers = dict((fields[1], fields[17]) for fields in (line.split(",") for line in out.splitlines())
                   if len(fields) > 17 and fields[0] == "litellm" and fields[1] not in ("FRONTEND", "BACKEND"))
    assert servers == {"litellm1": "UP", "litellm2": "UP"}, servers
    for number in (1, 2):
        assert host.service("litellm@%d.service" % number).is_running
    stats = "http://%s:8404/metrics" % hostvars["haproxy_stats_address"]
    status, dummy, body = http("GET", stats)
    assert status == 200 and "haproxy_backend_active_servers" in body, (status, str(body)[:300])


def test_forty_requests_are_served_by_both_hosts(gateway_url, master_key, gpus):
    since = dict((name, now(gpu) - 1) for name, gpu in gpus.items())
    by_api_base = {}
    for index in range(REQUESTS):
        status, headers, body = complete(gateway_url, master_key, "request %d %s" % (index, uuid.uuid4().hex))
        assert status == 200, body
        base = headers.get("x-litellm-model-api-base", "?")
        by_api_base[base] = by_api_base.get(base, 0) + 1
    # The backends' own journals: each started completions, together all 40.
    # journald may file the last lines a moment after the answers came back.
    served = {}

    def journals_list_all():
        served.update((name, served_tasks(gpus[name], since[name])) for name in GPUS)
        return sum(served.values()) >= REQUESTS

    wait_for("the backends' journals to list %d completions" % REQUESTS, journals_list_all, timeout=15, step=1)
    print("requests per host (backend journals): %s; per api_base (gateway headers): %s" % (served, by_api_base))
    assert all(count >= 1 for count in served.values()), served
    assert sum(served.values()) == REQUESTS, served
    # ... and they agree with what the gateway says it did.
    assert dict((API_BASE[name], count) for name, count in served.items()) == by_api_base


# 3. With one host's backend stopped, requests still succeed through the other.
def test_requests_succeed_with_one_backend_stopped(gateway_url, master_key, gpus):
    down, up = gpus[GPUS[0]], gpus[GPUS[1]]
    since = now(up) - 1
    down.check_output("systemctl stop %s", UNIT)
    try:
        assert not down.service(UNIT).is_running
        results = [complete(gateway_url, master_key, "failover %d %s" % (index, uuid.uuid4().hex))
                   for index in range(10)]
        statuses = [result[0] for result in results]
        bases = set(result[1].get("x-litellm-model-api-base") for result in results)
        print("with %s stopped: statuses %s, served by %s" % (GPUS[0], statuses, bases))
        assert statuses == [200] * 10, [result[2] for result in results if result[0] != 200]
        assert bases == {API_BASE[GPUS[1]]}
        assert served_tasks(up, since) >= 10
    finally:
        down.check_output("systemctl start %s", UNIT)
        wait_healthy(down, API_BASE[GPUS[0]])


# 4. A host_vars override on one host changes only that host's rendered files.
def test_host_vars_override_changes_only_that_hosts_files(gpus):
    env = dict((name, gpus[name].file("/etc/llama-cpp/%s.env" % PROVIDER).content_string) for name in GPUS)
    unit = dict((name, gpus[name].file("/etc/systemd/system/llama-cpp@.service").content_string) for name in GPUS)
    assert unit[GPUS[0]] == unit[GPUS[1]]
    lines = dict((name, set(env[name].splitlines())) for name in GPUS)
    only_gpu1 = sorted(lines[GPUS[0]] - lines[GPUS[1]])
    only_gpu2 = sorted(lines[GPUS[1]] - lines[GPUS[0]])
    # The listen address differs by design; the override is the only other difference.
    assert only_gpu1 == ['LLAMA_ARG_HOST="127.0.1.1"', 'LLAMA_ARG_N_PARALLEL="1"'], only_gpu1
    assert only_gpu2 == ['LLAMA_ARG_HOST="127.0.2.1"', 'LLAMA_ARG_N_PARALLEL="2"'], only_gpu2


def test_changing_one_hosts_override_would_change_only_that_host(tmp_path):
    """Dry run of site.yml with one more setting changed for gpu2 only: nothing else may change.

    An extra inventory source gives gpu2 its own copy of the standard
    providers with another llama.cpp thread count (host variables of an
    inventory source outrank the inventory's group_vars files).
    """
    group_file = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                              "inventory", "group_vars", "ai_backend_inference", "providers.yml")
    with open(group_file) as fh:
        fleet = yaml.safe_load(fh)["fleet_providers"]
    assert fleet[PROVIDER]["threads"] == 1
    fleet[PROVIDER]["threads"] = 2
    extra = tmp_path / "override.yml"
    extra.write_text(yaml.safe_dump({"all": {"hosts": {GPUS[1]: {"fleet_providers": fleet}}}}))
    binary = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    site = os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "playbooks", "site.yml")
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
    done = subprocess.run([binary, "-i", os.environ["MOLECULE_INVENTORY_FILE"], "-i", str(extra), site,
                           "--check", "--diff"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=900, check=False)
    # Molecule's aib_check_no_change callback makes a dry run that predicts
    # changes exit 3 and lists them as "host: task"; here changes are
    # expected, and every one of them must be on gpu2.
    assert done.returncode in (0, 3), done.stdout[-6000:]
    if done.returncode == 3:
        listed = re.findall(r"^\s+(aib-multi_host-\S+): ", done.stdout, re.MULTILINE)
        assert listed and set(listed) == {GPUS[1]}, (
            "a llama.cpp-only change on %s would also change %s (want: only %s). Dry run tail:\n%s"
            % (GPUS[1], sorted(set(listed) - {GPUS[1]}), GPUS[1], done.stdout[-3000:]))
    recap = dict(re.findall(r"^(aib-multi_host-\S+)\s+:\s+ok=\d+\s+changed=(\d+)", done.stdout, re.MULTILINE))
    assert set(recap) == set(GPUS) | {GATEWAY}, done.stdout[-3000:]
    assert int(recap[GPUS[1]]) >= 1, done.stdout[-6000:]
    assert recap[GPUS[0]] == "0" and recap[GATEWAY] == "0", recap
    # The EnvironmentFile may carry LLAMA_API_KEY, so its task is no_log and
    # --diff shows no content: the change is proven by which task would change.
    assert re.search(r"^\s+%s: \S+llama_cpp : Write each instance's EnvironmentFile$" % re.escape(GPUS[1]),
                     done.stdout, re.MULTILINE), done.stdout[-3000:]
    assert "LLAMA_ARG_THREADS" not in done.stdout
