# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A bounded, closed-loop load generator for OpenAI-compatible chat endpoints.

N clients each keep one HTTP/1.1 keep-alive connection and send the next
request as soon as the previous one ends. Every prompt is unique (a run nonce
plus a counter), so no response cache can answer. A run always ends by itself:
after ``max_requests`` requests or ``max_seconds`` seconds, whichever comes
first, or earlier when the stop event is set, the stop file appears, or the
process gets SIGINT/SIGTERM (command line).

Every request is recorded (start, latency, status, error class, LiteLLM version
and overhead headers) and ``summarize`` turns the records into the JSON report:
sent, ok, failed by class, latency percentiles, ok completions per second and
the versions seen.

Raw asyncio streams rather than urllib or requests: on a 2-core machine the
client shares the CPUs with what it measures, and one event loop with
hand-built requests cost 75 us of client CPU per request against a trivial
local server and 270 us against llama-server's real responses (this 2-core
machine under a load average of 5, 8 clients; the command line prints
``client_cpu_us_per_request``): under 3 % of a core at 100 requests/s.

It only talks to loopback addresses: it is a test tool, never a way to load
someone else's server.

    python tests/load/loadgen.py http://127.0.50.1:4000 --key-file key --clients 8 \
        --max-requests 2000 --max-seconds 60 --stop-file /tmp/stop
"""

import argparse
import asyncio
import ipaddress
import json
import os
import secrets
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

CHAT_PATH = "/v1/chat/completions"
VERSION_HEADER = "x-litellm-version"
OVERHEAD_HEADER = "x-litellm-overhead-duration-ms"
# Which deployment LiteLLM sent the request to: names the backend of a slow answer.
API_BASE_HEADER = "x-litellm-model-api-base"
SLOWEST_SHOWN = 3
# A failed request is followed by this pause before the client's next one, so
# a refusing server is not hammered in a tight loop (the pause is not counted
# as latency).
FAILURE_PAUSE = 0.05
MAX_HEADER_BYTES = 65536


class LoadError(ValueError):
    """Bad arguments: the message says what is wrong and how to fix it."""


class Record(object):
    """One request. ``start`` and ``end`` are seconds since the run began."""

    __slots__ = ("start", "end", "status", "error", "version", "overhead_ms", "client", "api_base")

    def __init__(self, start, end, status, error, version=None, overhead_ms=None, client=0, api_base=None):
        self.start = start
        self.end = end
        self.status = status
        self.error = error
        self.version = version
        self.overhead_ms = overhead_ms
        self.client = client
        self.api_base = api_base

    @property
    def latency(self):
        return self.end - self.start

    @property
    def ok(self):
        return self.error is None


class _ResponseError(Exception):
    """A request that failed; ``kind`` is its error class."""

    def __init__(self, kind, detail=""):
        Exception.__init__(self, "%s %s" % (kind, detail))
        self.kind = kind


def check_loopback(url):
    """(host, port, path prefix) of an http:// URL whose host is a loopback address, or LoadError."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise LoadError("target %r: give an http:// URL with a host, e.g. http://127.0.0.1:4000" % url)
    try:
        port = parts.port or 80
    except ValueError:
        raise LoadError("target %r: the port is not a number" % url)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise LoadError("target %r: cannot resolve %s (%s); use a loopback address such as 127.0.0.1"
                        % (url, parts.hostname, exc))
    addresses = sorted(set(info[4][0] for info in infos))
    outside = [address for address in addresses if not ipaddress.ip_address(address.split("%")[0]).is_loopback]
    if outside:
        raise LoadError("target %r resolves to %s, which is not loopback: this load generator only targets "
                        "127.0.0.0/8 or ::1" % (url, ", ".join(outside)))
    return addresses[0], port, parts.path.rstrip("/")


def wait_ready(url, timeout, interval=1.0):
    """Seconds until a GET of `url` answers 200; TimeoutError after `timeout` seconds."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return time.monotonic() - start
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(interval)
    raise TimeoutError("%s did not answer 200 within %d s" % (url, timeout))


def percentile(values, fraction):
    """Nearest-rank percentile of a sorted list (None when empty)."""
    if not values:
        return None
    rank = max(1, int(-(-fraction * len(values) // 1)))  # ceil, at least the first
    return values[min(rank, len(values)) - 1]


def summarize(records, duration=None):
    """The JSON-ready report of a list of Records (latencies in ms)."""
    ok = [record for record in records if record.ok]
    failed = {}
    for record in records:
        if not record.ok:
            failed[record.error] = failed.get(record.error, 0) + 1
    latencies = sorted(record.latency * 1000.0 for record in ok)
    overheads = sorted(record.overhead_ms for record in ok if record.overhead_ms is not None)
    if duration is None:
        duration = max([record.end for record in records] or [0.0])
    per_second = [0] * (int(duration) + 1)
    for record in ok:
        per_second[min(int(record.end), len(per_second) - 1)] += 1
    versions = {}
    for record in ok:
        if record.version is not None:
            seen = versions.setdefault(record.version, {"count": 0, "first_s": record.start, "last_s": record.start})
            seen["count"] += 1
            seen["first_s"] = min(seen["first_s"], record.start)
            seen["last_s"] = max(seen["last_s"], record.start)

    def rounded(value):
        return None if value is None else round(value, 2)

    # The few slowest answers, with when they started and where they went: the
    # max latency alone cannot tell a stuck backend from a slow gateway.
    slowest = [{"start_s": round(record.start, 3), "latency_ms": rounded(record.latency * 1000.0),
                "api_base": record.api_base, "client": record.client}
               for record in sorted(ok, key=lambda record: record.latency, reverse=True)[:SLOWEST_SHOWN]]

    return {
        "sent": len(records),
        "ok": len(ok),
        "failed": sum(failed.values()),
        "failed_by_class": failed,
        "duration_s": round(duration, 3),
        "throughput_rps": round(len(ok) / duration, 2) if duration > 0 else None,
        "latency_ms": {"p50": rounded(percentile(latencies, 0.50)), "p99": rounded(percentile(latencies, 0.99)),
                       "max": rounded(latencies[-1] if latencies else None)},
        "litellm_overhead_ms": {"p50": rounded(percentile(overheads, 0.50)),
                                "p99": rounded(percentile(overheads, 0.99))},
        "per_second": per_second,
        "slowest": slowest,
        "versions": dict((version, {"count": seen["count"], "first_s": round(seen["first_s"], 3),
                                    "last_s": round(seen["last_s"], 3)})
                         for version, seen in sorted(versions.items())),
    }


def chat_body(model, prompt, max_tokens):
    return json.dumps({"model": model, "max_tokens": max_tokens, "temperature": 0,
                       "messages": [{"role": "user", "content": prompt}]}).encode("utf-8")


async def _read_response(reader):
    """(status, headers, body) of one HTTP/1.1 response."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        # Nothing at all: the server closed the connection without answering.
        raise _ResponseError("closed_before_response" if not exc.partial else "closed_mid_response")
    except asyncio.LimitOverrunError:
        raise _ResponseError("bad_response", "headers over %d bytes" % MAX_HEADER_BYTES)
    lines = head.decode("latin-1").split("\r\n")
    fields = lines[0].split(" ", 2)
    if len(fields) < 2 or not fields[0].startswith("HTTP/1.") or not fields[1].isdigit():
        raise _ResponseError("bad_response", repr(lines[0][:80]))
    status = int(fields[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    try:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")  # no trailers expected: the blank line
                    break
                chunks.append((await reader.readexactly(size + 2))[:-2])
            body = b"".join(chunks)
        elif "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        else:
            body = await reader.read()  # delimited by close
            headers["connection"] = "close"
    except (asyncio.IncompleteReadError, ValueError):
        raise _ResponseError("closed_mid_response")
    return status, headers, body


class LoadRun(object):
    """One bounded run. ``run()`` blocks and returns the records; ``stop()``
    (any thread) ends it early; ``records`` can be read at any time."""

    def __init__(self, url, key=None, model="tiny-llama", clients=8, max_requests=1000, max_seconds=60.0,
                 timeout=30.0, max_tokens=4, stop_file=None, path=CHAT_PATH, label="load"):
        for name, value in (("clients", clients), ("max_requests", max_requests), ("max_seconds", max_seconds),
                            ("timeout", timeout), ("max_tokens", max_tokens)):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise LoadError("%s is %r: it must be a positive number" % (name, value))
        self.address, self.port, prefix = check_loopback(url)
        self.path = prefix + path
        self.host_header = "%s:%d" % (urllib.parse.urlsplit(url).hostname, self.port)
        self.key = key
        self.model = model
        self.clients = int(clients)
        self.max_requests = int(max_requests)
        self.max_seconds = float(max_seconds)
        self.timeout = float(timeout)
        self.max_tokens = int(max_tokens)
        self.stop_file = stop_file
        self.nonce = "%s-%s" % (label, secrets.token_hex(6))
        self.records = []
        self.started_at = None  # time.monotonic() at the start
        self.duration = None
        self._issued = 0
        self._stopped = threading.Event()

    def stop(self):
        self._stopped.set()

    def now(self):
        """Seconds since the run began (for marking events in the same clock as the records)."""
        return time.monotonic() - self.started_at if self.started_at is not None else 0.0

    def _should_stop(self):
        if self._stopped.is_set() or self.now() >= self.max_seconds:
            return True
        if self.stop_file and os.path.exists(self.stop_file):
            self._stopped.set()
            return True
        return False

    def _request(self, number):
        prompt = "Load %s #%d: continue the sentence about the number %d." % (self.nonce, number, number)
        body = chat_body(self.model, prompt, self.max_tokens)
        head = ["POST %s HTTP/1.1" % self.path, "Host: %s" % self.host_header,
                "Content-Type: application/json", "Content-Length: %d" % len(body), "Connection: keep-alive"]
        if self.key:
            head.append("Authorization: Bearer %s" % self.key)
        return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body

    async def _connect(self):
        try:
            return await asyncio.wait_for(
                asyncio.open_connection(self.address, self.port, limit=MAX_HEADER_BYTES), self.timeout)
        except ConnectionRefusedError:
            raise _ResponseError("connect_refused")
        except asyncio.TimeoutError:
            raise _ResponseError("connect_timeout")
        except OSError as exc:
            raise _ResponseError("connect_error", str(exc))

    async def _exchange(self, conn, number):
        reader, writer = conn
        writer.write(self._request(number))
        try:
            await writer.drain()
            return await _read_response(reader)
        except ConnectionResetError:
            raise _ResponseError("reset")
        except BrokenPipeError:
            raise _ResponseError("reset")

    async def _client(self, index):
        conn = None
        while not self._should_stop() and self._issued < self.max_requests:
            self._issued += 1
            number = self._issued
            start = self.now()
            status, error, version, overhead, api_base = None, None, None, None, None
            try:
                if conn is None:
                    conn = await self._connect()
                status, headers, body = await asyncio.wait_for(self._exchange(conn, number), self.timeout)
                version = headers.get(VERSION_HEADER)
                api_base = headers.get(API_BASE_HEADER)
                try:
                    overhead = float(headers[OVERHEAD_HEADER]) if OVERHEAD_HEADER in headers else None
                except ValueError:
                    overhead = None
                if status != 200:
                    error = "http_%d" % status
                elif b'"choices"' not in body:
                    error = "bad_body"
                if headers.get("connection", "").lower() == "close":
                    self._close(conn)
                    conn = None
            except asyncio.TimeoutError:
                error = "timeout"
            except _ResponseError as exc:
                error = exc.kind
            except OSError as exc:
                error = "os_error_%s" % (exc.errno or "unknown")
            if error is not None and (status is None or error == "bad_body"):
                # The connection is in an unknown state: start a fresh one.
                self._close(conn)
                conn = None
            self.records.append(Record(start, self.now(), status, error, version, overhead, index, api_base))
            if error is not None:
                await asyncio.sleep(FAILURE_PAUSE)
        self._close(conn)

    @staticmethod
    def _close(conn):
        if conn is not None:
            try:
                conn[1].close()
            except Exception:  # closing a dead socket must not end the client
                pass

    async def _main(self):
        self.started_at = time.monotonic()
        await asyncio.gather(*[self._client(index) for index in range(self.clients)])
        self.duration = self.now()

    def run(self):
        asyncio.run(self._main())
        return self.records

    def summary(self, since=None, until=None):
        """The report over the records that started in [since, until) (seconds since the start)."""
        chosen = [record for record in self.records
                  if (since is None or record.start >= since) and (until is None or record.start < until)]
        return summarize(chosen, self.duration if since is None and until is None else None)


class Background(object):
    """A LoadRun in a thread: ``with Background(run) as load: ...`` stops and joins it on exit."""

    def __init__(self, run):
        self.run = run
        self.error = None
        self._thread = threading.Thread(target=self._target, name="loadgen", daemon=True)

    def _target(self):
        try:
            self.run.run()
        except BaseException as exc:  # reported by join()
            self.error = exc

    def __enter__(self):
        self._thread.start()
        while self.run.started_at is None and self._thread.is_alive():
            time.sleep(0.01)
        return self

    def join(self, timeout=None):
        self.run.stop()
        self._thread.join(timeout if timeout is not None else self.run.timeout + 10)
        if self._thread.is_alive():
            raise RuntimeError("the load generator did not stop within its request timeout")
        if self.error is not None:
            raise self.error
        return self.run

    def __exit__(self, *exc_info):
        self.join()
        return False


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("url", help="base URL, loopback only, e.g. http://127.0.0.1:4000")
    parser.add_argument("--key-file", help="file holding the bearer key (keeps it off the command line)")
    parser.add_argument("--model", default="tiny-llama")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--max-requests", type=int, default=1000)
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    parser.add_argument("--max-tokens", type=int, default=4)
    parser.add_argument("--stop-file", help="the run ends when this file exists")
    args = parser.parse_args(argv)
    key = None
    if args.key_file:
        with open(args.key_file) as handle:
            key = handle.read().strip()
    try:
        load = LoadRun(args.url, key=key, model=args.model, clients=args.clients, max_requests=args.max_requests,
                       max_seconds=args.max_seconds, timeout=args.timeout, max_tokens=args.max_tokens,
                       stop_file=args.stop_file)
    except LoadError as exc:
        sys.stderr.write("loadgen: %s\n" % exc)
        return 2
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *dummy: load.stop())
    cpu = time.process_time()
    load.run()
    report = load.summary()
    report["client_cpu_us_per_request"] = round((time.process_time() - cpu) * 1e6 / max(1, report["sent"]), 1)
    json.dump(report, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
