# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""NVIDIA GPU facts and the vLLM GPU-memory budget, as plain Python.

Two halves, both free of Ansible so they are tested directly against recorded
``nvidia-smi`` output (tests/unit/gpu):

* ``collect_gpu_facts(run)`` runs ``nvidia-smi`` through a caller-supplied
  ``run(argv) -> (rc, stdout, stderr)`` and turns its CSV into a list of GPUs.
  A host without a driver, a broken driver or odd output gives an empty list
  and a reason; it never raises, because a CPU-only host is a normal host.
* ``check_budget(...)`` decides whether the vLLM instances of the registry fit
  on those GPUs: every assigned GPU exists, the summed
  ``gpu_memory_utilization`` per GPU stays under the ceiling, and the memory
  they will claim is free now (counting memory our own ``vllm@`` units hold,
  since the run restarts or stops those).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

NVIDIA_SMI = "nvidia-smi"

# The first query is the one the issue and the recorded H200 run use, field for
# field, so the recorded output is a valid fixture for it.
MAIN_FIELDS = ("index", "uuid", "name", "memory.total", "memory.used",
               "driver_version", "compute_cap")
# Second query, same row order as the first (nvidia-smi lists GPUs by index).
# Kept apart because old drivers lack mig.mode.current: losing it must not lose
# the GPU list.
EXTRA_FIELDS = ("mig.mode.current", "memory.free")
APP_FIELDS = ("pid", "gpu_uuid", "used_memory")
CSV_FORMAT = "--format=csv,noheader,nounits"

DEFAULT_CEILING = 0.95

# nvidia-smi prints these instead of a value when a field does not apply.
_NOT_AVAILABLE = ("[N/A]", "N/A", "[Not Supported]", "Not Supported", "[Unknown Error]", "")
_CUDA_VERSION = re.compile(r"CUDA Version:\s*([0-9]+(?:\.[0-9]+)*)")
# cgroup path of a process started by one of our template units.
_VLLM_UNIT = re.compile(r"/vllm@([A-Za-z0-9_.-]+)\.service(?:/|$)")


def query_argv(fields, kind="gpu"):
    return [NVIDIA_SMI, "--query-%s=%s" % (kind, ",".join(fields)), CSV_FORMAT]


def _value(text):
    text = text.strip()
    return None if text in _NOT_AVAILABLE else text


def _int(text):
    text = _value(text)
    if text is None:
        return None
    return int(float(text))


def _first_line(*texts):
    for text in texts:
        for line in (text or "").splitlines():
            if line.strip():
                return line.strip()
    return ""


def parse_csv(text, fields):
    """Rows of a ``--format=csv,noheader,nounits`` query as lists of strings.

    Raises ValueError when a row has the wrong number of columns: that is not
    output of this query (an error message on stdout, a changed format).
    """
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        # GPU names contain no commas; nvidia-smi separates with ", ".
        cells = [cell.strip() for cell in line.split(",")]
        if len(cells) != len(fields):
            raise ValueError("line %d has %d columns, expected %d (%s): %r" % (
                number, len(cells), len(fields), ",".join(fields), line.strip()))
        rows.append(cells)
    return rows


def parse_main(text):
    """The GPUs of the main query, memory in MiB."""
    gpus = []
    for row in parse_csv(text, MAIN_FIELDS):
        index, uuid, name, total, used, driver, cap = row
        gpus.append({
            "index": int(index),
            "uuid": _value(uuid),
            "name": _value(name),
            "memory_total_mib": _int(total),
            "memory_used_mib": _int(used),
            "memory_free_mib": None,
            "driver_version": _value(driver),
            "compute_capability": _value(cap),
            "mig_mode": None,
        })
    return gpus


def merge_extra(gpus, text):
    """Add MIG mode and free memory from the second query (same row order)."""
    rows = parse_csv(text, EXTRA_FIELDS)
    if len(rows) != len(gpus):
        raise ValueError("second query listed %d GPUs, the first %d" % (len(rows), len(gpus)))
    for gpu, (mig, free) in zip(gpus, rows):
        gpu["mig_mode"] = _value(mig)
        gpu["memory_free_mib"] = _int(free)


def parse_cuda_version(text):
    match = _CUDA_VERSION.search(text or "")
    return match.group(1) if match else None


def parse_apps(text):
    """Compute processes: pid, GPU uuid and the MiB each holds."""
    if "No running processes found" in (text or ""):
        return []
    apps = []
    for pid, uuid, used in parse_csv(text, APP_FIELDS):
        apps.append({"pid": int(pid), "gpu_uuid": _value(uuid), "used_memory_mib": _int(used)})
    return apps


def vllm_unit_of(cgroup_text):
    """Provider id when a process's /proc/PID/cgroup puts it in vllm@<id>.service."""
    for line in (cgroup_text or "").splitlines():
        match = _VLLM_UNIT.search(line)
        if match:
            return match.group(1)
    return None


def collect_gpu_facts(run, read_cgroup=None):
    """Ask nvidia-smi about the GPUs. Never raises.

    ``run(argv)`` returns ``(rc, stdout, stderr)``, or ``None`` when the binary
    is not installed. ``read_cgroup(pid)`` returns the text of
    /proc/PID/cgroup or None; it attributes GPU memory to our vllm@ units.
    Returns a dict: available, reason, gpus, cuda_version, driver_version,
    processes, warnings.
    """
    facts = {"available": False, "reason": "", "gpus": [], "cuda_version": None,
             "driver_version": None, "processes": [], "warnings": []}
    result = run(query_argv(MAIN_FIELDS))
    if result is None:
        facts["reason"] = ("nvidia-smi is not installed (not on PATH): no NVIDIA driver on this host")
        return facts
    rc, out, err = result
    if rc != 0:
        facts["reason"] = "nvidia-smi failed (rc=%d): %s" % (
            rc, _first_line(out, err) or "no output")
        return facts
    try:
        gpus = parse_main(out)
    except ValueError as exc:
        facts["reason"] = "unexpected nvidia-smi output: %s" % exc
        return facts
    if not gpus:
        facts["reason"] = "nvidia-smi lists no GPUs"
        return facts

    rc, out, err = run(query_argv(EXTRA_FIELDS))
    if rc == 0:
        try:
            merge_extra(gpus, out)
        except ValueError as exc:
            facts["warnings"].append("MIG mode and free memory unknown: %s" % exc)
    else:
        facts["warnings"].append("MIG mode and free memory unknown: nvidia-smi rc=%d: %s" % (
            rc, _first_line(out, err)))
    for gpu in gpus:
        # Old drivers: derive free memory rather than leave the budget blind.
        if gpu["memory_free_mib"] is None and None not in (gpu["memory_total_mib"], gpu["memory_used_mib"]):
            gpu["memory_free_mib"] = gpu["memory_total_mib"] - gpu["memory_used_mib"]

    rc, out, err = run([NVIDIA_SMI])
    if rc == 0:
        facts["cuda_version"] = parse_cuda_version(out)

    rc, out, err = run(query_argv(APP_FIELDS, kind="compute-apps"))
    if rc == 0:
        try:
            apps = parse_apps(out)
        except ValueError as exc:
            apps = []
            facts["warnings"].append("GPU processes unknown: %s" % exc)
        by_uuid = dict((gpu["uuid"], gpu["index"]) for gpu in gpus)
        for app in apps:
            app["gpu_index"] = by_uuid.get(app["gpu_uuid"])
            app["vllm_instance"] = vllm_unit_of(read_cgroup(app["pid"])) if read_cgroup else None
        facts["processes"] = apps

    facts["gpus"] = gpus
    facts["available"] = True
    facts["driver_version"] = gpus[0]["driver_version"]
    return facts


# ---------------------------------------------------------------- the budget

class GpuProblem:
    """One reason the vLLM instances do not fit: where, what, how to fix."""

    __slots__ = ("path", "value", "message", "hint")

    def __init__(self, path, value, message, hint):
        self.path = path
        self.value = value
        self.message = message
        self.hint = hint

    def render(self):
        return "ERROR: %s\n  value: %s\n  problem: %s\n  fix: %s" % (
            self.path, self.value, self.message, self.hint)

    def as_dict(self):
        return {"path": self.path, "value": self.value, "message": self.message, "hint": self.hint}


def vllm_instances(providers):
    """The enabled vLLM providers of a registry as budget instances, sorted by id."""
    instances = []
    for pid in sorted(providers or {}):
        spec = providers[pid] or {}
        if spec.get("type") != "vllm" or spec.get("enabled", True) is False:
            continue
        gpus = [int(g) for g in (spec.get("gpus") or [])]
        tp = int(spec.get("tensor_parallel_size") or len(gpus) or 1)
        instances.append({
            "id": pid,
            # No gpus: vLLM sees every GPU and uses the first tp of them.
            "gpus": gpus or list(range(tp)),
            "gpus_explicit": bool(gpus),
            "gpu_memory_utilization": float(spec.get("gpu_memory_utilization", 0.9)),
            "tensor_parallel_size": tp,
        })
    return instances


def _fmt_util(value):
    return ("%.4f" % value).rstrip("0").rstrip(".")


def _mib(value):
    return "%d MiB" % int(round(value))


def check_budget(facts, instances, ceiling=DEFAULT_CEILING, host="this host"):
    """Whether ``instances`` fit on the GPUs in ``facts`` (from collect_gpu_facts).

    Returns ``{"ok", "problems", "per_gpu", "report"}``; ``per_gpu`` holds the
    numbers for every GPU that hosts an instance, ok or not.
    """
    base = "host_vars[%s].ai_backend_providers" % host
    problems = []
    per_gpu = []
    if not instances:
        return _result(problems, per_gpu, host)

    if not facts.get("available") or not facts.get("gpus"):
        for inst in instances:
            problems.append(GpuProblem(
                "%s.%s" % (base, inst["id"]), "type: vllm, gpus: %s" % inst["gpus"],
                "vLLM needs an NVIDIA GPU, and %s has none usable (%s)" % (
                    host, facts.get("reason") or "no GPUs found"),
                "install the NVIDIA driver, or move this provider to a GPU host, or set "
                "enabled: false; Ollama and llama.cpp providers run on CPU"))
        return _result(problems, per_gpu, host)

    gpus = dict((gpu["index"], gpu) for gpu in facts["gpus"])
    held = {}  # gpu index -> MiB held now by our own vllm@ units
    for app in facts.get("processes") or []:
        if app.get("vllm_instance") and app.get("gpu_index") is not None and app.get("used_memory_mib"):
            held[app["gpu_index"]] = held.get(app["gpu_index"], 0) + app["used_memory_mib"]

    on_gpu = {}
    for inst in instances:
        path = "%s.%s.gpus" % (base, inst["id"])
        missing = [g for g in inst["gpus"] if g not in gpus]
        if missing:
            problems.append(GpuProblem(
                path, inst["gpus"],
                "GPU index %s does not exist on %s, which has %d GPU(s): %s" % (
                    ", ".join(str(g) for g in missing), host, len(gpus),
                    ", ".join("%d (%s)" % (i, gpus[i]["name"]) for i in sorted(gpus))),
                "use indices 0..%d as listed by nvidia-smi" % (len(gpus) - 1)))
        if inst["tensor_parallel_size"] > len(inst["gpus"]):
            problems.append(GpuProblem(
                "%s.%s.tensor_parallel_size" % (base, inst["id"]), inst["tensor_parallel_size"],
                "tensor_parallel_size %d needs as many GPUs, but gpus lists %d" % (
                    inst["tensor_parallel_size"], len(inst["gpus"])),
                "list %d GPUs under gpus or lower tensor_parallel_size" % inst["tensor_parallel_size"]))
        for index in inst["gpus"]:
            if index in gpus:
                on_gpu.setdefault(index, []).append(inst)

    for index in sorted(on_gpu):
        gpu, members = gpus[index], on_gpu[index]
        names = " + ".join("%s (%s)" % (m["id"], _fmt_util(m["gpu_memory_utilization"])) for m in members)
        ids = ", ".join(m["id"] for m in members)
        share = sum(m["gpu_memory_utilization"] for m in members)
        total = gpu["memory_total_mib"] or 0
        free = gpu["memory_free_mib"]
        mine = held.get(index, 0)
        need = share * total
        row = {"index": index, "name": gpu["name"], "instances": [m["id"] for m in members],
               "utilization_sum": round(share, 4), "ceiling": ceiling,
               "memory_total_mib": total, "memory_free_mib": free,
               "memory_held_by_vllm_mib": mine, "required_mib": int(round(need)),
               "available_mib": None if free is None else free + mine}
        per_gpu.append(row)
        label = "GPU %d (%s, %s)" % (index, gpu["name"], _mib(total))
        if gpu.get("mig_mode") == "Enabled":
            problems.append(GpuProblem(
                "%s.{%s}.gpus" % (base, ids), index,
                "%s is in MIG mode; vLLM instances here are pinned by GPU index, which "
                "does not address a MIG slice" % label,
                "disable MIG on it (nvidia-smi -i %d -mig 0, then reset the GPU) or pin "
                "the instances to a GPU without MIG" % index))
        if share > ceiling + 1e-9:
            problems.append(GpuProblem(
                "%s.{%s}.gpu_memory_utilization" % (base, ids), names,
                "%s: the instances on it request %s of its memory together, above the "
                "ceiling %s (ai_backend_gpu_memory_ceiling)" % (label, _fmt_util(share), _fmt_util(ceiling)),
                "lower gpu_memory_utilization so the sum is at most %s, or move an instance "
                "to another GPU" % _fmt_util(ceiling)))
        elif free is not None and need > free + mine:
            others = max(0, total - free - mine)
            problems.append(GpuProblem(
                "%s.{%s}.gpu_memory_utilization" % (base, ids), names,
                "%s: the instances on it need %s (%s x %s), but only %s are free now "
                "(%s free + %s held by our own vllm@ units, which this run restarts or "
                "stops); %s are used by other processes" % (
                    label, _mib(need), _fmt_util(share), _mib(total), _mib(free + mine),
                    _mib(free), _mib(mine), _mib(others)),
                "lower gpu_memory_utilization to at most %s in total, or free the GPU "
                "(nvidia-smi lists what holds it)" % _fmt_util((free + mine) / float(total) if total else 0)))
    return _result(problems, per_gpu, host)


def _result(problems, per_gpu, host):
    if problems:
        lines = ["GPU preflight on %s: %d problem(s)" % (host, len(problems))]
        for problem in problems:
            lines.append("")
            lines.append(problem.render())
        report = "\n".join(lines)
    else:
        report = "GPU preflight on %s: ok" % host
    return {"ok": not problems, "problems": [p.as_dict() for p in problems],
            "per_gpu": per_gpu, "report": report}
