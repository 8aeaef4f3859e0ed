# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The work of the smoke_check module: every check of the smoke playbook, from one gateway host, in one run.

The gateway's readiness, each backend's health endpoint, AUTH and PING to the
shared Redis, and one real completion per model group. Each check becomes one
table row (result, check, target, detail); a failed check is a row, never an
exception, so the table always shows every check. Only chosen fields of each
answer reach a row: status codes, URLs, Redis's one-line reply, error messages
and the first characters of each reply, never a header or a password.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import socket
import ssl

DETAIL_LIMIT = 200


class SmokeArgumentError(Exception):
    """An argument the checks cannot run with; the message says which and why."""


def backend_targets(backends):
    """(name, health URL) of each registry-view backend entry: name is host/id."""
    targets = []
    for index, entry in enumerate(backends):
        missing = [key for key in ("host", "id", "health_url") if not isinstance(entry.get(key), str) or not entry[key]]
        if missing:
            raise SmokeArgumentError("backends[%d] has no %s (an entry of the registry view's backends has host, id "
                                     "and health_url): %r" % (index, " or ".join(missing), entry))
        targets.append(("%s/%s" % (entry["host"], entry["id"]), entry["health_url"]))
    return targets


def row(ok, check, target, detail):
    return {"result": "PASS" if ok else "FAIL", "check": check, "target": target, "detail": detail}


def _json(body):
    try:
        data = json.loads(body)
    except (TypeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _no_answer(answer):
    return "status %s" % answer.status if answer.status is not None else (answer.error or "no answer")


def gateway_row(label, url, answer):
    ok = answer.status == 200 and _json(answer.body).get("status") == "healthy"
    return row(ok, "gateway", "%s %s" % (label, url), "ready" if ok else _no_answer(answer)[:DETAIL_LIMIT])


def backend_row(label, name, url, answer):
    ok = answer.status == 200
    return row(ok, "backend", "%s -> %s" % (label, name), url if ok else _no_answer(answer)[:DETAIL_LIMIT])


def completion_row(label, model, answer, excerpt_length):
    body = _json(answer.body)
    choices = body.get("choices") if isinstance(body.get("choices"), list) else []
    ok = answer.status == 200 and len(choices) > 0
    if ok:
        first = choices[0] if isinstance(choices[0], dict) else {}
        message = first.get("message") if isinstance(first.get("message"), dict) else {}
        text = message.get("content")
        text = "" if text is None else text if isinstance(text, str) else json.dumps(text)
        detail = "reply " + json.dumps(text[:excerpt_length], ensure_ascii=False)
    else:
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            why = str(error["message"])
        elif error:
            why = str(error)
        elif answer.status == 200:
            why = "the reply has no choices"
        else:
            why = answer.error or "no answer"
        detail = ("%s %s" % ("" if answer.status is None else answer.status, why)).strip()[:DETAIL_LIMIT]
    return row(ok, "completion", "%s %s" % (label, model), detail)


def completion_request(model):
    """One short chat completion that reads nothing from the response cache, so a backend answers."""
    return json.dumps({"model": model, "messages": [{"role": "user", "content": "Reply with one word."}],
                       "max_tokens": 8, "cache": {"no-cache": True}})


def _command(*args):
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def redis_auth_ping(host, port, user, password, ca_path=None, timeout=3.0):
    """AUTH as user, then PING; Redis's first reply line that is not +OK, or PING's reply."""
    conn = socket.create_connection((host, int(port)), timeout=timeout)
    try:
        if ca_path:
            conn = ssl.create_default_context(cafile=ca_path).wrap_socket(conn, server_hostname=host)
        reader = conn.makefile("rb")
        conn.sendall(_command(b"AUTH", user.encode("utf-8"), password.encode("utf-8")))
        reply = reader.readline().rstrip(b"\r\n").decode("utf-8", "replace")
        if reply != "+OK":
            return reply
        conn.sendall(_command(b"PING"))
        return reader.readline().rstrip(b"\r\n").decode("utf-8", "replace")
    finally:
        conn.close()


def redis_row(label, host, port, ping):
    """ping() is Redis's reply, or raises OSError (refused, timed out, TLS) when there is none."""
    try:
        reply = ping()
    except (OSError, ValueError) as exc:
        reply, error = "", str(exc) or exc.__class__.__name__
    else:
        error = ""
    ok = reply == "+PONG"
    return row(ok, "redis", "%s -> %s:%s" % (label, host, port),
               "PONG after AUTH" if ok else (reply or error or "no answer")[:DETAIL_LIMIT])


def run(params, fetch, ping):
    """Every check, in the table's order. fetch(url, method, headers, body, timeout) is an Answer;
    ping() is Redis's reply to AUTH and PING."""
    label, gateway = params["label"], params["gateway_url"]
    backends = backend_targets(params["backends"])
    rows = [gateway_row(label, gateway, fetch(gateway + "/health/readiness", "GET", {}, None,
                                              params["request_timeout"]))]
    for name, url in backends:
        rows.append(backend_row(label, name, url, fetch(url, "GET", {}, None, params["request_timeout"])))
    redis = params["redis"]
    rows.append(redis_row(label, redis["host"], redis["port"], ping))
    headers = {"Authorization": "Bearer %s" % params["master_key"], "Content-Type": "application/json"}
    for model in params["models"]:
        rows.append(completion_row(label, model, fetch(gateway + "/v1/chat/completions", "POST", headers,
                                                       completion_request(model), params["completion_timeout"]),
                                   params["excerpt_length"]))
    return rows
