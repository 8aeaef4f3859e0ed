# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The import report: where every source key went.

Each key path of the source files ends up in exactly one entry, either
``carried`` (with the registry path it became) or ``not_carried`` (with a
reason). An entry may stand for a whole subtree (``metadata`` covers every key
under it). Corrections (source values our rules reject, and what was written
instead), actions a person must take (secrets, model files) and registry keys
the importer added on its own are listed beside them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from .importer_source import REDACTED, format_path, scrub
from .secrets import looks_like_secret

# Why a key was not carried. The first three are the ones the original's users
# most need to know about; the rest are bookkeeping.
REASONS = {
    "no_litellm_feature": "LiteLLM has no such feature: the original declared it but nothing ever acted on it",
    "informational": "informational only: nothing reads it",
    "replaced": "replaced by something else in this collection",
    "no_registry_field": "the registry has no such setting",
    "not_deployable": "not something this collection deploys",
    "invalid": "dropped as invalid by the collection's rules (see corrections)",
    "secret": "a literal secret: never copied (see action_required)",
    "empty": "empty: nothing to carry",
    "unrecognised": "not part of the original system's format as the importer knows it",
}


class Ledger:
    """Collects the report while the importer works. File names are display names."""

    def __init__(self, files):
        self.files = list(files)          # display names, in report order
        self.entries = {}                 # (file, keys) -> entry dict
        self.corrections = []
        self.actions = []
        self.added = []

    # -- coverage -------------------------------------------------------------------------
    def _put(self, file, keys, entry):
        slot = (file, tuple(keys))
        if slot in self.entries:
            raise ValueError("importer bug: %s: %s accounted for twice" % (file, format_path(keys)))
        self.entries[slot] = entry

    def carried(self, file, keys, to, note=None):
        entry = {"from": "%s: %s" % (file, scrub(format_path(keys))), "to": scrub(to)}
        if note:
            entry["note"] = scrub(note)
        self._put(file, keys, ("carried", entry))

    def dropped(self, file, keys, reason, detail=None):
        if reason not in REASONS:
            raise ValueError("importer bug: unknown reason %r" % reason)
        entry = {"from": "%s: %s" % (file, scrub(format_path(keys))), "reason": reason}
        if detail:
            entry["detail"] = scrub(detail)
        self._put(file, keys, ("not_carried", entry))

    def forget(self, file, keys):
        """Withdraw an entry (the importer changed its mind, e.g. to break a fallback cycle)."""
        del self.entries[(file, tuple(keys))]

    def retarget(self, file, keys, to):
        self.entries[(file, tuple(keys))][1]["to"] = to

    def has(self, file, keys):
        return (file, tuple(keys)) in self.entries

    def covers(self, file, keys):
        """True if an entry exists for ``keys`` or any key above it."""
        keys = tuple(keys)
        return any((file, keys[:n]) in self.entries for n in range(len(keys) + 1))

    def touches(self, file, keys):
        """True if an entry exists for ``keys``, above it or below it."""
        keys = tuple(keys)
        if self.covers(file, keys):
            return True
        size = len(keys)
        return any(f == file and k[:size] == keys for (f, k) in self.entries)

    # -- the other lists ------------------------------------------------------------------
    def correction(self, file, keys, original, problem, fix, secret=False):
        secret = secret or looks_like_secret(original) or (
            not isinstance(original, str) and scrub(repr(original)) != repr(original))
        self.corrections.append({
            "where": "%s: %s" % (file, scrub(format_path(keys))) if keys else file,
            "original": REDACTED if secret else original,
            "problem": scrub(problem),
            "fix": scrub(fix),
        })

    def action(self, where, todo):
        entry = {"where": scrub(where), "todo": scrub(todo)}
        if entry not in self.actions:
            self.actions.append(entry)

    def add(self, to, why):
        self.added.append({"to": scrub(to), "why": scrub(why)})

    # -- output ---------------------------------------------------------------------------
    def report(self, docs, sources):
        """The report as a plain dict; entries follow the source files' own order."""
        order = {}
        for file in self.files:
            doc = docs.get(file)
            if doc is None:
                continue
            for index, keys in enumerate(_preorder(doc)):
                order[(file, keys)] = index
        file_rank = dict((file, rank) for rank, file in enumerate(self.files))
        slots = sorted(self.entries, key=lambda slot: (file_rank.get(slot[0], 99), order.get(slot, 10 ** 9),
                                                       format_path(slot[1])))
        carried = [self.entries[s][1] for s in slots if self.entries[s][0] == "carried"]
        dropped = [self.entries[s][1] for s in slots if self.entries[s][0] == "not_carried"]
        by_reason = {}
        for entry in dropped:
            by_reason[entry["reason"]] = by_reason.get(entry["reason"], 0) + 1
        return {
            "sources": sources,
            "summary": {
                "carried": len(carried),
                "not_carried": len(dropped),
                "not_carried_by_reason": dict(sorted(by_reason.items())),
                "corrections": len(self.corrections),
                "action_required": len(self.actions),
                "added": len(self.added),
            },
            "reasons": dict((key, REASONS[key]) for key in sorted(by_reason)),
            "action_required": list(self.actions),
            "corrections": list(self.corrections),
            "added": list(self.added),
            "carried": carried,
            "not_carried": dropped,
        }


def _preorder(node, keys=()):
    yield keys
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _preorder(value, keys + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _preorder(value, keys + (index,))


def summary_lines(report):
    """A short human summary (what the playbook prints)."""
    summary = report["summary"]
    lines = ["import: %d key path(s) carried, %d not carried (%s), %d correction(s), %d action(s) required" % (
        summary["carried"], summary["not_carried"],
        ", ".join("%s %d" % item for item in summary["not_carried_by_reason"].items()) or "none",
        summary["corrections"], summary["action_required"])]
    for item in report["corrections"]:
        lines.append("corrected %s: %s -> %s" % (item["where"], item["problem"], item["fix"]))
    for item in report["action_required"]:
        lines.append("TODO %s: %s" % (item["where"], item["todo"]))
    return lines
