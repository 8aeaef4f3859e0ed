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
  - Runs as an action plugin. Validation and rendering happen once, on the controller (which needs
    C(jsonschema) and C(PyYAML), see the collection's C(requirements.txt)); the target only receives the
    finished file.
  - Validation happens before anything is written. On any error the task fails with the full report
    (variable path, value, what is wrong, how to fix it) and writes nothing.
  - The file is written by M(ansible.builtin.copy) (atomic replace, owner, group and mode, check mode, diff),
    which keeps the previous version as a backup named C(<dest>.<pid>.<YYYY-MM-DD@HH:MM:SS>~).
  - Only backups with exactly that name are pruned beyond O(backups); other files next to O(dest)
    (for example C(config.yaml.mine~)) are never touched.
  - Reports C(changed) only when the bytes or the owner, group or mode differ.
author:
  - gathewhy.ai engineering (@gathewhy)
requirements:
  - jsonschema and PyYAML on the controller
extends_documentation_fragment:
  - action_common_attributes
  - action_common_attributes.files
  - action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: Validates, renders and computes the diff; writes nothing.
  diff_mode:
    support: full
    details: Shows the old and new config.
  platform:
    support: full
    platforms: posix
  safe_file_operations:
    support: full
  vault:
    support: none
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
  known:
    description:
      - What M(gathewhy.ai_backend.host_survey) found earlier in the play, that is its
        RV(gathewhy.ai_backend.host_survey#module:paths) and RV(gathewhy.ai_backend.host_survey#module:checksums),
        with O(dest) among them.
      - When they show O(dest) with the rendered bytes, O(owner), O(group) and O(mode), nothing is sent to the host.
    type: dict
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
  sample: /etc/litellm/config.yaml.2841.2026-11-27@12:00:00~
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
from_survey:
  description: Present and V(true) when O(known) showed O(dest) already as rendered, so nothing was sent to the host.
  returned: when O(known) showed it so
  type: bool
pruned_backups:
  description: Old backups of O(dest) removed because more than O(backups) were kept.
  returned: when any was removed
  type: list
  elements: str
  sample: [/etc/litellm/config.yaml.2841.2026-11-20@12:00:00~]
problems:
  description: On failure, every error and warning as a dict (code, severity, path, value, message, hint).
  returned: failure
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gathewhy.ai_backend.plugins.module_utils._litellm_config_spec import (
    ARGUMENT_SPEC, REQUIRED_IF)


def main():
    # The work is done by the action plugin of the same name (plugins/action/litellm_config.py);
    # this file is its documentation. Reaching it means the action plugin was bypassed.
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, required_if=REQUIRED_IF, supports_check_mode=True)
    module.fail_json(msg="gathewhy.ai_backend.litellm_config runs as an action plugin on the controller; "
                         "call it as a task, not as a raw module")


if __name__ == "__main__":
    main()
