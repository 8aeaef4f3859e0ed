# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Find model names that are probably typos of each other (a warning, not an error).

Real catalogues are a few dozen families in many sizes, tunes and quantisations,
so thousands of names lie within two edits of each other without being typos
(``...-q4_k_m`` / ``...-q5_k_m``). Comparing names pairwise is quadratic on
them. Instead:

1. Names are split into tokens at ``- : / @ +``. The distinct token shapes
   (numbers folded to ``#``: a few hundred even in a 60,000-name catalogue)
   are indexed by their deletions (symmetric-deletion search), which finds
   every shape pair within the edit limit in time linear in the vocabulary.
2. A token pair is a typo candidate unless it is a deliberate variant: the two
   differ only in their numbers (``llama3.1`` / ``llama3.2``, ``7b`` / ``8b``,
   ``phi3`` / ``phi3.5``), or both are size, quantisation or version tokens
   (``q4_k_m`` / ``q4_k_s``, ``8x7b`` / ``8x22b``). ``qwen2.5`` / ``qwen25``
   has the same digits in another form: a typo.
3. For each name and each candidate partner of one of its tokens, the name
   with that token replaced is looked up in the set of names: one dictionary
   probe per candidate, so the whole search is linear in the number of names.
4. Names that are equal once separators and case are ignored
   (``qwen2.5-coder`` / ``qwen2.5coder``) are paired through one more index.

So a pair is found when the names differ in one token, or only in separators
and case. Index buckets and candidates per token are capped, so a pathological
vocabulary costs bounded time, not quadratic.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

_SEPARATORS = re.compile(r"([-:/@+]+)")
_SEPARATORS_OR_NEWLINE = re.compile(r"[-:/@+\n]+")
_ALL_SEPARATORS = re.compile(r"[-_.:/@+]+")
_NUMBERS = re.compile(r"[0-9]+(?:\.[0-9]+)*")
_NOT_DIGITS = re.compile(r"[^0-9]+")
# Size (7b, 0.5b, 135m, 8x7b, 30b-a3b parts), quantisation (q4_k_m, iq4_xs, fp16,
# bf16, int8, awq, gptq) and version (v0.3, 2407) tokens.
_VARIANT = re.compile(
    r"^(?:[0-9]+(?:\.[0-9]+)?[kmbt]|[0-9]+x[0-9]+(?:\.[0-9]+)?[bm]|a[0-9]+b|i?q[0-9](?:_[a-z0-9]+)*"
    r"|[bf]p?[0-9]+|int[0-9]+|awq|gptq|v?[0-9]+(?:\.[0-9]+)*)$", re.IGNORECASE)

MIN_TOKEN = 3          # shorter tokens are abbreviations: one edit makes another word
BUCKET_CAP = 64        # a deletion shared by more tokens than this is too generic to mean a typo
PARTNERS_CAP = 16      # candidate partners kept per token
SHORT_TOKEN = 5        # tokens shorter than this allow one edit, not two


def edit_distance(left, right, limit=2):
    """Levenshtein distance, or limit + 1 as soon as it must exceed ``limit``."""
    if abs(len(left) - len(right)) > limit:
        return limit + 1
    previous = list(range(len(right) + 1))
    for i, lch in enumerate(left, 1):
        current = [i]
        best = i
        for j, rch in enumerate(right, 1):
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (lch != rch))
            current.append(value)
            best = min(best, value)
        if best > limit:
            return limit + 1
        previous = current
    return previous[-1]


def _deletions(word, depth):
    found = {word}
    frontier = {word}
    for dummy_level in range(depth):
        nxt = set()
        for item in frontier:
            for index in range(len(item)):
                nxt.add(item[:index] + item[index + 1:])
        found |= nxt
        frontier = nxt
    return found


def is_variant_pair(left, right):
    """True when two tokens are deliberate variants of each other, not a typo."""
    if _NUMBERS.sub("#", left) == _NUMBERS.sub("#", right):
        # Same text around the numbers: a different size/version, unless the
        # digits are the same ones with a dot moved or dropped (qwen2.5 / qwen25).
        return _NOT_DIGITS.sub("", left) != _NOT_DIGITS.sub("", right)
    return bool(_VARIANT.match(left) and _VARIANT.match(right))


def _shape_partners(shapes, limit):
    """shape -> shapes within the edit limit (symmetric deletion over the distinct shapes)."""
    buckets = {}
    for shape in shapes:
        depth = limit if len(shape) >= SHORT_TOKEN else min(limit, 1)
        for variant in _deletions(shape, depth):
            buckets.setdefault(variant, []).append(shape)
    partners = dict((shape, {shape}) for shape in shapes)  # a dot moved or dropped: same shape
    for group in buckets.values():
        if 1 < len(group) <= BUCKET_CAP:
            for left in group:
                partners[left].update(group)
    return partners


def _token_partners(tokens, limit):
    """token -> tokens within its edit limit that are not a deliberate variant of it.

    Tokens are grouped by shape (numbers folded to #) and digits: two tokens
    whose numbers differ are a size or version apart, so only tokens with the
    same digits are compared, and only across shapes that are themselves within
    the limit. The work is linear in the number of tokens, even when ten
    thousand of them differ in their numbers only.
    """
    by_shape = {}
    for token in tokens:
        if len(token) >= MIN_TOKEN:
            by_shape.setdefault(_NUMBERS.sub("#", token), {}).setdefault(_NOT_DIGITS.sub("", token), []).append(token)
    partners = {}
    for shape, near in _shape_partners(by_shape, limit).items():
        for digits, group in by_shape[shape].items():
            for other_shape in near:
                others = by_shape[other_shape].get(digits, ())
                for left in group:
                    found = partners.setdefault(left, [])
                    for right in others:
                        if right == left or right in found or len(found) >= PARTNERS_CAP:
                            continue
                        allowed = limit if min(len(left), len(right)) >= SHORT_TOKEN else min(limit, 1)
                        if not is_variant_pair(left, right) and edit_distance(left, right, allowed) <= allowed:
                            found.append(right)
    return dict((token, found) for token, found in partners.items() if found)


def similar_pairs(names, limit=2):
    """Sorted pairs (a, b), a < b, that look like typos of each other (see the module doc)."""
    unique = sorted(set(name for name in names if "\n" not in name))
    # One regex pass over all names at once: per-name calls cost more than the search.
    joined = "\n".join(unique)
    vocabulary = set(_SEPARATORS_OR_NEWLINE.split(joined))
    partners = _token_partners(vocabulary, limit)
    known = set(unique)
    pairs = set()
    for name in unique if partners else ():
        parts = _SEPARATORS.split(name)
        for position in range(0, len(parts), 2):  # even positions are tokens, odd ones separators
            for other in partners.get(parts[position], ()):
                candidate = "".join(parts[:position] + [other] + parts[position + 1:])
                if candidate in known:
                    pairs.add((name, candidate) if name < candidate else (candidate, name))
    folded = {}
    for name, key in zip(unique, _ALL_SEPARATORS.sub("", joined.lower()).split("\n")):
        folded.setdefault(key, []).append(name)
    for group in folded.values():
        if 1 < len(group) <= BUCKET_CAP:
            for i, left in enumerate(group):
                for right in group[i + 1:]:
                    if edit_distance(left, right, limit) <= limit:
                        pairs.add((left, right))
    return sorted(pairs)
