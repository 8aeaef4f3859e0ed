# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The work of the http_ready module: wait for several HTTP endpoints in one module run.

A health gate used to be one ansible.builtin.uri task per endpoint, each with
until/retries. On a rerun where everything already answers, that is a module
run (about a quarter second on the host) per endpoint, and a gate of three
endpoints cost three. Here the checks run in order in one process, each
retried until it passes or its own time is up, with the same meaning as the
tasks they replace.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time
from urllib.error import HTTPError

from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.urls import open_url

EXCERPT = 300


class Answer(object):
    """One HTTP answer: status (None when no answer came), body text, or the error that stood for it."""

    def __init__(self, status=None, body="", error=""):
        self.status = status
        self.body = body
        self.error = error


def fetch(url, method="GET", headers=None, body=None, timeout=10, ca_path=None, validate_certs=True):
    """One request. Every outcome is an Answer: an HTTP error status is an answer with its body;
    refused, reset, timed out, TLS or DNS failures are no answer, with the error in words."""
    try:
        response = open_url(url, method=method, headers=headers or {}, data=body, timeout=timeout,
                            validate_certs=validate_certs, ca_path=ca_path)
        return Answer(response.getcode(), to_text(response.read(), errors="surrogate_or_replace"))
    except HTTPError as exc:
        try:
            text = to_text(exc.read(), errors="surrogate_or_replace")
        except Exception:  # pylint: disable=broad-except
            text = ""
        return Answer(exc.code, text)
    except Exception as exc:  # pylint: disable=broad-except
        return Answer(None, error=to_text(exc))


def judge(check, answer):
    """'' when answer satisfies check, else why not, in words."""
    if answer.status is None:
        return "no answer (%s)" % (answer.error or "connection failed")
    if answer.status not in check["status_code"]:
        return "status %s, expected %s; body: %s" % (
            answer.status, " or ".join(str(code) for code in check["status_code"]), answer.body[:EXCERPT])
    if check.get("models"):
        try:
            listed = [entry.get("id") for entry in json.loads(answer.body).get("data", [])]
        except (ValueError, AttributeError, TypeError):
            return "status %s but the body is not an OpenAI model list: %s" % (answer.status, answer.body[:EXCERPT])
        missing = [model for model in check["models"] if model not in listed]
        if missing:
            return "status %s but %s not listed (listed: %s)" % (
                answer.status, ", ".join(missing), ", ".join(str(model) for model in listed) or "none")
    return ""


def wait_for_all(checks, fetch, delay, clock=time.monotonic, sleep=time.sleep):
    """Run the checks in order; each is retried every `delay` seconds until it passes or its
    `timeout` (counted from when the one before passed) is up. Stops at the first that never
    passes. Returns (results, failure message or '')."""
    results = []
    for check in checks:
        started = clock()
        attempts = 0
        while True:
            attempts += 1
            why = judge(check, fetch(check))
            elapsed = clock() - started
            if not why:
                results.append(dict(url=check["url"], passed=True, attempts=attempts, elapsed=round(elapsed, 3)))
                break
            if elapsed + delay > check["timeout"]:
                results.append(dict(url=check["url"], passed=False, attempts=attempts, elapsed=round(elapsed, 3),
                                    reason=why))
                return results, "%s did not answer as expected within %s s (%d attempt%s): %s" % (
                    check["url"], check["timeout"], attempts, "" if attempts == 1 else "s", why)
            sleep(delay)
    return results, ""
