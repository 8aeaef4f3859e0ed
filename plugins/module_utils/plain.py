# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn whatever Ansible hands us into plain dict/list/str/int/float/bool/None.

Ansible 2.19 wraps values in data-tagged subclasses (tagged str, dict, list)
that yaml.safe_dump refuses and json.dumps may render oddly. Converting by
value here keeps the engine and its YAML dumper on builtin types only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping, Sequence, Set

_EXACT = (bool, int, str)


def to_plain(value):
    """Builtin-typed copy of ``value``. Integral floats become ints, as JSON Schema
    counts 4000.0 as an integer and the rendered config should say 4000."""
    if value is None or value.__class__ in _EXACT:
        return value
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
    if isinstance(value, Mapping):
        return dict((to_plain(key), to_plain(item)) for key, item in value.items())
    if isinstance(value, (Sequence, Set)):
        return [to_plain(item) for item in value]
    return value  # anything else stays as-is and fails the schema with its type name
