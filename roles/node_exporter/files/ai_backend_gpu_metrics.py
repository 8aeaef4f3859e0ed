# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn nvidia-smi's CSV queries into a node_exporter textfile (.prom), atomically.

    ai_backend_gpu_metrics.py --output DIR/ai_backend_gpu.prom [--nvidia-smi PATH] [--budget RATIO]

Two queries, so that a driver that cannot report one group (power on some
boards, or the memory query alone on a recording) still reports the other:
memory (total, used) and telemetry (utilisation, temperature, power).
``ai_backend_gpu_query_success{query=...}`` says which answered; a value the
driver prints as [N/A] or [Not Supported] is left out, never written as 0.
The file is written to a temporary name in the same directory and renamed, so
node_exporter never reads half a file; the previous values never outlive a
failed query.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

MEMORY_QUERY = ["--query-gpu=index,uuid,name,memory.total,memory.used,driver_version,compute_cap",
                "--format=csv,noheader,nounits"]
TELEMETRY_QUERY = ["--query-gpu=index,utilization.gpu,temperature.gpu,power.draw", "--format=csv,noheader,nounits"]
MIB = 1048576
HELP = [
    ("ai_backend_gpu_memory_total_bytes", "GPU memory in all, from nvidia-smi memory.total."),
    ("ai_backend_gpu_memory_used_bytes", "GPU memory in use, from nvidia-smi memory.used."),
    ("ai_backend_gpu_utilization_ratio", "GPU utilisation over the driver's last sample period, 0 to 1."),
    ("ai_backend_gpu_temperature_celsius", "GPU core temperature."),
    ("ai_backend_gpu_power_watts", "GPU power draw."),
    ("ai_backend_gpu_memory_budget_ratio", "Share of each GPU's memory the registry lets this host's backends use."),
    ("ai_backend_gpu_query_success", "1 when the nvidia-smi query answered and parsed, else 0."),
    ("ai_backend_gpu_last_run_timestamp_seconds", "When this file was written."),
]


def escape(value):
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def number(text):
    """A float, or None for the driver's placeholders ([N/A], [Not Supported], ...)."""
    try:
        return float(text)
    except ValueError:
        return None


def run(nvidia_smi, args, timeout):
    try:
        done = subprocess.run([nvidia_smi] + args, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, str(exc)
    if done.returncode != 0:
        return None, (done.stderr or done.stdout).strip() or "exit %d" % done.returncode
    return [[cell.strip() for cell in line.split(",")] for line in done.stdout.splitlines() if line.strip()], ""


def memory_samples(rows):
    out = []
    for row in rows:
        if len(row) < 5 or not row[0].isdigit():
            raise ValueError("unexpected memory row: %r" % (row,))
        labels = 'gpu="%s",uuid="%s",name="%s"' % (row[0], escape(row[1]), escape(row[2]))
        for metric, cell in (("ai_backend_gpu_memory_total_bytes", row[3]), ("ai_backend_gpu_memory_used_bytes", row[4])):
            value = number(cell)
            if value is not None:
                out.append((metric, labels, value * MIB))
    return out


def telemetry_samples(rows):
    out = []
    for row in rows:
        if len(row) < 4 or not row[0].isdigit():
            raise ValueError("unexpected telemetry row: %r" % (row,))
        labels = 'gpu="%s"' % row[0]
        for metric, cell, scale in (("ai_backend_gpu_utilization_ratio", row[1], 0.01),
                                    ("ai_backend_gpu_temperature_celsius", row[2], 1.0),
                                    ("ai_backend_gpu_power_watts", row[3], 1.0)):
            value = number(cell)
            if value is not None:
                out.append((metric, labels, value * scale))
    return out


def collect(nvidia_smi, budget, timeout=20.0):
    """All samples and the problems met, as ([(metric, labels, value)], [message])."""
    samples, problems = [], []
    for name, query, parse in (("memory", MEMORY_QUERY, memory_samples), ("telemetry", TELEMETRY_QUERY, telemetry_samples)):
        rows, error = run(nvidia_smi, query, timeout)
        ok = 0
        if rows is not None:
            try:
                samples.extend(parse(rows))
                ok = 1
            except ValueError as exc:
                error = str(exc)
        if not ok:
            problems.append("%s query: %s" % (name, error))
        samples.append(("ai_backend_gpu_query_success", 'query="%s"' % name, ok))
    if budget is not None:
        samples.append(("ai_backend_gpu_memory_budget_ratio", "", budget))
    samples.append(("ai_backend_gpu_last_run_timestamp_seconds", "", time.time()))
    return samples, problems


def render(samples):
    lines = []
    for metric, text in HELP:
        rows = [(labels, value) for name, labels, value in samples if name == metric]
        if rows:
            lines += ["# HELP %s %s" % (metric, text), "# TYPE %s gauge" % metric]
            lines += ["%s%s %s" % (metric, "{%s}" % labels if labels else "", repr(float(value))) for labels, value in rows]
    return "\n".join(lines) + "\n"


def write_atomically(path, text):
    directory = os.path.dirname(os.path.abspath(path))
    handle, temp = tempfile.mkstemp(prefix=".ai_backend_gpu.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", required=True, help="the .prom file in node_exporter's textfile directory")
    parser.add_argument("--nvidia-smi", default="nvidia-smi")
    parser.add_argument("--budget", type=float, help="share of GPU memory the backends may use (0-1)")
    args = parser.parse_args(argv)
    samples, problems = collect(args.nvidia_smi, args.budget)
    write_atomically(args.output, render(samples))
    for problem in problems:
        sys.stderr.write("ai_backend_gpu_metrics: %s\n" % problem)
    # A failed query is reported in the file (query_success 0) for the alert;
    # the unit still succeeds so the timer keeps running.
    return 0


if __name__ == "__main__":
    sys.exit(main())
