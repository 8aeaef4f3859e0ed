#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: http_ready
short_description: Wait until several HTTP endpoints answer as expected, in one run
version_added: 0.2.0
description:
  - Sends a C(GET) to each of O(checks), in order, from the host, and retries each every O(delay) seconds until
    it answers as expected or its O(checks[].timeout) is up; the next check starts when one passes.
  - The roles use it for health gates that would otherwise be one M(ansible.builtin.uri) task with C(until) per
    endpoint, which on a rerun where everything already answers costs a module run per endpoint.
  - Fails at the first check that never passes, with its URL, the number of attempts and the last answer.
author:
  - gathewhy.ai engineering (@gathewhy)
extends_documentation_fragment:
  - action_common_attributes
attributes:
  check_mode:
    support: full
    details: It only sends C(GET) requests, so it runs the same in check mode.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
options:
  checks:
    description: The endpoints, checked in this order.
    type: list
    elements: dict
    required: true
    suboptions:
      url:
        description: The URL to C(GET).
        type: str
        required: true
      headers:
        description:
          - Request headers, such as C(Authorization). Their values are kept out of the output and the logs, so the
            task needs no C(no_log) and its failure message stays readable.
        type: dict
        default: {}
      status_code:
        description: The statuses that count as an answer.
        type: list
        elements: int
        default: [200]
      models:
        description:
          - Model ids the answer must list. The body is then read as an OpenAI model list (C({"data":[{"id":...}]}),
            the answer of C(/v1/models)) and the check passes only when every one of these is in it.
        type: list
        elements: str
        default: []
      timeout:
        description: Seconds to keep trying this check, counted from when the check before it passed.
        type: int
        default: 60
  delay:
    description: Seconds between two attempts of a check.
    type: int
    default: 3
  request_timeout:
    description: Seconds one request may take before it counts as no answer.
    type: int
    default: 10
  ca_path:
    description: A PEM file of the CA to verify an C(https) URL with, instead of the system's.
    type: path
  validate_certs:
    description: Whether to verify the certificate of an C(https) URL.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Wait until the gateway is ready, lists its models and reaches Redis
  gathewhy.ai_backend.http_ready:
    checks:
      - url: http://127.0.0.1:4000/health/readiness
        timeout: 180
      - url: http://127.0.0.1:4000/v1/models
        headers: {Authorization: "Bearer {{ litellm_master_key }}"}
        models: [llama-3.1-8b-instruct, qwen2.5-coder-7b]
        timeout: 30
      - url: http://127.0.0.1:4000/cache/ping
        headers: {Authorization: "Bearer {{ litellm_master_key }}"}
        timeout: 30
"""

RETURN = r"""
checks:
  description: One entry per check that ran, in order; the ones after a failed check did not run.
  returned: always
  type: list
  elements: dict
  contains:
    url:
      description: The URL.
      type: str
    passed:
      description: Whether it answered as expected.
      type: bool
    attempts:
      description: How many requests were sent.
      type: int
    elapsed:
      description: Seconds from its first attempt to its last answer.
      type: float
    reason:
      description: Why its last answer did not count, when it did not pass.
      type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gathewhy.ai_backend.plugins.module_utils._http_ready import fetch, wait_for_all


def main():
    module = AnsibleModule(
        argument_spec=dict(
            checks=dict(type="list", elements="dict", required=True, options=dict(
                url=dict(type="str", required=True),
                headers=dict(type="dict", default={}, no_log=True),
                status_code=dict(type="list", elements="int", default=[200]),
                models=dict(type="list", elements="str", default=[]),
                timeout=dict(type="int", default=60),
            )),
            delay=dict(type="int", default=3),
            request_timeout=dict(type="int", default=10),
            ca_path=dict(type="path"),
            validate_certs=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    params = module.params

    def fetch_check(check):
        # Refused, reset, timed out, TLS or DNS: all mean no answer yet, and are retried.
        return fetch(check["url"], headers=check["headers"], timeout=params["request_timeout"],
                     ca_path=params["ca_path"], validate_certs=params["validate_certs"])

    results, failure = wait_for_all(params["checks"], fetch_check, params["delay"])
    if failure:
        module.fail_json(msg=failure, checks=results)
    module.exit_json(changed=False, checks=results)


if __name__ == "__main__":
    main()
