# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: what the gateway costs, in the `make demo` sandbox.

Three targets, measured in the same run, in rounds that alternate between
them (the order rotates each round) so that noise from the shared machine
hits all three alike:

  A  llama-server directly (127.0.100.1:8080)
  B  LiteLLM with its default settings: one process, the deployed model list
     and master key and nothing else, started by this script inside the
     sandbox from the deployed venv on a spare port, stopped afterwards
  C  the collection's gateway as deployed (127.0.100.1:4000)

For each: latency at one client (p50/p99, and the difference to A), the
overhead LiteLLM reports in x-litellm-overhead-duration-ms, requests per
second at 16 clients, and CPU time per request (the CPU time of the systemd
units' processes over the 16-client runs, divided by the requests served). Every
prompt is unique, so the response cache never answers. Targets: overhead p50
<= 8 ms at one client; at 16 clients >= 1.5x the throughput of B. They are
printed, not enforced (a shared 2-core machine is noisy); failed requests,
or a stack that does not come up, fail the run.

    python bench/gateway_bench.py [--rounds 4] [--seconds 6] [--no-converge]
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "load"))

from loadgen import LoadRun, summarize, wait_ready  # noqa: E402  pylint: disable=wrong-import-position

CONTAINER = "aib-demo"
ADDRESS = "127.0.100.1"
DIRECT_URL = "http://%s:8080" % ADDRESS
GATEWAY_URL = "http://%s:4000" % ADDRESS
DEFAULTS_PORT = 4090
DEFAULTS_UNIT = "aib-bench-litellm-defaults.service"
DEFAULTS_DIR = "/run/aib-bench"
SECRETS = os.path.join(os.environ.get("AI_BACKEND_CACHE", os.path.join(REPO, ".cache")), "demo", "secrets.yml")
RESULT = os.path.join(os.environ.get("AI_BACKEND_CACHE", os.path.join(REPO, ".cache")), "bench", "gateway-bench.json")
TARGETS = ("A", "B", "C")
NAMES = {"A": "llama-server direct", "B": "LiteLLM defaults (1 process)", "C": "this gateway (HAProxy :4000)"}
OVERHEAD_TARGET_MS = 8.0
THROUGHPUT_TARGET = 1.5


class BenchError(Exception):
    pass


def in_sandbox(*argv, stdin=None, check=True):
    """Run argv inside the sandbox; stdin (text) keeps data off command lines."""
    done = subprocess.run(["docker", "exec", "-i", CONTAINER] + list(argv), input=stdin, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=300, check=False)
    if check and done.returncode != 0:
        raise BenchError("in %s: %s: exit %d: %s" % (CONTAINER, " ".join(argv), done.returncode, done.stdout[-2000:]))
    return done.stdout


def converge_demo():
    """tests/demo/demo.sh creates or reuses the sandbox and converges it (changed=0 when nothing changed)."""
    print("bench: converging the demo sandbox with tests/demo/demo.sh (log in .cache/demo/)", flush=True)
    done = subprocess.run(["bash", os.path.join(REPO, "tests", "demo", "demo.sh")], cwd=REPO, check=False)
    if done.returncode != 0:
        raise BenchError("tests/demo/demo.sh failed (exit %d); see its output above" % done.returncode)


def managed_units():
    """{role: [unit]} of what serves each target inside the sandbox."""
    listed = in_sandbox("systemctl", "list-units", "--plain", "--no-legend", "--type=service", "--state=running",
                        "litellm*", "haproxy.service", "redis-server.service", "llama-cpp@*")
    running = [line.split()[0] for line in listed.splitlines() if line.strip()]
    return {"backend": [unit for unit in running if unit.startswith("llama-cpp@")],
            "gateway": [unit for unit in running if unit.startswith(("litellm", "haproxy", "redis"))]}


# Runs inside the sandbox: CPU time (ns) of every process in the units'
# cgroups, from /proc/<pid>/stat (utime + stime, plus cutime + cstime of
# children already waited for). Per-unit cgroup CPU accounting is not
# available there (cgroup v1 hybrid: the cpu controller stops at the
# container), so this counts processes instead; they live for the whole run.
CPU_SCRIPT = """
import os, subprocess, sys
total = 0
for unit in sys.argv[1:]:
    group = subprocess.check_output(["systemctl", "show", "--property=ControlGroup", "--value", unit],
                                    universal_newlines=True).strip()
    bases = [root + group for root in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup/systemd", "/sys/fs/cgroup")]
    bases = [base for base in bases if group and os.path.isfile(base + "/cgroup.procs")]
    if not bases:
        sys.exit("no cgroup for %s (ControlGroup %r)" % (unit, group))
    for path, dirs, files in os.walk(bases[0]):
        with open(path + "/cgroup.procs") as procs:
            pids = procs.read().split()
        for pid in pids:
            try:
                with open("/proc/%s/stat" % pid) as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += sum(int(value) for value in fields[11:15])
print(total * 10 ** 9 // os.sysconf("SC_CLK_TCK"))
"""


def cpu_ns(units):
    """Summed CPU time (ns) of the units' processes."""
    if not units:
        return 0
    out = in_sandbox("python3", "-c", CPU_SCRIPT, *units).strip()
    if not out.isdigit():
        raise BenchError("could not read the CPU time of %s: %s" % (units, out))
    return int(out)


def deployed_config():
    return yaml.safe_load(in_sandbox("cat", "/etc/litellm/config.yaml"))


def start_defaults(version, config):
    """LiteLLM with its defaults: the same model_list and master key, nothing else."""
    minimal = {"model_list": config["model_list"],
               "general_settings": {"master_key": config["general_settings"]["master_key"]}}
    names = sorted(set(re.findall(r"os\.environ/([A-Za-z_][A-Za-z0-9_]*)", json.dumps(minimal))))
    venv = "/opt/litellm/venvs/%s" % version
    in_sandbox("test", "-x", venv + "/bin/litellm")
    in_sandbox("install", "-d", "-m", "0750", "-o", "root", "-g", "litellm", DEFAULTS_DIR)
    in_sandbox("sh", "-c", "umask 027 && cat > %s/config.yaml && chgrp litellm %s/config.yaml" % (
        DEFAULTS_DIR, DEFAULTS_DIR), stdin=yaml.safe_dump(minimal))
    # Only the secrets the minimal config names, copied inside the sandbox so
    # they never pass through this process. The bundled cost map avoids an
    # outbound fetch that cannot succeed here; it does not tune anything.
    in_sandbox("sh", "-c", "umask 077 && { grep -E '^(%s)=' /etc/litellm/litellm.env; "
               "echo LITELLM_LOCAL_MODEL_COST_MAP=True; } > %s/env" % ("|".join(names), DEFAULTS_DIR))
    in_sandbox("systemctl", "reset-failed", DEFAULTS_UNIT, check=False)
    in_sandbox("systemd-run", "--unit=" + DEFAULTS_UNIT, "--collect", "--property=User=litellm",
               "--property=Group=litellm", "--property=EnvironmentFile=%s/env" % DEFAULTS_DIR,
               "--property=WorkingDirectory=/var/lib/litellm", "--setenv=HOME=/var/lib/litellm",
               venv + "/bin/litellm", "--config", DEFAULTS_DIR + "/config.yaml",
               "--host", ADDRESS, "--port", str(DEFAULTS_PORT))


def stop_defaults():
    in_sandbox("systemctl", "stop", DEFAULTS_UNIT, check=False)
    in_sandbox("rm", "-rf", DEFAULTS_DIR, check=False)


def settings_in_effect(config, units):
    litellm_units = [unit for unit in units["gateway"] if unit.startswith("litellm")]
    unit_text = in_sandbox("systemctl", "cat", litellm_units[0], check=False) if litellm_units else ""
    workers = re.search(r"--num_workers[ =](\d+)", unit_text)
    log_level = in_sandbox("sh", "-c", "sed -n 's/^LITELLM_LOG=//p' /etc/litellm/litellm.env").strip().strip('"')
    router = config.get("router_settings", {})
    return ("%d LiteLLM instance(s) (%s worker(s) each) behind %s; LITELLM_LOG=%s; response cache %s; "
            "router Redis %s; routing %s; failover re-pick %s" % (
                len(litellm_units), workers.group(1) if workers else "1",
                "HAProxy" if "haproxy.service" in units["gateway"] else "no HAProxy", log_level or "unset",
                "on" if config.get("litellm_settings", {}).get("cache") else "off",
                "on" if router.get("redis_host") else "off", router.get("routing_strategy", "default"),
                "on" if router.get("enable_weighted_failover") else "off"))


def run_load(url, key, clients, seconds, requests, label):
    load = LoadRun(url, key=key, clients=clients, max_requests=requests, max_seconds=seconds, timeout=60,
                   label=label)
    load.run()
    return load


def measure(args, key, units):
    urls = {"A": DIRECT_URL, "B": "http://%s:%d" % (ADDRESS, DEFAULTS_PORT), "C": GATEWAY_URL}
    keys = {"A": None, "B": key, "C": key}
    own = {"A": [], "B": [DEFAULTS_UNIT], "C": units["gateway"]}
    pool = dict((target, {"one": [], "sixteen_ok": 0, "sixteen_s": 0.0, "cpu_gateway": 0, "cpu_backend": 0,
                          "failed": {}, "versions": set(), "p50_diffs": []}) for target in TARGETS)
    print("bench: warm-up (the first requests through LiteLLM take ~600 ms)", flush=True)
    for target in TARGETS:
        run_load(urls[target], keys[target], 4, 20, 80, "warm-%s" % target)
    for round_index in range(args.rounds):
        order = TARGETS[round_index % 3:] + TARGETS[:round_index % 3]
        p50s = {}
        for target in order:
            one = run_load(urls[target], keys[target], 1, args.seconds, 5000, "one-%s" % target)
            before = (cpu_ns(own[target]), cpu_ns(units["backend"]))
            many = run_load(urls[target], keys[target], 16, args.seconds, 50000, "many-%s" % target)
            after = (cpu_ns(own[target]), cpu_ns(units["backend"]))
            entry = pool[target]
            entry["one"].extend(one.records)
            many_report = many.summary()
            entry["sixteen_ok"] += many_report["ok"]
            entry["sixteen_s"] += many.duration
            entry["cpu_gateway"] += after[0] - before[0]
            entry["cpu_backend"] += after[1] - before[1]
            for report in (one.summary(), many_report):
                for kind, count in report["failed_by_class"].items():
                    entry["failed"][kind] = entry["failed"].get(kind, 0) + count
                entry["versions"].update(report["versions"])
            p50s[target] = one.summary()["latency_ms"]["p50"]
        for target in ("B", "C"):
            if p50s.get(target) is not None and p50s.get("A") is not None:
                pool[target]["p50_diffs"].append(p50s[target] - p50s["A"])
        print("bench: round %d/%d (%s) one-client p50 ms: %s" % (
            round_index + 1, args.rounds, "".join(order),
            ", ".join("%s %.1f" % (t, p50s[t] or 0) for t in TARGETS)), flush=True)
    return pool


def report(pool):
    direct = summarize(pool["A"]["one"])
    rows = {}
    for target in TARGETS:
        entry = pool[target]
        one = summarize(entry["one"])
        served = entry["sixteen_ok"]
        rows[target] = {
            "name": NAMES[target],
            "one_client_ms": one["latency_ms"],
            "overhead_vs_direct_ms": None if target == "A" else {
                "p50": round(one["latency_ms"]["p50"] - direct["latency_ms"]["p50"], 2),
                "p99": round(one["latency_ms"]["p99"] - direct["latency_ms"]["p99"], 2),
                "per_round_p50": [round(diff, 1) for diff in entry["p50_diffs"]]},
            "litellm_reported_overhead_ms": one["litellm_overhead_ms"],
            "rps_16_clients": round(served / entry["sixteen_s"], 1) if entry["sixteen_s"] else None,
            "gateway_cpu_ms_per_request": round(entry["cpu_gateway"] / 1e6 / served, 2) if served else None,
            "backend_cpu_ms_per_request": round(entry["cpu_backend"] / 1e6 / served, 2) if served else None,
            "failed": entry["failed"],
            "versions": sorted(entry["versions"]),
        }
    return rows


def fmt(value, pattern="%.1f"):
    return "-" if value is None else pattern % value


def print_table(rows, settings, load_before, load_after, args):
    print("\nGateway benchmark: %d rounds x %d s per target and concurrency, unique prompts, max_tokens 4" % (
        args.rounds, args.seconds))
    print("Measured on THIS machine: %d cores, load average %s before and %s after (the figures move with it)." % (
        os.cpu_count(), "/".join("%.2f" % value for value in load_before),
        "/".join("%.2f" % value for value in load_after)))
    print("Settings in effect (C): %s\n" % settings)
    print("| target | 1 client p50 / p99 ms | overhead vs A p50 / p99 ms | LiteLLM-reported p50 / p99 ms "
          "| 16 clients req/s | gateway CPU ms/req | llama-server CPU ms/req |")
    print("|---|---|---|---|---|---|---|")
    for target in TARGETS:
        row = rows[target]
        overhead = row["overhead_vs_direct_ms"]
        print("| %s %s | %s / %s | %s | %s / %s | %s | %s | %s |" % (
            target, row["name"], fmt(row["one_client_ms"]["p50"]), fmt(row["one_client_ms"]["p99"]),
            "-" if overhead is None else "%s / %s" % (fmt(overhead["p50"]), fmt(overhead["p99"])),
            fmt(row["litellm_reported_overhead_ms"]["p50"]), fmt(row["litellm_reported_overhead_ms"]["p99"]),
            fmt(row["rps_16_clients"]), "-" if target == "A" else fmt(row["gateway_cpu_ms_per_request"], "%.2f"),
            fmt(row["backend_cpu_ms_per_request"], "%.2f")))
    overhead = rows["C"]["overhead_vs_direct_ms"]["p50"]
    ratio = rows["C"]["rps_16_clients"] / rows["B"]["rps_16_clients"] if rows["B"]["rps_16_clients"] else None
    print("\ntarget: gateway overhead p50 at 1 client <= %.0f ms: %.1f ms (per round: %s) -> %s" % (
        OVERHEAD_TARGET_MS, overhead, rows["C"]["overhead_vs_direct_ms"]["per_round_p50"],
        "met" if overhead <= OVERHEAD_TARGET_MS else "NOT met"))
    print("target: gateway req/s at 16 clients >= %.1fx LiteLLM defaults: %s -> %s" % (
        THROUGHPUT_TARGET, fmt(ratio, "%.2fx"), "met" if ratio and ratio >= THROUGHPUT_TARGET else "NOT met"))
    print("(llama-server's CPU per request includes any busy-waiting for work, its --poll; gateway CPU is the units of the "
          "target: B its own process, C LiteLLM instances + HAProxy + Redis.)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=6.0, help="per target, concurrency and round")
    parser.add_argument("--no-converge", action="store_true", help="use the sandbox as it is")
    args = parser.parse_args(argv)
    start = time.monotonic()
    load_before = os.getloadavg()
    try:
        if not args.no_converge:
            converge_demo()
        with open(SECRETS) as handle:
            key = yaml.safe_load(handle)["vault_litellm_master_key"]
        config = deployed_config()
        units = managed_units()
        if not units["backend"] or not units["gateway"]:
            raise BenchError("the sandbox runs %s: no llama-server or no gateway; run `make demo` first" % units)
        probe = LoadRun(GATEWAY_URL, key=key, clients=1, max_requests=1, max_seconds=60, timeout=60)
        probe.run()
        versions = list(probe.summary()["versions"])
        if probe.summary()["failed"] or not versions:
            raise BenchError("the gateway at %s did not answer a completion: %s" % (GATEWAY_URL, probe.summary()))
        print("bench: starting LiteLLM %s with its defaults on %s:%d" % (versions[0], ADDRESS, DEFAULTS_PORT),
              flush=True)
        start_defaults(versions[0], config)
        try:
            print("bench: LiteLLM defaults ready after %.0f s" % wait_ready(
                "http://%s:%d/health/readiness" % (ADDRESS, DEFAULTS_PORT), 600, interval=2), flush=True)
            pool = measure(args, key, units)
        finally:
            stop_defaults()
        rows = report(pool)
        settings = settings_in_effect(config, units)
    except (BenchError, OSError, KeyError, subprocess.SubprocessError) as exc:
        print("bench-gateway: ERROR: %s" % exc, file=sys.stderr)
        return 1
    print_table(rows, settings, load_before, os.getloadavg(), args)
    os.makedirs(os.path.dirname(RESULT), exist_ok=True)
    with open(RESULT + ".tmp", "w") as handle:
        json.dump({"rows": rows, "settings": settings, "load_before": load_before, "load_after": os.getloadavg(),
                   "cores": os.cpu_count(), "rounds": args.rounds, "seconds": args.seconds}, handle, indent=1)
    os.replace(RESULT + ".tmp", RESULT)
    print("\nbench: %s; took %.0f s" % (RESULT, time.monotonic() - start))
    failed = dict((target, rows[target]["failed"]) for target in TARGETS if rows[target]["failed"])
    if failed:
        print("bench-gateway: ERROR: requests failed: %s" % failed, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
