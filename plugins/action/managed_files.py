# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run managed_files on the host unless host_survey already showed that nothing would change.

A module run on a host costs about half a second whatever it does, and a rerun
that changes nothing used to pay it once per managed_files task. A role that
has surveyed its files (paths, globs and sha256 checksums) passes that answer
as ``known``; when it shows every directory and file as asked, this returns
unchanged on the controller. Whatever the survey did not look at, or shows
differently, goes to the module on the host, which decides as it always has.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase

from ansible_collections.gathewhy.ai_backend.plugins.module_utils._managed_files import settled, unchanged_result


class ActionModule(ActionBase):

    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        args = dict(self._task.args)
        known = args.pop("known", None)
        lists = dict((key, args.get(key) or []) for key in ("directories", "files", "prune", "absent"))
        try:
            unchanged = known is not None and settled(lists["directories"], lists["files"], lists["prune"],
                                                      lists["absent"], known)
        except (KeyError, TypeError, AttributeError):
            # A malformed item: the module's argument checks say what is wrong with it.
            unchanged = False
        if unchanged:
            result.update(unchanged_result(lists["directories"], lists["files"]), from_survey=True)
            return result
        result.update(self._execute_module(module_name="gathewhy.ai_backend.managed_files", module_args=args,
                                           task_vars=task_vars), from_survey=False)
        return result
