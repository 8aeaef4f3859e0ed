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
from .secrets import looks_like_secret

_TOKEN = re.compile(r"[^\s'\"(),;]+")
REDACTED = "<redacted>"


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


class ImportFailed(Exception):
    """One or more SourceErrors; ``str()`` is the whole report, nothing was written."""

    def __init__(self, errors):
        self.errors = list(errors)
        lines = ["import failed: %d problem(s) in the source files; nothing was written" % len(self.errors)]
        for error in self.errors:
            lines.append("")
            lines.append(error.render())
        super(ImportFailed, self).__init__("\n".join(lines))


if HAS_YAML:
    class _StrictLoader(yaml.SafeLoader):
        """SafeLoader that refuses duplicate keys: PyYAML keeps the last one silently."""

        def construct_mapping(self, node, deep=False):
            self.flatten_mapping(node)
            seen = {}
            for key_node, dummy in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    hash(key)
                except TypeError:
                    raise yaml.constructor.ConstructorError(
                        None, None, "a mapping key must be a plain value, not %s" % type_name(key),
                        key_node.start_mark)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, "duplicate key %r (first on line %d); YAML would silently keep only the last"
                        % (key, seen[key] + 1), key_node.start_mark)
                seen[key] = key_node.start_mark.line
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
        raise SourceError(file, keys, "expected %s%s, got %s" % (want, " (%s)" % what if what else "", found),
                          "write %s here" % want)
    return value
