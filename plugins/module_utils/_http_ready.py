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

EXCERPT = 300


class Answer(object):
    """One HTTP answer: status (None when no answer came), body text, or the error that stood for it."""

    def __init__(self, status=None, body="", error=""):
        self.status = status
        self.body = body
        self.error = error


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
