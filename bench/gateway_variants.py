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


# name -> (what differs from the deployed instance, config from the deployed one, LITELLM_LOG or None)
VARIANTS = {
    "defaults": ("LiteLLM's defaults: model list and master key only, LITELLM_LOG unset", minimal, None),
    "deployed": ("one deployed instance as is (the reference of the ratios)", copy.deepcopy, "ERROR"),
    "log-unset": ("deployed, LITELLM_LOG unset (LiteLLM's default level)", copy.deepcopy, None),
    "no-router-redis": ("deployed, router without Redis (in-memory cooldowns and counters)",
                        without_router_redis, "ERROR"),
    "no-cache": ("deployed, response cache off (one Redis GET and SET less per request)", without_cache, "ERROR"),
    "no-metrics": ("deployed, without the prometheus callback", without_metrics, "ERROR"),
    "no-failover": ("deployed, without enable_weighted_failover", without_failover, "ERROR"),
}


def unit(name):
    return "aib-variant-%s.service" % name


def start(name, port, version, config, log_level):
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
                  "--host", gb.ADDRESS, "--port", str(port))


def stop(names):
    for name in names:
        gb.in_sandbox("systemctl", "stop", unit(name), check=False)
    gb.in_sandbox("rm", "-rf", RUN_DIR, check=False)


def measure(targets, key, rounds, seconds):
    """targets: name -> (url, key or None, [units]); one-client records, 16-client req/s and CPU."""
    pool = dict((name, {"one": [], "ok16": 0, "s16": 0.0, "cpu": 0, "failed": 0}) for name in targets)
    names = list(targets)
    for name in names:
        url, auth, dummy = targets[name]
        gb.run_load(url, auth, 4, 20, 60, "warm-" + name)
    for index in range(rounds):
        order = names[index % len(names):] + names[:index % len(names)]
        for name in order:
            url, auth, units = targets[name]
            one = gb.run_load(url, auth, 1, seconds, 5000, "one-" + name)
            before = gb.cpu_ns(units)
            many = gb.run_load(url, auth, 16, seconds, 50000, "many-" + name)
            after = gb.cpu_ns(units)
            entry = pool[name]
            entry["one"].extend(one.records)
            report = many.summary()
            entry["ok16"] += report["ok"]
            entry["s16"] += many.duration
            entry["cpu"] += after - before
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
                      "failed": entry["failed"]}
    reference = rows["deployed"]
    print("\nGateway variants: %d rounds x %.0f s per target and concurrency; %d cores, load average %.2f before, "
          "%.2f after\n" % (rounds, seconds, os.cpu_count(), load_before, load_after))
    print("| target | what differs | 1 client p50 ms | overhead vs direct p50 ms | LiteLLM-reported p50 ms "
          "| 16 clients req/s | req/s vs deployed | CPU ms/req |")
    print("|---|---|---|---|---|---|---|---|")
    for name, row in rows.items():
        ratio = row["rps16"] / reference["rps16"] if row["rps16"] and reference["rps16"] else None
        print("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            name, DESCRIPTIONS.get(name, ""), gb.fmt(row["p50"]),
            "-" if name == "direct" else gb.fmt(row["overhead_p50"]), gb.fmt(row["litellm_overhead_p50"]),
            gb.fmt(row["rps16"]), gb.fmt(ratio, "%.2fx"), gb.fmt(row["cpu_ms_per_request"], "%.2f")))
    return rows


DESCRIPTIONS = dict((name, spec[0]) for name, spec in VARIANTS.items())
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
    load_before = os.getloadavg()[0]
    try:
        with open(gb.SECRETS) as handle:
            key = yaml.safe_load(handle)["vault_litellm_master_key"]
        config = gb.deployed_config()
        units = gb.managed_units()
        version = gb.in_sandbox("sh", "-c", "ls /opt/litellm/venvs | sort -V | tail -n 1").strip()
        targets = {"direct": (gb.DIRECT_URL, None, []), "gateway": (gb.GATEWAY_URL, key, units["gateway"])}
        for offset, name in enumerate(chosen):
            dummy, derive, log_level = VARIANTS[name]
            start(name, BASE_PORT + offset, version, derive(config), log_level)
            targets[name] = ("http://%s:%d" % (gb.ADDRESS, BASE_PORT + offset), key, [unit(name)])
        try:
            for name in chosen:
                waited = gb.wait_ready(targets[name][0] + "/health/readiness", 900, interval=2)
                print("variants: %s ready after %.0f s" % (name, waited), flush=True)
            pool = measure(targets, key, args.rounds, args.seconds)
        finally:
            stop(chosen)
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
