# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validate the registry and render the LiteLLM config on the controller; write it with copy.

The registry engine (jsonschema, PyYAML) runs once, here, on the controller:
the target gets the finished text through ansible.builtin.copy, which does the
atomic write, owner/group/mode, check mode, diff and the backup. The only part
that is ours on the target is pruning old backups, and it deletes nothing but
files whose names are exactly copy's backup names for this dest.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import shutil
import tempfile

from ansible import constants as C
from ansible.module_utils.common.text.converters import to_bytes
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.gathewhy.ai_backend.plugins.module_utils._litellm_config_spec import (
    ARGUMENT_SPEC, REQUIRED_IF)
from ansible_collections.gathewhy.ai_backend.plugins.module_utils._managed_files import settled
from ansible_collections.gathewhy.ai_backend.plugins.module_utils.registry import (
    RegistryError, build_gateway_config)

display = Display()

# ansible.module_utils.basic.AnsibleModule.backup_local: <dest>.<pid>.<YYYY-MM-DD@HH:MM:SS>~
_BACKUP_SUFFIX = r"\.([0-9]+)\.([0-9]{4}-[0-9]{2}-[0-9]{2}@[0-9]{2}:[0-9]{2}:[0-9]{2})~"


def backup_pattern(dest):
    """The exact names of copy's backups of ``dest`` (a basename regex, anchored)."""
    return "^" + re.escape(os.path.basename(dest)) + _BACKUP_SUFFIX + "$"


def backups_to_prune(dest, names, keep):
    """Which of ``names`` (basenames in dest's directory) to delete so ``keep`` backups remain.

    Only names matching backup_pattern(dest) are candidates; the oldest go first
    (by the time in the name, then the pid).
    """
    pattern = re.compile(re.escape(os.path.basename(dest)) + _BACKUP_SUFFIX + r"\Z")
    ours = []
    for name in names:
        found = pattern.match(name)
        if found:
            ours.append((found.group(2), int(found.group(1)), name))
    ours.sort()
    excess = len(ours) - max(keep, 0)
    return [name for dummy, dummy2, name in ours[:excess]] if excess > 0 else []


class ActionModule(ActionBase):

    TRANSFERS_FILES = True
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        dummy, args = self.validate_argument_spec(
            argument_spec=ARGUMENT_SPEC, required_if=REQUIRED_IF)
        try:
            rendered = build_gateway_config(args["registry"], gateway_host=args["gateway_host"],
                                            inference_hosts=args["inference_hosts"], master_key=args["master_key"])
        except RegistryError as err:
            result.update(failed=True, msg=str(err),
                          problems=[p.as_dict() for p in list(err.problems) + list(err.warnings)])
            return result
        for warning in rendered.warnings:
            display.warning(warning)
        result.update(changed=False, registry_warnings=rendered.warnings, model_groups=rendered.model_groups,
                      source_sha256=rendered.source_sha256)
        if args["validate_only"]:
            return result
        result["dest"] = args["dest"]
        wanted = dict(dest=args["dest"], content=rendered.text, owner=args["owner"], group=args["group"],
                      mode=args["mode"])
        if args["known"] is not None and settled([], [wanted], [], [], args["known"]):
            # host_survey showed this very config in place: a rerun that changes nothing sends nothing.
            result["from_survey"] = True
            return result
        copied = self._copy(rendered.text, args, task_vars)
        for key in ("failed", "msg", "changed", "diff", "backup_file", "checksum", "mode", "owner", "group"):
            if key in copied:
                result[key] = copied[key]
        if copied.get("failed"):
            return result
        if copied.get("backup_file") and not self._task.check_mode:
            pruned = self._prune(args["dest"], args["backups"], task_vars, keep_also=copied["backup_file"])
            if pruned:
                result["pruned_backups"] = pruned
        return result

    def _copy(self, text, args, task_vars):
        new_task = self._task.copy()
        new_task.args.clear()
        local_dir = tempfile.mkdtemp(dir=C.DEFAULT_LOCAL_TMP)
        try:
            source = os.path.join(local_dir, os.path.basename(args["dest"]) or "litellm.yaml")
            with open(to_bytes(source, errors="surrogate_or_strict"), "wb") as handle:
                handle.write(to_bytes(text, encoding="utf-8", errors="surrogate_or_strict"))
            new_task.args.update(dict(src=source, dest=args["dest"], mode=args["mode"], backup=args["backups"] > 0))
            for key in ("owner", "group"):
                if args[key] is not None:
                    new_task.args[key] = args[key]
            copy_action = self._shared_loader_obj.action_loader.get(
                "ansible.legacy.copy", task=new_task, connection=self._connection, play_context=self._play_context,
                loader=self._loader, templar=self._templar, shared_loader_obj=self._shared_loader_obj)
            return copy_action.run(task_vars=task_vars)
        finally:
            shutil.rmtree(to_bytes(local_dir, errors="surrogate_or_strict"))

    def _prune(self, dest, keep, task_vars, keep_also):
        """Delete copy's oldest backups of ``dest`` beyond ``keep``; never any other file."""
        found = self._execute_module(
            module_name="ansible.legacy.find", task_vars=task_vars,
            module_args=dict(paths=[os.path.dirname(dest) or "."], patterns=[backup_pattern(dest)], use_regex=True,
                             file_type="file", hidden=True, recurse=False))
        if found.get("failed"):
            display.warning("could not list the backups of %s: %s" % (dest, found.get("msg")))
            return []
        names = [os.path.basename(item["path"]) for item in found.get("files", [])]
        doomed = [name for name in backups_to_prune(dest, names, keep)
                  if name != os.path.basename(keep_also)]  # the backup this run made is the rollback's
        removed = []
        for name in doomed:
            path = os.path.join(os.path.dirname(dest), name)
            gone = self._execute_module(module_name="ansible.legacy.file", task_vars=task_vars,
                                        module_args=dict(path=path, state="absent"))
            if gone.get("failed"):
                display.warning("could not remove the old backup %s: %s" % (path, gone.get("msg")))
            else:
                removed.append(path)
        return removed
