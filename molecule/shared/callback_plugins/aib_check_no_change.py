# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fail a --check run that would change anything.

Molecule's `check` step runs the converge playbook with --check and only fails
when a task fails. After converge and idempotence, a dry run that still
predicts a change means check mode and real runs disagree (a task that lies
in check mode, or one that is not idempotent in check mode), so this callback
lists those tasks and makes ansible-playbook exit non-zero. It is inert in
runs without --check.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r"""
name: aib_check_no_change
type: aggregate
short_description: make a --check run fail when any task reports a change
description:
  - Test-only helper for the Molecule scenarios of gathewhy.ai_backend.
  - Records every task that reports C(changed) while ansible-playbook runs with --check,
    prints them after the recap and exits with status 3 if there was at least one.
requirements:
  - enabled in callbacks_enabled
"""

from ansible import context
from ansible.plugins.callback import CallbackBase

# Exit status for "the dry run predicted changes" (distinct from ansible's own
# 1 = error, 2 = failed hosts, 4 = unreachable).
_EXIT_CHANGES = 3


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "aib_check_no_change"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self._changes = []

    def _active(self):
        return bool(context.CLIARGS.get("check", False))

    def _record(self, result):
        if self._active() and result._result.get("changed", False):
            self._changes.append("%s: %s" % (result._host.get_name(), result._task.get_name()))

    def v2_runner_on_ok(self, result):
        self._record(result)

    def v2_runner_item_on_ok(self, result):
        self._record(result)

    def v2_playbook_on_stats(self, stats):
        if not self._changes:
            return
        self._display.error(
            "--check run predicted %d change(s) after converge; these tasks are not idempotent "
            "or misreport in check mode:\n  %s" % (len(self._changes), "\n  ".join(sorted(set(self._changes))))
        )
        # Callback exceptions are downgraded to warnings by ansible; SystemExit
        # is not, and every play has finished by the time stats are sent.
        raise SystemExit(_EXIT_CHANGES)
