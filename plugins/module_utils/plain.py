# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn whatever Ansible hands us into plain dict/list/str/int/float/bool/None.

Ansible 2.19 wraps values in data-tagged subclasses (tagged str, dict, list)
that yaml.safe_dump refuses and json.dumps may render oddly. Converting by
value here keeps the engine and its YAML dumper on builtin types only.

Inventories are YAML, and YAML anchors can build what JSON cannot: a value that
contains itself (``a: &x [*x]``), nesting thousands deep, or a few aliases that
expand to billions of nodes. Such a part becomes an Unrepresentable marker,
which the schema reports with its variable path like any other wrong value;
nothing here recurses without bound or copies without bound.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping, Sequence, Set

_EXACT = (bool, int, str)
MAX_DEPTH = 64            # the registry nests 7 levels; anything deeper is not a registry
MAX_NODES = 5000000       # about 10 times a 62,720-model registry, expanded


class Unrepresentable:
    """Marks a part of the input that has no finite plain value; ``reason`` says why."""

    __slots__ = ("reason",)

    def __init__(self, reason):
        self.reason = reason

    def __repr__(self):
        return "<%s>" % self.reason

    __str__ = __repr__


CYCLE = Unrepresentable("a value that contains itself (a YAML alias pointing into its own anchor)")
TOO_DEEP = Unrepresentable("nested more than %d levels deep" % MAX_DEPTH)
TOO_BIG = Unrepresentable("expands to more than %d values (aliases of aliases)" % MAX_NODES)


class _Converter:
    def __init__(self):
        self.on_path = set()
        self.done = {}   # id -> (source, converted): an alias converts once and is shared
        self.nodes = 0

    def convert(self, value, depth):
        cls = value.__class__
        if value is None or cls in _EXACT:
            return value
        if (cls is dict or cls is list) and depth < MAX_DEPTH and id(value) not in self.on_path:
            return self._container(value, depth)
        # Base-class dunders return an exact builtin even for a tagged subclass.
        if isinstance(value, bool):
            return bool(value)
        if isinstance(value, int):
            return int.__int__(value)
        if isinstance(value, float):
            number = float.__float__(value)
            return int(number) if number.is_integer() else number
        if isinstance(value, str):
            return str.__str__(value)
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        if not isinstance(value, (Mapping, Sequence, Set)):
            return value  # anything else stays as-is and fails the schema with its type name
        if id(value) in self.on_path:
            return CYCLE
        if depth >= MAX_DEPTH:
            return TOO_DEEP
        return self._container(value, depth)

    def _container(self, value, depth):
        key = id(value)
        seen = self.done.get(key)
        if seen is not None and seen[0] is value:
            self.nodes += seen[2]
            return TOO_BIG if self.nodes > MAX_NODES else seen[1]
        self.on_path.add(key)
        start = self.nodes
        try:
            if isinstance(value, Mapping):
                out = {}
                for name, item in value.items():
                    self.nodes += 1
                    if self.nodes > MAX_NODES:
                        return TOO_BIG
                    plain_name = self.convert(name, depth + 1)
                    if isinstance(plain_name, (dict, list)):
                        plain_name = repr(plain_name)  # a YAML complex key: keep it visible, never crash
                    out[plain_name] = self.convert(item, depth + 1)
            else:
                out = []
                for item in value:
                    self.nodes += 1
                    if self.nodes > MAX_NODES:
                        return TOO_BIG
                    out.append(self.convert(item, depth + 1))
        finally:
            self.on_path.discard(key)
        self.done[key] = (value, out, self.nodes - start)
        return out


def to_plain(value):
    """Builtin-typed copy of ``value``. Integral floats become ints, as JSON Schema
    counts 4000.0 as an integer and the rendered config should say 4000. A part
    with no finite value (see the module doc) becomes an Unrepresentable marker."""
    return _Converter().convert(value, 0)


def printable(value):
    """``value`` with every Unrepresentable marker replaced by its text (for reports)."""
    if isinstance(value, Unrepresentable):
        return repr(value)
    if isinstance(value, dict):
        return dict((printable(key), printable(item)) for key, item in value.items())
    if isinstance(value, list):
        return [printable(item) for item in value]
    return value
