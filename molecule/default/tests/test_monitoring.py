# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The monitoring layer of the default scenario, read from the real Prometheus:
every target the registry view lists is scraped with up == 1, completions
raise the request counters, the GPU textfile (recorded H200) is scraped, and
the backend-down alert fires when llama.cpp stops (the rule's `for:` is 10 s
here, monitoring_alert_for.backend_down) and clears when it is back."""

import urllib.parse

import pytest

from aib_testinfra import assert_unit_running, http, own_listeners, unit_journal, wait_for

MODEL = "tiny-llama"
BACKEND_UNIT = "llama-cpp@llama_tiny.service"
# node, llama_cpp, redis, haproxy, 2 LiteLLM instances, prometheus itself.
EXPECTED_JOBS = {"node": 1, "llama_cpp": 1, "redis": 1, "haproxy": 1, "litellm": 2, "prometheus": 1}


@pytest.fixture(scope="module")
def prometheus(hostvars):
    return "http://%s:9090" % hostvars["ai_backend_listen_address"]


def query(prometheus, expr):
    status, dummy, body = http("GET", prometheus + "/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    assert status == 200 and body["status"] == "success", body
    return body["data"]["result"]


def value(prometheus, expr):
    result = query(prometheus, expr)
    return float(result[0]["value"][1]) if result else None


def test_units_run_sandboxed_as_prometheus(host):
    for unit in ("prometheus.service", "prometheus-node-exporter.service", "prometheus-redis-exporter.service"):
        assert_unit_running(host, unit)
        assert host.check_output("systemctl show -p User --value %s", unit) == "prometheus"
        assert host.check_output("systemctl show -p NoNewPrivileges --value %s", unit) == "yes"
    assert host.check_output("systemctl is-active ai-backend-gpu-metrics.timer") == "active"


def test_exporters_listen_on_the_host_address_only(host, hostvars):
    address = hostvars["ai_backend_listen_address"]
    ports = dict((port, addr) for addr, port, _process in own_listeners(host))
    for port in (9090, 9100, 9121):
        assert ports.get(port) == address, (port, ports)


def test_every_target_is_up(prometheus):
    def all_up():
        result = query(prometheus, "up")
        jobs = {}
        for series in result:
            jobs.setdefault(series["metric"]["job"], []).append(series["value"][1])
        counts = dict((job, len(values)) for job, values in jobs.items())
        return counts == EXPECTED_JOBS and all(v == "1" for values in jobs.values() for v in values) and result
    result = wait_for("every target up", all_up)
    down = [s["metric"] for s in result if s["value"][1] != "1"]
    assert not down


def test_the_redis_exporter_logs_in_as_its_acl_user(prometheus):
    assert wait_for("redis_up == 1", lambda: value(prometheus, 'redis_up{job="redis"}') == 1.0)


def test_the_recorded_h200_is_scraped_through_the_textfile_collector(prometheus):
    total = wait_for("GPU memory total", lambda: value(prometheus, "ai_backend_gpu_memory_total_bytes"))
    assert total == 143771 * 1048576
    assert value(prometheus, 'ai_backend_gpu_query_success{query="memory"}') == 1.0
    # The recording has no utilisation/temperature/power: said so, not invented.
    assert value(prometheus, 'ai_backend_gpu_query_success{query="telemetry"}') == 0.0
    assert value(prometheus, "ai_backend_gpu_memory_budget_ratio") == 0.95


def test_completions_raise_the_request_counters(prometheus, hostvars):
    gw = hostvars["ai_backend_gateway"]
    gateway = "http://%s:%s" % (gw["listen_address"], gw["port"])
    haproxy = 'sum(haproxy_backend_http_responses_total{proxy="litellm",code="2xx"})'
    litellm = 'sum(litellm_proxy_total_requests_metric_total{requested_model="%s"})' % MODEL
    before = (value(prometheus, haproxy) or 0.0, value(prometheus, litellm) or 0.0)
    for number in range(4):
        status, dummy, body = http("POST", gateway + "/v1/chat/completions",
                                   headers={"Authorization": "Bearer %s" % hostvars["litellm_master_key"]},
                                   body={"model": MODEL, "max_tokens": 4, "temperature": 0,
                                         "messages": [{"role": "user", "content": "Count %d" % number}]})
        assert status == 200, body
    wait_for("HAProxy's 2xx counter to rise by 4", lambda: (value(prometheus, haproxy) or 0) >= before[0] + 4)
    wait_for("LiteLLM's request counter of model group %s to rise by 4" % MODEL,
             lambda: (value(prometheus, litellm) or 0) >= before[1] + 4)


def firing(prometheus, name):
    status, dummy, body = http("GET", prometheus + "/api/v1/alerts")
    assert status == 200, body
    return [a for a in body["data"]["alerts"] if a["labels"]["alertname"] == name and a["state"] == "firing"]


def test_backend_down_alert_fires_and_clears(host, prometheus):
    assert not firing(prometheus, "AiBackendBackendDown")
    host.run_expect([0], "systemctl stop %s" % BACKEND_UNIT)
    try:
        alerts = wait_for("AiBackendBackendDown to fire", lambda: firing(prometheus, "AiBackendBackendDown"))
        assert alerts[0]["labels"]["job"] == "llama_cpp" and alerts[0]["labels"]["provider"] == "llama_tiny"
    finally:
        host.run_expect([0], "systemctl start %s" % BACKEND_UNIT)
    wait_for("llama.cpp scraped again", lambda: value(prometheus, 'up{job="llama_cpp"}') == 1.0, timeout=120)
    wait_for("the alert to clear", lambda: not firing(prometheus, "AiBackendBackendDown"))
    assert_unit_running(host, BACKEND_UNIT), unit_journal(host, BACKEND_UNIT)
