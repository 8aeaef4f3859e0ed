# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""smoke_check: every check of the smoke playbook in one run. The helper is tested with
answers drawn from the whole space (any status, any body, odd Unicode, secrets echoed
back) and must always give one row per check and never a secret; the module runs for real
through ansible-playbook against a local HTTP server that speaks the gateway's and a
backend's API, and a real redis-server with an ACL user."""

import json
import threading
from http.server import ThreadingHTTPServer

import pytest
from hypothesis import given, settings, strategies as st

from test_engine_ansible_faces import collections, play, only_result  # noqa: F401  pylint: disable=unused-import
from test_engine_http_ready import Handler
from redis_server import free_port, redis_server_binary, start_redis

from ansible_collections.gathewhy.ai_backend.plugins.module_utils import _smoke as smoke
from ansible_collections.gathewhy.ai_backend.plugins.module_utils._http_ready import Answer

MASTER_KEY = "sk-smoke-master-key-0123456789abcdef"
REDIS_PASSWORD = "redis-Pass.word_0123456789+/="

ANSWERS = st.one_of(
    st.builds(Answer, status=st.none(), body=st.just(""), error=st.text(max_size=80)),
    st.builds(Answer, status=st.sampled_from([200, 401, 404, 500, 503]),
              body=st.one_of(st.text(max_size=300), st.recursive(
                  st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=40)),
                  lambda inner: st.one_of(st.lists(inner, max_size=3),
                                          st.dictionaries(st.sampled_from(["choices", "message", "content", "error",
                                                                           "status", "x"]), inner, max_size=4)),
                  max_leaves=12).map(json.dumps))))


@settings(max_examples=300, deadline=None)
@given(models=st.lists(st.text(min_size=1, max_size=30), max_size=4),
       backends=st.lists(st.tuples(st.text(min_size=1, max_size=12), st.from_regex(r"\A[a-z][a-z0-9_]{0,20}\Z")),
                         max_size=3),
       answers=st.lists(ANSWERS, min_size=10, max_size=10), reply=st.one_of(st.just("+PONG"), st.text(max_size=30)))
def test_every_check_is_one_row_whatever_answers_and_never_shows_a_secret(models, backends, answers, reply):
    served = iter(answers * 2)
    params = {"label": "gw1", "gateway_url": "http://127.0.0.1:4000", "master_key": MASTER_KEY,
              "backends": [{"host": h, "id": i, "health_url": "http://127.0.0.1:8080/health", "type": "x"}
                           for h, i in backends],
              "redis": {"host": "127.0.0.1", "port": 6379}, "models": models,
              "request_timeout": 5, "completion_timeout": 60, "excerpt_length": 24}
    rows = smoke.run(params, lambda *args: next(served), lambda: reply)
    assert [r["check"] for r in rows] == (["gateway"] + ["backend"] * len(backends) + ["redis"]
                                          + ["completion"] * len(models))
    for entry in rows:
        assert entry["result"] in ("PASS", "FAIL") and isinstance(entry["detail"], str)
        assert MASTER_KEY not in json.dumps(entry) and len(entry["detail"]) <= 200 + 40
    assert (rows[len(backends) + 1]["result"] == "PASS") == (reply == "+PONG")


def test_a_backend_entry_without_its_url_is_a_clear_error_before_any_request():
    with pytest.raises(smoke.SmokeArgumentError, match=r"backends\[1\] has no health_url"):
        smoke.run({"label": "gw", "gateway_url": "http://x", "master_key": "k", "redis": {},
                   "backends": [{"host": "a", "id": "b", "health_url": "http://a/health"}, {"host": "a", "id": "c"}],
                   "models": [], "request_timeout": 1, "completion_timeout": 1, "excerpt_length": 1},
                  lambda *a: pytest.fail("no request may be sent"), lambda: pytest.fail("no ping either"))


def test_completion_rows_say_what_answered():
    reply = json.dumps({"choices": [{"message": {"content": "Hej 👋 där"}}]})
    ok = smoke.completion_row("gw", "qwen", Answer(200, reply), 24)
    assert ok["result"] == "PASS" and ok["detail"] == 'reply "Hej 👋 där"'
    empty = smoke.completion_row("gw", "qwen", Answer(200, '{"choices": []}'), 24)
    assert empty["result"] == "FAIL" and empty["detail"] == "200 the reply has no choices"
    refused = smoke.completion_row("gw", "qwen", Answer(400, '{"error": {"message": "Invalid model name"}}'), 24)
    assert refused["detail"] == "400 Invalid model name"
    down = smoke.completion_row("gw", "qwen", Answer(None, error="Connection refused"), 24)
    assert down["detail"] == "Connection refused"


class Gateway(Handler):
    """LiteLLM's readiness and chat completions, and a backend's /health, as they answer."""

    def do_GET(self):  # noqa: N802 (the name http.server calls)
        if self.path == "/health/readiness":
            self.reply(200, {"status": "healthy", "db": "Not connected"})
        elif self.path == "/health":
            self.reply(200, {"status": "ok"})
        else:
            self.reply(404, {"error": "not found"})

    def do_POST(self):  # noqa: N802 (the name http.server calls)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.headers.get("Authorization") != "Bearer " + MASTER_KEY:
            self.reply(401, {"error": {"message": "Authentication Error, invalid key"}})
        elif body.get("model") != "tiny-llama" or body.get("cache") != {"no-cache": True}:
            self.reply(400, {"error": {"message": "Invalid model name passed in model=%s" % body.get("model")}})
        else:
            self.reply(200, {"choices": [{"message": {"role": "assistant", "content": "Ja"}}]})


@pytest.fixture
def gateway():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()


@pytest.fixture
def redis_acl(tmp_path):
    port = free_port()
    conf = tmp_path / "redis.conf"
    conf.write_text("bind 127.0.0.1\nport %d\nsave \"\"\nappendonly no\ndir %s\n"
                    "user default off\nuser litellm on >%s ~* +@all\n" % (port, tmp_path, REDIS_PASSWORD))
    process = start_redis(redis_server_binary(), conf, port)
    yield port
    process.terminate()
    process.wait(timeout=10)


def test_redis_auth_ping_for_real(redis_acl):
    assert smoke.redis_auth_ping("127.0.0.1", redis_acl, "litellm", REDIS_PASSWORD) == "+PONG"
    assert smoke.redis_auth_ping("127.0.0.1", redis_acl, "litellm", "wrong-password").startswith("-WRONGPASS")
    row = smoke.redis_row("gw", "127.0.0.1", 1, lambda: smoke.redis_auth_ping("127.0.0.1", 1, "u", "p"))
    assert row["result"] == "FAIL" and "refused" in row["detail"].lower()


def test_the_module_checks_everything_in_one_run_and_keeps_secrets_out(  # noqa: F811
        collections, tmp_path, gateway, redis_acl):
    body = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Smoke
      gathewhy.ai_backend.smoke_check:
        label: gw1
        gateway_url: "{gw}"
        master_key: "{key}"
        backends:
          - {{host: gpu1, id: llama_tiny, type: llama_cpp, health_url: "{gw}/health"}}
          - {{host: gpu2, id: gone, type: vllm, health_url: "http://127.0.0.1:1/health"}}
        redis: {{host: 127.0.0.1, port: {port}, user: litellm, password: "{password}"}}
        models: [tiny-llama, not-served]
""".format(gw=gateway, key=MASTER_KEY, port=redis_acl, password=REDIS_PASSWORD)
    done = play(collections, tmp_path, body, extra=["-vvv"])
    result = only_result(done)
    assert [(r["result"], r["check"]) for r in result["rows"]] == [
        ("PASS", "gateway"), ("PASS", "backend"), ("FAIL", "backend"), ("PASS", "redis"),
        ("PASS", "completion"), ("FAIL", "completion")]
    assert result["rows"][4]["detail"] == 'reply "Ja"'
    assert "Invalid model name" in result["rows"][5]["detail"] and result["passed"] is False
    assert MASTER_KEY not in done.stdout + done.stderr and REDIS_PASSWORD not in done.stdout + done.stderr
