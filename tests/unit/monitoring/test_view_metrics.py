# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The metrics part of the registry view (plugins/module_utils/view_metrics.py):
what every host serves to Prometheus, where, and who scrapes it."""

import copy

from ansible_collections.gathewhy.ai_backend.plugins.module_utils import view_metrics

from conftest import GROUPS, REGISTRIES, build_view


def by_job(host_metrics):
    return dict((t["job"] + "/" + t["labels"].get("provider", ""), t) for t in host_metrics["targets"])


def test_every_host_exposes_its_exporters_on_its_own_address_never_a_wildcard():
    view = build_view()
    gw, gpu1, gpu2 = (view["hosts"][h]["metrics"] for h in ("gw", "gpu1", "gpu2"))
    # gpu1 listens on 0.0.0.0: its exporters bind the advertised address.
    assert gpu1["bind_address"] == "10.0.0.7"
    assert sorted(by_job(gpu1)) == ["node/", "vllm/coder"]  # Ollama serves no metrics
    assert by_job(gpu1)["vllm/coder"]["address"] == "10.0.0.7:8001"
    auth = {"type": "bearer", "secret_var": "vllm_api_keys", "key": "VLLM_CODER_KEY"}
    assert by_job(gpu1)["vllm/coder"]["auth"] == auth
    assert by_job(gpu2)["llama_cpp/tiny"]["address"] == "10.0.0.8:8080"
    assert sorted(by_job(gw)) == ["haproxy/", "litellm/", "node/", "prometheus/", "redis/"]
    assert by_job(gw)["redis/"]["address"] == "10.0.0.2:9121"
    assert by_job(gw)["litellm/"]["path"] == "/litellm/{instance}/metrics"
    for metrics in (gw, gpu1, gpu2):
        assert metrics["scraped_by"] == ["gw"] and metrics["scraper_addresses"] == ["10.0.0.2"]


def test_a_host_that_names_no_address_is_scraped_on_loopback_only():
    registries = {"box": {"ai_backend_providers": {"tiny": {"type": "llama_cpp", "port": 8080, "models": [
        {"name": "tiny", "gguf": {"path": "/srv/tiny.gguf"}}]}}}}
    groups = {"all": ["box"], "ai_backend_gateway": ["box"], "ai_backend_inference": ["box"]}
    view = build_view(registries, groups)
    assert view["ok"], view["report"]
    assert view["hosts"]["box"]["metrics"]["bind_address"] == "127.0.0.1"
    assert set(t["host"] for t in view["hosts"]["box"]["metrics"]["targets"]) == {"127.0.0.1"}
    # A wildcard is never an exporter's address: its loopback is.
    assert view_metrics.bind_address({"listen_address": "::", "advertise_address": "::"}) == "::1"
    # IPv6 addresses are bracketed in host:port.
    assert view_metrics.target("node", "h", "fd00::7", 9100)["address"] == "[fd00::7]:9100"


def test_the_monitoring_group_chooses_the_scrapers():
    groups = dict(GROUPS, ai_backend_monitoring=["gpu2"])
    view = build_view(groups=groups)
    assert view["ok"], view["report"]
    assert view["monitoring"]["hosts"] == view["groups"]["monitoring"] == ["gpu2"]
    assert view["hosts"]["gw"]["metrics"]["scraper_addresses"] == ["10.0.0.8"]
    assert "prometheus/" in by_job(view["hosts"]["gpu2"]["metrics"])
    assert "prometheus/" not in by_job(view["hosts"]["gw"]["metrics"])


def test_a_misspelt_monitoring_group_is_an_error_not_a_silent_default():
    view = build_view(groups=dict(GROUPS, ai_backend_monitorin=["gpu2"]))
    assert not view["ok"]
    assert "did you mean ai_backend_monitoring" in view["report"]


def test_a_new_gpu_host_is_scraped_without_editing_anything_else():
    registries = copy.deepcopy(REGISTRIES)
    registries["gpu3"] = copy.deepcopy(registries["gpu2"])
    registries["gpu3"]["ai_backend_listen_address"] = registries["gpu3"]["ai_backend_advertise_address"] = "10.0.0.9"
    groups = dict(GROUPS, all=GROUPS["all"] + ["gpu3"], ai_backend_inference=["gpu1", "gpu2", "gpu3"])
    view = build_view(registries, groups)
    assert view["ok"], view["report"]
    assert [t["address"] for t in view["monitoring"]["jobs"]["node"]] == [
        "10.0.0.2:9100", "10.0.0.7:9100", "10.0.0.8:9100", "10.0.0.9:9100"]
    assert [t["address"] for t in view["monitoring"]["jobs"]["llama_cpp"]] == ["10.0.0.8:8080", "10.0.0.9:8080"]


def test_a_view_with_errors_gets_no_targets_and_no_traceback():
    registries = copy.deepcopy(REGISTRIES)
    registries["gw"]["ai_backend_gateway"] = {"listen_address": {}, "port": "x"}
    registries["gpu1"]["ai_backend_providers"]["coder"]["port"] = "eighty"
    view = build_view(registries)
    assert not view["ok"]
    assert all(view["hosts"][h]["metrics"]["targets"] == [] for h in view["hosts"])
    assert view["monitoring"]["scrape_configs"] == []


def test_litellm_instances_and_haproxy_address_come_from_the_gateway_host():
    view = build_view()
    configs = view_metrics.scrape_configs(view["monitoring"]["jobs"],
                                          {"gw": {"instances": 3, "address": "127.0.0.1"}})
    litellm = [c for c in configs if c["job"] == "litellm"][0]
    assert [(e["targets"], e["labels"]["__metrics_path__"], e["labels"]["litellm_instance"])
            for e in litellm["file_sd"]] == [(["127.0.0.1:8404"], "/litellm/%d/metrics" % i, str(i)) for i in (1, 2, 3)]
    # Credentials split a job into scrape configs of their own; names are unique.
    names = [c["name"] for c in configs]
    assert len(names) == len(set(names))
    assert [c["secret"]["host"] for c in configs if c["credentials"]] == ["gpu2", "gpu1"]


def test_a_role_run_on_its_own_finds_the_same_exporter_address():
    from ansible_collections.gathewhy.ai_backend.plugins.filter.metrics import metrics_address
    from ansible.errors import AnsibleFilterError
    view = build_view()
    for host, job in (("gw", "redis"), ("gpu1", "node"), ("gpu2", "node")):
        expected = [t["address"] for t in view["hosts"][host]["metrics"]["targets"] if t["job"] == job]
        assert [metrics_address(view["hosts"][host], job)] == expected
    assert metrics_address({"listen_address": "::"}, "node") == "[::1]:9100"
    try:
        metrics_address(view["hosts"]["gw"], "nosuchjob")
        raise AssertionError("an unknown job was accepted")
    except AnsibleFilterError as err:
        assert "one of haproxy, node, prometheus, redis" in str(err)
