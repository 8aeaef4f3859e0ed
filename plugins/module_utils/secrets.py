# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check 7: secret values never live in the registry.

The registry only names environment variables (``*_env`` keys). Values are
vaulted role variables that end up in 0600 EnvironmentFiles. Anything that
looks like a credential is an error, and its value is redacted in the report.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import re

from .problems import Problem, mask, path_join

MASTER_KEY_MIN_LENGTH = 32

# Key names that only ever hold a credential. The *_env keys of the schema are
# allowed (they hold a NAME) and never reach this check.
_SECRET_KEY = re.compile(r"(api[_-]?key|apikey|master[_-]?key|passw(or)?d|secret|token|credential|auth)",
                         re.IGNORECASE)
# Well-known credential shapes at the start of a value: OpenAI/LiteLLM, GitHub,
# Hugging Face, Slack, Google, JWTs.
_SECRET_VALUE = re.compile(r"^(sk-|sk_|ghp_|gho_|ghs_|github_pat_|hf_|xox[abps]-|AIza|eyJ[A-Za-z0-9_-]{10,}\.)")
# Shapes found anywhere in a value: AWS access key ids, bearer headers, PEM blocks.
_SECRET_INSIDE = re.compile(
    r"((?<![A-Z0-9])(AKIA|ASIA)[0-9A-Z]{16}(?![A-Z0-9])|\b[Bb]earer\s+\S{8,}|-----BEGIN [A-Z ]*-----)")
_URL_USERINFO = re.compile(r"^[a-z][a-z0-9+.-]*://[^/\s@]+@", re.IGNORECASE)
# A long run of base64/url-safe characters mixing cases and digits, with the
# spread of characters of random bytes: a token whose vendor prefix we do not know.
_TOKEN_RUN = re.compile(r"[A-Za-z0-9+/=_-]{32,}")
_ENTROPY_BITS = 4.2
_SWITCH_RATIO = 0.45
_SEPARATOR_CHARS = re.compile(r"[-_/+=]")
_ENV_FIELDS = ("api_key_env", "master_key_env", "password_env")

_VAULT_HINT = ("keep the value in a vaulted variable (litellm_master_key, redis_password, "
               "litellm_provider_secrets) and reference it here by env var NAME only")


def _char_class(char):
    return "u" if char.isupper() else "l" if char.islower() else "d"


def _high_entropy(text):
    """A run of token characters that reads like random bytes, not like words.

    Random base62/base64 switches between upper case, lower case and digits at
    about 6 of 10 characters; identifiers made of words and version numbers
    (``meta-llama/Llama-3.1-405B-Instruct-FP8``) switch far less often.
    """
    for run in _TOKEN_RUN.findall(text):
        if not (re.search(r"[a-z]", run) and re.search(r"[A-Z]", run) and len(re.findall(r"[0-9]", run)) >= 4):
            continue
        chars = _SEPARATOR_CHARS.sub("", run)  # word separators would count as switches
        switches = sum(1 for left, right in zip(chars, chars[1:]) if _char_class(left) != _char_class(right))
        if switches < _SWITCH_RATIO * (len(chars) - 1):
            continue
        counts = {}
        for char in run:
            counts[char] = counts.get(char, 0) + 1
        bits = -sum(n / float(len(run)) * math.log(n / float(len(run)), 2) for n in counts.values())
        if bits >= _ENTROPY_BITS:
            return True
    return False


def looks_like_secret(value):
    """True for strings shaped like a credential or a URL carrying one."""
    if not isinstance(value, str):
        return False
    text = value.strip()
    return bool(_SECRET_VALUE.match(text) or _URL_USERINFO.match(text) or _SECRET_INSIDE.search(text)
                or (len(text) >= 32 and _high_entropy(text)))


def is_secret_key(key):
    return isinstance(key, str) and key not in _ENV_FIELDS and bool(_SECRET_KEY.search(key))


def unknown_key_hook(path, key, value):
    """Report a stray ``api_key: ...`` / ``password: ...`` as a leaked secret."""
    if not is_secret_key(key):
        return None
    env_key = "password_env" if "pass" in key.lower() else (
        "master_key_env" if "master" in key.lower() else "api_key_env")
    return Problem("secret", path_join(path, key), value,
                   "literal secret '%s' in the registry (secrets never live here)" % key,
                   "replace it with %s: <ENV_VAR_NAME> and %s" % (env_key, _VAULT_HINT), secret=True)


def string_hook(path, value):
    """Validator hook: a Problem if a string the schema accepts looks like a credential.

    Every string of the registry that the schema knows passes here; strings under
    unknown keys are reported by the unknown-key check and redacted by redact().
    """
    if not looks_like_secret(value):
        return None
    if _URL_USERINFO.match(value.strip()):
        message = "URL carries credentials (user:password@)"
        hint = "remove the credentials from the URL; use api_key_env and " + _VAULT_HINT
    else:
        message = "value looks like a literal API key or token"
        hint = "remove it; " + _VAULT_HINT
    return Problem("secret", path, value, message, hint, secret=True)


def contains_secret(value):
    """True if a credential hides anywhere in ``value`` (a string, or inside a mapping/list)."""
    if isinstance(value, dict):
        return any(contains_secret(key) or (is_secret_key(key) and isinstance(item, str) and item)
                   or contains_secret(item) for key, item in value.items())
    if isinstance(value, list):
        return any(contains_secret(item) for item in value)
    return looks_like_secret(value)


def redact(problems):
    """Never print a credential-shaped value, whichever check found it (also inside a mapping)."""
    for problem in problems:
        if not problem.secret and contains_secret(problem.value):
            problem.value = mask(problem.value)
            problem.secret = True
    return problems


def check_master_key(value, path="litellm_master_key"):
    """Problems with a LiteLLM master key value (empty list when it is strong enough).

    LiteLLM refuses to start with a weak or unset key; we say so before the
    restart instead of after it.
    """
    if not isinstance(value, str) or not value:
        return [Problem("master-key", path, None, "the LiteLLM master key is not set",
                        "set a vaulted litellm_master_key: 'sk-' followed by at least %d random characters "
                        "(e.g. 'sk-' + `openssl rand -hex 24`)" % (MASTER_KEY_MIN_LENGTH - 3))]
    problems = []
    if not value.startswith("sk-"):
        problems.append(Problem("master-key", path, value, "the master key must start with 'sk-'",
                                "prefix the key with 'sk-'", secret=True))
    if len(value) < MASTER_KEY_MIN_LENGTH:
        problems.append(Problem("master-key", path, value, "the master key has %d characters; at least %d needed" % (
            len(value), MASTER_KEY_MIN_LENGTH), "generate a longer one: 'sk-' + `openssl rand -hex 24`",
            secret=True))
    return problems
