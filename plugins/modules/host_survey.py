#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: host_survey
short_description: Read systemd unit states, paths, small files, users and groups in one run
version_added: 0.2.0
description:
  - Answers, in one module run on the host and without changing anything, what a role reads before it
    decides what to do. The roles use it where they would otherwise run C(systemctl is-active) once per
    unit, M(ansible.builtin.slurp) once per file and M(ansible.builtin.find) or M(ansible.builtin.stat) once
    per path, or M(ansible.builtin.user) and M(ansible.builtin.group) only to find them as they should be,
    which on a rerun that changes nothing costs a module run per question.
  - The states of all O(units) come from one C(systemctl show), which needs systemd 248 or later.
  - O(globs) and O(read) take absolute shell globs; as in a shell, a C(*) does not match a name that starts with
    a dot. A final link is reported as a link, not followed, except by O(read).
author:
  - gathewhy.ai engineering (@gathewhy)
extends_documentation_fragment:
  - action_common_attributes
attributes:
  check_mode:
    support: full
    details: It only reads, so it answers the same in check mode.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
options:
  units:
    description: systemd units to report, such as V(litellm@1.service). A unit that does not exist is reported
      with O(units) RV(units.load_state=not-found).
    type: list
    elements: str
    default: []
  paths:
    description:
      - Absolute paths to look up, taken literally (a C(*) in one is a plain character). Each is reported in
        RV(paths) whether it exists or not.
    type: list
    elements: str
    default: []
  globs:
    description: Absolute shell globs. Each is reported in RV(globs) with everything it matches now.
    type: list
    elements: str
    default: []
  users:
    description: User names to look up in the account database.
    type: list
    elements: str
    default: []
  groups:
    description: Group names to look up in the group database.
    type: list
    elements: str
    default: []
  read:
    description:
      - Absolute paths or shell globs of small text files to read whole. Every regular file they match is
        returned in RV(contents); links are followed. A file over 1 MiB is an error.
    type: list
    elements: str
    default: []
  checksums:
    description:
      - Absolute paths, taken literally, whose sha256 is returned in RV(checksums). A link is not followed.
      - Only digests come back, never the text, so files with secrets can be compared this way; pass the result
        as O(gathewhy.ai_backend.managed_files#module:known) to skip writing files that are already right.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Read the instances' states and drop-ins before rolling them
  gathewhy.ai_backend.host_survey:
    units: [litellm@1.service, litellm@2.service]
    paths: [/etc/systemd/system/litellm.service]
    globs: [/opt/litellm/venvs/*]
    read:
      - /etc/systemd/system/litellm@*.service.d/10-instance.conf
  register: survey

- name: Restart an instance that is not running
  ansible.builtin.systemd_service:
    name: litellm@1.service
    state: restarted
  when: survey.units['litellm@1.service'].active_state != 'active'
"""

RETURN = r"""
units:
  description: Each of O(units), with its states as C(systemctl show) names them.
  returned: always
  type: dict
  sample: {"litellm@1.service": {"load_state": "loaded", "active_state": "active", "sub_state": "running",
           "unit_file_state": "enabled", "active_enter_timestamp": 1764580000}}
  contains:
    load_state:
      description: C(LoadState), for example V(loaded) or V(not-found).
      type: str
    active_state:
      description: C(ActiveState), for example V(active), V(inactive), V(failed) or V(activating).
      type: str
    sub_state:
      description: C(SubState), for example V(running) or V(dead).
      type: str
    unit_file_state:
      description: C(UnitFileState), for example V(enabled), V(disabled) or V('') for an unknown unit.
      type: str
    active_enter_timestamp:
      description: When it last became active, in seconds since the epoch; V(0) when it never did.
      type: int
paths:
  description: Each of O(paths), with what is there now; only C(path) and C(exists=false) when nothing is.
  returned: always
  type: dict
  sample: {"/etc/systemd/system/litellm.service": {"path": "/etc/systemd/system/litellm.service", "exists": false}}
  contains:
    exists:
      description: Whether anything (a link included, even a broken one) is at the path.
      type: bool
    type:
      description: V(file), V(directory), V(link), V(socket) or V(other), when it exists.
      type: str
    owner:
      description: Its owner's name (the uid when it has none), when it exists.
      type: str
    group:
      description: Its group's name (the gid when it has none), when it exists.
      type: str
    mode:
      description: Its permission bits as an octal string such as V('0644'), when it exists.
      type: str
    mtime:
      description: Its modification time, seconds since the epoch, when it exists.
      type: float
globs:
  description: Each of O(globs), with the sorted list of what it matches (empty when nothing does); each entry as
    in RV(paths), without C(exists).
  returned: always
  type: dict
  sample: {"/opt/litellm/venvs/*": [{"path": "/opt/litellm/venvs/1.108.7", "type": "directory", "owner": "root",
           "group": "root", "mode": "0755", "mtime": 1764580000.5}]}
users:
  description:
    - Each of O(users), with the keys of M(ansible.builtin.user)'s options, so a role can compare it with what it
      would ask for; only C(name) and C(exists=false) when there is no such user.
  returned: always
  type: dict
  sample: {"litellm": {"name": "litellm", "exists": true, "uid": 998, "group": "litellm", "home": "/var/lib/litellm",
           "shell": "/usr/sbin/nologin", "comment": "LiteLLM proxy"}}
groups:
  description: Each of O(groups), with C(exists) and, when it does, C(gid).
  returned: always
  type: dict
  sample: {"litellm": {"name": "litellm", "exists": true, "gid": 998}}
contents:
  description: The text of every regular file O(read) matched, by path (undecodable bytes replaced).
  returned: always
  type: dict
  sample: {"/etc/systemd/system/litellm@1.service.d/10-instance.conf": "[Service]\nEnvironment=PORT=4001\n"}
checksums:
  description: Each of O(checksums), with the sha256 of its bytes as hex, or V(null) when it is not a regular file.
  returned: always
  type: dict
  sample: {"/etc/litellm/litellm.env": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.gathewhy.ai_backend.plugins.module_utils import _host_survey as survey


def main():
    module = AnsibleModule(
        argument_spec=dict(
            units=dict(type="list", elements="str", default=[]),
            paths=dict(type="list", elements="str", default=[]),
            globs=dict(type="list", elements="str", default=[]),
            read=dict(type="list", elements="str", default=[]),
            users=dict(type="list", elements="str", default=[]),
            groups=dict(type="list", elements="str", default=[]),
            checksums=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    units = module.params["units"]
    result = dict(changed=False, units={}, paths={}, globs={}, contents={}, users={}, groups={}, checksums={})
    try:
        if units:
            systemctl = module.get_bin_path("systemctl", required=True)
            command = survey.show_command(units)
            command[0] = systemctl
            rc, out, err = module.run_command(command)
            if rc != 0:
                module.fail_json(msg="`%s` failed (exit %d): %s" % (" ".join(command), rc, (err or out).strip()),
                                 **result)
            result["units"] = survey.parse_show(units, out)
        result["paths"] = survey.survey_paths(module.params["paths"])
        result["globs"] = survey.survey_globs(module.params["globs"])
        result["contents"] = survey.read_files(module.params["read"])
        result["users"] = survey.survey_users(module.params["users"])
        result["groups"] = survey.survey_groups(module.params["groups"])
        result["checksums"] = survey.checksum_files(module.params["checksums"])
    except survey.SurveyError as exc:
        module.fail_json(msg=to_native(exc), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
