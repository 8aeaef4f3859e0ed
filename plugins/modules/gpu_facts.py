#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: gpu_facts
short_description: Gather NVIDIA GPU facts and check the vLLM GPU-memory budget
version_added: 0.1.0
description:
  - Runs C(nvidia-smi --query-gpu=index,uuid,name,memory.total,memory.used,driver_version,compute_cap
    --format=csv,noheader,nounits), then a second query for C(mig.mode.current,memory.free), plain
    C(nvidia-smi) for the CUDA version, and C(--query-compute-apps) for the memory each process holds.
  - Returns the GPUs with their memory in MiB.
  - On a host without an NVIDIA driver, or where the driver does not answer, returns an empty
    RV(gpus) list and a RV(reason). It never fails for that, since CPU-only hosts are normal.
  - When O(providers) is given, also checks that the enabled vLLM providers fit on the GPUs
    (assigned GPUs exist, summed C(gpu_memory_utilization) per GPU at most O(memory_ceiling),
    and the memory they need is free now, counting memory held by our own C(vllm@) units).
    The verdict is returned in RV(budget); the module does not fail on it, so the calling
    role decides what to do.
author:
  - gathewhy.ai engineering (@gathewhy)
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: The module only reads; it runs the same in check mode.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in diff mode).
    support: none
  platform:
    description: Target OS/families that can be operated against.
    platforms: posix
    support: full
    details: Needs C(nvidia-smi) from the NVIDIA driver for a non-empty result.
options:
  providers:
    description:
      - The registry's C(ai_backend_providers) mapping. Providers of type C(vllm) that are
        enabled are checked against the GPUs. Other types are ignored.
      - Omit it to gather facts only.
    type: dict
  memory_ceiling:
    description:
      - Highest allowed sum of C(gpu_memory_utilization) of the vLLM instances on one GPU.
      - Usually C(ai_backend_gpu_memory_ceiling).
    type: float
    default: 0.95
  host:
    description:
      - Name of the host in messages and variable paths, usually C(inventory_hostname).
    type: str
    default: this host
  nvidia_smi:
    description:
      - Path of the C(nvidia-smi) binary. Default is to look it up on E(PATH).
    type: path
notes:
  - Memory held by our own vLLM instances is found by matching each GPU process's cgroup to
    C(vllm@<provider>.service). Inside a container whose PID namespace differs from the
    host's, C(nvidia-smi) reports host PIDs and that match finds nothing, so the budget is
    stricter there.
seealso:
  - name: nvidia-smi documentation
    description: The query fields used here.
    link: https://docs.nvidia.com/deploy/nvidia-smi/index.html
"""

EXAMPLES = r"""
- name: Gather GPU facts
  gathewhy.ai_backend.gpu_facts:
  register: __gpu

- name: Show the GPUs
  ansible.builtin.debug:
    msg: "{{ __gpu.gpus | map(attribute='name') | list }} (reason if none: {{ __gpu.reason }})"

- name: Check that the vLLM instances fit on the GPUs
  gathewhy.ai_backend.gpu_facts:
    providers: "{{ ai_backend_providers }}"
    memory_ceiling: "{{ ai_backend_gpu_memory_ceiling | default(0.95) }}"
    host: "{{ inventory_hostname }}"
  register: __gpu_budget

- name: Stop when they do not
  ansible.builtin.assert:
    that: __gpu_budget.budget.ok
    fail_msg: "{{ __gpu_budget.budget.report }}"
"""

RETURN = r"""
available:
  description: Whether C(nvidia-smi) answered and listed at least one GPU.
  returned: always
  type: bool
  sample: true
reason:
  description: Why there are no GPUs; empty when there are.
  returned: always
  type: str
  sample: "nvidia-smi is not installed (not on PATH): no NVIDIA driver on this host"
gpus:
  description: One entry per GPU, ordered by index.
  returned: always
  type: list
  elements: dict
  contains:
    index:
      description: GPU index, as C(CUDA_VISIBLE_DEVICES) uses it.
      type: int
      sample: 0
    uuid:
      description: GPU UUID.
      type: str
      sample: GPU-c95b1b42-b56e-1eeb-ada7-84c948d3b020
    name:
      description: Product name.
      type: str
      sample: NVIDIA H200
    memory_total_mib:
      description: Total memory in MiB.
      type: int
      sample: 143771
    memory_used_mib:
      description: Memory in use in MiB.
      type: int
      sample: 0
    memory_free_mib:
      description: Free memory in MiB; derived from total and used on drivers without C(memory.free).
      type: int
      sample: 143156
    driver_version:
      description: NVIDIA driver version.
      type: str
      sample: 580.159.04
    compute_capability:
      description: CUDA compute capability.
      type: str
      sample: "9.0"
    mig_mode:
      description: C(Enabled), C(Disabled), or null where MIG does not apply.
      type: str
      sample: Disabled
  sample:
    - index: 0
      uuid: GPU-c95b1b42-b56e-1eeb-ada7-84c948d3b020
      name: NVIDIA H200
      memory_total_mib: 143771
      memory_used_mib: 0
      memory_free_mib: 143156
      driver_version: 580.159.04
      compute_capability: "9.0"
      mig_mode: Disabled
driver_version:
  description: Driver version of the first GPU, or null.
  returned: always
  type: str
  sample: 580.159.04
cuda_version:
  description: Highest CUDA version the driver supports, from the C(nvidia-smi) header, or null.
  returned: always
  type: str
  sample: "13.0"
processes:
  description:
    - GPU compute processes with the memory each holds.
    - C(vllm_instance) names our vLLM provider when the process belongs to C(vllm@<provider>.service).
  returned: always
  type: list
  elements: dict
  sample:
    - pid: 4242
      gpu_uuid: GPU-c95b1b42-b56e-1eeb-ada7-84c948d3b020
      gpu_index: 0
      used_memory_mib: 64000
      vllm_instance: vllm_coder
warnings_gpu:
  description: Parts of the facts that could not be read (for example MIG mode on an old driver).
  returned: always
  type: list
  elements: str
  sample: []
budget:
  description: Verdict on the vLLM instances of O(providers).
  returned: when O(providers) is given
  type: dict
  contains:
    ok:
      description: Whether every instance fits.
      type: bool
    problems:
      description: Each problem with the variable path, the value, what is wrong and how to fix it.
      type: list
      elements: dict
    per_gpu:
      description: The numbers per GPU that hosts an instance.
      type: list
      elements: dict
    report:
      description: Human-readable report of all problems, for a failure message.
      type: str
  sample:
    ok: false
    problems:
      - path: "host_vars[gpu1].ai_backend_providers.{a, b}.gpu_memory_utilization"
        value: "a (0.6) + b (0.6)"
        message: "GPU 0 (NVIDIA H200, 143771 MiB): the instances on it request 1.2 of its memory together, above the ceiling 0.95"
        hint: lower gpu_memory_utilization so the sum is at most 0.95, or move an instance to another GPU
    per_gpu: []
    report: "GPU preflight on gpu1: 1 problem(s) ..."
ansible_facts:
  description: The same facts under one name.
  returned: always
  type: dict
  contains:
    gathewhy_gpu:
      description:
        - RV(available), RV(reason), RV(gpus), RV(driver_version) and RV(cuda_version),
          and RV(budget) when O(providers) is given.
        - Roles read it as C(ansible_facts['gathewhy_gpu']) without registering a variable.
      type: dict
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gathewhy.ai_backend.plugins.module_utils.gpu import (
    NVIDIA_SMI,
    check_budget,
    collect_gpu_facts,
    vllm_instances,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            providers=dict(type="dict"),
            memory_ceiling=dict(type="float", default=0.95),
            host=dict(type="str", default="this host"),
            nvidia_smi=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    binary = module.params["nvidia_smi"]
    if binary is None:
        binary = module.get_bin_path(NVIDIA_SMI, required=False, opt_dirs=["/usr/bin", "/usr/local/bin"])
    elif not os.access(binary, os.X_OK):
        binary = None

    def run(argv):
        if binary is None:
            return None
        try:
            rc, out, err = module.run_command([binary] + list(argv[1:]), environ_update={"LC_ALL": "C"})
        except OSError as exc:
            return 127, "", str(exc)
        return rc, out, err

    def read_cgroup(pid):
        try:
            with open("/proc/%d/cgroup" % pid) as handle:
                return handle.read()
        except (IOError, OSError):
            return None

    facts = collect_gpu_facts(run, read_cgroup)
    result = dict(
        changed=False,
        available=facts["available"],
        reason=facts["reason"],
        gpus=facts["gpus"],
        driver_version=facts["driver_version"],
        cuda_version=facts["cuda_version"],
        processes=facts["processes"],
        warnings_gpu=facts["warnings"],
        ansible_facts=dict(gathewhy_gpu=dict(
            (key, facts[key]) for key in ("available", "reason", "gpus", "driver_version", "cuda_version"))),
    )
    ceiling = module.params["memory_ceiling"]
    if not 0 < ceiling <= 1:
        module.fail_json(msg="memory_ceiling must be above 0 and at most 1, got %s; it is "
                             "ai_backend_gpu_memory_ceiling, a fraction of each GPU's memory" % ceiling)
    if module.params["providers"] is not None:
        try:
            instances = vllm_instances(module.params["providers"])
        except (TypeError, ValueError, AttributeError) as exc:
            module.fail_json(msg="providers: a vLLM provider has a malformed gpus, tensor_parallel_size or "
                                 "gpu_memory_utilization (%s); run playbooks/validate.yml for the exact path" % exc)
        result["budget"] = check_budget(facts, instances, ceiling=ceiling, host=module.params["host"])
        result["ansible_facts"]["gathewhy_gpu"]["budget"] = result["budget"]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
