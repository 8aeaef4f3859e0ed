# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vLLM's /metrics, in its Prometheus text format, for the stand-in.

The names, types, label and histogram buckets are vLLM's (vllm/engine/metrics.py
and vllm/v1/metrics/loggers.py): every series carries model_name, counters end in
_total. The values come from the requests the stand-in forwards: requests
running and waiting, tokens in and out (from the engine's usage reply),
end-to-end latency and time to first token, finished requests by reason.
vllm:gpu_cache_usage_perc is the share of busy engine slots (the stand-in's
engine has one), not a KV-cache measurement. Standard library only: the wheel
has no dependencies.
"""
import threading

E2E_BUCKETS = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0,
               240.0, 480.0, 960.0, 1920.0, 7680.0)
TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5,
                10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0)
ENGINE_SLOTS = 1


def _label(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value):
    return repr(float(value)) if isinstance(value, float) else str(value)


class Histogram:
    def __init__(self, buckets):
        self.buckets = buckets
        self.counts = [0] * len(buckets)
        self.count = 0
        self.sum = 0.0

    def observe(self, value):
        self.count += 1
        self.sum += value
        for index, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[index] += 1


class Metrics:
    """Thread-safe: the HTTP server handles each request in its own thread."""

    def __init__(self, model_name):
        self.model_name = model_name
        self.lock = threading.Lock()
        self.running = 0
        self.waiting = 0
        self.prompt_tokens = 0
        self.generation_tokens = 0
        self.success = {}
        self.e2e = Histogram(E2E_BUCKETS)
        self.ttft = Histogram(TTFT_BUCKETS)

    def start(self):
        with self.lock:
            if self.running >= ENGINE_SLOTS:
                self.waiting += 1
                return "waiting"
            self.running += 1
            return "running"

    def finish(self, state, seconds, first_token_seconds=None, usage=None, finished_reason=None):
        with self.lock:
            if state == "waiting":
                self.waiting -= 1
            else:
                self.running -= 1
            if finished_reason is None:  # failed or aborted: vLLM counts only finished requests
                return
            self.e2e.observe(seconds)
            self.ttft.observe(first_token_seconds if first_token_seconds is not None else seconds)
            usage = usage or {}
            self.prompt_tokens += int(usage.get("prompt_tokens") or 0)
            self.generation_tokens += int(usage.get("completion_tokens") or 0)
            self.success[finished_reason] = self.success.get(finished_reason, 0) + 1

    def render(self):
        model = 'model_name="%s"' % _label(self.model_name)
        out = []

        def family(name, kind, text):
            out.append("# HELP %s %s" % (name, text))
            out.append("# TYPE %s %s" % (name, kind))

        def histogram(name, text, hist):
            family(name, "histogram", text)
            for bound, count in zip(hist.buckets, hist.counts):
                out.append('%s_bucket{le="%s",%s} %d' % (name, _number(bound), model, count))
            out.append('%s_bucket{le="+Inf",%s} %d' % (name, model, hist.count))
            out.append("%s_count{%s} %d" % (name, model, hist.count))
            out.append("%s_sum{%s} %s" % (name, model, _number(hist.sum)))

        with self.lock:
            family("vllm:num_requests_running", "gauge", "Number of requests in model execution batches.")
            out.append("vllm:num_requests_running{%s} %d" % (model, self.running))
            family("vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.")
            out.append("vllm:num_requests_waiting{%s} %d" % (model, self.waiting))
            family("vllm:gpu_cache_usage_perc", "gauge", "GPU KV-cache usage. 1 means 100 percent usage.")
            out.append("vllm:gpu_cache_usage_perc{%s} %s" % (model, _number(min(1.0, self.running / ENGINE_SLOTS))))
            family("vllm:prompt_tokens", "counter", "Number of prefill tokens processed.")
            out.append("vllm:prompt_tokens_total{%s} %d" % (model, self.prompt_tokens))
            family("vllm:generation_tokens", "counter", "Number of generation tokens processed.")
            out.append("vllm:generation_tokens_total{%s} %d" % (model, self.generation_tokens))
            family("vllm:request_success", "counter", "Count of successfully processed requests.")
            for reason in sorted(self.success):
                out.append('vllm:request_success_total{finished_reason="%s",%s} %d'
                           % (_label(reason), model, self.success[reason]))
            histogram("vllm:e2e_request_latency_seconds", "Histogram of end to end request latency in seconds.",
                      self.e2e)
            histogram("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", self.ttft)
        return ("\n".join(out) + "\n").encode("utf-8")
