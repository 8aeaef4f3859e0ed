#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: litellm_config
short_description: Validate the ai_backend registry and write the LiteLLM proxy config
version_added: 0.1.0
description:
  - Validates the registry (the C(ai_backend_*) variables of every host) and renders the LiteLLM 1.108.7
    proxy config for one gateway.
  - Validation happens before anything is written. On any error the module fails with the full report
    (variable path, value, what is wrong, how to fix it) and writes nothing.
  - The file is replaced atomically (temporary file in the same directory, fsync, rename) with owner and mode
    set before the rename, and the previous version is kept as a timestamped backup.
  - Reports C(changed) only when the bytes or the owner, group or mode differ.
author:
  - gathewhy.ai engineering (@gathewhy)
attributes:
  check_mode:
    support: full
    description: Validates and computes the diff; writes nothing.
  diff_mode:
    support: full
    description: Shows the old and new config.
  platform:
    description: Runs on the host that receives the config.
    support: full
    platforms: posix
options:
  registry:
    description:
      - Mapping of inventory host name to that host's C(ai_backend_*) variables.
      - Build it with the P(gathewhy.ai_backend.registry_hosts#filter) filter.
    type: dict
    required: true
  gateway_host:
    description:
      - The host whose C(ai_backend_gateway), C(ai_backend_redis) and C(ai_backend_routing) are used.
      - Defaults to the first host of O(registry), sorted by name.
    type: str
  inference_hosts:
    description:
      - The hosts whose providers feed this gateway. Defaults to every host of O(registry).
    type: list
    elements: str
  dest:
    description:
      - Where to write the config. Required unless O(validate_only=true).
    type: path
  owner:
    description: Owner of O(dest).
    type: str
  group:
    description: Group of O(dest).
    type: str
  mode:
    description:
      - Mode of O(dest). Quote it as a string (V('0640')); an unquoted YAML octal number is taken as its value.
    type: raw
    default: '0640'
  backups:
    description: How many previous versions of O(dest) to keep (C(0) keeps none).
    type: int
    default: 10
  master_key:
    description:
      - Optional master key value to strength-check (must start with C(sk-) and have at least 32 characters).
      - Never written to O(dest); the config refers to the environment variable instead.
    type: str
  validate_only:
    description: Validate and render, but never write.
    type: bool
    default: false
notes:
  - The rendered config names secrets only as C(os.environ/NAME); their values belong in the LiteLLM
    EnvironmentFile.
"""

EXAMPLES = r"""
- name: Write the gateway config from the inventory registry
  gathewhy.ai_backend.litellm_config:
    registry: "{{ hostvars | gathewhy.ai_backend.registry_hosts(groups['all']) }}"
    gateway_host: "{{ inventory_hostname }}"
    inference_hosts: "{{ groups['ai_backend_inference'] | default(groups['all']) }}"
    dest: /etc/litellm/config.yaml
    owner: root
    group: litellm
    mode: '0640'
    master_key: "{{ litellm_master_key }}"
  notify: Restart litellm

- name: Only validate
  gathewhy.ai_backend.litellm_config:
    registry: "{{ hostvars | gathewhy.ai_backend.registry_hosts(groups['all']) }}"
    validate_only: true
"""

RETURN = r"""
dest:
  description: The config path.
  returned: when O(dest) is set
  type: str
  sample: /etc/litellm/config.yaml
backup_file:
  description: The backup of the previous version, when one was made.
  returned: changed and a previous version existed
  type: str
  sample: /etc/litellm/config.yaml.20261127T120000.000000~
registry_warnings:
  description: Registry warnings (one line each), also shown as Ansible warnings.
  returned: success
  type: list
  elements: str
  sample: ["host_vars[gw].ai_backend_providers.ollama_main.models[0].name: model 'x' has no fallback (fix: ...)"]
model_groups:
  description: The public model names the gateway serves, sorted.
  returned: success
  type: list
  elements: str
  sample: [llama3.1-8b, qwen-coder]
source_sha256:
  description: sha256 of the canonical source registry, also in the file's header.
  returned: success
  type: str
  sample: 3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b
problems:
  description: On failure, every error and warning as a dict (code, severity, path, value, message, hint).
  returned: failure
  type: list
  elements: dict
"""

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gathewhy.ai_backend.plugins.module_utils.atomic import WriteError, write_atomic
from ansible_collections.gathewhy.ai_backend.plugins.module_utils.registry import (
    RegistryError, build_gateway_config)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            registry=dict(type="dict", required=True),
            gateway_host=dict(type="str"),
            inference_hosts=dict(type="list", elements="str"),
            dest=dict(type="path"),
            owner=dict(type="str"),
            group=dict(type="str"),
            mode=dict(type="raw", default="0640"),
            backups=dict(type="int", default=10),
            master_key=dict(type="str", no_log=True),
            validate_only=dict(type="bool", default=False),
        ),
        required_if=[("validate_only", False, ("dest",))],
        supports_check_mode=True,
    )
    params = module.params
    try:
        result = build_gateway_config(params["registry"], gateway_host=params["gateway_host"],
                                      inference_hosts=params["inference_hosts"], master_key=params["master_key"])
    except RegistryError as err:
        module.fail_json(msg=str(err), problems=[p.as_dict() for p in list(err.problems) + list(err.warnings)])
    for warning in result.warnings:
        module.warn(warning)
    out = dict(changed=False, registry_warnings=result.warnings, model_groups=result.model_groups,
               source_sha256=result.source_sha256)
    if params["validate_only"]:
        module.exit_json(**out)
    out["dest"] = params["dest"]
    try:
        written = write_atomic(params["dest"], result.text.encode("utf-8"), owner=params["owner"],
                               group=params["group"], mode=params["mode"], backups=params["backups"],
                               check_mode=module.check_mode)
    except WriteError as err:
        module.fail_json(msg=str(err), **out)
    except OSError as err:  # anything the write helper did not foresee: still no raw traceback
        module.fail_json(msg="cannot write %s: %s" % (params["dest"], err), exception=traceback.format_exc(),
                         **out)
    out["changed"] = written["changed"]
    if written["backup_file"]:
        out["backup_file"] = written["backup_file"]
    if module._diff and written["changed"]:
        before = written["before"]
        out["diff"] = dict(before_header=params["dest"], after_header=params["dest"],
                           before=before.decode("utf-8", "replace") if before is not None else "",
                           after=result.text)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
