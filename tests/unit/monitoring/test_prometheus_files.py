# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Prometheus files the monitoring role writes (its export: the same
templates with relative paths), checked by the real promtool: the config, the
rules, and the rules' behaviour on synthetic series (rules_test.yml)."""

import json
import os
import shutil
import subprocess

import yaml

from conftest import HERE, promtool


def run_promtool(*args, cwd=None):
    done = subprocess.run([promtool()] + list(args), capture_output=True, text=True, cwd=cwd, check=False)
    return done.returncode, done.stdout + done.stderr


def test_the_exported_config_passes_promtool_check_config(exported):
    export = exported["dir"]
    config = yaml.safe_load((export / "scrape_configs.yml").read_text())
    # The tokens are never exported: the user puts them where the config says.
    for scrape in config["scrape_configs"]:
        if "authorization" in scrape:
            path = export / scrape["authorization"]["credentials_file"]
            assert not path.exists()
            path.parent.mkdir(exist_ok=True)
            path.write_text("token-for-the-test\n")
    rc, out = run_promtool("check", "config", str(export / "scrape_configs.yml"))
    assert rc == 0, out
    assert "SUCCESS: 1 rule files found" in out


def test_every_target_of_the_view_is_in_a_file_sd_file_once(exported):
    export, view = exported["dir"], exported["view"]
    config = yaml.safe_load((export / "scrape_configs.yml").read_text())
    scraped = []
    for scrape in config["scrape_configs"]:
        for group in json.loads((export / scrape["file_sd_configs"][0]["files"][0]).read_text()):
            path = group["labels"].get("__metrics_path__", scrape["metrics_path"])
            scraped += [(scrape["job_name"], path, t, group["labels"]["host"]) for t in group["targets"]]
    expected = [t for targets in view["monitoring"]["jobs"].values() for t in targets]
    # Each LiteLLM instance is a target of its own (2 by default), on HAProxy's metrics listener.
    assert len(scraped) == len(expected) + 1 == len(set(scraped))
    litellm = json.loads((export / "file_sd" / "litellm.json").read_text())
    assert litellm == [{"targets": ["10.0.0.2:8404"], "labels": {"host": "gw", "litellm_instance": str(i),
                                                                 "__metrics_path__": "/litellm/%d/metrics" % i}}
                       for i in (1, 2)]
    assert ("node", "/metrics", "10.0.0.7:9100", "gpu1") in scraped
    assert ("llama_cpp-llama-cpp-api-keys.llama-tiny-key", "/metrics", "10.0.0.8:8080", "gpu2") in scraped
    # Ollama serves no metrics: gpu1's only backend target is vLLM.
    assert [s for s in scraped if s[3] == "gpu1" and s[0].startswith(("vllm", "ollama"))] == [
        ("vllm-vllm-api-keys.vllm-coder-key", "/metrics", "10.0.0.7:8001", "gpu1")]
    # A job scraped with its own credential keeps its job label.
    vllm = [s for s in config["scrape_configs"] if s["job_name"].startswith("vllm")][0]
    assert vllm["relabel_configs"] == [{"target_label": "job", "replacement": "vllm"}]


def test_the_rules_pass_promtool_check_rules(exported):
    rc, out = run_promtool("check", "rules", str(exported["dir"] / "ai-backend.rules.yml"))
    assert rc == 0, out
    assert "SUCCESS: 9 rules found" in out


def test_the_rules_fire_when_they_should_and_only_then(exported, tmp_path):
    shutil.copy(str(exported["dir"] / "ai-backend.rules.yml"), str(tmp_path / "ai-backend.rules.yml"))
    shutil.copy(os.path.join(HERE, "rules_test.yml"), str(tmp_path / "rules_test.yml"))
    rc, out = run_promtool("test", "rules", "rules_test.yml", cwd=str(tmp_path))
    assert rc == 0, out
    assert "SUCCESS" in out
