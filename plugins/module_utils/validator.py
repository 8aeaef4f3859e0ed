# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A compact validator for the subset of JSON Schema (2020-12) the registry uses.

Why not the jsonschema package for the walk: at 10,000 realistic models its
Draft202012Validator alone takes 1.1-1.4 s (iter_errors and is_valid alike,
measured on this project's 2-core CI machine), over the whole engine's 1 s
budget; this walk does the same in about 0.1 s. jsonschema stays the judge:
the tests run both on hand-picked and generated hosts and require agreement
(ecma_jsonschema_validator() below gives it the same ECMA-262 patterns).

It implements exactly the keywords schemas/registry.schema.json uses and turns
each failure into a Problem a person can act on: unknown keys get a "did you
mean" suggestion, type errors say what was found. A keyword it does not know
fails a test (unsupported_keywords), never silently passes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
import re

from .plain import Unrepresentable
from .problems import LazyPath, Problem, path_join

SUPPORTED = frozenset((
    "$schema", "$id", "title", "description", "default", "x-check", "x-reason",
    "type", "enum", "const", "pattern", "minLength", "maxLength", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "properties", "additionalProperties",
    "propertyNames", "required", "items", "minItems", "maxItems", "uniqueItems",
    "allOf", "oneOf", "not", "if", "then",
))

_TYPE_NAMES = {
    "object": "a mapping", "array": "a list", "string": "a string", "integer": "an integer",
    "number": "a number", "boolean": "true or false", "null": "null",
}

_PATTERNS = {}


def ecma_pattern(pattern):
    """``pattern`` with ECMA-262 anchors for Python's ``re``.

    JSON Schema patterns are ECMA-262: without the m flag, ``$`` matches only at
    the very end of the input. Python's ``$`` also matches before a final
    newline, so ``"name\\n"`` would pass ``^[a-z]+$``. Every unescaped ``$``
    outside a character class becomes ``\\Z``.
    """
    out = []
    in_class = False
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            out.append(pattern[index:index + 2])
            index += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        elif char == "$" and not in_class:
            char = "\\Z"
        out.append(char)
        index += 1
    return "".join(out)


def _regex(pattern):
    compiled = _PATTERNS.get(pattern)
    if compiled is None:
        compiled = _PATTERNS[pattern] = re.compile(ecma_pattern(pattern))
    return compiled


def pattern_matches(pattern, value):
    """JSON Schema ``pattern`` semantics (ECMA-262 anchors, unanchored search)."""
    return _regex(pattern).search(value) is not None


_ECMA_VALIDATORS = {}


def ecma_jsonschema_validator(schema):
    """A jsonschema Draft 2020-12 validator for ``schema`` whose ``pattern`` keyword
    has ECMA-262 anchors (see ecma_pattern), built once per schema per process."""
    key = id(schema)
    found = _ECMA_VALIDATORS.get(key)
    if found is not None and found[0] is schema:
        return found[1]
    import jsonschema  # only the tests and the schema checks need it; the walk above does not

    def pattern(validator, wanted, instance, dummy_schema):
        if validator.is_type(instance, "string") and not pattern_matches(wanted, instance):
            yield jsonschema.ValidationError("%r does not match %r" % (instance, wanted))

    base = jsonschema.validators.validator_for(schema)
    cls = jsonschema.validators.extend(base, {"pattern": pattern})
    instance = cls(schema, format_checker=base.FORMAT_CHECKER)
    _ECMA_VALIDATORS[key] = (schema, instance)
    return instance


def json_type(value):
    """The JSON type name of a Python value (bool is not a number)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        # NaN and infinity pass every range comparison, so they are no number here.
        return "number" if value - value == 0 else "non-finite number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


def _is_type(value, wanted):
    found = json_type(value)
    if found == wanted or (wanted == "number" and found == "integer"):
        return True
    # JSON Schema: 4000.0 is an integer (to_plain turns it into 4000 before rendering).
    return wanted == "integer" and found == "number" and value.is_integer()


def suggest(word, choices):
    """The nearest valid name, or None: the "did you mean" of every report."""
    word = str(word)
    folded = dict((_fold(c), c) for c in choices)
    if _fold(word) in folded:
        return folded[_fold(word)]
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if not matches:
        # A missing prefix ("routing" for "ai_backend_routing") is a common slip.
        for choice in sorted(choices):
            if choice.endswith("_" + word) or choice.endswith(word) and len(word) > 3:
                return choice
        return None
    return matches[0]


def _fold(word):
    return str(word).lower().replace("-", "_")


def _unknown_key_problem(path, key, value, known, reason=None):
    suggestion = suggest(key, known) if known else None
    if reason:
        message = "key '%s' is not allowed here: %s" % (key, reason)
        hint = "remove '%s'" % key
    else:
        message = "unknown key '%s' (nothing reads it, so it would be silently ignored)" % key
        if suggestion:
            hint = "did you mean '%s'? Valid keys here: %s" % (suggestion, ", ".join(sorted(known)))
        elif known:
            hint = "remove it; valid keys here: %s" % ", ".join(sorted(known))
        else:
            hint = "remove it"
    return Problem("unknown-key", path_join(path, key), value, message, hint)


class Validator:
    """Validate a value against a schema dict; collect Problems.

    ``unknown_key_hook(path, key, value)`` may return a Problem to report
    instead of the generic unknown-key one (the secrets check uses it so a
    stray ``api_key: sk-...`` is reported as a leaked secret, redacted).
    ``string_hook(path, value)`` sees every string the schema knows about and
    may return a Problem (the secrets check: credential-shaped values anywhere).
    """

    def __init__(self, unknown_key_hook=None, string_hook=None):
        self.unknown_key_hook = unknown_key_hook
        self.string_hook = string_hook

    def validate(self, value, schema, path):
        problems = []
        self._check(value, schema, path, problems, None)
        return problems

    def is_valid(self, value, schema):
        """Match test for if/not/oneOf: stops at the first failure and builds no messages."""
        try:
            self._check(value, schema, "", _QUIET, None)
        except _Failed:
            return False
        return True

    # -- one schema node -----------------------------------------------------------------
    def _check(self, value, schema, path, out, reason):
        if schema is True:
            return
        if schema is False:
            key = path.key if isinstance(path, LazyPath) else str(path)
            out.append(Problem("unknown-key", path, value, "key '%s' is not allowed here: %s" % (
                key, reason or "this schema forbids it"), "remove '%s'" % key))
            return
        code = schema.get("x-check") or "schema"
        wanted = schema.get("type")
        if wanted is not None:
            if isinstance(wanted, list):
                matched = any(_is_type(value, w) for w in wanted)
            else:
                matched = _is_type(value, wanted)
            if not matched:
                out.append(self._type_problem(code, path, value, wanted if isinstance(wanted, list) else [wanted]))
                return
        if "const" in schema and not _same(value, schema["const"]):
            out.append(Problem(code, path, value, "must be %r" % (schema["const"],),
                               "set it to %r" % (schema["const"],)))
        if isinstance(value, Unrepresentable):  # no type keyword here, but still no value
            out.append(self._type_problem(code, path, value, ["a plain value"]))
            return
        if "enum" in schema and not any(_same(value, choice) for choice in schema["enum"]):
            if out is _QUIET:
                raise _Failed()
            out.append(self._enum_problem(code, path, value, schema["enum"]))
            return
        if isinstance(value, str):
            found = self.string_hook(path, value) if self.string_hook is not None and out is not _QUIET else None
            if found is not None:
                out.append(found)  # one report per value: a key in an *_env field is a leak, not a bad name
            else:
                self._check_string(value, schema, path, out, code)
        elif json_type(value) in ("integer", "number"):
            self._check_number(value, schema, path, out, code)
        elif isinstance(value, dict):
            self._check_object(value, schema, path, out, reason)
        elif isinstance(value, list):
            self._check_array(value, schema, path, out, code, reason)
        for sub in schema.get("allOf", ()):
            self._check(value, sub, path, out, reason)
        if "if" in schema and self.is_valid(value, schema["if"]):
            then = schema.get("then", True)
            self._check(value, then, path, out, then.get("x-reason") if isinstance(then, dict) else None)
        if "oneOf" in schema:
            matching = [sub for sub in schema["oneOf"] if self.is_valid(value, sub)]
            if len(matching) != 1:
                shapes = " or ".join(_shape(sub) for sub in schema["oneOf"])
                out.append(Problem(code, path, value,
                                   "must match exactly one of: %s (matches %d)" % (shapes, len(matching)),
                                   "give exactly one of %s" % shapes))
        if "not" in schema and self.is_valid(value, schema["not"]):
            out.append(Problem(code, path, value, "this combination is not allowed",
                               reason or "see docs/registry.md"))

    def _type_problem(self, code, path, value, wanted_list):
        want = " or ".join(_TYPE_NAMES.get(w, w) for w in wanted_list)
        found = json_type(value)
        if isinstance(value, Unrepresentable):
            return Problem("schema", path, value, "expected %s, got %s" % (want, value.reason),
                           "write %s here; where a YAML alias (*name) sits inside its own anchor (&name), "
                           "replace it with the value you meant" % want)
        if code == "port":
            if isinstance(value, str) and not value.strip().isdigit():
                message = "port is a placeholder or not a number (%s)" % found
            elif isinstance(value, str):
                message = "port is a quoted string, not a number"
            else:
                message = "port must be an integer, got %s" % _TYPE_NAMES.get(found, found)
            return Problem("port", path, value, message, "set a real port number between 1 and 65535, unquoted")
        return Problem(code, path, value, "expected %s, got %s" % (want, _TYPE_NAMES.get(found, found)),
                       "write %s here" % want)

    def _enum_problem(self, code, path, value, choices):
        text = ", ".join(str(c) for c in choices)
        near = suggest(value, [str(c) for c in choices]) if isinstance(value, str) else None
        hint = ("did you mean '%s'? " % near if near else "") + "use one of: %s" % text
        if code == "routing-strategy":
            return Problem(code, path, value, "routing strategy %s is not one LiteLLM 1.108.7 supports" % (
                "'%s'" % value if isinstance(value, str) else repr(value)), hint)
        return Problem(code, path, value, "%r is not an allowed value" % (value,), hint)

    def _check_string(self, value, schema, path, out, code):
        if "minLength" in schema and len(value) < schema["minLength"]:
            out.append(Problem(code, path, value, "must not be empty" if schema["minLength"] == 1 else
                               "shorter than %d characters" % schema["minLength"], "fill it in"))
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            out.append(Problem(code, path, value, "longer than %d characters" % schema["maxLength"],
                               "shorten it"))
        if "pattern" in schema and not pattern_matches(schema["pattern"], value):
            if code == "secret":
                out.append(Problem("secret", path, value,
                                   "must be the NAME of an environment variable, not a value",
                                   "write an env var name such as OLLAMA_API_KEY and put the secret itself "
                                   "in a vaulted variable (litellm_provider_secrets)", secret=True))
            else:
                out.append(Problem(code, path, value, "does not match the pattern %s" % schema["pattern"],
                                   "see docs/registry.md for the allowed form"))

    def _check_number(self, value, schema, path, out, code):
        low, high = schema.get("minimum"), schema.get("maximum")
        xlow, xhigh = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
        bad = ((low is not None and value < low) or (high is not None and value > high)
               or (xlow is not None and value <= xlow) or (xhigh is not None and value >= xhigh))
        if not bad:
            return
        lower = ">= %s" % low if low is not None else ("> %s" % xlow if xlow is not None else None)
        upper = "<= %s" % high if high is not None else ("< %s" % xhigh if xhigh is not None else None)
        rng = " and ".join(x for x in (lower, upper) if x)
        if code == "port":
            out.append(Problem("port", path, value, "port %s is out of range (1-65535)" % value,
                               "pick a port between 1 and 65535"))
        else:
            out.append(Problem(code, path, value, "out of range: must be %s" % rng, "use a value %s" % rng))

    def _check_object(self, value, schema, path, out, reason):
        props = schema.get("properties", {})
        for key in schema.get("required", ()):
            if key not in value:
                out.append(Problem("schema", path_join(path, key), None, "required key '%s' is missing%s" % (
                    key, " (%s)" % reason if reason else ""), "add '%s'" % key))
        names = schema.get("propertyNames")
        extra = schema.get("additionalProperties", True)
        for key in value:  # problems are sorted for the report; no need to sort here
            item = value[key]
            if names is not None and not self.is_valid(key, names):
                out.append(Problem("schema", path_join(path, key), key,
                                   "'%s' is not a valid name here (allowed: %s)" % (key, names.get("pattern")),
                                   "rename it to match %s" % names.get("pattern")))
                continue
            if key in props:
                self._check(item, props[key], LazyPath(path, key), out, reason)
            elif extra is False:
                if out is _QUIET:
                    raise _Failed()
                hooked = self.unknown_key_hook(path, key, item) if self.unknown_key_hook else None
                out.append(hooked or _unknown_key_problem(path, key, item, props))
            elif isinstance(extra, dict):
                self._check(item, extra, LazyPath(path, key), out, reason)

    def _check_array(self, value, schema, path, out, code, reason):
        if "minItems" in schema and len(value) < schema["minItems"]:
            out.append(Problem(code, path, value, "needs at least %d item(s)" % schema["minItems"],
                               "add an item or remove the key"))
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            out.append(Problem(code, path, value, "has %d items, at most %d allowed%s" % (
                len(value), schema["maxItems"], " (%s)" % reason if reason else ""), reason or "remove items"))
        if schema.get("uniqueItems"):
            seen = []
            for index, item in enumerate(value):
                if any(_same(item, other) for other in seen):
                    out.append(Problem(code, path_join(path, index), item, "duplicate item", "remove the duplicate"))
                seen.append(item)
        items = schema.get("items")
        if items is not None:
            for index, item in enumerate(value):
                self._check(item, items, LazyPath(path, index), out, reason)


class _Failed(Exception):
    pass


class _Quiet(list):
    """Sink for is_valid(): the first append aborts the walk."""

    def append(self, item):
        raise _Failed()


_QUIET = _Quiet()


def _same(left, right):
    """JSON equality: 1 == 1.0 but True != 1."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    return left == right


def _shape(schema):
    return "{%s}" % ", ".join(schema.get("required", ()))


def unsupported_keywords(schema, found=None):
    """Keywords a schema uses that this validator does not implement (for tests)."""
    found = set() if found is None else found
    if isinstance(schema, dict):
        for key, sub in schema.items():
            if key not in SUPPORTED:
                found.add(key)
            if key in ("properties",):
                for child in sub.values():
                    unsupported_keywords(child, found)
            elif key in ("items", "additionalProperties", "propertyNames", "not", "if", "then"):
                unsupported_keywords(sub, found)
            elif key in ("allOf", "oneOf"):
                for child in sub:
                    unsupported_keywords(child, found)
    return found
