# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The real LiteLLM proxy (litellm[proxy]==1.108.7) boots with the golden rendered config.

Starts a real redis-server (password, random loopback port) for the cache and
shared routing state, then LiteLLM on a random loopback port, and asserts
/v1/models lists exactly the golden model groups. No backend is contacted:
listing models does not call providers.

Skips (with the reason) only when LiteLLM cannot be installed and CI is unset;
under CI a missing LiteLLM or redis-server is a failure.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest
import yaml

from engine_import import golden_case, registry

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
VENV = os.environ.get("LITELLM_VENV", os.path.join(REPO, ".venv-litellm"))
LITELLM = os.path.join(VENV, "bin", "litellm")
IN_CI = bool(os.environ.get("CI"))


def _skip_or_fail(reason):
    if IN_CI:
        pytest.fail(reason + " (CI is set: this test may not skip)")
    pytest.skip(reason)


def _ensure_litellm():
    if not os.path.exists(LITELLM):
        script = os.path.join(REPO, "tests", "harness", "litellm-venv.sh")
        done = subprocess.run(["bash", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, check=False)
        if done.returncode != 0 or not os.path.exists(LITELLM):
            _skip_or_fail("litellm[proxy]==1.108.7 could not be installed: %s" % done.stdout[-2000:])
    version = subprocess.run([os.path.join(VENV, "bin", "python"), "-c",
                              "import importlib.metadata as m; print(m.version('litellm'))"],
                             stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout.strip()
    assert version == "1.108.7", "the boot test must run the pinned LiteLLM, found %s" % version


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url, key=None, timeout=5):
    request = urllib.request.Request(url)
    if key:
        request.add_header("Authorization", "Bearer %s" % key)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8", "replace")


def _stop(process):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture()
def redis_server(tmp_path):
    binary = shutil.which("redis-server")
    if binary is None:
        _skip_or_fail("redis-server is not installed (apt-get install redis-server)")
    port = _free_port()
    password = secrets.token_hex(16)
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--requirepass", password, "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 20
    while time.time() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    else:
        _stop(process)
        pytest.fail("redis-server did not listen on %d" % port)
    yield port, password
    _stop(process)


def test_litellm_boots_with_golden_config_and_lists_its_model_groups(tmp_path, redis_server):
    _ensure_litellm()
    redis_port, redis_password = redis_server
    case = golden_case("original_lab")
    hosts = case["hosts"]
    hosts[case["gateway_host"]]["ai_backend_redis"]["port"] = redis_port
    result = registry.build_gateway_config(hosts, case["gateway_host"], case["inference_hosts"])
    config_path = tmp_path / "litellm.yaml"
    config_path.write_text(result.text)
    rendered = yaml.safe_load(result.text)
    assert rendered["router_settings"]["redis_port"] == redis_port

    port = _free_port()
    master_key = "sk-" + secrets.token_hex(24)
    env = dict(os.environ, LITELLM_MASTER_KEY=master_key, REDIS_PASSWORD=redis_password,
               OLLAMA_API_KEY="not-used-by-this-test", LITELLM_LOCAL_MODEL_COST_MAP="True",
               LITELLM_LOG="ERROR", NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
    log_path = tmp_path / "litellm.log"
    with open(str(log_path), "wb") as log:
        process = subprocess.Popen(
            [LITELLM, "--config", str(config_path), "--host", "127.0.0.1", "--port", str(port),
             "--num_workers", "1"],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(tmp_path), start_new_session=True)
    try:
        base = "http://127.0.0.1:%d" % port
        deadline = time.time() + 180
        status = None
        while time.time() < deadline and process.poll() is None:
            try:
                status = _get(base + "/health/liveliness", timeout=2)[0]
            except (urllib.error.URLError, OSError):
                status = None
            if status == 200:
                break
            time.sleep(1)
        log_tail = log_path.read_text(errors="replace")[-4000:]
        assert status == 200, "LiteLLM did not come up (exit %s):\n%s" % (process.poll(), log_tail)

        # Without the key the proxy must refuse. 1.108.7 answers 500, not 401, when the optional
        # prisma package is absent (its auth error handler imports prisma); refused either way.
        code, body = _get(base + "/v1/models")
        assert code >= 400 and '"data"' not in body, "unauthenticated /v1/models answered %s: %s" % (code, body)

        code, body = _get(base + "/v1/models", key=master_key)
        assert code == 200, body
        listed = sorted(item["id"] for item in json.loads(body)["data"])
        expected = sorted(set(result.model_groups) | set(result.aliases))
        assert listed == expected
        assert len(result.model_groups) == 12
    finally:
        _stop(process)
