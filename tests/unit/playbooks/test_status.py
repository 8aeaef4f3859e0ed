# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/status.yml's pieces: the probe request and the table (module_utils/status.py)
on a real registry view, and the probe script itself on this machine."""

import json
import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from ansible_collections.gathewhy.ai_backend.plugins.module_utils import status
from ansible_collections.gathewhy.ai_backend.plugins.module_utils import view as view_mod

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
PROBE = os.path.join(REPO, "playbooks", "files", "status_probe.py")
SMI_STANDIN = os.path.join(REPO, "tests", "standins", "nvidia-smi", "nvidia_smi_standin.py")
H200 = os.path.join(REPO, "tests", "unit", "gpu", "fixtures", "h200-recorded-2026-11-27.json")

GW = {
    "ai_backend_listen_address": "127.0.60.1",
    "ai_backend_gateway": {"listen_address": "127.0.60.1", "port": 4000},
    "ai_backend_redis": {"host": "127.0.60.1"},
    "ai_backend_routing": {"cache": {"enabled": True}},
    "ai_backend_providers": {
        "cloud": {"type": "openai_compatible", "base_url": "https://api.example.com/v1",
                  "api_key_env": "EXAMPLE_API_KEY", "models": [{"name": "cloud-chat", "source": "gpt-x"}]},
        "tiny": {"type": "llama_cpp", "port": 8080,
                 "models": [{"name": "tiny-llama", "gguf": {"path": "/srv/tiny.gguf"}}]}},
}
GPU = {
    "ai_backend_listen_address": "127.0.61.1",
    "ai_backend_gpu_memory_ceiling": 0.95,
    "ai_backend_providers": {
        "coder": {"type": "vllm", "port": 8001, "gpus": [0], "gpu_memory_utilization": 0.5,
                  "models": [{"name": "qwen-coder", "source": "Qwen/Qwen2.5-Coder-7B-Instruct"}]},
        "chat": {"type": "vllm", "port": 8002, "gpus": [0, 1], "gpu_memory_utilization": 0.4,
                 "models": [{"name": "llama-chat", "source": "meta-llama/Llama-3.1-8B-Instruct"}]}},
}
GROUPS = {"all": ["gw", "gpu1"], "ungrouped": [], "ai_backend_gateway": ["gw"],
          "ai_backend_inference": ["gw", "gpu1"]}


def the_view():
    view = view_mod.build_view({"gw": GW, "gpu1": GPU}, GROUPS, lambda host, var, key=None: "set")
    assert view["ok"], view["report"]
    return view


def probe_of(view, **found):
    digest = view["gateways"]["gw"]["config_sha256"]
    result = {
        "units": [{"Id": "litellm@1.service", "LoadState": "loaded", "ActiveState": "active", "SubState": "running",
                   "ActiveEnterTimestamp": "Mon 2026-11-30 14:00:01 UTC", "Version": "1.108.7"},
                  {"Id": "llama-cpp@tiny.service", "LoadState": "loaded", "ActiveState": "failed",
                   "SubState": "failed", "ActiveEnterTimestamp": "", "Version": "0.3.36-cpu"}],
        "listening": ["127.0.60.1:4000", "127.0.60.1:6379"],
        "health": {"http://127.0.60.1:8080/health": "200", "http://127.0.61.1:8001/health": "200",
                   "http://127.0.61.1:8002/health": "down (ConnectionRefusedError)"},
        "config_header": ["# managed by Ansible", "# source registry sha256: %s" % digest, "# gateway: gw"],
        "config_sha256": view["gateways"]["gw"]["config_file_sha256"],
        "rollout": {"time": "2026-11-30T14:00:00Z", "version": "1.108.7", "instances": "1 2"},
        "gpus": None,
    }
    result.update(found)
    return result


def test_the_request_comes_from_the_view():
    view = the_view()
    gw = status.probe_request(view, "gw")
    assert "litellm@*.service" in gw["units"] and "llama-cpp@*.service" in gw["units"]
    assert "vllm@*.service" not in gw["units"]
    # The gateway checks every local backend, at the address LiteLLM uses.
    assert {"http://127.0.61.1:8001/health", "http://127.0.61.1:8002/health",
            "http://127.0.60.1:8080/health"} <= set(gw["health_urls"])
    assert gw["config_file"] == "/etc/litellm/config.yaml"
    gpu = status.probe_request(view, "gpu1")
    assert "vllm@*.service" in gpu["units"] and "config_file" not in gpu


def test_the_gateway_table_says_what_runs_and_what_is_down():
    view = the_view()
    lines = status.status_lines(view, "gw", probe_of(view))
    text = "\n".join(lines)
    assert lines[0].startswith("gw  (")
    assert re.search(r"litellm@1\.service\s+active \(running\)\s+Mon 2026-11-30 14:00:01 UTC\s+1\.108\.7", text)
    assert re.search(r"llama-cpp@tiny\.service\s+failed \(failed\)", text)
    assert re.search(r"llama_cpp/tiny\s+127\.0\.60\.1:8080\s+NO", text)
    assert re.search(r"litellm\s+127\.0\.60\.1:4000\s+yes", text)
    assert re.search(r"llama-chat\s+gpu1/chat\s+vllm\s+DOWN down \(ConnectionRefusedError\)", text)
    assert re.search(r"qwen-coder\s+gpu1/coder\s+vllm\s+up", text)
    assert re.search(r"cloud-chat\s+gw/cloud\s+remote\s+not probed", text)
    assert "config: in sync" in text
    assert "last rollout: 2026-11-30T14:00:00Z (release 1.108.7, instances 1 2)" in text
    # Readable under the default callback: nothing it would escape.
    assert all(re.match(r'^[\x20-\x7e]*$', line) and '"' not in line and "\\" not in line for line in lines)


def test_drift_and_a_missing_config_are_named():
    view = the_view()
    stale = probe_of(view, config_header=["# x", "# source registry sha256: " + "0" * 64, "# y"], rollout={})
    text = "\n".join(status.status_lines(view, "gw", stale))
    assert "config: DRIFT: the inventory changed" in text and "last rollout: none recorded" in text
    text = "\n".join(status.status_lines(view, "gw", probe_of(view, config_sha256="f" * 64)))
    assert "config: DRIFT: same registry, but the config renders differently now" in text
    text = "\n".join(status.status_lines(view, "gw", probe_of(view, config_header=None)))
    assert "config: NOT DEPLOYED" in text


def test_gpu_memory_against_the_budget():
    view = the_view()
    gpus = [{"index": 0, "name": "NVIDIA H200", "used_mib": 120000, "total_mib": 143771},
            {"index": 1, "name": "NVIDIA H200", "used_mib": 50000, "total_mib": 143771}]
    lines = status.status_lines(view, "gpu1", probe_of(view, gpus=gpus))
    text = "\n".join(lines)
    assert re.search(r"0\s+NVIDIA H200\s+120000\s+143771\s+83%\s+0\.90 of 0\.95\s+chat, coder", text)
    assert re.search(r"1\s+NVIDIA H200\s+50000\s+143771\s+35%\s+0\.40 of 0\.95\s+chat", text)
    assert "model groups" not in text  # only gateways route
    no_smi = "\n".join(status.status_lines(view, "gpu1", probe_of(view)))
    assert "nvidia-smi did not answer" in no_smi


def test_odd_text_from_the_host_cannot_break_the_table():
    view = the_view()
    units = [{"Id": 'evil"\\unit\u00e9.service', "LoadState": "not-found"}]
    lines = status.status_lines(view, "gw", probe_of(view, units=units))
    assert "  evil??unit?.service  not-found" in "\n".join(lines)


class _Health(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_the_probe_reads_gpu_memory_from_the_recorded_h200(tmp_path):
    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\nexec %s %s \"$@\"\n" % (sys.executable, SMI_STANDIN))
    smi.chmod(0o755)
    env = dict(os.environ, PATH="%s:%s" % (tmp_path, os.environ["PATH"]), NVIDIA_SMI_STANDIN_RECORDING=H200)
    out = subprocess.run([sys.executable, PROBE, "{}"], stdout=subprocess.PIPE, check=True, timeout=60, env=env).stdout
    gpus = json.loads(out)["gpus"]
    assert gpus and all(g["name"] == "NVIDIA H200" and g["total_mib"] > 140000 for g in gpus), gpus
    assert [g["index"] for g in gpus] == list(range(len(gpus)))
    view = the_view()
    text = "\n".join(status.status_lines(view, "gpu1", probe_of(view, gpus=gpus)))
    assert re.search(r"\n  0\s+NVIDIA H200\s+\d+\s+\d+\s+\d+%\s+0\.90 of 0\.95\s+chat, coder", text), text


def test_the_probe_reads_listeners_and_health_here(tmp_path):
    server = HTTPServer(("127.0.0.1", 0), _Health)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        rollout = tmp_path / "last-rollout"
        rollout.write_text("# comment\ntime=2026-11-30T14:00:00Z\nversion=1.108.7\n")
        request = {"units": [], "health_urls": ["http://127.0.0.1:%d/health" % port,
                                                "http://127.0.0.1:%d/other" % port, "http://127.0.0.1:1/health"],
                   "config_file": str(tmp_path / "missing.yaml"), "rollout_file": str(rollout)}
        out = subprocess.run([sys.executable, PROBE, json.dumps(request)], stdout=subprocess.PIPE, check=True,
                             timeout=60).stdout
    finally:
        server.shutdown()
    result = json.loads(out)
    assert "127.0.0.1:%d" % port in result["listening"]
    assert result["health"]["http://127.0.0.1:%d/health" % port] == "200"
    assert result["health"]["http://127.0.0.1:%d/other" % port] == "503"
    assert result["health"]["http://127.0.0.1:1/health"].startswith("down")
    assert result["config_header"] is None
    assert result["rollout"] == {"time": "2026-11-30T14:00:00Z", "version": "1.108.7"}
