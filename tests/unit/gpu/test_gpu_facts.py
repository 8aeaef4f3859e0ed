"""gpu_facts' parsing, against recorded nvidia-smi output (tests/unit/gpu/fixtures)."""
import json
import os
import subprocess
import sys

import pytest

from ansible_collections.gathewhy.ai_backend.plugins.module_utils import gpu
from replay import FIXTURES, load, runner

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
STANDIN = os.path.join(REPO, "tests", "standins", "nvidia-smi", "nvidia_smi_standin.py")


def test_recorded_h200_one_gpu():
    calls = []
    facts = gpu.collect_gpu_facts(runner("h200-recorded-2026-11-27", calls))
    assert facts["available"] is True
    assert facts["reason"] == ""
    assert facts["gpus"] == [{
        "index": 0,
        "uuid": "GPU-c95b1b42-b56e-1eeb-ada7-84c948d3b020",
        "name": "NVIDIA H200",
        "memory_total_mib": 143771,
        "memory_used_mib": 0,
        "memory_free_mib": 143156,
        "driver_version": "580.159.04",
        "compute_capability": "9.0",
        "mig_mode": "Disabled",
    }]
    assert facts["driver_version"] == "580.159.04"
    # The header was not recorded on that host: no CUDA version, no invention.
    assert facts["cuda_version"] is None
    assert facts["processes"] == []
    # The first call is exactly the query of the issue and of the recording.
    assert calls[0] == ["nvidia-smi", "--query-gpu=index,uuid,name,memory.total,memory.used,"
                        "driver_version,compute_cap", "--format=csv,noheader,nounits"]
    assert calls[1] == ["nvidia-smi", "--query-gpu=mig.mode.current,memory.free",
                        "--format=csv,noheader,nounits"]


def test_eight_gpus():
    facts = gpu.collect_gpu_facts(runner("h100x8-synthetic"), read_cgroup=lambda pid: None)
    assert facts["available"] is True
    assert [g["index"] for g in facts["gpus"]] == list(range(8))
    assert {g["name"] for g in facts["gpus"]} == {"NVIDIA H100 80GB HBM3"}
    assert all(g["memory_total_mib"] == 81559 for g in facts["gpus"])
    assert facts["gpus"][6]["memory_used_mib"] == 40960
    assert facts["gpus"][6]["memory_free_mib"] == 81559 - 521 - 40960
    assert facts["cuda_version"] == "12.8"
    assert len({g["uuid"] for g in facts["gpus"]}) == 8
    assert [(p["pid"], p["gpu_index"], p["used_memory_mib"], p["vllm_instance"]) for p in facts["processes"]] == [
        (3141, 2, 604, None), (2718, 6, 40952, None)]


def test_mig_mode():
    facts = gpu.collect_gpu_facts(runner("a100x2-mig-synthetic"))
    assert [g["mig_mode"] for g in facts["gpus"]] == ["Enabled", "Disabled"]
    assert facts["gpus"][0]["compute_capability"] == "8.0"
    assert facts["cuda_version"] == "12.4"


def test_driver_error_is_a_reason_not_a_failure():
    calls = []
    facts = gpu.collect_gpu_facts(runner("driver-error", calls))
    assert facts["available"] is False
    assert facts["gpus"] == []
    assert facts["reason"].startswith("nvidia-smi failed (rc=9): NVIDIA-SMI has failed because it "
                                      "couldn't communicate with the NVIDIA driver.")
    assert len(calls) == 1  # nothing else is asked of a broken driver


def test_no_driver_binary_absent():
    facts = gpu.collect_gpu_facts(lambda argv: None)
    assert facts == {"available": False, "gpus": [], "cuda_version": None, "driver_version": None,
                     "processes": [], "warnings": [],
                     "reason": "nvidia-smi is not installed (not on PATH): no NVIDIA driver on this host"}


def test_no_devices_found():
    facts = gpu.collect_gpu_facts(lambda argv: (6, "No devices were found\n", ""))
    assert facts["gpus"] == [] and facts["reason"] == "nvidia-smi failed (rc=6): No devices were found"


def test_garbage_output_gives_reason():
    facts = gpu.collect_gpu_facts(lambda argv: (0, "Field \"compute_cap\" is not a valid field to query.\n", ""))
    assert facts["available"] is False
    assert "unexpected nvidia-smi output: line 1 has 1 columns, expected 7" in facts["reason"]


def test_old_driver_without_mig_field_derives_free_memory():
    main = "0, GPU-x, Tesla V100-SXM2-16GB, 16160, 1000, 470.256.02, 7.0\n"

    def run(argv):
        if "--query-gpu=mig.mode.current,memory.free" in argv:
            return 2, 'Field "mig.mode.current" is not a valid field to query.\n', ""
        if len(argv) > 1 and argv[1].startswith("--query-gpu=index"):
            return 0, main, ""
        return 2, "", ""
    facts = gpu.collect_gpu_facts(run)
    assert facts["gpus"][0]["memory_free_mib"] == 15160
    assert facts["gpus"][0]["mig_mode"] is None
    assert facts["warnings"] and "MIG mode and free memory unknown" in facts["warnings"][0]


def test_not_available_values_become_none():
    rows = gpu.parse_main("0, GPU-y, Some GPU, 1024, [N/A], 1.0, [Not Supported]\n")
    assert rows[0]["memory_used_mib"] is None and rows[0]["compute_capability"] is None


def test_own_vllm_processes_are_attributed_by_cgroup():
    cgroups = {
        1001: "0::/system.slice/system-vllm.slice/vllm@coder_a.service\n",
        1002: "0::/system.slice/system-vllm.slice/vllm@coder_b.service/worker\n",
        2001: "0::/user.slice/user-1000.slice/session-3.scope\n",
    }
    facts = gpu.collect_gpu_facts(runner("h100x2-own-instances-synthetic"), read_cgroup=cgroups.get)
    assert [(p["pid"], p["gpu_index"], p["vllm_instance"]) for p in facts["processes"]] == [
        (1001, 0, "coder_a"), (1002, 0, "coder_b"), (2001, 1, None)]


@pytest.mark.parametrize("name", sorted(f[:-5] for f in os.listdir(FIXTURES) if f.endswith(".json")))
def test_every_fixture_states_its_provenance(name):
    recording = load(name)
    assert recording["provenance"]
    assert recording["recorded"] is ("-recorded-" in name)
    if not recording["recorded"]:
        assert "SYNTHETIC" in recording["provenance"]


@pytest.mark.parametrize("name", ["h200-recorded-2026-11-27", "h100x2-synthetic", "driver-error"])
def test_standin_replays_the_recording_exactly(name):
    recording = load(name)
    env = dict(os.environ, NVIDIA_SMI_STANDIN_RECORDING=os.path.join(FIXTURES, name + ".json"))
    for key, answer in recording["commands"].items():
        proc = subprocess.run([sys.executable, STANDIN] + key.split(), env=env,
                              capture_output=True, text=True, check=False)
        assert (proc.returncode, proc.stdout) == (answer["rc"], answer["stdout"])
    proc = subprocess.run([sys.executable, STANDIN, "--query-gpu=power.draw", "--format=csv"], env=env,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "no recording of `nvidia-smi --query-gpu=power.draw --format=csv`" in proc.stderr


def test_module_runs_through_ansible_with_the_standin(tmp_path):
    """The real module, run by ansible-core, with the stand-in as its nvidia-smi."""
    ansible = os.path.join(os.path.dirname(sys.executable), "ansible")
    providers = {"coder": {"type": "vllm", "port": 8001, "gpus": [1], "gpu_memory_utilization": 0.5,
                           "models": [{"name": "c"}]}}
    # The stand-in as an executable nvidia-smi, as the Molecule scenario installs it.
    binary = tmp_path / "nvidia-smi"
    binary.write_text("#!/bin/sh\nexec %s %s \"$@\"\n" % (sys.executable, STANDIN))
    binary.chmod(0o755)
    args = json.dumps({"nvidia_smi": str(binary), "providers": providers, "host": "gpu1"})
    env = dict(os.environ, NVIDIA_SMI_STANDIN_RECORDING=os.path.join(FIXTURES, "h100x2-synthetic.json"),
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".build", "collections"))
    proc = subprocess.run([ansible, "localhost", "-c", "local", "-i", "localhost,",
                           "-e", "ansible_python_interpreter=" + sys.executable, "-m",
                           "gathewhy.ai_backend.gpu_facts", "-a", args],
                          env=env, capture_output=True, text=True, check=False, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert result["changed"] is False
    assert [g["name"] for g in result["gpus"]] == ["NVIDIA H100 80GB HBM3"] * 2
    assert result["cuda_version"] == "12.8"
    assert result["budget"]["ok"] is True
    assert result["budget"]["per_gpu"][0]["index"] == 1
    assert result["budget"]["per_gpu"][0]["required_mib"] == round(0.5 * 81559)
    assert result["ansible_facts"]["gathewhy_gpu"]["available"] is True
