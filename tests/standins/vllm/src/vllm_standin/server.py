# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP side of the vLLM stand-in.

Starts llama-server on the tiny GGUF model at a free port of the same address,
waits until it is healthy, and only then listens itself, so like vLLM the
port refuses connections until the model is loaded. Requests are forwarded to
llama-server with the model name rewritten to the served name, so clients see
vLLM's answers with real generated tokens.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from vllm_standin import __version__
from vllm_standin.metrics import Metrics

ARTIFACTS = "/var/cache/ai-backend/artifacts"


def free_port(host):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_healthy(proc, url, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    return False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "vllm-standin/" + __version__
    state = None  # set in serve()

    def log_message(self, fmt, *args):  # access log without headers (no keys)
        sys.stdout.write("vllm stand-in: %s %s\n" % (self.address_string(), fmt % args))
        sys.stdout.flush()

    def _send(self, status, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self):
        key = self.state["api_key"]
        if not key or not self.path.startswith("/v1"):
            return True
        if self.headers.get("Authorization", "") == "Bearer " + key:
            return True
        self._send(401, {"error": "Unauthorized"})
        return False

    def do_GET(self):
        if self.path == "/health":
            return self._send(200, b"", "text/plain")
        if self.path == "/version":
            return self._send(200, {"version": __version__ + "+standin"})
        if self.path == "/metrics":  # like vLLM: its API key guards /v1 only
            return self._send(200, self.state["metrics"].render(), "text/plain; version=0.0.4; charset=utf-8")
        if not self._authorized():
            return None
        if self.path == "/v1/models":
            st = self.state
            return self._send(200, {"object": "list", "data": [{
                "id": st["served"], "object": "model", "created": st["created"], "owned_by": "vllm",
                "root": st["model"], "parent": None, "max_model_len": st["max_model_len"]}]})
        return self._send(404, {"detail": "Not Found"})

    def do_POST(self):
        if not self._authorized():
            return None
        if self.path not in ("/v1/chat/completions", "/v1/completions"):
            return self._send(404, {"detail": "Not Found"})
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return self._send(400, {"object": "error", "message": "invalid JSON body", "type": "BadRequestError",
                                    "code": 400})
        served = self.state["served"]
        if body.get("model") != served:
            return self._send(404, {"object": "error", "message": "The model `%s` does not exist." % body.get("model"),
                                    "type": "NotFoundError", "param": None, "code": 404})
        body["model"] = "tiny"
        metrics = self.state["metrics"]
        started, slot = time.monotonic(), metrics.start()
        outcome = {}
        try:
            return self._forward(body, served, outcome)
        finally:
            metrics.finish(slot, time.monotonic() - started, outcome.get("first_token"), outcome.get("usage"),
                           outcome.get("finished_reason"))

    def _forward(self, body, served, outcome):
        req = urllib.request.Request(self.state["backend"] + self.path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        started = time.monotonic()
        try:
            resp = urllib.request.urlopen(req, timeout=300)
        except urllib.error.HTTPError as exc:
            return self._send(exc.code, exc.read())
        except (urllib.error.URLError, OSError) as exc:
            return self._send(500, {"object": "error", "message": "engine unavailable: %s" % exc,
                                    "type": "InternalServerError", "code": 500})
        with resp:
            if body.get("stream"):
                return self._stream(resp, served, started, outcome)
            reply = json.loads(resp.read())
        reply["model"] = served
        outcome["usage"] = reply.get("usage")
        outcome["finished_reason"] = ((reply.get("choices") or [{}])[0].get("finish_reason") or "stop")
        return self._send(200, reply)

    def _stream(self, resp, served, started, outcome):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for raw in resp:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if line.startswith("data: ") and line != "data: [DONE]":
                chunk = json.loads(line[6:])
                chunk["model"] = served
                outcome.setdefault("first_token", time.monotonic() - started)
                if chunk.get("usage"):
                    outcome["usage"] = chunk["usage"]
                for choice in chunk.get("choices") or []:
                    if choice.get("finish_reason"):
                        outcome["finished_reason"] = choice["finish_reason"]
                line = "data: " + json.dumps(chunk)
            data = (line + "\n").encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.write(b"0\r\n\r\n")
        outcome.setdefault("finished_reason", "stop")  # the stream ended normally
        return None


def serve(args, api_key):
    env = os.environ
    host = args.host or "0.0.0.0"
    binary = env.get("VLLM_STANDIN_LLAMA_SERVER", os.path.join(ARTIFACTS, "llama-server"))
    gguf = env.get("VLLM_STANDIN_GGUF", os.path.join(ARTIFACTS, "tiny-llama.gguf"))
    backend_host = "127.0.0.1" if host in ("0.0.0.0", "") else host
    port = free_port(backend_host)
    ctx = args.max_model_len or 2048
    cmd = [binary, "-m", gguf, "--host", backend_host, "--port", str(port), "-c", str(ctx),
           "-np", "1", "-t", env.get("VLLM_STANDIN_THREADS", "1"), "--alias", "tiny"]
    print("vllm stand-in: engine for %s is llama-server on %s:%d with %s (not the real model)"
          % (args.model, backend_host, port, gguf), flush=True)
    # llama-server gets no key and listens on loopback only; the key is checked here.
    child_env = dict((k, v) for k, v in env.items() if k != "VLLM_API_KEY")
    proc = subprocess.Popen(cmd, env=child_env, stdin=subprocess.DEVNULL)

    def stop(signum, frame):
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    backend = "http://%s:%d" % (backend_host, port)
    if not wait_healthy(proc, backend + "/health", float(env.get("VLLM_STANDIN_LOAD_TIMEOUT", "120"))):
        print("vllm stand-in: llama-server did not become healthy (exit %s)" % proc.poll(),
              file=sys.stderr, flush=True)
        proc.kill()
        return 1
    Handler.state = {"served": (args.served_model_name or [args.model])[0], "model": args.model,
                     "max_model_len": ctx, "api_key": api_key, "backend": backend,
                     "created": int(time.time()),
                     "metrics": Metrics((args.served_model_name or [args.model])[0])}
    httpd = ThreadingHTTPServer((host, args.port), Handler)
    httpd.daemon_threads = True
    print("vllm stand-in: serving on http://%s:%d" % (host, args.port), flush=True)

    def watch():  # the engine dying takes the server down, as in vLLM
        proc.wait()
        print("vllm stand-in: engine exited with %s" % proc.returncode, file=sys.stderr, flush=True)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()
    httpd.serve_forever()
    return 0
