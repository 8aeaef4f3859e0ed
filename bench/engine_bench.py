# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: validate + render registries of 100, 1,000 and 10,000 models.

Two kinds of registry, each with fallbacks on 20 % of the models:
  digits     model-00001 ... : names that differ in digits only (the easy case);
  realistic  bench/catalogue.py: families x sizes x tunes x quantisations x
             re-uploads, names within two edits of thousands of others -- the
             case that made the similar-names check quadratic.
For each it prints the engine's best-of-N wall and CPU time, its peak traced
memory (tracemalloc, a separate run so tracing does not distort the timing) and
the per-model time (linearity: it should stay flat). For the realistic kind it
also times `ansible-playbook playbooks/validate.yml -e ai_backend_render_dir=DIR`
on a generated inventory (1 gateway + 2 inference hosts, host_vars from the
catalogue), best of 3 with every run printed. Targets at 10,000 realistic
models: engine < 1 s on one core, validate.yml < 5 s.

    python bench/engine_bench.py [--no-playbook]
"""

from __future__ import print_function

import gc
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "unit", "engine"))
sys.path.insert(0, HERE)

from catalogue import catalogue  # noqa: E402
from engine_import import registry  # noqa: E402

SIZES = (100, 1000, 10000)
MODELS_PER_PROVIDER = 50
PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")


def _fallbacks(names):
    """Every 5th model (20 %) falls back to the next two."""
    count = len(names)
    return dict((names[i], [names[(i + 1) % count], names[(i + 2) % count]]) for i in range(0, count, 5))


def make_registry(models):
    """Digit-only names: two hosts sharing the load; ollama providers of 50 models each."""
    hosts = {"gw": {"ai_backend_listen_address": "127.0.0.1"}, "gpu1": {"ai_backend_listen_address": "127.0.1.1"}}
    names = ["model-%05d" % index for index in range(models)]
    for index in range(0, models, MODELS_PER_PROVIDER):
        host = hosts["gw" if (index // MODELS_PER_PROVIDER) % 2 == 0 else "gpu1"]
        chunk = names[index:index + MODELS_PER_PROVIDER]
        host.setdefault("ai_backend_providers", {})["ollama_%d" % (index // MODELS_PER_PROVIDER)] = {
            "type": "ollama", "port": 20000 + index // MODELS_PER_PROVIDER,
            "models": [{"name": name, "source": "%s:latest" % name, "rpm": 60, "tpm": 100000,
                        "context_length": 8192, "capabilities": ["chat"]} for name in chunk]}
    hosts["gw"]["ai_backend_routing"] = {"fallbacks": _fallbacks(names), "default_fallbacks": [names[-1]],
                                         "cache": {"enabled": True, "ttl": 300}}
    return hosts, "gw", None


def make_realistic(models):
    """Catalogue names: a gateway and two inference hosts; ollama providers of 50 models each."""
    entries = catalogue(models)
    hosts = {"gw": {"ai_backend_gateway": {"listen_address": "127.0.0.1", "port": 4000}},
             "gpu1": {"ai_backend_listen_address": "127.0.1.1"}, "gpu2": {"ai_backend_listen_address": "127.0.2.1"}}
    for index in range(0, models, MODELS_PER_PROVIDER):
        host = hosts["gpu1" if (index // MODELS_PER_PROVIDER) % 2 == 0 else "gpu2"]
        host.setdefault("ai_backend_providers", {})["ollama_%d" % (index // MODELS_PER_PROVIDER)] = {
            "type": "ollama", "port": 20000 + index // MODELS_PER_PROVIDER,
            "models": [{"name": entry["name"], "source": entry["ollama"], "rpm": 60, "context_length": 8192,
                        "capabilities": ["chat"]} for entry in entries[index:index + MODELS_PER_PROVIDER]]}
    names = [entry["name"] for entry in entries]
    hosts["gw"]["ai_backend_routing"] = {"fallbacks": _fallbacks(names), "default_fallbacks": [names[-1]],
                                         "cache": {"enabled": True, "ttl": 300}}
    return hosts, "gw", ["gpu1", "gpu2"]


def best_of(repeat, func, clock=time.perf_counter):
    best = None
    for dummy in range(repeat):
        gc.collect()
        start = clock()
        func()
        elapsed = clock() - start
        best = elapsed if best is None or elapsed < best else best
    return best


def pin_to_one_core():
    """The target is per core: run on one CPU so the scheduler cannot spread or migrate us."""
    if not hasattr(os, "sched_setaffinity"):
        return "unpinned"
    cpu = sorted(os.sched_getaffinity(0))[-1]
    os.sched_setaffinity(0, {cpu})
    return "pinned to CPU %d" % cpu


def write_inventory(root, hosts):
    """An inventory dir: hosts.yml with the two groups, host_vars per host, dummy vaulted secrets."""
    os.makedirs(os.path.join(root, "host_vars"))
    os.makedirs(os.path.join(root, "group_vars"))
    groups = {"all": {"children": {
        "ai_backend_gateway": {"hosts": {"gw": {"ansible_connection": "local"}}},
        "ai_backend_inference": {"hosts": dict((name, {"ansible_connection": "local"}) for name in hosts if name != "gw")},
    }}}
    with open(os.path.join(root, "hosts.yml"), "w") as handle:
        yaml.safe_dump(groups, handle)
    for name, variables in hosts.items():
        with open(os.path.join(root, "host_vars", "%s.yml" % name), "w") as handle:
            yaml.safe_dump(variables, handle, default_flow_style=False)
    with open(os.path.join(root, "group_vars", "all.yml"), "w") as handle:
        # Bench-only placeholders (validate.yml checks that they are set, not what they are).
        yaml.safe_dump({"litellm_master_key": "sk-bench-" + "0" * 40, "redis_password": "bench-" + "0" * 32}, handle)


def time_validate_playbook(hosts, repeat=3):
    """validate.yml with a render dir, `repeat` times on one inventory: (best wall s, its CPU s,
    whether every run rendered the gateway's file, every wall time). Best of N as for the engine:
    on a shared machine the slower runs mostly measure the neighbours; all runs are printed."""
    work = tempfile.mkdtemp(prefix="engine-bench-")
    try:
        inventory = os.path.join(work, "inventory")
        write_inventory(inventory, hosts)
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
                   ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".build", "collections"))
        runs, all_ok = [], True
        for attempt in range(repeat):
            render = os.path.join(work, "render-%d" % attempt)
            cmd = [PLAYBOOK, "-i", inventory, os.path.join(REPO, "playbooks", "validate.yml"),
                   "-e", "ai_backend_render_dir=%s" % render, "-e", "ansible_python_interpreter=%s" % sys.executable]
            start, children = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
            done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                                  env=env, check=False)
            elapsed = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            # CPU time as well as wall time: on a shared machine the wall time mostly measures the neighbours.
            cpu = (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
            ok = done.returncode == 0 and os.path.exists(os.path.join(render, "gw.litellm.yaml"))
            if not ok:
                print(done.stdout[-3000:])
            all_ok = all_ok and ok
            runs.append((elapsed, cpu))
        best = min(runs)
        return best[0], best[1], all_ok, [wall for wall, dummy in runs]
    finally:
        shutil.rmtree(work)


def bench_kind(label, make, playbook):
    print("\n%s names" % label)
    columns = ("models", "engine_s", "cpu_s", "peak_MiB", "us_per_model", "groups", "warnings", "validate_yml_s/cpu_s")
    print("%8s %10s %8s %10s %14s %8s %9s %21s" % columns)
    rows = []
    for size in SIZES:
        hosts, gateway, inference = make(size)
        repeat = 5 if size <= 1000 else 3
        holder = {}

        def engine():
            holder["result"] = registry.build_gateway_config(hosts, gateway_host=gateway, inference_hosts=inference)

        engine_s = best_of(repeat, engine)
        cpu_s = best_of(repeat, engine, clock=time.process_time)  # CPU time: less sensitive to a busy machine
        result = holder["result"]
        tracemalloc.start()
        engine()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert len(result.model_groups) == size
        playbook_s, playbook_cpu, playbook_ok, playbook_runs = (
            time_validate_playbook(hosts) if playbook else (None, None, None, None))
        rows.append((size, engine_s, cpu_s, playbook_s, playbook_cpu, playbook_ok, playbook_runs))
        shown = "-" if playbook_s is None else "%.2f/%.2f%s" % (
            playbook_s, playbook_cpu, "" if playbook_ok else " FAILED")
        print("%8d %10.4f %8.4f %10.2f %14.2f %8d %9d %21s" % (
            size, engine_s, cpu_s, peak / 1048576.0, engine_s / size * 1e6, len(result.model_groups),
            len(result.warnings), shown))
    small, large = rows[0], rows[-1]
    growth = (large[1] / large[0]) / (small[1] / small[0])
    print("per-model time, %d vs %d models: x%.2f (1.0 = perfectly linear)" % (large[0], small[0], growth))
    return large


def main():
    playbook = "--no-playbook" not in sys.argv and os.path.exists(PLAYBOOK)
    print("engine bench: validate + render (best of N), python %s, libyaml %s, %s, load average %s" % (
        sys.version.split()[0], yaml.__with_libyaml__, pin_to_one_core(),
        " ".join("%.2f" % x for x in os.getloadavg())))
    bench_kind("digit-only", make_registry, False)
    large = bench_kind("realistic (bench/catalogue.py)", make_realistic, playbook)
    size, engine_s, cpu_s, playbook_s, playbook_cpu, playbook_ok, playbook_runs = large
    print("\ntarget %d realistic models, engine < 1 s on one core: %s (%.3f s wall, %.3f s CPU, best of 3)" % (
        size, "PASS" if engine_s < 1.0 else "MISS", engine_s, cpu_s))
    if playbook_s is not None:
        print("target %d realistic models, validate.yml with a render dir < 5 s: %s (%.2f s wall, %.2f s CPU, "
              "best of %d; every run: %s s)" % (
                  size, "PASS" if playbook_ok and playbook_s < 5.0 else "MISS", playbook_s, playbook_cpu,
                  len(playbook_runs), ", ".join("%.2f" % wall for wall in playbook_runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
