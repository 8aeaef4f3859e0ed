# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every filter the collection's FilterModule returns has documentation that
ansible-doc renders, and that documentation matches the filter's Python
signature (so a filter added or changed later cannot ship undocumented)."""

import inspect
import json
import os
import subprocess
import sys

import pytest

from ansible_collections.gathewhy.ai_backend.plugins.filter import ai_backend

FILTERS = ai_backend.FilterModule().filters()
BIN = os.path.dirname(sys.executable)
ANSIBLE_DOC = os.path.join(BIN, "ansible-doc")
# .../ansible_collections/gathewhy/ai_backend/plugins/filter/ai_backend.py
COLLECTION = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(ai_backend.__file__))))
COLLECTIONS_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(COLLECTION)))
pytestmark = pytest.mark.skipif(not os.path.exists(ANSIBLE_DOC), reason="ansible-doc is not in this venv")


def ansible_doc(*args):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT, ANSIBLE_NOCOLOR="1")
    return subprocess.run([ANSIBLE_DOC, "-t", "filter"] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, env=env, check=False)


@pytest.fixture(scope="module")
def docs():
    """ansible-doc's JSON of one filter, read once per filter (one undocumented
    filter must not hide the state of the others)."""
    cache = {}

    def doc(name):
        if name not in cache:
            done = ansible_doc("--json", "gathewhy.ai_backend." + name)
            assert done.returncode == 0, done.stderr
            cache[name] = json.loads(done.stdout)["gathewhy.ai_backend." + name]
        return cache[name]
    return doc


def test_the_filter_module_returns_filters():
    assert FILTERS, "FilterModule().filters() is empty"
    assert all(callable(function) for function in FILTERS.values())


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_filter_has_an_adjacent_doc_file(name):
    assert os.path.isfile(os.path.join(COLLECTION, "plugins", "filter", name + ".yml")), (
        "plugins/filter/%s.yml is missing: document the filter there (DOCUMENTATION, EXAMPLES, RETURN)" % name)


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_ansible_doc_renders_the_filter(name, docs):
    doc = docs(name)
    documentation = doc["doc"]
    assert documentation["name"] == name
    assert documentation["short_description"].strip()
    assert documentation["description"]
    assert doc["examples"].strip(), "no EXAMPLES for %s" % name
    assert "gathewhy.ai_backend.%s" % name in doc["examples"], "the EXAMPLES of %s never use it" % name
    assert doc["return"]["_value"]["description"]


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_documented_options_match_the_signature(name, docs):
    documentation = docs(name)["doc"]
    parameters = list(inspect.signature(FILTERS[name]).parameters.values())
    # The piped value is the first parameter; ansible-doc calls it _input.
    expected = {"_input": parameters[0]}
    expected.update((p.name, p) for p in parameters[1:])
    options = documentation.get("options") or {}
    assert sorted(options) == sorted(expected)
    for option, parameter in expected.items():
        required = parameter.default is inspect.Parameter.empty
        assert bool(options[option].get("required")) == required, "%s: %s required=%s" % (name, option, required)
    # Positional arguments follow the signature's order and include every
    # required one; optional ones may be documented as keyword-only.
    positional = [p.strip() for p in documentation.get("positional", "").split(",") if p.strip()]
    in_order = ["_input"] + [p.name for p in parameters[1:]]
    assert positional == in_order[:len(positional)], "positional: %s, signature: %s" % (positional, in_order)
    assert set(positional) >= set(o for o, p in expected.items() if p.default is inspect.Parameter.empty)


def test_plain_text_rendering_works_for_every_filter():
    done = ansible_doc(*["gathewhy.ai_backend." + name for name in sorted(FILTERS)])
    assert done.returncode == 0, done.stderr
    assert "Missing documentation" not in done.stdout + done.stderr
    for name in FILTERS:
        assert "gathewhy.ai_backend.%s" % name in done.stdout
