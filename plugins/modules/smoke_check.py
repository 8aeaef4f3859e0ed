#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: smoke_check
short_description: Check a gateway end to end from its host, one table row per check, in one run
version_added: 0.2.0
description:
  - From the gateway host, in this order, checks the gateway's C(/health/readiness), the health endpoint of each
    of O(backends), AUTH and PING to the shared Redis as O(redis.user), and one real chat completion per model
    group of O(models) through the gateway, with the response cache bypassed so a backend really answers.
  - Every check becomes one row of RV(rows), passed or failed; the module itself fails only on bad arguments,
    so a play can print the whole table and then fail on RV(passed).
  - Rows hold status codes, URLs, Redis's one-line reply, error messages and the first characters of each reply,
    never a header or a password. O(master_key) and O(redis.password) are kept out of the output and logs.
author:
  - gathewhy.ai engineering (@gathewhy)
extends_documentation_fragment:
  - action_common_attributes
attributes:
  check_mode:
    support: full
    details: Every check reads only, so it runs the same in check mode.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
options:
  label:
    description: How the rows name the host the checks run from, usually C(inventory_hostname).
    type: str
    required: true
  gateway_url:
    description: The gateway's base URL, without a trailing C(/).
    type: str
    required: true
  ca_path:
    description: A PEM file of the CA that verifies an C(https) O(gateway_url), instead of the system's.
    type: path
  master_key:
    description: The key the completions are sent with.
    type: str
    required: true
  backends:
    description:
      - Health endpoints to check, each as a row; C(200) passes. Each is an entry of the registry view's
        C(backends), of which C(host), C(id) and C(health_url) are read and any other key is ignored.
    type: list
    elements: dict
    default: []
  redis:
    description: The shared Redis and the ACL user the gateways log in as.
    type: dict
    required: true
    suboptions:
      host:
        description: Its address.
        type: str
        required: true
      port:
        description: Its port.
        type: int
        required: true
      user:
        description: The ACL user.
        type: str
        required: true
      password:
        description: That user's password.
        type: str
        required: true
      ca_path:
        description: A PEM file of the CA that verifies Redis's TLS certificate; without it the connection is plain TCP.
        type: path
  models:
    description: Model groups to ask for one completion each.
    type: list
    elements: str
    default: []
  request_timeout:
    description: Seconds the readiness and health requests may take.
    type: int
    default: 5
  completion_timeout:
    description: Seconds one completion may take.
    type: int
    default: 60
  excerpt_length:
    description: How many characters of each reply a row shows.
    type: int
    default: 24
"""

EXAMPLES = r"""
- name: Smoke-check this gateway
  gathewhy.ai_backend.smoke_check:
    label: "{{ inventory_hostname }}"
    gateway_url: http://127.0.0.1:4000
    master_key: "{{ litellm_master_key }}"
    backends:
      - {host: gpu1, id: llama_main, health_url: "http://10.0.0.5:8080/health"}
    redis: {host: 127.0.0.1, port: 6379, user: litellm, password: "{{ redis_password }}"}
    models: [llama3.1-8b, qwen-coder]
  register: smoke

- name: Fail when any check failed
  ansible.builtin.assert:
    that: smoke.passed
"""

RETURN = r"""
rows:
  description: One row per check, in the order above.
  returned: always
  type: list
  elements: dict
  sample: [{"result": "PASS", "check": "completion", "target": "gw1 llama3.1-8b", "detail": "reply \"Hello\""}]
  contains:
    result:
      description: V(PASS) or V(FAIL).
      type: str
    check:
      description: V(gateway), V(backend), V(redis) or V(completion).
      type: str
    target:
      description: The host the check ran from and what it checked.
      type: str
    detail:
      description: What answered, or why the check failed.
      type: str
passed:
  description: Whether every check passed.
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gathewhy.ai_backend.plugins.module_utils import _smoke as smoke
from ansible_collections.gathewhy.ai_backend.plugins.module_utils._http_ready import fetch


def main():
    module = AnsibleModule(
        argument_spec=dict(
            label=dict(type="str", required=True),
            gateway_url=dict(type="str", required=True),
            ca_path=dict(type="path"),
            master_key=dict(type="str", required=True, no_log=True),
            backends=dict(type="list", elements="dict", default=[]),
            redis=dict(type="dict", required=True, options=dict(
                host=dict(type="str", required=True),
                port=dict(type="int", required=True),
                user=dict(type="str", required=True),
                password=dict(type="str", required=True, no_log=True),
                ca_path=dict(type="path"),
            )),
            models=dict(type="list", elements="str", default=[]),
            request_timeout=dict(type="int", default=5),
            completion_timeout=dict(type="int", default=60),
            excerpt_length=dict(type="int", default=24),
        ),
        supports_check_mode=True,
    )
    params = module.params
    redis = params["redis"]

    def fetch_from_gateway(url, method, headers, body, timeout):
        # Only the gateway's own URLs are https with our CA; backends speak plain HTTP.
        ca_path = params["ca_path"] if url.startswith(params["gateway_url"]) else None
        return fetch(url, method=method, headers=headers, body=body, timeout=timeout, ca_path=ca_path)

    def ping():
        return smoke.redis_auth_ping(redis["host"], redis["port"], redis["user"], redis["password"],
                                     ca_path=redis["ca_path"])

    try:
        rows = smoke.run(params, fetch_from_gateway, ping)
    except smoke.SmokeArgumentError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, rows=rows, passed=all(entry["result"] == "PASS" for entry in rows))


if __name__ == "__main__":
    main()
