# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ollama stand-in on its own: it must speak Ollama's API faithfully
enough that the role and LiteLLM cannot tell, with real llama.cpp tokens.

Needs the shared artifacts (tests/harness/artifacts.sh model server)."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
ART = os.path.join(os.environ.get("AI_BACKEND_CACHE", os.path.join(REPO, ".cache")), "artifacts")
SERVER = os.path.join(ART, "llama-server")
MODEL = os.path.join(ART, "tiny-llama.gguf")
STANDIN = os.path.join(HERE, "ollama_standin.py")

pytestmark = pytest.mark.skipif(not (os.path.isfile(SERVER) and os.path.isfile(MODEL)),
                                reason="run tests/harness/artifacts.sh model server first")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Standin(object):
    def __init__(self, tmp_path, **env):
        self.port = free_port()
        self.env = dict(os.environ, HOME=str(tmp_path / "home"), OLLAMA_HOST="127.0.0.1:%d" % self.port,
                        OLLAMA_MODELS=str(tmp_path / "models"), OLLAMA_STANDIN_LLAMA_SERVER=SERVER,
                        OLLAMA_STANDIN_MODEL=MODEL, OLLAMA_CONTEXT_LENGTH="512", **env)
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([sys.executable, STANDIN, "serve"], env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _attempt in range(100):
            try:
                if self.call("GET", "/")[0] == 200:
                    return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise AssertionError("stand-in did not start: %s" % self.proc.stderr.read().decode())

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(15), self.proc.stderr.read().decode()

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, path), data=data, method=method)
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                raw = resp.read().decode()
                status = resp.status
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read().decode()
        lines = [json.loads(line) for line in raw.splitlines() if line.startswith("{")]
        return status, (lines[0] if len(lines) == 1 else lines or raw)

    def cli(self, *args):
        return subprocess.run([sys.executable, STANDIN] + list(args), env=self.env, capture_output=True,
                              text=True, check=False)


@pytest.fixture
def standin(tmp_path):
    server = Standin(tmp_path).start()
    yield server
    if server.proc.poll() is None:
        server.stop()


def test_pull_tags_chat_delete(standin, tmp_path):
    assert standin.call("GET", "/api/tags") == (200, {"models": []})
    assert standin.call("GET", "/api/version")[1]["version"].endswith("-standin")
    assert standin.call("POST", "/api/pull", {"model": "llama3.2:1b", "stream": False}) == (200, {"status": "success"})
    status, events = standin.call("POST", "/api/pull", {"model": "qwen2.5"})
    assert status == 200 and [e["status"] for e in events][0] == "pulling manifest" and events[-1] == {"status": "success"}
    names = [m["name"] for m in standin.call("GET", "/api/tags")[1]["models"]]
    assert names == ["llama3.2:1b", "qwen2.5:latest"]
    assert (tmp_path / "models/manifests/registry.ollama.ai/library/llama3.2/1b").is_file()

    hello = [{"role": "user", "content": "hi"}]
    status, reply = standin.call("POST", "/api/chat", {"model": "llama3.2:1b", "stream": False,
                                                       "options": {"num_predict": 4}, "messages": hello})
    assert status == 200 and reply["done"] and reply["eval_count"] >= 1 and reply["message"]["role"] == "assistant"
    status, chunks = standin.call("POST", "/api/chat", {"model": "llama3.2:1b", "options": {"num_predict": 3},
                                                        "messages": hello})
    assert status == 200 and chunks[-1]["done"] and not chunks[0]["done"]
    status, reply = standin.call("POST", "/v1/chat/completions", {"model": "qwen2.5", "max_tokens": 4,
                                                                  "messages": hello})
    assert status == 200 and reply["model"] == "qwen2.5" and reply["usage"]["completion_tokens"] >= 1

    status, reply = standin.call("POST", "/api/chat", {"model": "missing", "messages": []})
    assert status == 404 and reply == {"error": 'model "missing" not found, try pulling it first'}
    assert standin.call("DELETE", "/api/delete", {"model": "qwen2.5"})[0] == 200
    assert standin.call("DELETE", "/api/delete", {"model": "qwen2.5"})[0] == 404
    assert [m["name"] for m in standin.call("GET", "/api/tags")[1]["models"]] == ["llama3.2:1b"]


def test_models_persist_across_restarts_and_cli_works(standin):
    assert standin.cli("pull", "smollm:135m").stdout.strip() == "success"
    assert standin.stop()[0] == 0
    standin.start()
    assert "smollm:135m" in standin.cli("list").stdout
    assert standin.cli("--version").stdout.strip().startswith("ollama version is ")


def test_refuses_to_start_when_home_is_unusable(tmp_path):
    """Like Ollama, which must create ~/.ollama/id_ed25519 before serving.
    (A path below a regular file fails even for root.)"""
    (tmp_path / "not-a-dir").write_text("")
    server = Standin(tmp_path)
    server.env["HOME"] = str(tmp_path / "not-a-dir" / "home")
    proc = subprocess.run([sys.executable, STANDIN, "serve"], env=server.env, capture_output=True, text=True,
                          timeout=30, check=False)
    assert proc.returncode != 0 and "could not create directory" in proc.stderr


def test_reads_ollama_host_and_keep_alive():
    sys.path.insert(0, HERE)
    try:
        import ollama_standin as standin_module
    finally:
        sys.path.remove(HERE)
    assert standin_module.parse_host("") == ("http", "127.0.0.1", 11434)
    assert standin_module.parse_host("127.0.20.1:11435") == ("http", "127.0.20.1", 11435)
    assert standin_module.parse_host("[::1]:9") == ("http", "::1", 9)
    assert standin_module.parse_duration("1h30m", 0) == 5400
    assert standin_module.parse_duration("-1", 0) is None
    with pytest.raises(ValueError):
        standin_module.parse_duration("5 minutes", 0)
