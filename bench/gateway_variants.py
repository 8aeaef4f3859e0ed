# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What each gateway setting buys, side by side, in the `make demo` sandbox.

`make bench-gateway` compares the gateway as deployed with LiteLLM's
defaults. This one takes the deployed config apart: each variant is one
LiteLLM process (one worker, the deployed venv and model list) that differs
from the deployed instance by one setting, started inside the sandbox on its
own port and stopped afterwards. They are measured in the same run, in rounds
that rotate the order, next to llama-server directly and the gateway itself
(HAProxy in front of the instances), so the shared machine's noise hits all
alike. Figures are ratios to the deployed single instance.

    python bench/gateway_variants.py [--rounds 3] [--seconds 5] [--only NAME,...]

Needs the sandbox up (`make demo`); it does not converge it.
"""

import argparse
import copy
import json
import os
import re
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gateway_bench as gb  # noqa: E402  pylint: disable=wrong-import-position
from loadgen import summarize  # noqa: E402  pylint: disable=wrong-import-position

RESULT = os.path.join(os.path.dirname(gb.RESULT), "gateway-variants.json")
BASE_PORT = 4091
RUN_DIR = "/run/aib-variants"


def minimal(config):
    return {"model_list": config["model_list"], "general_settings": dict(config["general_settings"])}


def without_router_redis(config):
    changed = copy.deepcopy(config)
    for key in ("redis_host", "redis_port", "redis_password"):
        changed["router_settings"].pop(key, None)
    return changed


def without_cache(config):
    changed = copy.deepcopy(config)
    for key in ("cache", "cache_params"):
        changed.get("litellm_settings", {}).pop(key, None)
    return changed


def without_metrics(config):
    changed = copy.deepcopy(config)
    settings = changed.get("litellm_settings", {})
    metrics_keys = ("callbacks", "require_auth_for_metrics_endpoint")
    for key in [key for key in settings if key.startswith("prometheus") or key in metrics_keys]:
        del settings[key]
    return changed


def without_failover(config):
    changed = copy.deepcopy(config)
    changed["router_settings"].pop("enable_weighted_failover", None)
    return changed


def to_backend(port):
    """The deployed config with every deployment sent to the llama-server variant on port."""
    def derive(config):
        changed = copy.deepcopy(config)
        for deployment in changed["model_list"]:
            params = deployment["litellm_params"]
            params["api_base"] = re.sub(r":\d+(/|$)", r":%d\1" % port, params["api_base"], count=1)
        return changed
    return derive


# llama-server variants: name -> (what differs from the deployed instance, extra command-line arguments).
# llama.cpp's worker threads busy-wait for work (--poll 50 by default) and
# take every core (--threads -1); on a CPU shared with the gateway both cost
# the gateway CPU time.
LLAMA_VARIANTS = {
    "llama-poll0": ("llama-server, --poll 0 (threads sleep instead of spinning)", ["--poll", "0"]),
    "llama-threads1": ("llama-server, --threads 1", ["--threads", "1"]),
}
LLAMA_BASE_PORT = 8091


def llama_port(name):
    return LLAMA_BASE_PORT + list(LLAMA_VARIANTS).index(name)


# name -> (what differs from the deployed instance, config from the deployed one, LITELLM_LOG or None,
#          extra LiteLLM arguments, llama-server variant it sends to or None)
VARIANTS = {
    "defaults": ("LiteLLM's defaults: model list and master key only, LITELLM_LOG unset", minimal, None, [], None),
    "deployed": ("one deployed instance as is (the reference of the ratios)", copy.deepcopy, "ERROR", [], None),
    "log-unset": ("deployed, LITELLM_LOG unset (LiteLLM's default level)", copy.deepcopy, None, [], None),
    "no-router-redis": ("deployed, router without Redis (in-memory cooldowns and counters)",
                        without_router_redis, "ERROR", [], None),
    "no-cache": ("deployed, response cache off (one Redis GET and SET less per request)", without_cache, "ERROR",
                 [], None),
    "no-metrics": ("deployed, without the prometheus callback", without_metrics, "ERROR", [], None),
    "no-failover": ("deployed, without enable_weighted_failover", without_failover, "ERROR", [], None),
    "workers-2": ("deployed, --num_workers 2 (two uvicorn workers in one instance)", copy.deepcopy, "ERROR",
                  ["--num_workers", "2"], None),
    "to-poll0": ("deployed, sending to the --poll 0 llama-server", to_backend(llama_port("llama-poll0")), "ERROR", [],
                 "llama-poll0"),
}


def unit(name):
    return "aib-variant-%s.service" % name


def start_llama(name, port, extra_args):
    """A copy of the deployed llama-server instance, as its user, on its own port with extra_args."""
    directory = "%s/%s" % (RUN_DIR, name)
    gb.in_sandbox("install", "-d", "-m", "0750", "-o", "root", "-g", "llama-cpp", RUN_DIR, directory)
    gb.in_sandbox("sh", "-c", "umask 077 && sed 's/^LLAMA_ARG_PORT=.*/LLAMA_ARG_PORT=\"%d\"/' %s > %s/env" % (
        port, deployed_llama_env(), directory))
    shown = gb.in_sandbox("systemctl", "show", "--property=ExecStart", "--value", deployed_llama_unit())
    found = re.search(r"path=([^ ;]+)", shown)
    if not found:
        raise gb.BenchError("no ExecStart path in %r" % shown)
    binary = found.group(1)
    gb.in_sandbox("test", "-x", binary)
    gb.in_sandbox("systemctl", "reset-failed", unit(name), check=False)
    gb.in_sandbox("systemd-run", "--unit=" + unit(name), "--collect", "--property=User=llama-cpp",
                  "--property=Group=llama-cpp", "--property=EnvironmentFile=%s/env" % directory,
                  binary, *extra_args)


def deployed_llama_unit():
    units = gb.managed_units()["backend"]
    if len(units) != 1:
        raise gb.BenchError("expected one llama-cpp@ instance in the sandbox, found %s" % units)
    return units[0]


def deployed_llama_env():
    return "/etc/llama-cpp/%s.env" % deployed_llama_unit()[len("llama-cpp@"):-len(".service")]


def start(name, port, version, config, log_level, extra_args=()):
    """One LiteLLM process for the variant, as the litellm user, from the deployed venv."""
    directory = "%s/%s" % (RUN_DIR, name)
    gb.in_sandbox("install", "-d", "-m", "0750", "-o", "root", "-g", "litellm", RUN_DIR, directory)
    gb.in_sandbox("sh", "-c", "umask 027 && cat > %s/config.yaml && chgrp litellm %s/config.yaml" % (
        directory, directory), stdin=yaml.safe_dump(config))
    # The deployed env file (secrets, the bundled cost map) less or with the log level.
    log_line = "echo LITELLM_LOG=%s;" % log_level if log_level else ""
    gb.in_sandbox("sh", "-c", "umask 077 && { grep -v '^LITELLM_LOG=' /etc/litellm/litellm.env; %s } > %s/env" % (
        log_line, directory))
    gb.in_sandbox("systemctl", "reset-failed", unit(name), check=False)
    gb.in_sandbox("systemd-run", "--unit=" + unit(name), "--collect", "--property=User=litellm",
                  "--property=Group=litellm", "--property=EnvironmentFile=%s/env" % directory,
                  "--property=WorkingDirectory=/var/lib/litellm", "--setenv=HOME=/var/lib/litellm",
                  "/opt/litellm/venvs/%s/bin/litellm" % version, "--config", directory + "/config.yaml",
                  "--host", gb.ADDRESS, "--port", str(port), *extra_args)


def stop(names):
    for name in names:
        gb.in_sandbox("systemctl", "stop", unit(name), check=False)
    gb.in_sandbox("rm", "-rf", RUN_DIR, check=False)


def measure(targets, key, rounds, seconds):
    """targets: name -> (url, key or None, [front units], [backend units]); one-client records, 16-client
    req/s, and the CPU time of the front (LiteLLM, HAProxy, Redis) and of the llama-server behind it."""
    pool = dict((name, {"one": [], "ok16": 0, "s16": 0.0, "cpu": 0, "cpu_backend": 0, "failed": 0})
                for name in targets)
    names = list(targets)
    for name in names:
        gb.run_load(targets[name][0], targets[name][1], 4, 20, 60, "warm-" + name)
    for index in range(rounds):
        order = names[index % len(names):] + names[:index % len(names)]
        for name in order:
            url, auth, front, back = targets[name]
            one = gb.run_load(url, auth, 1, seconds, 5000, "one-" + name)
            before = gb.cpu_ns(front), gb.cpu_ns(back)
            many = gb.run_load(url, auth, 16, seconds, 50000, "many-" + name)
            after = gb.cpu_ns(front), gb.cpu_ns(back)
            entry = pool[name]
            entry["one"].extend(one.records)
            report = many.summary()
            entry["ok16"] += report["ok"]
            entry["s16"] += many.duration
            entry["cpu"] += after[0] - before[0]
            entry["cpu_backend"] += after[1] - before[1]
            entry["failed"] += one.summary()["failed"] + report["failed"]
        print("variants: round %d/%d done, load average %.2f" % (index + 1, rounds, os.getloadavg()[0]), flush=True)
    return pool


def table(pool, load_before, load_after, rounds, seconds):
    rows = {}
    direct = summarize(pool["direct"]["one"])["latency_ms"]["p50"]
    for name, entry in pool.items():
        one = summarize(entry["one"])
        rows[name] = {"p50": one["latency_ms"]["p50"], "p99": one["latency_ms"]["p99"],
                      "overhead_p50": round(one["latency_ms"]["p50"] - direct, 2),
                      "litellm_overhead_p50": one["litellm_overhead_ms"]["p50"],
                      "rps16": round(entry["ok16"] / entry["s16"], 1) if entry["s16"] else None,
                      "cpu_ms_per_request": round(entry["cpu"] / 1e6 / entry["ok16"], 2) if entry["ok16"] else None,
                      "backend_cpu_ms_per_request": (round(entry["cpu_backend"] / 1e6 / entry["ok16"], 2)
                                                     if entry["ok16"] else None),
                      "failed": entry["failed"]}
    reference = rows["deployed"]
    print("\nGateway variants: %d rounds x %.0f s per target and concurrency; %d cores, load average %.2f before, "
          "%.2f after\n" % (rounds, seconds, os.cpu_count(), load_before, load_after))
    print("| target | what differs | 1 client p50 ms | overhead vs direct p50 ms | LiteLLM-reported p50 ms "
          "| 16 clients req/s | req/s vs deployed | front CPU ms/req | llama-server CPU ms/req |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, row in rows.items():
        ratio = row["rps16"] / reference["rps16"] if row["rps16"] and reference["rps16"] else None
        print("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            name, DESCRIPTIONS.get(name, ""), gb.fmt(row["p50"]),
            "-" if name == "direct" else gb.fmt(row["overhead_p50"]), gb.fmt(row["litellm_overhead_p50"]),
            gb.fmt(row["rps16"]), gb.fmt(ratio, "%.2fx"),
            "-" if row["cpu_ms_per_request"] == 0 else gb.fmt(row["cpu_ms_per_request"], "%.2f"),
            gb.fmt(row["backend_cpu_ms_per_request"], "%.2f")))
    return rows


DESCRIPTIONS = dict((name, spec[0]) for name, spec in list(VARIANTS.items()) + list(LLAMA_VARIANTS.items()))
DESCRIPTIONS.update({"direct": "llama-server directly", "gateway": "the gateway: HAProxy + the deployed instances"})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--only", default="", help="comma-separated variant names (default: all)")
    args = parser.parse_args(argv)
    chosen = [name for name in VARIANTS if not args.only or name in args.only.split(",")]
    if "deployed" not in chosen:
        chosen.insert(0, "deployed")
    llamas = [name for name in LLAMA_VARIANTS if not args.only or name in args.only.split(",")
              or any(VARIANTS[chose][4] == name for chose in chosen)]
    load_before = os.getloadavg()[0]
    try:
        with open(gb.SECRETS) as handle:
            key = yaml.safe_load(handle)["vault_litellm_master_key"]
        config = gb.deployed_config()
        units = gb.managed_units()
        version = gb.in_sandbox("sh", "-c", "ls /opt/litellm/venvs | sort -V | tail -n 1").strip()
        targets = {"direct": (gb.DIRECT_URL, None, [], units["backend"]),
                   "gateway": (gb.GATEWAY_URL, key, units["gateway"], units["backend"])}
        for name in llamas:
            start_llama(name, llama_port(name), LLAMA_VARIANTS[name][1])
            targets[name] = ("http://%s:%d" % (gb.ADDRESS, llama_port(name)), None, [], [unit(name)])
        for offset, name in enumerate(chosen):
            dummy, derive, log_level, extra_args, backend = VARIANTS[name]
            start(name, BASE_PORT + offset, version, derive(config), log_level, extra_args)
            targets[name] = ("http://%s:%d" % (gb.ADDRESS, BASE_PORT + offset), key, [unit(name)],
                             [unit(backend)] if backend else units["backend"])
        try:
            for name in llamas:
                waited = gb.wait_ready(targets[name][0] + "/health", 300, interval=1)
                print("variants: %s ready after %.0f s" % (name, waited), flush=True)
            for name in chosen:
                waited = gb.wait_ready(targets[name][0] + "/health/readiness", 900, interval=2)
                print("variants: %s ready after %.0f s" % (name, waited), flush=True)
            pool = measure(targets, key, args.rounds, args.seconds)
        finally:
            stop(chosen + llamas)
    except (gb.BenchError, OSError, KeyError) as exc:
        print("gateway-variants: ERROR: %s" % exc, file=sys.stderr)
        return 1
    rows = table(pool, load_before, os.getloadavg()[0], args.rounds, args.seconds)
    os.makedirs(os.path.dirname(RESULT), exist_ok=True)
    with open(RESULT + ".tmp", "w") as handle:
        json.dump({"rows": rows, "load_before": load_before, "load_after": os.getloadavg()[0],
                   "rounds": args.rounds, "seconds": args.seconds, "version": version}, handle, indent=1)
    os.replace(RESULT + ".tmp", RESULT)
    print("\nvariants: %s" % RESULT)
    return 1 if any(row["failed"] for row in rows.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
