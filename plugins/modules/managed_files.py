#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: managed_files
short_description: Put a role's directories and files in place in one run, and remove the files it no longer manages
version_added: 0.2.0
description:
  - Creates O(directories), writes O(files), removes leftovers under O(prune) and the O(absent) files, in that
    order, in one module run
    on the host. The roles use it where they would otherwise run M(ansible.builtin.file) once per directory and
    M(ansible.builtin.template) (a stat, then a copy or a file module) once per file, which on a rerun that
    changes nothing costs two module runs per file.
  - A file is written only when its bytes differ; owner, group and mode are corrected on their own otherwise.
  - Each write goes to a temp file in the destination's directory, gets its owner, group and mode, is checked
    with its O(files[].validate) command if it has one, and only then replaces the old file by a rename, after
    keeping a timestamped backup when O(files[].backups) asks for one. Backups beyond that number are pruned;
    other files next to the destination are never touched.
  - Stops at the first error and says which path and why; the files before it stay written, the failing one
    and those after it stay as they were.
  - Render templates on the controller with the P(ansible.builtin.template#lookup) lookup and pass the text as
    O(files[].content).
author:
  - gathewhy.ai engineering (@gathewhy)
extends_documentation_fragment:
  - action_common_attributes
  - action_common_attributes.flow
  - action_common_attributes.files
attributes:
  check_mode:
    support: full
    details: Reports what would change, with the diff; touches nothing and runs no validation.
  diff_mode:
    support: full
    details: Old and new content of each changed file; old and new owner, group and mode otherwise.
  action:
    support: full
    details: An action plugin decides from O(known) on the controller whether the module needs to run on the host.
  async:
    support: none
  bypass_host_loop:
    support: none
  platform:
    support: full
    platforms: posix
  safe_file_operations:
    support: full
  vault:
    support: none
options:
  directories:
    description: Directories to create (with missing parents, C(0755) and root-owned) and keep at these attributes.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: The directory.
        type: path
        required: true
      owner:
        description: Its owner (name or uid). Left as it is when unset.
        type: str
      group:
        description: Its group (name or gid). Left as it is when unset.
        type: str
      mode:
        description: Its mode, as an octal string such as V('0750'). Left as it is when unset.
        type: raw
  files:
    description: Files to write, in this order.
    type: list
    elements: dict
    default: []
    suboptions:
      dest:
        description: The file. Its directory must exist (list it in O(directories) to create it).
        type: path
        required: true
      content:
        description: The whole content.
        type: str
        required: true
      owner:
        description: Its owner (name or uid). Left as it is when unset.
        type: str
      group:
        description: Its group (name or gid). Left as it is when unset.
        type: str
      mode:
        description: Its mode, as an octal string such as V('0640'). A new file gets V('0644') when unset.
        type: raw
      validate:
        description:
          - A command that checks the new file before it replaces the old one; C(%s) stands for the new file's
            path. A non-zero exit refuses it and fails the task, naming the command and its output.
        type: str
      backups:
        description: How many earlier versions to keep next to it as C(<dest>.<UTC time>~) (V(0) keeps none).
        type: int
        default: 0
  prune:
    description:
      - Directories whose files matching O(prune[].patterns) are removed unless O(files) writes them. Use it for
        a directory the role owns alone, such as one file per scrape target.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: The directory. Nothing happens when it does not exist.
        type: path
        required: true
      patterns:
        description: Shell patterns of the file names to consider (subdirectories are never removed).
        type: list
        elements: str
        default: ['*']
  absent:
    description: Files (or links) to remove if they exist; a directory here is an error.
    type: list
    elements: path
    default: []
  known:
    description:
      - What M(gathewhy.ai_backend.host_survey) found on this host earlier in the play, that is its
        RV(gathewhy.ai_backend.host_survey#module:paths), RV(gathewhy.ai_backend.host_survey#module:globs) and
        RV(gathewhy.ai_backend.host_survey#module:checksums).
      - When it shows every directory and file already as asked (bytes by sha256, owner and group by name, mode), no
        O(absent) path present and nothing for O(prune) to remove, the task returns unchanged without running on
        the host. Anything it did not look at, or shows otherwise, is decided on the host as usual.
      - For O(prune), survey the globs C(<path>/<pattern>) for each pattern and C(<path>/.*).
    type: dict
notes:
  - Use C(no_log) on a task whose O(files[].content) holds secrets; its diff is then hidden too.
"""

EXAMPLES = r"""
- name: Write the config and the scrape targets in one run, dropping targets that are gone
  gathewhy.ai_backend.managed_files:
    directories:
      - {path: /etc/prometheus/file_sd, owner: root, group: root, mode: "0755"}
    files:
      - dest: /etc/prometheus/file_sd/redis.json
        content: "{{ [{'targets': ['127.0.0.1:9121']}] | to_nice_json }}\n"
        mode: "0644"
      - dest: /etc/prometheus/prometheus.yml
        content: "{{ lookup('ansible.builtin.template', 'prometheus.yml.j2') }}"
        owner: root
        group: prometheus
        mode: "0640"
        validate: promtool check config %s
        backups: 5
    prune:
      - path: /etc/prometheus/file_sd
        patterns: ["*.json"]
  notify: Reload prometheus
"""

RETURN = r"""
changed_paths:
  description: Every directory and file created, rewritten, corrected or removed.
  returned: always
  type: list
  elements: str
  sample: [/etc/prometheus/file_sd/redis.json]
files:
  description: One entry per O(files) item, in order.
  returned: always
  type: list
  elements: dict
  contains:
    dest:
      description: The file.
      type: str
    changed:
      description: Whether it was (or in check mode would be) written or corrected.
      type: bool
    backup_file:
      description: The backup made of the earlier version, if one was.
      type: str
directories:
  description: One entry per O(directories) item, C(path) and C(changed).
  returned: always
  type: list
  elements: dict
from_survey:
  description: Whether O(known) showed everything as asked, so the module did not run on the host.
  returned: always
  type: bool
removed:
  description: The files O(prune) and O(absent) removed (or in check mode would remove).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.gathewhy.ai_backend.plugins.module_utils import atomic
from ansible_collections.gathewhy.ai_backend.plugins.module_utils._managed_files import apply


def main():
    module = AnsibleModule(
        argument_spec=dict(
            directories=dict(type="list", elements="dict", default=[], options=dict(
                path=dict(type="path", required=True),
                owner=dict(type="str"),
                group=dict(type="str"),
                mode=dict(type="raw"),
            )),
            files=dict(type="list", elements="dict", default=[], options=dict(
                dest=dict(type="path", required=True),
                content=dict(type="str", required=True),
                owner=dict(type="str"),
                group=dict(type="str"),
                mode=dict(type="raw"),
                validate=dict(type="str"),
                backups=dict(type="int", default=0),
            )),
            prune=dict(type="list", elements="dict", default=[], options=dict(
                path=dict(type="path", required=True),
                patterns=dict(type="list", elements="str", default=["*"]),
            )),
            absent=dict(type="list", elements="path", default=[]),
            # Read by the action plugin on the controller, which never passes it on.
            known=dict(type="dict"),
        ),
        supports_check_mode=True,
    )

    def validate_with(command, tmp, dest):
        if "%s" not in command:
            raise atomic.WriteError("the validate command of %s must contain %%s (where the new file goes): %r"
                                    % (dest, command))
        rc, out, err = module.run_command(command % tmp)
        if rc != 0:
            raise atomic.WriteError("%s was refused by its validate command (%s, exit %d), so it was not replaced: %s"
                                    % (dest, command % tmp, rc, (err or out).strip()[-2000:]))

    try:
        result = apply(module.params["directories"], module.params["files"], module.params["prune"],
                       module.check_mode, validate_with, module.params["absent"])
    except atomic.WriteError as exc:
        module.fail_json(msg=to_native(exc))
    diff = result.pop("diff")
    if module._diff and diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
