# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ollama STAND-IN: a test double for the `ollama` binary, not Ollama.

The real Ollama release cannot be fetched on the test machines, so the
Molecule scenario installs this script, packaged by build.sh exactly like the
official archive (bin/ollama + lib/ollama/...), through the ollama role's
air-gapped local-archive path. It speaks the parts of Ollama's CLI and HTTP
API that the role and LiteLLM use, and reads the same OLLAMA_* environment.

Tokens are real: inference runs in llama.cpp's llama-server on the tiny GGUF
model shipped in lib/ollama/standin/. Every model name, whatever it is,
"pulls" that one tiny model: a pull writes a real blob and manifest under
OLLAMA_MODELS in Ollama's on-disk layout, so /api/tags survives restarts.
See README.md next to this file for what this does NOT prove.

Python 3 standard library only (the test image is a bare Debian 12).
"""

import datetime
import hashlib
import http.server
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

# The Ollama release this stands in for; "-standin" keeps it unmistakable in
# /api/version, `ollama --version` and the journal.
VERSION = "0.30.10-standin"

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 11434
DEFAULT_REGISTRY = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"
# Real Ollama generates until the context is full when num_predict is unset.
# The tiny model is random noise and rarely emits an end token, so the
# stand-in caps unset requests instead (documented in README.md).
DEFAULT_NUM_PREDICT = 64
DEFAULT_CONTEXT = 4096
RUNNER_START_TIMEOUT = 60

MEDIA_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_CONFIG = "application/vnd.docker.container.image.v1+json"
MEDIA_MODEL = "application/vnd.ollama.image.model"

_NAME_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}$")
_SECONDS = re.compile(r"^-?\d+(?:\.\d+)?$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def log(level, msg, **fields):
    """One line per event in Ollama's slog text format, to stderr (journal)."""
    stamp = datetime.datetime.now().astimezone().isoformat(timespec="milliseconds")
    extra = "".join(" %s=%s" % (k, json.dumps(str(v))) for k, v in sorted(fields.items()))
    sys.stderr.write('time=%s level=%s source=standin msg=%s%s\n' % (stamp, level, json.dumps(msg), extra))
    sys.stderr.flush()


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


# --------------------------------------------------------------------------
# Environment, read the way Ollama reads it
# --------------------------------------------------------------------------

def parse_host(value):
    """OLLAMA_HOST -> (scheme, host, port), with Ollama's rules: "host",
    "host:port", ":port", "[v6]:port", optionally behind http:// or https://
    (whose default ports are 80 and 443; without a scheme it is 11434)."""
    value = (value or "").strip()
    scheme, default_port = "http", DEFAULT_PORT
    if "://" in value:
        scheme, value = value.split("://", 1)
        default_port = 443 if scheme == "https" else 80
    value = value.split("/", 1)[0]
    host, port = value, ""
    if value.startswith("["):
        host, _sep, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif value.count(":") == 1:
        host, port = value.split(":")
    host = host or DEFAULT_HOST
    try:
        port = int(port) if port else default_port
        if not 0 <= port <= 65535:
            raise ValueError(port)
    except ValueError:
        log("WARN", "invalid port, using default", port=port, default=default_port)
        port = default_port
    return scheme, host, port


def parse_duration(value, default):
    """OLLAMA_KEEP_ALIVE / keep_alive: a Go duration ("5m", "1h30m", "250ms"),
    a bare number of seconds, or negative for "forever". Returns seconds, or
    None for forever."""
    if value is None or value == "":
        return default
    text = str(value).strip()
    if _SECONDS.match(text):
        seconds = float(text)
    else:
        sign, body = (-1, text[1:]) if text.startswith("-") else (1, text)
        parts = _DURATION_PART.findall(body)
        if not body or "".join(number + unit for number, unit in parts) != body:
            raise ValueError("invalid duration %r" % text)
        seconds = sign * sum(float(number) * _UNITS[unit] for number, unit in parts)
    return None if seconds < 0 else seconds


def int_env(name, default):
    raw = os.environ.get(name, "")
    if raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit("Error: %s must be an integer, got %r" % (name, raw))


class Config(object):
    def __init__(self):
        self.scheme, self.host, self.port = parse_host(os.environ.get("OLLAMA_HOST", ""))
        home = os.path.expanduser("~")
        self.home = home
        self.models = os.environ.get("OLLAMA_MODELS") or os.path.join(home, ".ollama", "models")
        try:
            self.keep_alive = parse_duration(os.environ.get("OLLAMA_KEEP_ALIVE"), 300.0)
        except ValueError as exc:
            raise SystemExit("Error: OLLAMA_KEEP_ALIVE: %s" % exc)
        self.num_parallel = max(1, int_env("OLLAMA_NUM_PARALLEL", 1))
        self.max_loaded = int_env("OLLAMA_MAX_LOADED_MODELS", 0)
        self.context_length = int_env("OLLAMA_CONTEXT_LENGTH", DEFAULT_CONTEXT)
        lib = os.environ.get("OLLAMA_STANDIN_LIB") or os.path.join(
            os.path.dirname(os.path.dirname(os.path.realpath(sys.argv[0]))), "lib", "ollama", "standin")
        self.llama_server = os.environ.get("OLLAMA_STANDIN_LLAMA_SERVER") or os.path.join(lib, "llama-server")
        self.model_file = os.environ.get("OLLAMA_STANDIN_MODEL") or os.path.join(lib, "tiny-llama.gguf")

    def as_log(self):
        return {"OLLAMA_HOST": "%s://%s:%d" % (self.scheme, self.host, self.port), "OLLAMA_MODELS": self.models,
                "OLLAMA_KEEP_ALIVE": "forever" if self.keep_alive is None else "%gs" % self.keep_alive,
                "OLLAMA_NUM_PARALLEL": self.num_parallel, "OLLAMA_MAX_LOADED_MODELS": self.max_loaded,
                "OLLAMA_CONTEXT_LENGTH": self.context_length}


# --------------------------------------------------------------------------
# Model names and the on-disk store (Ollama's layout under OLLAMA_MODELS)
# --------------------------------------------------------------------------

class NameError_(ValueError):
    pass


class ModelName(object):
    """host/namespace/model:tag, with Ollama's defaults filled in."""

    def __init__(self, text):
        text = (text or "").strip()
        if not text:
            raise NameError_("model is required")
        tag = DEFAULT_TAG
        last = text.rsplit("/", 1)[-1]
        if ":" in last:
            text, tag = text.rsplit(":", 1)
        parts = text.split("/")
        if len(parts) > 3:
            raise NameError_("invalid model name")
        # Fill in the registry and namespace the short forms leave out.
        parts = [DEFAULT_REGISTRY, DEFAULT_NAMESPACE][:3 - len(parts)] + parts
        self.host, self.namespace, self.model = parts
        self.tag = tag
        for part in (self.namespace, self.model):
            if not _NAME_PART.match(part):
                raise NameError_("invalid model name")
        if not _TAG.match(self.tag):
            raise NameError_("invalid model name")

    @property
    def display(self):
        """The short form /api/tags and `ollama list` show."""
        if self.host == DEFAULT_REGISTRY and self.namespace == DEFAULT_NAMESPACE:
            return "%s:%s" % (self.model, self.tag)
        if self.host == DEFAULT_REGISTRY:
            return "%s/%s:%s" % (self.namespace, self.model, self.tag)
        return "%s/%s/%s:%s" % (self.host, self.namespace, self.model, self.tag)

    def manifest_rel(self):
        return os.path.join("manifests", self.host, self.namespace, self.model, self.tag)


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def atomic_write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = "%s.tmp-%d" % (path, os.getpid())
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class Store(object):
    """Manifests and content-addressed blobs, as Ollama keeps them."""

    def __init__(self, root, source_model):
        self.root = root
        self.source_model = source_model
        self.lock = threading.Lock()

    def blob_path(self, digest):
        return os.path.join(self.root, "blobs", digest.replace(":", "-"))

    def _manifest_path(self, name):
        return os.path.join(self.root, name.manifest_rel())

    def read_manifest(self, name):
        try:
            with open(self._manifest_path(name), "rb") as handle:
                raw = handle.read()
        except FileNotFoundError:
            return None, None
        return json.loads(raw.decode()), raw

    def _put_blob(self, source, digest):
        path = self.blob_path(digest)
        if os.path.exists(path):
            return os.path.getsize(path)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + "-partial"
        shutil.copyfile(source, tmp)
        if "sha256:" + sha256_file(tmp) != digest:
            os.unlink(tmp)
            raise IOError("digest mismatch while writing %s" % digest)
        os.replace(tmp, path)
        return os.path.getsize(path)

    def pull(self, name, progress):
        """Store the stand-in model under `name`; calls progress(dict) like Ollama's stream."""
        progress({"status": "pulling manifest"})
        model_digest = "sha256:" + sha256_file(self.source_model)
        size = os.path.getsize(self.source_model)
        progress({"status": "pulling %s" % model_digest[7:19], "digest": model_digest, "total": size, "completed": 0})
        with self.lock:
            self._put_blob(self.source_model, model_digest)
            config = json.dumps({"model_format": "gguf", "model_family": "llama", "model_families": ["llama"],
                                 "model_type": "tiny", "file_type": "F32", "architecture": "amd64", "os": "linux",
                                 "rootfs": {"type": "layers", "diff_ids": [model_digest]}},
                                sort_keys=True).encode()
            config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
            if not os.path.exists(self.blob_path(config_digest)):
                atomic_write(self.blob_path(config_digest), config)
            progress({"status": "pulling %s" % model_digest[7:19], "digest": model_digest, "total": size, "completed": size})
            progress({"status": "verifying sha256 digest"})
            manifest = json.dumps({
                "schemaVersion": 2, "mediaType": MEDIA_MANIFEST,
                "config": {"mediaType": MEDIA_CONFIG, "digest": config_digest, "size": len(config)},
                "layers": [{"mediaType": MEDIA_MODEL, "digest": model_digest, "size": size}],
            }).encode()
            progress({"status": "writing manifest"})
            atomic_write(self._manifest_path(name), manifest)
        progress({"status": "success"})

    def list(self):
        """[(ModelName, manifest dict, raw bytes, mtime)] for every stored manifest."""
        out = []
        base = os.path.join(self.root, "manifests")
        for dirpath, _dirs, files in os.walk(base):
            for tag in files:
                if ".tmp-" in tag:
                    continue
                rel = os.path.relpath(os.path.join(dirpath, tag), base).split(os.sep)
                if len(rel) != 4:
                    continue
                try:
                    name = ModelName("%s/%s/%s:%s" % tuple(rel))
                    path = os.path.join(dirpath, tag)
                    with open(path, "rb") as handle:
                        raw = handle.read()
                    out.append((name, json.loads(raw.decode()), raw, os.path.getmtime(path)))
                except (ValueError, OSError):
                    continue
        return sorted(out, key=lambda item: item[0].display)

    def delete(self, name):
        with self.lock:
            manifest, _raw = self.read_manifest(name)
            if manifest is None:
                return False
            os.unlink(self._manifest_path(name))
            # Drop blobs no remaining manifest references, as Ollama does.
            used = set()
            for _n, other, _r, _m in self.list():
                used.add(other["config"]["digest"])
                used.update(layer["digest"] for layer in other["layers"])
            for ref in [manifest["config"]] + manifest["layers"]:
                if ref["digest"] not in used and os.path.exists(self.blob_path(ref["digest"])):
                    os.unlink(self.blob_path(ref["digest"]))
            return True


def model_size(manifest):
    return sum(layer["size"] for layer in manifest["layers"]) + manifest["config"]["size"]


def model_details():
    return {"parent_model": "", "format": "gguf", "family": "llama", "families": ["llama"],
            "parameter_size": "0.002B", "quantization_level": "F32"}


# --------------------------------------------------------------------------
# The runner: one llama-server child, started on first use, unloaded after
# keep_alive, like Ollama's runner processes
# --------------------------------------------------------------------------

def free_loopback_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Runner(object):
    def __init__(self, config):
        self.config = config
        self.lock = threading.Lock()
        self.proc = None
        self.port = None
        self.model_path = None
        self.loaded = {}   # display name -> expiry (None = forever)

    def base(self):
        return "http://127.0.0.1:%d" % self.port

    def ensure(self, model_path, display, keep_alive):
        with self.lock:
            if self.proc is not None and self.proc.poll() is not None:
                log("WARN", "runner exited", status=self.proc.returncode)
                self.proc = None
            if self.proc is not None and self.model_path != model_path:
                self._stop()
            if self.proc is None:
                self._start(model_path)
            self.loaded[display] = None if keep_alive is None else time.time() + keep_alive
            return self.base()

    def _start(self, model_path):
        if not os.access(self.config.llama_server, os.X_OK):
            raise RuntimeError("runner binary missing: %s" % self.config.llama_server)
        self.port = free_loopback_port()
        argv = [self.config.llama_server, "--model", model_path, "--host", "127.0.0.1", "--port", str(self.port),
                "--ctx-size", str(self.config.context_length), "--parallel", str(self.config.num_parallel)]
        log("INFO", "starting llama server", cmd=" ".join(argv))
        started = time.monotonic()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=sys.stderr, stderr=sys.stderr)
        self.model_path = model_path
        while time.monotonic() - started < RUNNER_START_TIMEOUT:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.proc = None
                raise RuntimeError("llama runner process has terminated: exit status %s" % code)
            try:
                with urllib.request.urlopen(self.base() + "/health", timeout=2) as resp:
                    if resp.status == 200:
                        log("INFO", "llama runner started", seconds="%.2f" % (time.monotonic() - started))
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        self._stop()
        raise RuntimeError("timed out waiting for llama runner to start")

    def _stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self.loaded = {}

    def unload(self, display):
        with self.lock:
            self.loaded.pop(display, None)
            if not self.loaded:
                self._stop()

    def expire(self):
        with self.lock:
            now = time.time()
            for name, until in list(self.loaded.items()):
                if until is not None and until <= now:
                    del self.loaded[name]
                    log("INFO", "model unloaded after keep_alive", model=name)
            if not self.loaded and self.proc is not None:
                self._stop()

    def shutdown(self):
        with self.lock:
            self._stop()


# --------------------------------------------------------------------------
# HTTP API
# --------------------------------------------------------------------------

class ApiError(Exception):
    def __init__(self, status, message):
        Exception.__init__(self, message)
        self.status = status
        self.message = message


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "ollama-standin/" + VERSION
    protocol_version = "HTTP/1.1"

    # wired up in serve()
    config = None
    store = None
    runner = None

    def log_message(self, fmt, *args):
        log("INFO", "request", client=self.client_address[0], line=fmt % args)

    # ---- plumbing

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length == 0:
            return {}
        try:
            data = json.loads(self.rfile.read(length).decode() or "{}")
        except ValueError:
            raise ApiError(400, "invalid JSON body")
        if not isinstance(data, dict):
            raise ApiError(400, "body must be a JSON object")
        return data

    def _send(self, status, payload, content_type="application/json; charset=utf-8"):
        if isinstance(payload, bytes):
            data = payload
        elif isinstance(payload, str):
            data = payload.encode()
        else:
            data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _start_stream(self, content_type):
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _end_stream(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _route(self, table):
        path = urllib.parse.urlsplit(self.path).path.rstrip("/") or "/"
        handler = table.get(path)
        openai = path.startswith("/v1/")
        try:
            if handler is None:
                raise ApiError(404, "404 page not found")
            handler(self)
        except ApiError as exc:
            if openai:
                self._send(exc.status, {"error": {"message": exc.message, "type": "api_error", "param": None, "code": None}})
            elif exc.status == 404 and handler is None:
                self._send(404, "404 page not found", "text/plain; charset=utf-8")
            else:
                self._send(exc.status, {"error": exc.message})
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as exc:  # keep serving; report like Ollama does
            log("ERROR", "request failed", error=repr(exc))
            try:
                self._send(500, {"error": str(exc)})
            except OSError:
                pass

    def do_GET(self):
        self._route(GET_ROUTES)

    def do_HEAD(self):
        self._route(GET_ROUTES)

    def do_POST(self):
        self._route(POST_ROUTES)

    def do_DELETE(self):
        self._route(DELETE_ROUTES)

    # ---- helpers shared by the inference endpoints

    @staticmethod
    def _model_name(text):
        """The request's model name, parsed as Ollama does; a bad name is a 400."""
        try:
            return ModelName(text)
        except NameError_ as exc:
            raise ApiError(400, str(exc))

    @staticmethod
    def _requested(body):
        """Ollama takes the model under "model" and, for older clients, "name"."""
        return body.get("model") or body.get("name") or ""

    def _lookup(self, text):
        name = self._model_name(text)
        manifest, _raw = self.store.read_manifest(name)
        if manifest is None:
            raise ApiError(404, 'model "%s" not found, try pulling it first' % text)
        return name, manifest

    def _runner_for(self, name, manifest, keep_alive):
        layer = [item for item in manifest["layers"] if item["mediaType"] == MEDIA_MODEL][0]
        try:
            seconds = parse_duration(keep_alive, self.config.keep_alive)
        except ValueError as exc:
            raise ApiError(400, str(exc))
        try:
            return self.runner.ensure(self.store.blob_path(layer["digest"]), name.display, seconds)
        except RuntimeError as exc:
            raise ApiError(500, str(exc))

    def _runner_call(self, base, path, body, stream):
        req = urllib.request.Request(base + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        try:
            resp = urllib.request.urlopen(req, timeout=600)
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            raise ApiError(exc.code if exc.code < 500 else 500, "llama runner: %s" % detail[:500])
        except (urllib.error.URLError, OSError) as exc:
            raise ApiError(500, "llama runner unreachable: %s" % exc)
        if not stream:
            with resp:
                return json.loads(resp.read().decode())
        return resp

    @staticmethod
    def _sse_events(resp):
        with resp:
            for raw in resp:
                line = raw.decode().strip()
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                yield json.loads(data)

    @staticmethod
    def _num_predict(body):
        options = body.get("options") or {}
        value = options.get("num_predict")
        if value is None or int(value) < 0:
            return DEFAULT_NUM_PREDICT
        return int(value)

    @staticmethod
    def _sampling(body):
        options = body.get("options") or {}
        out = {}
        for key in ("temperature", "top_p", "top_k", "seed", "stop", "repeat_penalty", "min_p"):
            if options.get(key) is not None:
                out[key] = options[key]
        return out

    def _final_fields(self, started, usage, reason):
        total = int((time.monotonic() - started) * 1e9)
        return {"done": True, "done_reason": reason or "stop", "total_duration": total, "load_duration": 0,
                "prompt_eval_count": usage.get("prompt_tokens", 0), "prompt_eval_duration": 0,
                "eval_count": usage.get("completion_tokens", 0), "eval_duration": total}

    # ---- native API

    def api_root(self):
        self._send(200, "Ollama is running", "text/plain; charset=utf-8")

    def api_version(self):
        self._send(200, {"version": VERSION})

    def api_tags(self):
        models = []
        for name, manifest, raw, mtime in self.store.list():
            stamp = datetime.datetime.fromtimestamp(mtime, datetime.timezone.utc).isoformat().replace("+00:00", "Z")
            models.append({"name": name.display, "model": name.display, "modified_at": stamp,
                           "size": model_size(manifest), "digest": hashlib.sha256(raw).hexdigest(),
                           "details": model_details()})
        self._send(200, {"models": models})

    def api_ps(self):
        models = []
        for display, until in sorted(self.runner.loaded.items()):
            name, manifest = self._lookup(display)
            _raw = self.store.read_manifest(name)[1]
            expires = "0001-01-01T00:00:00Z" if until is None else datetime.datetime.fromtimestamp(
                until, datetime.timezone.utc).isoformat().replace("+00:00", "Z")
            models.append({"name": display, "model": display, "size": model_size(manifest),
                           "digest": hashlib.sha256(_raw).hexdigest(), "details": model_details(),
                           "expires_at": expires, "size_vram": 0, "context_length": self.config.context_length})
        self._send(200, {"models": models})

    def api_pull(self):
        body = self._body()
        text = self._requested(body)
        name = self._model_name(text)
        stream = body.get("stream", True) is not False
        log("INFO", "pull (stand-in: every name maps to the tiny model)", model=name.display)
        if not stream:
            try:
                self.store.pull(name, lambda _event: None)
            except (IOError, OSError) as exc:
                raise ApiError(500, str(exc))
            self._send(200, {"status": "success"})
            return
        self._start_stream("application/x-ndjson")
        try:
            self.store.pull(name, lambda event: self._chunk((json.dumps(event) + "\n").encode()))
        except (IOError, OSError) as exc:
            self._chunk((json.dumps({"error": str(exc)}) + "\n").encode())
        self._end_stream()

    def api_delete(self):
        body = self._body()
        text = self._requested(body)
        name = self._model_name(text)
        self.runner.unload(name.display)
        if not self.store.delete(name):
            raise ApiError(404, "model '%s' not found" % text)
        self._send(200, b"", "text/plain; charset=utf-8")

    def api_show(self):
        body = self._body()
        name, manifest = self._lookup(self._requested(body))
        self._send(200, {
            "license": "", "modelfile": "# ollama STAND-IN: %s is the tiny test model\nFROM %s\n" % (
                name.display, self.store.blob_path(manifest["layers"][0]["digest"])),
            "parameters": "", "template": "{{ .Prompt }}", "details": model_details(),
            "model_info": {"general.architecture": "llama", "general.parameter_count": 2000000,
                           "llama.context_length": 2048, "llama.embedding_length": 32, "llama.block_count": 2},
            "capabilities": ["completion"], "modified_at": now_iso()})

    def api_chat(self):
        body = self._body()
        name, manifest = self._lookup(body.get("model") or "")
        messages = body.get("messages") or []
        if not messages:
            # Ollama loads the model and answers done with no message.
            self._runner_for(name, manifest, body.get("keep_alive"))
            self._send(200, {"model": name.display, "created_at": now_iso(), "message": {"role": "assistant", "content": ""},
                             "done_reason": "load", "done": True})
            return
        base = self._runner_for(name, manifest, body.get("keep_alive"))
        request = dict(self._sampling(body), messages=[{"role": m.get("role", "user"), "content": m.get("content", "")}
                                                       for m in messages],
                       max_tokens=self._num_predict(body), stream=bool(body.get("stream", True)))
        started = time.monotonic()
        if not request["stream"]:
            reply = self._runner_call(base, "/v1/chat/completions", request, False)
            choice = reply["choices"][0]
            self._send(200, dict({"model": name.display, "created_at": now_iso(),
                                  "message": {"role": "assistant", "content": choice["message"].get("content") or ""}},
                                 **self._final_fields(started, reply.get("usage", {}), choice.get("finish_reason"))))
            return
        request["stream_options"] = {"include_usage": True}
        resp = self._runner_call(base, "/v1/chat/completions", request, True)
        self._start_stream("application/x-ndjson")
        usage, reason, count = {}, "stop", 0
        for event in self._sse_events(resp):
            usage = event.get("usage") or usage
            for choice in event.get("choices") or []:
                reason = choice.get("finish_reason") or reason
                text = (choice.get("delta") or {}).get("content")
                if text:
                    count += 1
                    self._chunk((json.dumps({"model": name.display, "created_at": now_iso(),
                                             "message": {"role": "assistant", "content": text}, "done": False}) + "\n").encode())
        usage.setdefault("completion_tokens", count)
        final = dict({"model": name.display, "created_at": now_iso(), "message": {"role": "assistant", "content": ""}},
                     **self._final_fields(started, usage, reason))
        self._chunk((json.dumps(final) + "\n").encode())
        self._end_stream()

    def api_generate(self):
        body = self._body()
        name, manifest = self._lookup(body.get("model") or "")
        base = self._runner_for(name, manifest, body.get("keep_alive"))
        prompt = body.get("prompt") or ""
        if not prompt:
            self._send(200, {"model": name.display, "created_at": now_iso(), "response": "", "done": True, "done_reason": "load"})
            return
        if body.get("system"):
            prompt = body["system"] + "\n\n" + prompt
        request = dict(self._sampling(body), prompt=prompt, n_predict=self._num_predict(body),
                       stream=bool(body.get("stream", True)))
        started = time.monotonic()
        if not request["stream"]:
            reply = self._runner_call(base, "/completion", request, False)
            usage = {"prompt_tokens": reply.get("tokens_evaluated", 0), "completion_tokens": reply.get("tokens_predicted", 0)}
            reason = "length" if reply.get("stop_type") == "limit" else "stop"
            self._send(200, dict({"model": name.display, "created_at": now_iso(), "response": reply.get("content", "")},
                                 **self._final_fields(started, usage, reason)))
            return
        resp = self._runner_call(base, "/completion", request, True)
        self._start_stream("application/x-ndjson")
        usage, reason = {}, "stop"
        for event in self._sse_events(resp):
            if event.get("content"):
                self._chunk((json.dumps({"model": name.display, "created_at": now_iso(), "response": event["content"],
                                         "done": False}) + "\n").encode())
            if event.get("stop"):
                usage = {"prompt_tokens": event.get("tokens_evaluated", 0), "completion_tokens": event.get("tokens_predicted", 0)}
                reason = "length" if event.get("stop_type") == "limit" else "stop"
        final = dict({"model": name.display, "created_at": now_iso(), "response": ""}, **self._final_fields(started, usage, reason))
        self._chunk((json.dumps(final) + "\n").encode())
        self._end_stream()

    def api_not_implemented(self):
        raise ApiError(501, "not implemented by the ollama stand-in (tests/standins/ollama)")

    # ---- OpenAI-compatible API

    def v1_models(self):
        data = [{"id": name.display, "object": "model", "created": int(mtime), "owned_by": name.namespace}
                for name, _m, _r, mtime in self.store.list()]
        self._send(200, {"object": "list", "data": data})

    def v1_chat_completions(self):
        body = self._body()
        requested = body.get("model") or ""
        name, manifest = self._lookup(requested)
        base = self._runner_for(name, manifest, None)
        request = dict(body)
        request["model"] = name.display
        if request.get("max_tokens") is None and request.get("max_completion_tokens") is None:
            request["max_tokens"] = DEFAULT_NUM_PREDICT
        if not request.get("stream"):
            reply = self._runner_call(base, "/v1/chat/completions", request, False)
            reply["model"] = requested
            reply["system_fingerprint"] = "fp_ollama_standin"
            self._send(200, reply)
            return
        resp = self._runner_call(base, "/v1/chat/completions", request, True)
        self._start_stream("text/event-stream")
        for event in self._sse_events(resp):
            event["model"] = requested
            self._chunk(b"data: " + json.dumps(event).encode() + b"\n\n")
        self._chunk(b"data: [DONE]\n\n")
        self._end_stream()


GET_ROUTES = {"/": Handler.api_root, "/api/version": Handler.api_version, "/api/tags": Handler.api_tags,
              "/api/ps": Handler.api_ps, "/v1/models": Handler.v1_models}
POST_ROUTES = {"/api/pull": Handler.api_pull, "/api/chat": Handler.api_chat, "/api/generate": Handler.api_generate,
               "/api/show": Handler.api_show, "/v1/chat/completions": Handler.v1_chat_completions,
               "/api/create": Handler.api_not_implemented, "/api/copy": Handler.api_not_implemented,
               "/api/push": Handler.api_not_implemented, "/api/embed": Handler.api_not_implemented,
               "/api/embeddings": Handler.api_not_implemented, "/v1/completions": Handler.api_not_implemented,
               "/v1/embeddings": Handler.api_not_implemented}
DELETE_ROUTES = {"/api/delete": Handler.api_delete}


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # http.server listens with a backlog of 5; a gateway opens more at once.
    request_queue_size = 128

    def __init__(self, config):
        family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
        self.address_family = family
        http.server.ThreadingHTTPServer.__init__(self, (config.host, config.port), Handler)


def ensure_identity(home):
    """Ollama creates ~/.ollama/id_ed25519 on first `serve` and refuses to run
    when it cannot; the stand-in does the same, so an unwritable HOME under the
    unit's hardening fails here as it would with the real binary. (The file is
    random bytes, not a usable key.)"""
    keydir = os.path.join(home, ".ollama")
    keyfile = os.path.join(keydir, "id_ed25519")
    if os.path.exists(keyfile):
        return
    try:
        os.makedirs(keydir, mode=0o755, exist_ok=True)
        fd = os.open(keyfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(b"ollama-standin-placeholder-key " + secrets.token_hex(32).encode() + b"\n")
    except OSError as exc:
        raise SystemExit("Error: could not create directory %s: %s" % (keydir, exc.strerror))


def serve():
    config = Config()
    ensure_identity(config.home)
    try:
        os.makedirs(os.path.join(config.models, "blobs"), exist_ok=True)
        os.makedirs(os.path.join(config.models, "manifests"), exist_ok=True)
    except OSError as exc:
        raise SystemExit("Error: mkdir %s: %s" % (config.models, exc.strerror))
    if not os.access(config.models, os.W_OK):
        raise SystemExit("Error: mkdir %s: permission denied" % config.models)
    if not os.path.isfile(config.model_file):
        raise SystemExit("Error: stand-in model missing: %s" % config.model_file)
    Handler.config = config
    Handler.store = Store(config.models, config.model_file)
    Handler.runner = Runner(config)
    log("INFO", "server config", env=json.dumps(config.as_log(), sort_keys=True))
    try:
        server = Server(config)
    except OSError as exc:
        raise SystemExit("Error: listen tcp %s:%d: bind: %s" % (config.host, config.port, exc.strerror))
    stop = threading.Event()

    def on_signal(signum, _frame):
        log("INFO", "shutting down", signal=signum)
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def reaper():
        while not stop.wait(1.0):
            Handler.runner.expire()

    threading.Thread(target=reaper, daemon=True).start()
    log("INFO", "Listening on %s:%d (version %s)" % (config.host, config.port, VERSION))
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        Handler.runner.shutdown()
    return 0


# --------------------------------------------------------------------------
# CLI client commands (talk to the server at OLLAMA_HOST, like the real CLI)
# --------------------------------------------------------------------------

def client_base():
    scheme, host, port = parse_host(os.environ.get("OLLAMA_HOST", ""))
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1" if host == "0.0.0.0" else "::1"
    if ":" in host:
        host = "[%s]" % host
    return "%s://%s:%d" % (scheme, host, port)


def client_call(method, path, body=None, timeout=600):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(client_base() + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read().decode()
    except urllib.error.HTTPError as exc:
        raw = exc.read().decode(errors="replace")
        try:
            message = json.loads(raw).get("error", raw)
        except ValueError:
            message = raw
        raise SystemExit("Error: %s" % message)
    except (urllib.error.URLError, OSError):
        raise SystemExit("Error: could not connect to ollama app, is it running?")
    return json.loads(raw) if raw.strip().startswith("{") else raw


def cli(argv):
    usage = ("Usage: ollama [serve|list|ps|pull MODEL|rm MODEL...|run MODEL [PROMPT]|show MODEL|--version]\n"
             "  (ollama STAND-IN for tests; see tests/standins/ollama/README.md)")
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage)
        return 0
    cmd, args = argv[0], argv[1:]
    if cmd in ("-v", "--version", "version"):
        try:
            print("ollama version is %s" % client_call("GET", "/api/version", timeout=3)["version"])
        except SystemExit:
            print("Warning: could not connect to a running Ollama instance")
            print("Warning: client version is %s" % VERSION)
        return 0
    if cmd == "serve":
        return serve()
    if cmd in ("list", "ls"):
        print("%-40s %-14s %-10s %s" % ("NAME", "ID", "SIZE", "MODIFIED"))
        for item in client_call("GET", "/api/tags")["models"]:
            print("%-40s %-14s %-10s %s" % (item["name"], item["digest"][:12], "%d MB" % (item["size"] // 1000000),
                                            item["modified_at"]))
        return 0
    if cmd == "ps":
        print("%-40s %-14s %-10s %s" % ("NAME", "ID", "SIZE", "UNTIL"))
        for item in client_call("GET", "/api/ps")["models"]:
            print("%-40s %-14s %-10s %s" % (item["name"], item["digest"][:12], item["size"], item["expires_at"]))
        return 0
    if cmd == "pull" and len(args) == 1:
        client_call("POST", "/api/pull", {"model": args[0], "stream": False})
        print("success")
        return 0
    if cmd == "rm" and args:
        for model in args:
            client_call("DELETE", "/api/delete", {"model": model})
            print("deleted '%s'" % model)
        return 0
    if cmd == "show" and len(args) == 1:
        info = client_call("POST", "/api/show", {"model": args[0]})
        print(info["modelfile"], end="")
        return 0
    if cmd == "run" and args:
        prompt = " ".join(args[1:]) or sys.stdin.read()
        reply = client_call("POST", "/api/generate", {"model": args[0], "prompt": prompt, "stream": False})
        print(reply["response"])
        return 0
    sys.stderr.write(usage + "\n")
    return 1


if __name__ == "__main__":
    sys.exit(cli(sys.argv[1:]))
