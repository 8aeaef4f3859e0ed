"""The vLLM GPU-memory budget (module_utils/gpu.check_budget) on recorded GPUs."""
from ansible_collections.gathewhy.ai_backend.plugins.module_utils import gpu
from replay import runner


def facts(name, cgroups=None):
    return gpu.collect_gpu_facts(runner(name), read_cgroup=(cgroups or {}).get)


def vllm(gpus, util, **extra):
    spec = {"type": "vllm", "port": 8001, "gpus": gpus, "gpu_memory_utilization": util,
            "models": [{"name": "m"}]}
    spec.update(extra)
    return spec


def test_two_instances_sharing_a_gpu_fit():
    providers = {"a": vllm([0], 0.45), "b": vllm([0], 0.45), "c": vllm([1], 0.9)}
    result = gpu.check_budget(facts("h100x2-synthetic"), gpu.vllm_instances(providers), host="gpu1")
    assert result["ok"] is True, result["report"]
    assert result["report"] == "GPU preflight on gpu1: ok"
    assert [(r["index"], r["instances"], r["utilization_sum"]) for r in result["per_gpu"]] == [
        (0, ["a", "b"], 0.9), (1, ["c"], 0.9)]
    assert result["per_gpu"][0]["required_mib"] == round(0.9 * 81559)
    assert result["per_gpu"][0]["available_mib"] == 81038


def test_sum_above_ceiling_names_instances_and_numbers():
    providers = {"coder": vllm([0], 0.6), "chat": vllm([0], 0.6)}
    result = gpu.check_budget(facts("h200-recorded-2026-11-27"), gpu.vllm_instances(providers), host="gpu1")
    assert result["ok"] is False
    [problem] = result["problems"]
    assert problem["path"] == "host_vars[gpu1].ai_backend_providers.{chat, coder}.gpu_memory_utilization"
    assert problem["value"] == "chat (0.6) + coder (0.6)"
    assert problem["message"] == ("GPU 0 (NVIDIA H200, 143771 MiB): the instances on it request 1.2 of its "
                                  "memory together, above the ceiling 0.95 (ai_backend_gpu_memory_ceiling)")
    assert "at most 0.95" in problem["hint"]
    assert "chat (0.6) + coder (0.6)" in result["report"]


def test_ceiling_is_configurable():
    providers = {"a": vllm([0], 0.5), "b": vllm([0], 0.45)}
    instances = gpu.vllm_instances(providers)
    assert gpu.check_budget(facts("h200-recorded-2026-11-27"), instances, ceiling=0.95)["ok"] is True
    result = gpu.check_budget(facts("h200-recorded-2026-11-27"), instances, ceiling=0.9)
    assert result["ok"] is False and "above the ceiling 0.9 " in result["problems"][0]["message"]


def test_free_memory_now_is_checked():
    # GPU 6 of the 8-GPU node has 40960 MiB used by someone else.
    providers = {"big": vllm([6], 0.9)}
    result = gpu.check_budget(facts("h100x8-synthetic"), gpu.vllm_instances(providers), host="node8")
    assert result["ok"] is False
    [problem] = result["problems"]
    assert problem["path"] == "host_vars[node8].ai_backend_providers.{big}.gpu_memory_utilization"
    need = round(0.9 * 81559)
    free = 81559 - 521 - 40960
    assert problem["message"] == (
        "GPU 6 (NVIDIA H100 80GB HBM3, 81559 MiB): the instances on it need %d MiB (0.9 x 81559 MiB), "
        "but only %d MiB are free now (%d MiB free + 0 MiB held by our own vllm@ units, which this run "
        "restarts or stops); %d MiB are used by other processes" % (need, free, free, 81559 - free))
    assert problem["hint"].startswith("lower gpu_memory_utilization to at most 0.49")


def test_rerun_counts_memory_held_by_our_own_instances():
    providers = {"coder_a": vllm([0], 0.45), "coder_b": vllm([0], 0.45)}
    instances = gpu.vllm_instances(providers)
    ours = {1001: "0::/system.slice/system-vllm.slice/vllm@coder_a.service\n",
            1002: "0::/system.slice/system-vllm.slice/vllm@coder_b.service\n"}
    # Only 7638 MiB free now, but 73400 of the used memory is our two instances.
    result = gpu.check_budget(facts("h100x2-own-instances-synthetic", ours), instances)
    assert result["ok"] is True, result["report"]
    assert result["per_gpu"][0]["memory_held_by_vllm_mib"] == 73400
    assert result["per_gpu"][0]["available_mib"] == 7638 + 73400
    # The same memory held by processes that are not ours: it does not fit.
    strangers = gpu.check_budget(facts("h100x2-own-instances-synthetic"), instances)
    assert strangers["ok"] is False
    assert "only 7638 MiB are free now" in strangers["problems"][0]["message"]


def test_memory_of_other_processes_is_not_reclaimed():
    providers = {"x": vllm([1], 0.9)}
    ours = {1001: "0::/system.slice/system-vllm.slice/vllm@coder_a.service\n"}
    result = gpu.check_budget(facts("h100x2-own-instances-synthetic", ours), gpu.vllm_instances(providers))
    assert result["ok"] is False
    assert "20521 MiB are used by other processes" in result["problems"][0]["message"]


def test_missing_gpu_index():
    result = gpu.check_budget(facts("h200-recorded-2026-11-27"), gpu.vllm_instances({"tp2": vllm([0, 1], 0.8)}),
                              host="gpu1")
    assert result["ok"] is False
    assert result["problems"][0]["path"] == "host_vars[gpu1].ai_backend_providers.tp2.gpus"
    assert result["problems"][0]["message"] == (
        "GPU index 1 does not exist on gpu1, which has 1 GPU(s): 0 (NVIDIA H200)")


def test_tensor_parallel_needs_as_many_gpus():
    providers = {"tp": vllm([0], 0.5, tensor_parallel_size=2)}
    result = gpu.check_budget(facts("h100x2-synthetic"), gpu.vllm_instances(providers))
    assert [p["path"].rsplit(".", 1)[1] for p in result["problems"]] == ["tensor_parallel_size"]


def test_mig_gpu_is_refused():
    result = gpu.check_budget(facts("a100x2-mig-synthetic"), gpu.vllm_instances({"m": vllm([0], 0.5)}))
    assert result["ok"] is False
    assert "is in MIG mode" in result["problems"][0]["message"]
    assert gpu.check_budget(facts("a100x2-mig-synthetic"), gpu.vllm_instances({"m": vllm([1], 0.5)}))["ok"]


def test_no_gpu_host_fails_vllm_but_not_cpu_backends():
    no_driver = gpu.collect_gpu_facts(lambda argv: None)
    cpu_only = {"ollama_main": {"type": "ollama", "port": 11434},
                "llama_tiny": {"type": "llama_cpp", "port": 8080}}
    assert gpu.check_budget(no_driver, gpu.vllm_instances(cpu_only))["ok"] is True
    providers = dict(cpu_only, coder=vllm([0], 0.5))
    result = gpu.check_budget(no_driver, gpu.vllm_instances(providers), host="cpu1")
    assert result["ok"] is False
    [problem] = result["problems"]
    assert problem["path"] == "host_vars[cpu1].ai_backend_providers.coder"
    assert problem["message"] == ("vLLM needs an NVIDIA GPU, and cpu1 has none usable (nvidia-smi is not "
                                  "installed (not on PATH): no NVIDIA driver on this host)")
    assert "Ollama and llama.cpp providers run on CPU" in problem["hint"]


def test_driver_error_fails_vllm_with_the_driver_message():
    result = gpu.check_budget(facts("driver-error"), gpu.vllm_instances({"c": vllm([0], 0.5)}))
    assert "couldn't communicate with the NVIDIA driver" in result["problems"][0]["message"]


def test_disabled_and_foreign_providers_are_ignored():
    providers = {"off": vllm([0], 0.9, enabled=False), "on": vllm([0], 0.5),
                 "cloud": {"type": "ollama_cloud", "base_url": "https://ollama.com"}}
    instances = gpu.vllm_instances(providers)
    assert [i["id"] for i in instances] == ["on"]
    assert gpu.check_budget(facts("h200-recorded-2026-11-27"), instances)["ok"] is True


def test_instance_without_gpus_uses_the_first_tp_gpus():
    [inst] = gpu.vllm_instances({"solo": {"type": "vllm", "port": 1, "gpu_memory_utilization": 0.5,
                                          "tensor_parallel_size": 2}})
    assert inst["gpus"] == [0, 1] and inst["gpus_explicit"] is False
