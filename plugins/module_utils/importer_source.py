# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading the original system's files for the importer.

Everything here fails with a SourceError that names the file and the key path,
never with a traceback: the importer's users are people moving a working
deployment, and "line 12, column 3 of providers.yaml" is what they can act on.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

try:
    import yaml
    HAS_YAML = True
except ImportError:  # pragma: no cover - ansible-core always ships PyYAML
    yaml = None
    HAS_YAML = False

from .problems import path_join
from .secrets import looks_like_secret as _looks_like_secret

_TOKEN = re.compile(r"[^\s'\"(),;]+")
REDACTED = "<redacted>"
# Model ids are words joined by - _ . / : + (meta-llama/CodeLlama-13B-Instruct-2407). The engine's
# guess at vendor-less tokens (a long mixed-case run with digits) takes a tenth of a realistic
# catalogue for credentials; a token of random bytes has no separator every few characters.
_MODEL_ID = re.compile(r"^(?:[A-Za-z0-9]{1,16}[-_./:+])+[A-Za-z0-9]{1,16}$")
_VENDOR_PREFIX = re.compile(r"^(sk-|sk_|ghp_|gho_|ghs_|github_pat_|hf_|xox[abps]-|AIza|eyJ)")


def looks_like_secret(value):
    """The engine's looks_like_secret, less its entropy guess on values shaped like model ids."""
    if not _looks_like_secret(value):
        return False
    text = value.strip()
    return not _MODEL_ID.match(text) or bool(_VENDOR_PREFIX.match(text))


def scrub(text):
    """``text`` with every credential-shaped token replaced: reports quote source values."""
    if not isinstance(text, str):
        return text
    # Short tokens ("sk-..." in a hint) are examples, not keys; real keys are long.
    return _TOKEN.sub(lambda match: REDACTED if len(match.group(0)) >= 12 and looks_like_secret(match.group(0))
                      else match.group(0), text)


_TYPE_NAMES = {
    dict: "a mapping", list: "a list", str: "a string", int: "an integer",
    float: "a number", bool: "true or false", type(None): "nothing (null)",
}


def type_name(value):
    for kind in (bool, dict, list, str, int, float, type(None)):
        if isinstance(value, kind):
            return _TYPE_NAMES[kind]
    return type(value).__name__


def format_path(keys):
    """('providers', 'ollama', 'models', 0) -> providers.ollama.models[0] (the engine's path style)."""
    path = ""
    for key in keys:
        path = path_join(path, key)
    return path


class SourceError(Exception):
    """A source file the importer cannot read: which file, which key, what to do."""

    def __init__(self, file, keys, message, hint):
        self.file = file
        self.keys = tuple(keys)
        self.path = scrub(format_path(self.keys))
        self.message = scrub(message)
        self.hint = scrub(hint)
        super(SourceError, self).__init__(self.render())

    def render(self):
        where = "%s: %s" % (self.file, self.path) if self.path else self.file
        return "%s: %s\n  fix: %s" % (where, self.message, self.hint)

    def as_dict(self):
        return {"file": self.file, "path": self.path, "message": self.message, "hint": self.hint}


class GuessError(SourceError):
    """A source the importer could only import by choosing for the user: the choices, and the
    correction ``-e accept_corrections=true`` applies."""

    def __init__(self, file, keys, message, choices, applied, secret=False):
        self.choices = [scrub(choice) for choice in choices]
        self.applied = scrub(applied)
        self.secret = secret
        super(GuessError, self).__init__(file, keys, message, "decide in the source file and import again")

    def render(self):
        where = "%s: %s" % (self.file, self.path) if self.path else self.file
        label = "do" if self.secret else "choices"
        lines = ["%s: %s" % (where, self.message), "  %s:" % label]
        lines.extend("    - %s" % choice for choice in self.choices)
        lines.append("  with -e accept_corrections=true: %s" % self.applied)
        return "\n".join(lines)

    def as_dict(self):
        out = super(GuessError, self).as_dict()
        out.update(choices=self.choices, applied_with_accept_corrections=self.applied)
        return out


class ImportFailed(Exception):
    """One or more SourceErrors; ``str()`` is the whole report, nothing was written."""

    def __init__(self, errors):
        self.errors = list(errors)
        guesses = [error for error in self.errors if isinstance(error, GuessError)]
        if guesses:
            secrets = sum(1 for error in guesses if error.secret)
            lines = ["import stopped: %d place(s) where the importer would have to guess%s; nothing was written."
                     % (len(guesses), " (%d literal secret(s): rotate them)" % secrets if secrets else ""),
                     "Decide each one in the source files and import again, or rerun with "
                     "-e accept_corrections=true to apply the correction shown for each (the report lists them)."]
        else:
            lines = ["import failed: %d problem(s) in the source files; nothing was written" % len(self.errors)]
        for error in self.errors:
            lines.append("")
            lines.append(error.render())
        super(ImportFailed, self).__init__("\n".join(lines))


_TAG = "tag:yaml.org,2002:"
_BUSY = object()

if HAS_YAML:
    # libyaml's parser when PyYAML was built with it: the pure-Python one takes seconds per
    # ten thousand models. Plain strings, lists and mappings (nearly every node of these
    # files) are built directly from the composed nodes: SafeConstructor's generic path
    # (generators, per-node bookkeeping) took half of the 6.7 s a 10,000-model import spent
    # reading its sources. Every other node (numbers, booleans, dates, merge keys) goes
    # through SafeConstructor unchanged, so the values are PyYAML's own.
    class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        """SafeLoader that refuses duplicate keys: PyYAML keeps the last one silently."""

        def resolve(self, kind, value, implicit):
            # The implicit type of a plain scalar depends on its text alone (no path resolvers
            # here): remember it, these files repeat "active", "primary", dates and ports.
            if kind is yaml.ScalarNode and implicit[0]:
                cache = self.__dict__.setdefault("_resolved", {})
                if value not in cache:
                    cache[value] = super(_StrictLoader, self).resolve(kind, value, implicit)
                return cache[value]
            return super(_StrictLoader, self).resolve(kind, value, implicit)

        def construct_document(self, node):
            try:
                return self._build(node, {})
            finally:
                self.constructed_objects = {}
                self.recursive_objects = {}
                self.state_generators = []

        def _build(self, node, memo):
            tag = node.tag
            if tag == _TAG + "str" and isinstance(node, yaml.ScalarNode):
                return node.value
            if id(node) in memo:
                if memo[id(node)] is _BUSY:
                    raise yaml.constructor.ConstructorError(
                        None, None, "an alias refers to the node that holds it (a recursive structure)",
                        node.start_mark)
                return memo[id(node)]
            if tag == _TAG + "seq" and isinstance(node, yaml.SequenceNode):
                memo[id(node)] = _BUSY
                value = [self._build(item, memo) for item in node.value]
            elif tag == _TAG + "map" and isinstance(node, yaml.MappingNode) and not any(
                    key.tag == _TAG + "merge" for key, dummy in node.value):
                memo[id(node)] = _BUSY
                value = {}
                lines = {}
                for key_node, value_node in node.value:
                    key = self._build(key_node, memo)
                    self._check_key(key, key_node, lines)
                    value[key] = self._build(value_node, memo)
            else:
                value = self.construct_object(node, deep=True)
            memo[id(node)] = value
            return value

        @staticmethod
        def _check_key(key, key_node, lines):
            try:
                hash(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key must be a plain value, not %s" % type_name(key), key_node.start_mark)
            if key in lines:
                raise yaml.constructor.ConstructorError(
                    None, None, "duplicate key %r (first on line %d); YAML would silently keep only the last"
                    % (key, lines[key] + 1), key_node.start_mark)
            lines[key] = key_node.start_mark.line

        def construct_mapping(self, node, deep=False):
            self.flatten_mapping(node)
            lines = {}
            for key_node, dummy in node.value:
                self._check_key(self.construct_object(key_node, deep=True), key_node, lines)
            return super(_StrictLoader, self).construct_mapping(node, deep=deep)


def parse_text(text, name):
    """Parse one source document; it must be a mapping at the top."""
    if not HAS_YAML:  # pragma: no cover
        raise SourceError(name, (), "PyYAML is not installed", "install PyYAML (python3-yaml)")
    try:
        doc = yaml.load(text, Loader=_StrictLoader)  # nosec - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = " at line %d, column %d" % (mark.line + 1, mark.column + 1) if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SourceError(name, (), "not valid YAML%s: %s" % (where, problem),
                          "fix the YAML syntax there (yamllint %s shows the same spot)" % name)
    if doc is None:
        raise SourceError(name, (), "the file is empty", "point the importer at the real file")
    if not isinstance(doc, dict):
        raise SourceError(name, (), "the top level must be a mapping (key: value), got %s" % type_name(doc),
                          "point the importer at the right file; this does not look like one of the "
                          "original system's configuration files")
    return doc


def read_file(path):
    """(text, display name) of a source file; the display name is the base name so reports are portable."""
    name = os.path.basename(path) or path
    if not os.path.exists(path):
        raise SourceError(name, (), "file not found: %s" % path, "check the path")
    if os.path.isdir(path):
        raise SourceError(name, (), "%s is a directory, not a file" % path, "give the path of the YAML file")
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except (IOError, OSError) as exc:
        raise SourceError(name, (), "cannot read %s: %s" % (path, exc.strerror or exc),
                          "check the file's permissions")
    try:
        return data.decode("utf-8"), name
    except UnicodeDecodeError as exc:
        raise SourceError(name, (), "not UTF-8 text (byte %d)" % exc.start, "save the file as UTF-8")


def walk(node, keys=()):
    """Every key path of a document whose value is a leaf (scalar, empty mapping or empty list)."""
    if isinstance(node, dict) and node:
        for key, value in node.items():
            yield from walk(value, keys + (key,))
    elif isinstance(node, list) and node:
        for index, value in enumerate(node):
            yield from walk(value, keys + (index,))
    else:
        yield keys


def expect(value, kinds, file, keys, what=None):
    """``value`` if it is of one of ``kinds`` (bool never counts as int), else SourceError."""
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
    if not ok:
        want = " or ".join(_TYPE_NAMES.get(kind, kind.__name__) for kind in kinds)
        found = type_name(value)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
            found = "%s (%s)" % (found, REDACTED if looks_like_secret(str(value)) else shown)
        raise SourceError(file, keys, "expected %s%s, got %s" % (want, " (%s)" % what if what else "", found),
                          "write %s here" % want)
    return value
