# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Generate the reference part of docs/registry.md from schemas/registry.schema.json
(the only copy of the schema; the engine loads it), and keep that file canonical
(sorted keys, two-space indent).

    python tests/unit/engine/gen_docs.py --write   # rewrite both files
    python tests/unit/engine/gen_docs.py           # exit 1 if either is stale
test_docs.py runs the check, so stale docs fail `make unit`.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from engine_import import REPO, problems, schema  # noqa: E402

DOC = os.path.join(REPO, "docs", "registry.md")
SCHEMA_FILE = os.path.join(REPO, "schemas", "registry.schema.json")
BEGIN = "<!-- BEGIN GENERATED: do not edit, run tests/unit/engine/gen_docs.py --write -->"
END = "<!-- END GENERATED -->"


def _type(node):
    if node is False:
        return "not allowed"
    if "enum" in node:
        return "one of: " + ", ".join("`%s`" % v for v in node["enum"])
    kind = node.get("type", "")
    if kind == "array" and isinstance(node.get("items"), dict) and node["items"].get("type") in (
            "string", "integer"):
        kind = "list of %s" % node["items"]["type"]
    elif kind == "object" and isinstance(node.get("additionalProperties"), dict) and "properties" not in node:
        value = node["additionalProperties"]
        kind = "mapping of name -> %s" % (value.get("type") if value.get("type") != "array" else "list of names")
    return kind


def _constraints(node):
    parts = []
    for key, label in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("minItems", "min items"),
                       ("maxItems", "max items")):
        if key in node:
            parts.append("%s %s" % (label, node[key]))
    if "pattern" in node:
        parts.append("pattern `%s`" % node["pattern"].replace("|", "\\|"))
    if node.get("required"):
        parts.append("requires " + ", ".join("`%s`" % r for r in node["required"]))
    return "; ".join(parts)


def rows(node, path, out):
    default = "`%s`" % json.dumps(node["default"]) if isinstance(node, dict) and "default" in node else ""
    description = node.get("description", "") if isinstance(node, dict) else ""
    if path:
        limits = _constraints(node)
        suffix = "(%s)" % limits if limits else ""
        out.append("| `%s` | %s | %s | %s %s |" % (path, _type(node), default, description, suffix))
    for key in sorted(node.get("properties", {})):
        rows(node["properties"][key], "%s.%s" % (path, key) if path else key, out)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict) and "properties" in extra:
        rows(extra, "%s.<id>" % path, out)
    items = node.get("items")
    if isinstance(items, dict) and "properties" in items:
        rows(items, "%s[]" % path, out)
    return out


def generated():
    lines = [BEGIN, "", "### Every key", "", "| variable path | type | default | meaning |", "|---|---|---|---|"]
    rows(schema.REGISTRY_SCHEMA, "", lines)
    lines += ["", "### Per-type rules (from the schema's allOf)", ""]
    for clause in schema.PROVIDER_SCHEMA["allOf"]:
        then = clause["then"]
        lines.append("- %s" % then.get("x-reason"))
    lines += ["", "### Severity (plugins/module_utils/problems.py SEVERITY)", "", "| code | severity |", "|---|---|"]
    for code in sorted(problems.SEVERITY):
        lines.append("| `%s` | %s |" % (code, problems.SEVERITY[code]))
    lines += ["", END]
    return "\n".join(lines)


def schema_text():
    return json.dumps(schema.REGISTRY_SCHEMA, indent=2, sort_keys=True) + "\n"


def stale():
    found = []
    with open(DOC) as handle:
        doc = handle.read()
    if BEGIN not in doc or END not in doc:
        found.append(DOC + " has no generated section")
    else:
        current = doc[doc.index(BEGIN):doc.index(END) + len(END)]
        if current != generated():
            found.append(DOC)
    with open(SCHEMA_FILE) as handle:
        if handle.read() != schema_text():
            found.append(SCHEMA_FILE)
    return found


def write():
    with open(DOC) as handle:
        doc = handle.read()
    doc = doc[:doc.index(BEGIN)] + generated() + doc[doc.index(END) + len(END):]
    with open(DOC, "w") as handle:
        handle.write(doc)
    with open(SCHEMA_FILE, "w") as handle:
        handle.write(schema_text())


if __name__ == "__main__":
    if "--write" in sys.argv:
        write()
    bad = stale()
    if bad:
        print("stale, run tests/unit/engine/gen_docs.py --write: " + ", ".join(bad))
        sys.exit(1)
