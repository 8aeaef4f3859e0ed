# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""roles/ollama/files/ollama_pull.py, run the way pull_model.yml runs it
(python -c SOURCE URL MODEL STATUS_FILE IDLE_TIMEOUT), against a local HTTP
server that answers /api/pull like Ollama: NDJSON progress events per layer,
an error in the stream, an HTTP error with Ollama's {"error": ...} body."""

import json
import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SCRIPT = os.path.join(REPO, "roles", "ollama", "files", "ollama_pull.py")
BIG = "sha256:" + "a" * 64
SMALL = "sha256:" + "b" * 64

# What Ollama streams for a two-layer model (sizes in bytes).
SUCCESS = [
    {"status": "pulling manifest"},
    {"status": "pulling aaaaaaaaaaaa", "digest": BIG, "total": 4000},
    {"status": "pulling aaaaaaaaaaaa", "digest": BIG, "total": 4000, "completed": 1000},
    {"status": "pulling bbbbbbbbbbbb", "digest": SMALL, "total": 1000, "completed": 1000},
    {"status": "pulling aaaaaaaaaaaa", "digest": BIG, "total": 4000, "completed": 4000},
    {"status": "verifying sha256 digest"},
    {"status": "writing manifest"},
    {"status": "success"},
]


class Ollama(BaseHTTPRequestHandler):
    """Answers by the requested model name: ok, broken-midway, missing, truncated."""

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append((self.path, body))
        if body["model"] == "missing":
            payload = json.dumps({"error": "pull model manifest: file does not exist"}).encode()
            self.send_response(500)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        events = {"ok": SUCCESS, "broken-midway": SUCCESS[:3] + [{"error": "unexpected EOF"}],
                  "truncated": SUCCESS[:4]}[body["model"]]
        payload = "".join(json.dumps(event) + "\n" for event in events).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Ollama)
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def pull(server, tmp_path, model, url=None):
    status = tmp_path / "status.json"
    with open(SCRIPT) as handle:
        source = handle.read()
    url = url or "http://127.0.0.1:%d" % server.server_address[1]
    done = subprocess.run([sys.executable, "-c", source, url, model, str(status), "10"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=60, check=False)
    state = json.loads(status.read_text()) if status.exists() else None
    return done, state


def test_a_pull_streams_and_ends_with_every_layer_counted(server, tmp_path):
    done, state = pull(server, tmp_path, "ok")
    assert done.returncode == 0, done.stderr
    assert state == {"status": "success", "completed": 5000, "total": 5000, "percent": 100}
    path, body = server.requests[-1]
    assert path == "/api/pull"
    assert body == {"model": "ok", "stream": True}
    assert not (tmp_path / "status.json.partial").exists()


def test_an_error_in_the_stream_fails_with_ollamas_message(server, tmp_path):
    done, state = pull(server, tmp_path, "broken-midway")
    assert done.returncode == 1
    assert done.stderr.strip() == "unexpected EOF"
    assert state["status"] != "success"


def test_an_http_error_fails_with_the_status_and_ollamas_message(server, tmp_path):
    done, _state = pull(server, tmp_path, "missing")
    assert done.returncode == 1
    assert done.stderr.strip() == "HTTP 500: pull model manifest: file does not exist"


def test_a_stream_that_ends_without_success_fails(server, tmp_path):
    done, state = pull(server, tmp_path, "truncated")
    assert done.returncode == 1
    assert "without success" in done.stderr and "pulling bbbbbbbbbbbb" in done.stderr
    # The last state is written even when it came within a second of the previous one.
    assert state == {"status": "pulling bbbbbbbbbbbb", "completed": 2000, "total": 5000, "percent": 40}


def test_an_unreachable_ollama_fails_without_a_traceback(server, tmp_path):
    with socket_closed() as port:
        done, state = pull(server, tmp_path, "ok", url="http://127.0.0.1:%d" % port)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "refused" in done.stderr.lower()
    assert state == {"status": "connecting", "completed": 0, "total": 0, "percent": None}


class socket_closed(object):
    """A loopback port with nothing listening on it."""

    def __enter__(self):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        return self.port

    def __exit__(self, *exc):
        return False
