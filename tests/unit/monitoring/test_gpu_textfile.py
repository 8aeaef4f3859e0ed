# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The node_exporter role's GPU textfile script, driven through the nvidia-smi
stand-in: the real H200 recording, a synthetic telemetry recording, and a
broken driver. Every file it writes must parse with `promtool check metrics`."""

import os
import shutil
import stat
import subprocess
import sys

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SCRIPT = os.path.join(REPO, "roles", "node_exporter", "files", "ai_backend_gpu_metrics.py")
STANDIN = os.path.join(REPO, "tests", "standins", "nvidia-smi", "nvidia_smi_standin.py")
H200 = os.path.join(REPO, "tests", "unit", "gpu", "fixtures", "h200-recorded-2026-11-27.json")
TELEMETRY = os.path.join(os.path.dirname(__file__), "fixtures", "h200-telemetry-synthetic.json")
BROKEN = os.path.join(REPO, "tests", "unit", "gpu", "fixtures", "driver-error.json")


def fake_nvidia_smi(tmp_path, recording):
    path = tmp_path / "nvidia-smi"
    path.write_text('#!/bin/sh\nNVIDIA_SMI_STANDIN_RECORDING="%s" exec "%s" "%s" "$@"\n' % (recording, sys.executable, STANDIN))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def run_script(tmp_path, recording, *extra):
    out = tmp_path / "textfile" / "ai_backend_gpu.prom"
    out.parent.mkdir(exist_ok=True)
    done = subprocess.run([sys.executable, SCRIPT, "--output", str(out), "--nvidia-smi",
                           fake_nvidia_smi(tmp_path, recording)] + list(extra),
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return out, done.stderr


def samples(text):
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def promtool_accepts(text):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not installed: tests/harness/unit.sh installs Debian's prometheus package")
    done = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False)
    # Parses, and passes promtool's naming lint (units, _total, HELP on every metric).
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_recorded_h200_gives_memory_and_says_telemetry_is_missing(tmp_path):
    out, stderr = run_script(tmp_path, H200, "--budget", "0.9")
    text = out.read_text()
    got = samples(text)
    labels = 'gpu="0",uuid="GPU-c95b1b42-b56e-1eeb-ada7-84c948d3b020",name="NVIDIA H200"'
    assert got["ai_backend_gpu_memory_total_bytes{%s}" % labels] == 143771 * 1048576
    assert got["ai_backend_gpu_memory_used_bytes{%s}" % labels] == 0
    assert got['ai_backend_gpu_query_success{query="memory"}'] == 1
    # The recording has no telemetry query: reported as failed, nothing invented.
    assert got['ai_backend_gpu_query_success{query="telemetry"}'] == 0
    assert not any(name.startswith(("ai_backend_gpu_temperature", "ai_backend_gpu_power")) for name in got)
    assert got["ai_backend_gpu_memory_budget_ratio"] == 0.9
    assert "telemetry query: nvidia-smi stand-in: no recording" in stderr
    promtool_accepts(text)


def test_telemetry_odd_labels_and_not_available_values(tmp_path):
    out = run_script(tmp_path, TELEMETRY)[0]
    text = out.read_text(encoding="utf-8")
    got = samples(text)
    assert got['ai_backend_gpu_utilization_ratio{gpu="0"}'] == pytest.approx(0.87)
    assert got['ai_backend_gpu_temperature_celsius{gpu="0"}'] == 64
    assert got['ai_backend_gpu_power_watts{gpu="0"}'] == pytest.approx(612.45)
    # [N/A] is left out, not written as 0.
    assert 'ai_backend_gpu_power_watts{gpu="1"}' not in got
    assert got['ai_backend_gpu_temperature_celsius{gpu="1"}'] == 31
    # Quotes and backslashes in a label are escaped; non-ASCII is kept.
    assert 'uuid="GPU-0000000a-\\"odd\\"-name\\\\x",name="NVIDIA H200 \u00e9"' in text
    used = [v for k, v in got.items() if k.startswith('ai_backend_gpu_memory_used_bytes{gpu="0"')]
    assert used == [120000 * 1048576]
    assert "ai_backend_gpu_memory_budget_ratio" not in got
    promtool_accepts(text)


def test_a_broken_driver_replaces_old_values_with_failures(tmp_path):
    out = run_script(tmp_path, TELEMETRY)[0]
    assert "ai_backend_gpu_memory_used_bytes" in out.read_text()
    out, stderr = run_script(tmp_path, BROKEN)
    got = samples(out.read_text())
    assert got['ai_backend_gpu_query_success{query="memory"}'] == 0
    assert not any(name.startswith("ai_backend_gpu_memory_used") for name in got)
    assert "memory query" in stderr
    # Written by rename: no temporary file is left beside it.
    assert os.listdir(str(out.parent)) == ["ai_backend_gpu.prom"]


def test_a_missing_nvidia_smi_is_reported_in_the_file(tmp_path):
    out = tmp_path / "gpu.prom"
    done = subprocess.run([sys.executable, SCRIPT, "--output", str(out), "--nvidia-smi", str(tmp_path / "absent")],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "No such file" in done.stderr
    assert samples(out.read_text())['ai_backend_gpu_query_success{query="memory"}'] == 0
