# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Find model names that are probably typos of each other (a warning, not an error).

Two names within edit distance 2 are suspicious, unless they differ only in
digits: ``qwen-7b`` / ``qwen-8b`` and ``gpt-oss:20b`` / ``gpt-oss:120b`` are
different sizes, not typos. Names are first folded to a digit-free shape, so a
registry of ten thousand numbered models costs one comparison, not fifty million.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

_DIGITS = re.compile(r"[0-9]+")


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


def similar_pairs(names, limit=2):
    """Sorted pairs (a, b), a < b, within ``limit`` edits that differ in more than digits."""
    shapes = {}
    for name in set(names):
        shapes.setdefault(_DIGITS.sub("#", name), []).append(name)
    buckets = {}
    for shape in shapes:
        for variant in _deletions(shape, limit):
            buckets.setdefault(variant, set()).add(shape)
    pairs = set()
    for group in buckets.values():
        if len(group) < 2:
            continue
        ordered = sorted(group)
        for i, left_shape in enumerate(ordered):
            for right_shape in ordered[i + 1:]:
                for left in shapes[left_shape]:
                    for right in shapes[right_shape]:
                        if edit_distance(left, right, limit) <= limit:
                            pairs.add(tuple(sorted((left, right))))
    return sorted(pairs)
