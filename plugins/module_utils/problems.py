# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Problems found in a registry, and the one place that decides their severity.

Every finding of the engine is a Problem: the variable path, the offending value,
what is wrong and how to fix it. Whether a finding blocks the render is decided
only by SEVERITY below, keyed by the check's code, so no check can quietly
downgrade itself.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from .plain import printable

ERROR = "error"
WARNING = "warning"

# The severity rule, in one place. Everything that can make LiteLLM misroute,
# shadow a deployment, leak a secret or refuse to start is an error; findings
# that are legal but often a mistake are warnings.
SEVERITY = {
    "unknown-key": ERROR,        # check 1: keys LiteLLM/the roles would silently ignore
    "schema": ERROR,             # wrong type, missing key, value out of its allowed set
    "port": ERROR,               # check 2: out of range / placeholder / non-numeric
    "port-conflict": ERROR,      # check 2: two enabled services on one host:port
    "reference": ERROR,          # check 3: fallback/alias target is not an enabled model
    "fallback-cycle": ERROR,     # check 4
    "fallback-self": ERROR,      # check 4
    "fallback-duplicate": ERROR,  # check 4
    "duplicate-model": ERROR,    # check 5: same public name twice on one host
    "gpu-budget": ERROR,         # check 6: summed gpu_memory_utilization over the ceiling
    "gpu-unassigned": ERROR,     # check 6: several vLLM instances, one without gpus
    "secret": ERROR,             # check 7: literal secret in the registry
    "master-key": ERROR,         # check 7: weak master key
    "routing-strategy": ERROR,   # check 8
    "host": ERROR,               # gateway/inference host names that are not in the inventory
    "address": ERROR,            # the gateway cannot dial a backend, or two backends render one URL
    "no-models": WARNING,        # a gateway with nothing to route to (legal while building up)
    "no-fallback": WARNING,      # a model nobody falls back from
    "similar-names": WARNING,    # two names within edit distance 2: maybe a typo
}

_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_REDACTED = "<redacted>"


def mask(value):
    """A secret as a report may show it: never whole. Long strings keep their first 4
    characters (enough to recognise which key leaked) and their length."""
    if isinstance(value, str) and len(value) >= 16:
        return "<redacted: %s... %d characters>" % (value[:4], len(value))
    return _REDACTED


def path_join(path, key):
    """Append a mapping key or list index to a variable path.

    Keys that are not plain identifiers (model names such as ``llama3.1:latest``)
    are quoted in brackets so the path stays unambiguous.
    """
    if isinstance(key, int) and not isinstance(key, bool):
        return "%s[%d]" % (path, key)
    key = str(key)
    if _PLAIN_KEY.match(key):
        return "%s.%s" % (path, key) if path else key
    return '%s["%s"]' % (path, key.replace('"', '\\"'))


class LazyPath:
    """A path built only if a problem needs it.

    Validation walks every node of a 10,000-model registry; formatting each
    node's path up front costs more than the checks themselves.
    """

    __slots__ = ("parent", "key", "_text")

    def __init__(self, parent, key):
        self.parent = parent
        self.key = key
        self._text = None

    def __str__(self):
        if self._text is None:
            self._text = path_join(str(self.parent), self.key)
        return self._text


def host_path(host, var=None):
    """Path prefix of one host's variable: ``host_vars[gpu1].ai_backend_providers``."""
    base = "host_vars[%s]" % host
    return path_join(base, var) if var else base


def show_value(value, limit=80):
    """Short, single-line rendering of a value for a report."""
    if isinstance(value, str):
        text = "'%s'" % value
    elif value is None:
        text = "null"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = repr(value)
    text = text.replace("\n", "\\n")
    if len(text) > limit:
        text = text[:limit - 3] + "..."
    return text


class Problem:
    """One finding: where, what value, what is wrong, how to fix it."""

    __slots__ = ("code", "path", "value", "message", "hint", "secret")

    def __init__(self, code, path, value, message, hint, secret=False):
        if code not in SEVERITY:
            raise ValueError("unknown problem code %r" % code)
        self.code = code
        self.path = path if isinstance(path, str) else str(path)
        self.value = mask(value) if secret else value
        self.message = message
        self.hint = hint
        self.secret = secret

    @property
    def severity(self):
        return SEVERITY[self.code]

    @property
    def is_error(self):
        return SEVERITY[self.code] == ERROR

    def render(self):
        value = self.value if self.secret else show_value(self.value)
        return "%s: %s\n  value: %s\n  problem: %s\n  fix: %s" % (
            self.severity.upper(), self.path, value, self.message, self.hint)

    def as_dict(self):
        return {"code": self.code, "severity": self.severity, "path": self.path,
                "value": printable(self.value), "message": self.message, "hint": self.hint}

    def one_line(self):
        return "%s: %s (fix: %s)" % (self.path, self.message, self.hint)

    def __str__(self):
        return self.one_line()

    def __repr__(self):
        return "Problem(%r, %r, %r)" % (self.code, self.path, self.message)


def sort_problems(problems):
    return sorted(problems, key=lambda p: (p.path, p.code, p.message))


def format_report(problems, title="ai_backend registry"):
    errors = [p for p in problems if p.is_error]
    warnings = [p for p in problems if not p.is_error]
    lines = ["%s: %d error(s), %d warning(s)" % (title, len(errors), len(warnings))]
    for problem in sort_problems(errors) + sort_problems(warnings):
        lines.append("")
        lines.append(problem.render())
    return "\n".join(lines)


class RegistryError(Exception):
    """The registry has errors. ``str(err)`` is the full human report.

    ``problems`` holds the errors, ``warnings`` the non-blocking findings.
    """

    def __init__(self, problems, warnings=()):
        self.problems = sort_problems(problems)
        self.warnings = sort_problems(warnings)
        super(RegistryError, self).__init__(self.report())

    def report(self):
        return format_report(list(self.problems) + list(self.warnings))

    def __str__(self):
        return self.report()
