"""The vLLM stand-in's /metrics: vLLM's names and format, and values that follow the traffic."""
import re

import test_vllm_standin as base
from test_vllm_standin import KEY, call

# The stand-in under test, with the fake engine (fixtures of test_vllm_standin.py).
fake_engine = base.fake_engine
served = base.served

SAMPLE = re.compile(r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)\{(?P<labels>[^}]*)\} (?P<value>[0-9.e+-]+|\+Inf)$')
LABEL = re.compile(r'^[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"$')


def scrape(base):
    """{(name, labels): value} of one scrape; asserts the Prometheus text format line by line."""
    status, raw = call(base + "/metrics")
    assert status == 200
    samples, typed = {}, {}
    for line in raw.decode().splitlines():
        if line.startswith("# TYPE "):
            name, kind = line[7:].split(" ")
            typed[name] = kind
            continue
        if line.startswith("# HELP "):
            continue
        match = SAMPLE.match(line)
        assert match, "not a Prometheus sample line: %r" % line
        labels = tuple(sorted(match.group("labels").split(",")))
        assert all(LABEL.match(label) for label in labels), line
        assert 'model_name="qwen-coder"' in labels, line
        family = re.sub(r"_(total|bucket|count|sum)$", "", match.group("name"))
        assert family in typed, "sample before its # TYPE: %r" % line
        samples[(match.group("name"), labels)] = float(match.group("value"))
    return samples, typed


def value(samples, name, **labels):
    wanted = set('%s="%s"' % item for item in dict(labels, model_name="qwen-coder").items())
    found = [v for (n, ls), v in samples.items() if n == name and wanted <= set(ls)]
    assert len(found) == 1, (name, labels, found)
    return found[0]


def test_metrics_are_open_and_in_vllms_names(served):
    samples, typed = scrape(served.base)
    assert typed["vllm:num_requests_running"] == "gauge"
    assert typed["vllm:gpu_cache_usage_perc"] == "gauge"
    assert typed["vllm:prompt_tokens"] == "counter"
    assert typed["vllm:generation_tokens"] == "counter"
    assert typed["vllm:e2e_request_latency_seconds"] == "histogram"
    assert value(samples, "vllm:num_requests_running") == 0
    assert value(samples, "vllm:prompt_tokens_total") == 0
    assert value(samples, "vllm:e2e_request_latency_seconds_count") == 0


def test_counters_follow_completions_and_streams(served):
    chat = {"model": "qwen-coder", "messages": [{"role": "user", "content": "hi"}]}
    for dummy in range(2):
        assert call(served.base + "/v1/chat/completions", chat, key=KEY)[0] == 200
    assert call(served.base + "/v1/chat/completions", dict(chat, stream=True), key=KEY)[0] == 200
    assert call(served.base + "/v1/chat/completions", dict(chat, model="other"), key=KEY)[0] == 404
    assert call(served.base + "/v1/chat/completions", chat)[0] == 401
    samples, dummy = scrape(served.base)
    # The fake engine reports 3 prompt and 4 completion tokens per non-streamed answer.
    assert value(samples, "vllm:prompt_tokens_total") == 6
    assert value(samples, "vllm:generation_tokens_total") == 8
    # Finished requests only: the 404 and the 401 never reached the engine.
    assert value(samples, "vllm:e2e_request_latency_seconds_count") == 3
    assert value(samples, "vllm:request_success_total", finished_reason="stop") == 3
    assert value(samples, "vllm:num_requests_running") == 0
    assert value(samples, "vllm:num_requests_waiting") == 0
    buckets = sorted((float(dict(label.split("=", 1) for label in ls)["le"].strip('"')), v)
                     for (n, ls), v in samples.items() if n == "vllm:e2e_request_latency_seconds_bucket")
    counts = [v for dummy_bound, v in buckets]
    assert counts == sorted(counts) and counts[-1] == 3  # cumulative, +Inf is the count
