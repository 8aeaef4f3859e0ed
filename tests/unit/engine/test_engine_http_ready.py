# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""http_ready: several HTTP endpoints waited for in one run. The helper is tested directly
(what counts as an answer, retries on a fake clock, stopping at the first check that never
passes); the module runs for real through ansible-playbook against a small HTTP server on
loopback, and the secret in its headers never reaches the output."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import given, settings, strategies as st

from test_engine_ansible_faces import collections, play, only_result  # noqa: F401  pylint: disable=unused-import

from ansible_collections.gathewhy.ai_backend.plugins.module_utils._http_ready import Answer, judge, wait_for_all


def check(url="http://x/", status_code=(200,), models=(), timeout=30):
    return {"url": url, "headers": {}, "status_code": list(status_code), "models": list(models), "timeout": timeout}


def test_what_counts_as_an_answer():
    assert judge(check(), Answer(200, "ok")) == ""
    assert "no answer (refused)" in judge(check(), Answer(None, error="refused"))
    assert "status 503, expected 200 or 204" in judge(check(status_code=(200, 204)), Answer(503, "busy"))
    listed = json.dumps({"data": [{"id": "qwen2.5-coder-7b"}, {"id": "llama-3.1-8b-instruct"}]})
    assert judge(check(models=["llama-3.1-8b-instruct"]), Answer(200, listed)) == ""
    why = judge(check(models=["llama-3.1-8b-instruct", "mistral-7b"]), Answer(200, listed))
    assert "mistral-7b not listed" in why and "qwen2.5-coder-7b" in why
    assert "not an OpenAI model list" in judge(check(models=["m"]), Answer(200, "<html>"))
    assert "not an OpenAI model list" in judge(check(models=["m"]), Answer(200, "[1, 2]"))


class FakeClock(object):
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 12), st.integers(1, 40)), min_size=1, max_size=5), st.integers(1, 5))
def test_each_check_is_retried_until_it_passes_or_its_time_is_up(plan, delay):
    """plan: per check, how many failed answers come before a good one, and its timeout."""
    clock = FakeClock()
    checks = [check(url="http://h/%d" % index, timeout=timeout) for index, (_fails, timeout) in enumerate(plan)]
    remaining = dict((c["url"], fails) for c, (fails, _timeout) in zip(checks, plan))
    asked = []

    def fetch(c):
        asked.append(c["url"])
        if remaining[c["url"]] > 0:
            remaining[c["url"]] -= 1
            return Answer(503, "starting")
        return Answer(200, "ok")

    results, failure = wait_for_all(checks, fetch, delay, clock=clock, sleep=clock.sleep)
    # A check passes when its good answer comes before its time is up.
    expected_pass = [fails * delay <= timeout for fails, timeout in plan]
    first_failure = expected_pass.index(False) if False in expected_pass else None
    assert [r["passed"] for r in results] == expected_pass[:len(results)]
    if first_failure is None:
        assert failure == "" and len(results) == len(plan)
    else:
        assert len(results) == first_failure + 1, "the checks after a failed one must not run"
        assert failure.startswith("http://h/%d did not answer as expected within" % first_failure)
        assert "status 503" in failure
    # Checks run in order, never interleaved.
    assert asked == sorted(asked, key=lambda url: int(url.rsplit("/", 1)[1]))


class Handler(BaseHTTPRequestHandler):
    hits = {}

    def do_GET(self):  # noqa: N802 (the name http.server calls)
        Handler.hits[self.path] = Handler.hits.get(self.path, 0) + 1
        if self.path == "/health/readiness":
            return self.reply(200, {"status": "healthy"})
        if self.path == "/v1/models":
            if self.headers.get("Authorization") != "Bearer sk-not-for-the-log-4242":
                return self.reply(401, {"error": "unauthorized"})
            return self.reply(200, {"data": [{"id": "llama-3.1-8b-instruct"}]})
        if self.path == "/warming-up":
            # 503 twice, then ready: the retries must carry it through.
            return self.reply(200 if Handler.hits[self.path] > 2 else 503, {})
        return self.reply(404, {"error": "no route"})

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Handler.hits = {}
    yield "http://127.0.0.1:%d" % httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


READY_PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: ready
      gathewhy.ai_backend.http_ready:
        delay: 1
        checks:
          - url: %(base)s/health/readiness
          - url: %(base)s/warming-up
            timeout: 10
          - url: %(base)s/v1/models
            headers: {Authorization: "Bearer sk-not-for-the-log-4242"}
            models: %(models)s
            timeout: %(timeout)s
"""


def test_module_waits_in_one_run_and_keeps_the_header_secret_out_of_a_failure(collections, tmp_path, server):  # noqa: F811
    body = {"base": server, "models": "[llama-3.1-8b-instruct]", "timeout": 10}
    done = play(collections, tmp_path, READY_PLAY % body)
    assert done.returncode == 0, done.stdout + done.stderr
    result = only_result(done)
    assert result["changed"] is False
    assert [c["attempts"] for c in result["checks"]] == [1, 3, 1]
    assert all(c["passed"] for c in result["checks"])

    body.update(models="[llama-3.1-8b-instruct, qwen2.5-coder-7b]", timeout=1)
    failed = play(collections, tmp_path, READY_PLAY % body, extra=["-vvv"])
    assert failed.returncode != 0
    message = only_result(failed)["msg"]
    assert message.startswith("%s/v1/models did not answer as expected within 1 s" % server)
    assert "qwen2.5-coder-7b not listed (listed: llama-3.1-8b-instruct)" in message
    assert "sk-not-for-the-log-4242" not in failed.stdout + failed.stderr
    assert "Traceback" not in failed.stdout + failed.stderr
