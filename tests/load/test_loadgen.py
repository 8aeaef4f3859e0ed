# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The load generator against a tiny local HTTP server: counts, bounds,
unique prompts, failure classification and the report's arithmetic."""

import http.server
import json
import socket
import struct
import threading
import time

import pytest

from loadgen import Background, LoadError, LoadRun, Record, main, percentile, summarize, wait_ready


class FakeGateway(http.server.ThreadingHTTPServer):
    """Answers chat completions the way the test says (``behaviour``), and
    keeps every prompt it received."""

    daemon_threads = True

    def __init__(self, behaviour="ok"):
        http.server.ThreadingHTTPServer.__init__(self, ("127.0.0.1", 0), Handler)
        self.behaviour = behaviour
        self.prompts = []
        self.connections = 0
        self.lock = threading.Lock()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server_address[1]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        http.server.BaseHTTPRequestHandler.setup(self)
        with self.server.lock:
            self.server.connections += 1

    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass

    def do_GET(self):  # pylint: disable=invalid-name
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):  # pylint: disable=invalid-name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.prompts.append(body["messages"][0]["content"])
            count = len(self.server.prompts)
        behaviour = self.server.behaviour
        if callable(behaviour):
            behaviour = behaviour(count)
        if behaviour == "reset":
            # RST instead of FIN: SO_LINGER with a zero timeout.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        if behaviour == "close":
            self.close_connection = True
            return
        if behaviour == "slow":
            time.sleep(1.0)
        reply = json.dumps({"choices": [{"message": {"content": "hi"}}]}).encode()
        if behaviour == "503":
            reply = b'{"error": "no healthy upstream"}'
        self.send_response(503 if behaviour == "503" else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("x-litellm-version", "1.108.6" if count <= 10 else "1.108.7")
        self.send_header("x-litellm-overhead-duration-ms", "2.5")
        self.send_header("x-litellm-model-api-base", "http://127.0.0.1:8080/v1")
        if behaviour == "chunked":
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in (reply[:5], reply[5:]):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
            return
        self.send_header("Content-Length", str(len(reply)))
        if behaviour == "connection_close":
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(reply)


@pytest.fixture
def gateway(request):
    server = FakeGateway(getattr(request, "param", "ok"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_sends_exactly_max_requests_with_unique_prompts(gateway):
    load = LoadRun(gateway.url, key="sk-test", clients=4, max_requests=57, max_seconds=30)
    records = load.run()
    report = load.summary()
    assert (report["sent"], report["ok"], report["failed"]) == (57, 57, 0)
    assert len(records) == len(gateway.prompts) == 57
    assert len(set(gateway.prompts)) == 57, "prompts repeat, a cache could answer them"
    assert sum(report["per_second"]) == 57
    # keep-alive: one connection per client, not one per request
    assert gateway.connections == 4
    assert report["versions"]["1.108.6"]["count"] == 10
    assert report["versions"]["1.108.7"]["count"] == 47
    assert report["litellm_overhead_ms"]["p50"] == 2.5
    assert len(report["slowest"]) == 3
    assert all(row["api_base"] == "http://127.0.0.1:8080/v1" for row in report["slowest"])
    assert 0 < report["latency_ms"]["p50"] <= report["latency_ms"]["p99"] <= report["latency_ms"]["max"]


def test_prompts_differ_between_runs(gateway):
    LoadRun(gateway.url, clients=1, max_requests=3).run()
    LoadRun(gateway.url, clients=1, max_requests=3).run()
    assert len(set(gateway.prompts)) == 6


@pytest.mark.parametrize("gateway", ["slow"], indirect=True)
def test_stops_after_max_seconds(gateway):
    start = time.monotonic()
    load = LoadRun(gateway.url, clients=2, max_requests=10000, max_seconds=1.5, timeout=5)
    load.run()
    elapsed = time.monotonic() - start
    # the last requests started before 1.5 s and take 1 s each
    assert elapsed < 3.2, elapsed
    assert 2 <= len(load.records) <= 6
    assert load.summary()["failed"] == 0


def test_stop_event_ends_a_background_run(gateway):
    with Background(LoadRun(gateway.url, clients=2, max_requests=10 ** 6, max_seconds=60)) as load:
        time.sleep(0.5)
    assert not load.error
    assert 0 < len(load.run.records) < 10 ** 6
    assert load.run.duration < 5


def test_stop_file_ends_the_run(gateway, tmp_path):
    stop = tmp_path / "stop"
    load = LoadRun(gateway.url, clients=2, max_requests=10 ** 6, max_seconds=60, stop_file=str(stop))
    timer = threading.Timer(0.5, stop.write_text, args=("",))
    timer.start()
    load.run()
    timer.join()
    assert load.duration < 5 and load.records


def test_connection_refused_is_classified():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: refused
        load = LoadRun("http://127.0.0.1:%d" % port, clients=2, max_requests=6, max_seconds=10)
        load.run()
    report = load.summary()
    assert report["failed_by_class"] == {"connect_refused": 6}
    assert (report["ok"], report["latency_ms"]["p50"]) == (0, None)


@pytest.mark.parametrize("gateway,kind", [
    ("503", "http_503"),
    ("reset", "reset"),
    ("close", "closed_before_response"),
], indirect=["gateway"])
def test_failures_are_classified(gateway, kind):
    load = LoadRun(gateway.url, clients=2, max_requests=8, max_seconds=10)
    load.run()
    report = load.summary()
    # A reset can surface as an empty read on some kernels: both are the server's doing.
    if kind == "reset":
        assert set(report["failed_by_class"]) <= {"reset", "closed_before_response"}, report
        assert report["failed"] == 8
    else:
        assert report["failed_by_class"] == {kind: 8}, report
    assert report["ok"] == 0


@pytest.mark.parametrize("gateway", ["slow"], indirect=True)
def test_timeout_is_classified(gateway):
    load = LoadRun(gateway.url, clients=1, max_requests=2, max_seconds=10, timeout=0.2)
    load.run()
    assert load.summary()["failed_by_class"] == {"timeout": 2}


@pytest.mark.parametrize("gateway", ["chunked", "connection_close"], indirect=True)
def test_chunked_and_connection_close_responses_are_read(gateway):
    load = LoadRun(gateway.url, clients=2, max_requests=10, max_seconds=10)
    load.run()
    assert load.summary()["ok"] == 10


def test_mixed_outcomes_are_counted_per_class(gateway):
    gateway.behaviour = lambda count: "503" if count % 5 == 0 else "ok"
    load = LoadRun(gateway.url, clients=1, max_requests=20, max_seconds=10)
    load.run()
    report = load.summary()
    assert (report["ok"], report["failed"], report["failed_by_class"]) == (16, 4, {"http_503": 4})


@pytest.mark.parametrize("url", [
    "http://10.1.2.3:4000", "http://192.168.0.1", "http://[2001:db8::1]:80", "https://127.0.0.1:4000",
    "127.0.0.1:4000", "http://127.0.0.1:notaport",
])
def test_refuses_anything_but_loopback_http(url):
    with pytest.raises(LoadError):
        LoadRun(url)


@pytest.mark.parametrize("field,value", [("clients", 0), ("max_requests", -1), ("max_seconds", "10"),
                                         ("timeout", True)])
def test_refuses_bad_bounds(field, value):
    with pytest.raises(LoadError, match=field):
        LoadRun("http://127.0.0.1:9", **{field: value})


def test_summary_window_and_percentiles():
    records = [Record(float(i), float(i) + 0.010 * (i + 1), 200, None, "v1" if i < 5 else "v2") for i in range(10)]
    records.append(Record(3.5, 3.6, None, "reset"))
    report = summarize(records)
    assert (report["sent"], report["ok"], report["failed_by_class"]) == (11, 10, {"reset": 1})
    assert report["latency_ms"] == {"p50": 50.0, "p99": 100.0, "max": 100.0}
    assert report["per_second"] == [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    assert report["versions"] == {"v1": {"count": 5, "first_s": 0.0, "last_s": 4.0},
                                  "v2": {"count": 5, "first_s": 5.0, "last_s": 9.0}}
    # The slowest answers first, failed ones left out.
    assert [row["latency_ms"] for row in report["slowest"]] == [100.0, 90.0, 80.0]
    assert report["slowest"][0] == {"start_s": 9.0, "latency_ms": 100.0, "api_base": None, "client": 0}
    assert percentile([], 0.5) is None
    assert percentile([1, 2, 3, 4], 0.5) == 2
    assert percentile([7], 0.99) == 7


def test_summary_since(gateway):
    load = LoadRun(gateway.url, clients=1, max_requests=30, max_seconds=10)
    load.run()
    middle = load.records[15].start
    later = load.summary(since=middle)
    assert later["sent"] == 15
    assert set(later["versions"]) == {"1.108.7"}


def test_command_line_prints_the_report(gateway, tmp_path, capsys):
    key = tmp_path / "key"
    key.write_text("sk-from-a-file\n")
    assert main([gateway.url, "--key-file", str(key), "--clients", "2", "--max-requests", "12"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["sent"], report["ok"]) == (12, 12)
    assert report["client_cpu_us_per_request"] > 0


def test_command_line_refuses_a_remote_target(capsys):
    assert main(["http://8.8.8.8:80"]) == 2
    assert "not loopback" in capsys.readouterr().err


def test_background_reraises_errors(monkeypatch, gateway):
    load = LoadRun(gateway.url, clients=1, max_requests=5)

    def broken():
        raise RuntimeError("boom")
    monkeypatch.setattr(load, "run", broken)
    with pytest.raises(RuntimeError, match="boom"):
        with Background(load):
            pass


def test_wait_ready_polls_until_200_or_times_out(gateway):
    assert wait_ready(gateway.url + "/anything", 5, interval=0.1) < 5
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        with pytest.raises(TimeoutError, match="did not answer 200 within 1 s"):
            wait_ready("http://127.0.0.1:%d/health" % sock.getsockname()[1], 1, interval=0.2)
