# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The importer writes YAML with libyaml and indents its lists afterwards (importer.indent_sequences):
the result must be what the pure-Python dumper writes, and must load back to the same data."""
import random

import pytest
import yaml

from ansible_collections.gathewhy.ai_backend.plugins.module_utils import importer

pytestmark = pytest.mark.skipif(not hasattr(yaml, "CSafeDumper"), reason="PyYAML without libyaml")

AWKWARD = ["plain", "with: colon", "- dash first", "ends with colon:", "multi\nline\ntext", "", " lead", "trail ",
           "'quoted'", '"double"', "#hash", "yes", "null", "1.5", "0x10", "ünïcødé 模型", "a: - b", "key:\n  - item",
           "x" * 150, ("word " * 40).strip(), "tab\there", "{flow}", "[list]", "*alias", "&anchor", "!tag", "%pct"]


def structure(rng, depth=0):
    kind = rng.random()
    if depth > 4 or kind < 0.35:
        return rng.choice(AWKWARD + [0, -1, 3.25, True, False, None, [], {}])
    if kind < 0.65:
        return [structure(rng, depth + 1) for dummy in range(rng.randint(1, 4))]
    # Keys as the importer's data has them: names, never empty (libyaml and the Python emitter
    # write an empty key differently, "? ''" against "'':", both valid).
    return dict((rng.choice([k for k in AWKWARD if k] + ["k%d" % i, i]), structure(rng, depth + 1))
                for i in range(rng.randint(1, 4)))


def python_dump(data, width):
    return yaml.dump(data, Dumper=importer._Dumper, default_flow_style=False, sort_keys=False, allow_unicode=True,
                     width=width)


def fast_dump(data, width):
    return importer.indent_sequences(yaml.dump(data, Dumper=yaml.CSafeDumper, default_flow_style=False,
                                               sort_keys=False, allow_unicode=True, width=width))


def test_same_text_as_the_python_dumper_without_wrapping():
    rng = random.Random(7)
    for case in range(400):
        data = {"root": structure(rng), "list": [structure(rng), {"a": [structure(rng)]}]}
        assert fast_dump(data, 10 ** 6) == python_dump(data, 10 ** 6), "case %d" % case


def test_loads_back_to_the_same_data_with_wrapping():
    rng = random.Random(11)
    for case in range(400):
        data = {"root": structure(rng), "nested": [[structure(rng), [structure(rng)]], {"k": [structure(rng)]}]}
        assert yaml.safe_load(fast_dump(data, 100)) == data, "case %d" % case


def test_lists_are_indented_under_their_key():
    text = importer._dump({"a": [1, {"b": ["x", "y"]}], "c": {"d": []}})
    assert text == "a:\n  - 1\n  - b:\n      - x\n      - y\nc:\n  d: []\n"
