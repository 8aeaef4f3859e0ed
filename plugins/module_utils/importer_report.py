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

import re

from .importer_source import REDACTED, GuessError, format_path, looks_like_secret, scrub

# A summarised report keeps at most this many entries of one shape (same file, same key
# path up to names and indexes) when the shape has more than GROUP_LIMIT entries: ten
# thousand "providers.*.models[*].pulled_at" lines say no more than twenty and a count.
GROUP_LIMIT = 100
GROUP_SAMPLE = 20
# Source sections whose keys are names chosen by the user (provider ids, model names).
NAMED_SECTIONS = ("providers", "exact_matches", "fallback_chains", "capabilities")
_INDEX = re.compile(r"\[[0-9]+\]")
_NAMED_TARGET = re.compile(r'^(ai_backend_providers|litellm_provider_secrets|ai_backend_routing\.[a-z_]+)'
                           r'(\.[A-Za-z0-9_]+|\["(?:[^"\\]|\\.)*"\])')

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

    def __init__(self, files, named_roots=()):
        self.files = list(files)          # display names, in report order
        self.named_roots = set(named_roots)  # files whose top-level keys are names (ports.yaml)
        self.entries = {}                 # (file, keys) -> entry dict
        self.below = None                 # {(file, keys) with an entry under it}, built on first touches()
        self.corrections = []
        self.actions = []
        self.added = []
        self.guesses = []                 # GuessError: what the import would have to decide alone
        self.scrubbed = {}

    # -- coverage -------------------------------------------------------------------------
    def _put(self, file, keys, entry):
        slot = (file, tuple(keys))
        if slot in self.entries:
            raise ValueError("importer bug: %s: %s accounted for twice" % (file, format_path(keys)))
        self.entries[slot] = entry
        if self.below is not None:
            self._mark_above(slot)

    def _mark_above(self, slot):
        file, keys = slot
        for size in range(len(keys)):
            self.below.add((file, keys[:size]))

    # Entries are kept raw and written out only when the report is made: a summarised report
    # of ten thousand models shows a few thousand of its hundred thousand entries.
    def carried(self, file, keys, to, note=None):
        self._put(file, keys, ("carried", to, note))

    def dropped(self, file, keys, reason, detail=None):
        if reason not in REASONS:
            raise ValueError("importer bug: unknown reason %r" % reason)
        self._put(file, keys, ("not_carried", reason, detail))

    def _entry(self, slot):
        kind, value, extra = self.entries[slot]
        entry = {"from": "%s: %s" % (slot[0], scrub(format_path(slot[1])))}
        entry["to" if kind == "carried" else "reason"] = scrub(value) if kind == "carried" else value
        if extra:
            entry["note" if kind == "carried" else "detail"] = self._scrub_text(extra)
        return entry

    def _scrub_text(self, text):
        """scrub(), remembered: a few texts are shared by thousands of entries."""
        if text not in self.scrubbed:
            self.scrubbed[text] = scrub(text)
        return self.scrubbed[text]

    def forget(self, file, keys):
        """Withdraw an entry (the importer changed its mind, e.g. to break a fallback cycle)."""
        del self.entries[(file, tuple(keys))]
        self.below = None

    def retarget(self, file, keys, to):
        slot = (file, tuple(keys))
        self.entries[slot] = ("carried", to, self.entries[slot][2])

    def has(self, file, keys):
        return (file, tuple(keys)) in self.entries

    def covers(self, file, keys):
        """True if an entry exists for ``keys`` or any key above it."""
        keys = tuple(keys)
        entries = self.entries
        for size in range(len(keys) + 1):
            if (file, keys[:size]) in entries:
                return True
        return False

    def touches(self, file, keys):
        """True if an entry exists for ``keys``, above it or below it (a set lookup, not a scan)."""
        if self.below is None:
            self.below = set()
            for slot in self.entries:
                self._mark_above(slot)
        return self.covers(file, keys) or (file, tuple(keys)) in self.below

    def checkpoint(self):
        return (len(self.entries), len(self.corrections), len(self.actions), len(self.added), len(self.guesses))

    def rollback(self, mark):
        """Withdraw everything recorded since ``checkpoint()`` (a disabled provider that is not carried)."""
        entries, corrections, actions, added, guesses = mark
        for slot in list(self.entries)[entries:]:
            del self.entries[slot]
        self.below = None
        del self.corrections[corrections:]
        del self.actions[actions:]
        del self.added[added:]
        del self.guesses[guesses:]

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

    def guess(self, file, keys, original, problem, choices, fix):
        """A correction the importer may only apply when told to (accept_corrections): the source is
        ambiguous, so the import stops and lists ``choices``; ``fix`` is the one applied on request."""
        self.correction(file, keys, original, problem, fix)
        self.corrections[-1]["choices"] = [scrub(choice) for choice in choices]
        self.guesses.append(GuessError(file, keys, problem, choices, fix))

    def leaked(self, file, keys, what, fix):
        """A literal secret in the source: never copied, and the key must be rotated (it sat in a file)."""
        where = "%s: %s" % (file, scrub(format_path(keys)))
        rotate = ("rotate this key now: it has been stored in plain text in %s. Carry the new one as a vaulted "
                  "variable (ansible-vault encrypt_string --name vault_...) and name its env var in the source "
                  "(env_var: NAME, or api_key: os.environ/NAME)" % file)
        self.correction(file, keys, REDACTED, "%s (value not shown)" % what, "%s; %s" % (fix, rotate), secret=True)
        self.action(where, rotate)
        self.guesses.append(GuessError(file, keys, "%s (value not shown)" % what, [rotate],
                                       "%s; the report still says to rotate it" % fix, secret=True))

    def action(self, where, todo):
        entry = {"where": scrub(where), "todo": scrub(todo)}
        if entry not in self.actions:
            self.actions.append(entry)

    def add(self, to, why):
        self.added.append({"to": scrub(to), "why": scrub(why)})

    # -- output ---------------------------------------------------------------------------
    def report(self, docs, sources, full=False, extra=None):
        """The report as a plain dict; entries follow the source files' own order.

        Unless ``full``, each list keeps GROUP_SAMPLE entries of a shape that has more than
        GROUP_LIMIT, and ``summary.left_out`` counts the rest per shape: the report of ten
        thousand models stays readable and small. Corrections are never left out."""
        order = {}
        for file in self.files:
            doc = docs.get(file)
            if doc is None:
                continue
            for index, keys in enumerate(_preorder(doc)):
                order[(file, keys)] = index
        file_rank = dict((file, rank) for rank, file in enumerate(self.files))
        slots = sorted(self.entries, key=lambda slot: (file_rank.get(slot[0], 99), order[slot]) if slot in order
                       else (file_rank.get(slot[0], 99), 10 ** 9, format_path(slot[1])))
        carried = [(s, self.entries[s]) for s in slots if self.entries[s][0] == "carried"]
        dropped = [(s, self.entries[s]) for s in slots if self.entries[s][0] == "not_carried"]
        by_reason = {}
        for dummy, raw in dropped:
            by_reason[raw[1]] = by_reason.get(raw[1], 0) + 1
        left_out = []
        lists = {
            "carried": [self._entry(slot) for slot, dummy in self._trim(
                carried, self._source_shape, full, left_out, "carried")],
            "not_carried": [self._entry(slot) for slot, dummy in self._trim(
                dropped, lambda s, raw: "%s (%s)" % (self._source_shape(s, raw), raw[1]), full, left_out,
                "not_carried")],
            "action_required": [entry for dummy, entry in self._trim(
                [(None, a) for a in self.actions], lambda s, e: _target_shape(e["where"]), full, left_out,
                "action_required")],
            "added": [entry for dummy, entry in self._trim(
                [(None, a) for a in self.added], lambda s, e: _target_shape(e["to"]), full, left_out, "added")],
        }
        summary = {
            "carried": len(carried),
            "not_carried": len(dropped),
            "not_carried_by_reason": dict(sorted(by_reason.items())),
            "corrections": len(self.corrections),
            "action_required": len(self.actions),
            "added": len(self.added),
        }
        if left_out:
            summary["left_out"] = left_out
        report = {"sources": sources, "summary": summary,
                  "reasons": dict((key, REASONS[key]) for key in sorted(by_reason))}
        report.update(extra or {})
        report["action_required"] = lists["action_required"]
        report["corrections"] = list(self.corrections)
        report["added"] = lists["added"]
        report["carried"] = lists["carried"]
        report["not_carried"] = lists["not_carried"]
        return report

    def _source_shape(self, slot, dummy_entry):
        file, keys = slot
        shape = ["*" if isinstance(key, int) else key for key in keys]
        if shape and file in self.named_roots:
            shape[0] = "*"
        if len(shape) > 1 and shape[0] in NAMED_SECTIONS and file not in self.named_roots:
            shape[1] = "*"
        return "%s: %s" % (file, ".".join(str(key) for key in shape))

    @staticmethod
    def _trim(items, shape_of, full, left_out, name):
        """The items [(slot, entry)] to show: GROUP_SAMPLE per crowded shape unless ``full``."""
        if full or len(items) <= GROUP_LIMIT:
            return items
        shapes = [shape_of(slot, entry) for slot, entry in items]
        totals = {}
        for shape in shapes:
            totals[shape] = totals.get(shape, 0) + 1
        kept, seen = [], {}
        for shape, (slot, entry) in zip(shapes, items):
            seen[shape] = seen.get(shape, 0) + 1
            if totals[shape] <= GROUP_LIMIT or seen[shape] <= GROUP_SAMPLE:
                kept.append((slot, entry))
        for shape in sorted(totals):
            if totals[shape] > GROUP_LIMIT:
                left_out.append({"list": name, "shape": shape, "count": totals[shape], "shown": GROUP_SAMPLE})
        return kept


def _target_shape(path):
    return _INDEX.sub("[*]", _NAMED_TARGET.sub(lambda m: m.group(1) + ".*", path))


def _preorder(node, keys=()):
    yield keys
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _preorder(value, keys + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _preorder(value, keys + (index,))


def summary_lines(report, limit=50):
    """A short human summary (what the playbook prints)."""
    summary = report["summary"]
    lines = ["import: %d key path(s) carried, %d not carried (%s), %d correction(s), %d action(s) required" % (
        summary["carried"], summary["not_carried"],
        ", ".join("%s %d" % item for item in summary["not_carried_by_reason"].items()) or "none",
        summary["corrections"], summary["action_required"])]
    for item in report.get("defaults_changed") or []:
        lines.append("changed %s: %s -> %s (%s)" % (item["setting"], item["old"], item["new"], item["why"]))
    for item in report["corrections"][:limit]:
        lines.append("corrected %s: %s -> %s" % (item["where"], item["problem"], item["fix"]))
    for item in report["action_required"][:limit]:
        lines.append("TODO %s: %s" % (item["where"], item["todo"]))
    hidden = max(0, len(report["corrections"]) - limit) + max(0, summary["action_required"] - limit)
    if hidden:
        lines.append("... and %d more correction(s) and action(s): see the report" % hidden)
    return lines
