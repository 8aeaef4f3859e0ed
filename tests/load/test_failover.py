# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""With one of two deployments of a model group dead, the router settings the
engine renders make LiteLLM 1.108.7 (the pinned proxy, in .venv-litellm)
answer every request: a retry goes to the other deployment, not to a random
one. A control run without those settings shows the test can see failures."""

import json
import os
import subprocess
import sys


sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "unit", "engine"))

from engine_import import golden_case, registry  # noqa: E402  pylint: disable=wrong-import-position
from litellm_venv import litellm_python  # noqa: E402  pylint: disable=wrong-import-position

# Runs in the LiteLLM venv: a local backend that answers chat completions and a
# port nobody listens on form one group; argv[1] is the router settings (JSON),
# argv[2] the number of requests. Prints the number of failed requests.
ROUTER_SCRIPT = r"""
import asyncio, json, os, socket, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Backend(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        body = json.dumps({"id": "c", "object": "chat.completion", "created": 1, "model": "tiny", "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

alive = ThreadingHTTPServer(("127.0.0.1", 0), Backend)
threading.Thread(target=alive.serve_forever, daemon=True).start()
probe = socket.socket()
probe.bind(("127.0.0.1", 0))
dead_port = probe.getsockname()[1]
probe.close()  # nothing listens there: connection refused, as with a stopped llama-server
from litellm import Router
settings = json.loads(sys.argv[1])
ports = {"alive": alive.server_address[1], "dead": dead_port}
model_list = [{"model_name": "tiny", "litellm_params": {"model": "llamafile/tiny", "api_base":
               "http://127.0.0.1:%d/v1" % port}, "model_info": {"id": name}} for name, port in sorted(ports.items())]

async def main():
    router = Router(model_list=model_list, **settings)
    failed = 0
    for index in range(int(sys.argv[2])):
        try:
            await router.acompletion(model="tiny", messages=[{"role": "user", "content": "q%d" % index}],
                                     max_tokens=2)
        except Exception:
            failed += 1
    print("FAILED %d" % failed)

asyncio.run(main())
"""


def rendered_router_settings():
    """The router settings the engine renders for a group with two deployments,
    without Redis (this test has none; the settings under test do not need it)."""
    case = golden_case("multi_host")
    config = registry.build_gateway_config(case["hosts"], case["gateway_host"], case["inference_hosts"]).config
    groups = [d["model_name"] for d in config["model_list"]]
    assert any(groups.count(name) == 2 for name in groups), "the case needs a group of two deployments"
    settings = dict(config["router_settings"])
    for key in ("redis_host", "redis_port", "redis_password", "fallbacks", "default_fallbacks",
                "context_window_fallbacks", "model_group_alias"):
        settings.pop(key, None)
    return settings


def failed_requests(settings, count):
    env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_LOG="ERROR")
    done = subprocess.run([litellm_python(), "-c", ROUTER_SCRIPT, json.dumps(settings), str(count)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          timeout=600, env=env, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("FAILED ")]
    assert done.returncode == 0 and lines, done.stdout[-3000:]
    return int(lines[-1].split()[1])


def test_the_rendered_router_settings_retry_on_the_other_deployment():
    settings = rendered_router_settings()
    assert settings["enable_weighted_failover"] is True
    assert settings["num_retries"] >= 1
    # The registry's default strategy; LiteLLM's failover re-pick applies to it
    # only (the case itself chose usage-based routing).
    settings["routing_strategy"] = "simple-shuffle"
    assert failed_requests(settings, 150) == 0
    # Not thanks to the cooldown: with cooldowns off every request may meet
    # the dead deployment first, and still none fails.
    assert failed_requests(dict(settings, disable_cooldowns=True), 100) == 0


def test_without_failover_and_retries_a_dead_deployment_fails_requests():
    # The control: each request goes to a random deployment once, so about
    # half fail (the chance that none of 40 does is 2**-40).
    assert failed_requests({"num_retries": 0, "disable_cooldowns": True}, 40) > 0
