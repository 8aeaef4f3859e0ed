# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Metrics endpoints of the serving layers and playbooks/status.yml, on the default scenario:
llama.cpp's /metrics, LiteLLM's per-instance metrics published by HAProxy (a counter that
rises after completions, no per-caller label), and the status table read as the default
callback prints it, in check mode."""

import json
import os
import re
import subprocess
import sys

import pytest

from aib_testinfra import http, own_listeners, wait_for

ADDRESS = "127.0.10.1"
INSTANCES = (1, 2)
METRICS_BASE_PORT = 4101
PER_CALLER_LABELS = ("hashed_api_key", "api_key_alias", "end_user", "user", "user_email", "team", "client_ip",
                     "user_agent")
SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})? (?P<value>\S+)$")


def samples(text):
    """(name, {label: value}, float) of every sample of a Prometheus text page."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, "not a Prometheus sample line: %r" % line
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', match.group("labels") or ""))
        out.append((match.group("name"), labels, float(match.group("value"))))
    return out


def instance_metrics(index):
    status, dummy, body = http("GET", "http://%s:8404/litellm/%d/metrics" % (ADDRESS, index), timeout=30)
    assert status == 200, body
    return samples(body)


def requests_of(group):
    """LiteLLM's successful deployment requests of a model group, summed over the instances."""
    return sum(value for index in INSTANCES for name, labels, value in instance_metrics(index)
               if name == "litellm_deployment_total_requests_total" and labels.get("model_group") == group)


def test_llama_cpp_serves_prometheus_metrics():
    status, dummy, body = http("GET", "http://%s:8080/metrics" % ADDRESS, timeout=30)
    assert status == 200
    assert any(name == "llamacpp:prompt_tokens_total" for name, dummy_labels, dummy_value in samples(body))


def test_litellm_metrics_ports_stay_on_the_instance_address(host):
    ports = dict(((port, address)) for address, port, dummy in own_listeners(host))
    for index in INSTANCES:
        assert ports.get(METRICS_BASE_PORT + index - 1) == ADDRESS, ports


def test_litellm_api_port_metrics_need_the_master_key():
    status, dummy_headers, dummy_body = http("GET", "http://%s:4001/metrics/" % ADDRESS, timeout=30)
    assert status == 401


def test_gateway_counter_rises_per_model_group_without_per_caller_labels(hostvars):
    gateway = hostvars["ai_backend_gateway"]
    url = "http://%s:%s/v1/chat/completions" % (gateway["listen_address"], gateway["port"])
    before = requests_of("tiny-llama")
    for index in range(4):
        status, dummy, body = http("POST", url, headers={"Authorization": "Bearer " + hostvars["litellm_master_key"]},
                                   body={"model": "tiny-llama", "max_tokens": 4, "cache": {"no-cache": True},
                                         "messages": [{"role": "user", "content": "count %d" % index}]})
        assert status == 200, body
    # LiteLLM counts a request in a callback that runs after the response is
    # sent, so the last count may land a moment after the client has its answer.
    wait_for("LiteLLM's request counter of tiny-llama to rise from %d by 4" % before,
             lambda: requests_of("tiny-llama") >= before + 4, timeout=30, step=1)
    for index in INSTANCES:
        for name, labels, dummy in instance_metrics(index):
            assert not set(labels) & set(PER_CALLER_LABELS), (name, labels)


def run_status(config_dir, *extra):
    """status.yml as a user runs it: the default callback, without the repo's or Molecule's ansible.cfg."""
    binary = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    empty = config_dir / "empty.cfg"  # ansible refuses /dev/null: a config file needs a known extension
    empty.write_text("")
    env = dict(os.environ, ANSIBLE_CONFIG=str(empty), ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1",
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default", ANSIBLE_HOST_KEY_CHECKING="False")
    playbook = os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "playbooks", "status.yml")
    done = subprocess.run([binary, "-i", os.environ["MOLECULE_INVENTORY_FILE"], playbook] + list(extra), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=600,
                          check=False)
    return done.returncode, done.stdout


@pytest.mark.parametrize("mode", [[], ["--check"]], ids=["run", "check"])
def test_status_prints_a_readable_table_and_changes_nothing(tmp_path, mode):
    rc, output = run_status(tmp_path, *mode)
    assert rc == 0, output[-4000:]
    assert re.search(r"aib-default-gw\s+:\s+ok=\d+\s+changed=0\s", output), output[-2000:]
    table = output.split("TASK [Show the status table]", 1)[1].split("PLAY RECAP", 1)[0]
    msg = json.loads(table[table.index("{"):table.rindex("}") + 1])["msg"]
    lines = "\n".join(msg)
    assert "\\" not in table and "\\n" not in table, table
    for unit in ("haproxy.service", "litellm@1.service", "litellm@2.service", "llama-cpp@llama_tiny.service",
                 "redis-server.service"):
        assert re.search(r"  %s\s+active \(running\)" % re.escape(unit), lines), lines
    assert re.search(r"litellm@1\.service\s+active \(running\).*\s1\.108\.\d+$", lines, re.M), lines
    assert re.search(r"litellm\s+127\.0\.10\.1:4000\s+yes", lines), lines
    assert re.search(r"llama_cpp/llama_tiny\s+127\.0\.10\.1:8080\s+yes", lines), lines
    assert re.search(r"tiny-llama\s+aib-default-gw/llama_tiny\s+llama_cpp\s+up", lines), lines
    assert "config: in sync" in lines, lines
    assert re.search(r"^last rollout: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(release 1\.108\.\d+", lines, re.M), lines
