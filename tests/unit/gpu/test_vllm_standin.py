"""The vLLM stand-in (tests/standins/vllm): its CLI and HTTP surface.

With the fake engine (fake_llama_server.py) these test the stand-in's own
logic; with the real llama-server and tiny model from the artifact cache
(when tests/harness/artifacts.sh has run) the last test gets real tokens.
"""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
SRC = os.path.join(REPO, "tests", "standins", "vllm", "src")
ARTIFACTS = os.path.join(os.environ.get("AI_BACKEND_CACHE", os.path.join(REPO, ".cache")), "artifacts")
FAKE = os.path.join(HERE, "fake_llama_server.py")
KEY = "unit-test-vllm-key-0123456789"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def vllm(args, env=None, **kwargs):
    full = dict(os.environ, PYTHONPATH=SRC)
    full.pop("VLLM_API_KEY", None)
    full.pop("CUDA_VISIBLE_DEVICES", None)
    full.update(env or {})
    return subprocess.Popen([sys.executable, "-m", "vllm_standin"] + args, env=full,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)


def call(url, body=None, key=None):
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = "Bearer " + key
    req = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(), headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
            return resp.status, raw
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Served:
    def __init__(self, extra_args, env):
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.proc = vllm(["serve", "Qwen/Qwen2.5-Coder-7B-Instruct-AWQ", "--served-model-name", "qwen-coder",
                          "--host", "127.0.0.1", "--port", str(self.port)] + extra_args, env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.proc.stdout.read()
            try:
                if call(self.base + "/health")[0] == 200:
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise AssertionError("stand-in did not become healthy")

    def stop(self):
        self.proc.terminate()
        out = self.proc.communicate(timeout=20)[0]
        return self.proc.returncode, out


@pytest.fixture
def fake_engine(tmp_path):
    """The fake engine as an executable, the way the stand-in runs llama-server."""
    path = tmp_path / "llama-server"
    path.write_text("#!/bin/sh\nexec %s %s \"$@\"\n" % (sys.executable, FAKE))
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def served(fake_engine):
    env = {"VLLM_STANDIN_LLAMA_SERVER": fake_engine, "VLLM_STANDIN_GGUF": "/nonexistent/tiny.gguf",
           "VLLM_API_KEY": KEY, "CUDA_VISIBLE_DEVICES": "0,1"}
    server = Served(["--gpu-memory-utilization", "0.45", "--max-model-len", "512",
                     "--tensor-parallel-size", "2"], env)
    yield server
    server.stop()


def test_health_and_models_with_the_served_name(served):
    assert call(served.base + "/health")[0] == 200
    assert call(served.base + "/v1/models")[0] == 401
    status, raw = call(served.base + "/v1/models", key=KEY)
    models = json.loads(raw)
    assert status == 200
    assert [(m["id"], m["root"], m["owned_by"], m["max_model_len"]) for m in models["data"]] == [
        ("qwen-coder", "Qwen/Qwen2.5-Coder-7B-Instruct-AWQ", "vllm", 512)]


def test_chat_is_forwarded_and_key_is_enforced(served):
    body = {"model": "qwen-coder", "messages": [{"role": "user", "content": "ping"}]}
    assert call(served.base + "/v1/chat/completions", body)[0] == 401
    assert call(served.base + "/v1/chat/completions", body, key="wrong-key-0123456789")[0] == 401
    status, raw = call(served.base + "/v1/chat/completions", body, key=KEY)
    reply = json.loads(raw)
    assert status == 200 and reply["model"] == "qwen-coder"
    content = reply["choices"][0]["message"]["content"]
    # Forwarded text; the engine never sees the key; the engine runs the tiny GGUF with -c max_model_len.
    assert content.startswith("echo:ping|auth:None|argv:-m /nonexistent/tiny.gguf --host 127.0.0.1 --port ")
    assert " -c 512 " in content
    status, raw = call(served.base + "/v1/chat/completions", dict(body, model="other"), key=KEY)
    assert status == 404 and "The model `other` does not exist." in raw.decode()


def test_streaming_rewrites_the_model(served):
    body = {"model": "qwen-coder", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    status, raw = call(served.base + "/v1/chat/completions", body, key=KEY)
    lines = [line for line in raw.decode().splitlines() if line.startswith("data: ")]
    assert status == 200 and lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    assert [c["model"] for c in chunks] == ["qwen-coder", "qwen-coder"]
    assert "".join(c["choices"][0]["delta"]["content"] for c in chunks) == "echo:done"


def test_start_line_logs_flags_and_gpus_but_no_key(served):
    rc, out = served.stop()
    start = [line for line in out.splitlines() if line.startswith("vllm stand-in: start ")]
    record = json.loads(start[0][len("vllm stand-in: start "):])
    assert record["argv"][:4] == ["vllm", "serve", "Qwen/Qwen2.5-Coder-7B-Instruct-AWQ", "--served-model-name"]
    assert "--tensor-parallel-size" in record["argv"] and record["cuda_visible_devices"] == "0,1"
    assert record["api_key"] == "set"
    assert KEY not in out


def test_api_key_flag_is_redacted_in_the_log():
    from_src = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, %r); "
                               "from vllm_standin.cli import redacted_argv as r; "
                               "print(r(['serve', 'm', '--api-key', 's3cret', '--api-key=s3cret2']))" % SRC],
                              capture_output=True, text=True, check=True)
    assert from_src.stdout.strip() == "['serve', 'm', '--api-key', '<redacted>', '--api-key=<redacted>']"


@pytest.mark.parametrize("args,env,needle", [
    (["--tensor-parallel-size", "2"], {"CUDA_VISIBLE_DEVICES": "0"}, "tensor_parallel_size=2 is greater than"),
    ([], {"CUDA_VISIBLE_DEVICES": ""}, "No CUDA GPUs are available"),
    (["--gpu-memory-utilization", "1.2"], {}, "must be in (0, 1]"),
    (["--no-such-flag"], {}, "unrecognized arguments: --no-such-flag"),
])
def test_refuses_what_vllm_refuses(args, env, needle):
    proc = vllm(["serve", "m", "--port", str(free_port())] + args, env)
    out = proc.communicate(timeout=20)[0]
    assert proc.returncode != 0 and needle in out


@pytest.mark.skipif(not os.path.exists(os.path.join(ARTIFACTS, "llama-server")),
                    reason="needs $AI_BACKEND_CACHE/artifacts/llama-server (tests/harness/artifacts.sh)")
def test_real_tokens_from_llama_server():
    env = {"VLLM_STANDIN_LLAMA_SERVER": os.path.join(ARTIFACTS, "llama-server"),
           "VLLM_STANDIN_GGUF": os.path.join(ARTIFACTS, "tiny-llama.gguf")}
    server = Served(["--max-model-len", "256"], env)
    try:
        body = {"model": "qwen-coder", "max_tokens": 8, "temperature": 0,
                "messages": [{"role": "user", "content": "Hello"}]}
        status, raw = call(server.base + "/v1/chat/completions", body)
        reply = json.loads(raw)
        assert status == 200 and reply["model"] == "qwen-coder"
        assert reply["usage"]["completion_tokens"] >= 1
    finally:
        server.stop()
