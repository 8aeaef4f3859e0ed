# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The import of the real files is committed as golden files; this keeps them current.

Regenerate after an intended change with:
    AI_BACKEND_REGEN_GOLDEN=1 .venv/bin/python -m pytest tests/unit/importer/test_import_golden.py
then review the diff (git diff tests/golden/import-*) like any other change.
"""
import difflib
import os

import pytest

from ansible_collections.gathewhy.ai_backend.plugins.module_utils import importer
from importer_paths import original_paths

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "golden")
REGEN = os.environ.get("AI_BACKEND_REGEN_GOLDEN") == "1"


@pytest.fixture(scope="module")
def original():
    return original_paths()


@pytest.fixture(scope="module")
def outputs(original):
    result = importer.import_files(original["providers"], original["mappings"], original["ports"])
    return {
        "import-report.yml": importer.render_report(result["report"]),
        "import-registry.yml": importer.render_registry(result["registry"], result["report"]["sources"]),
        "import-secrets.yml": importer.render_secrets(result["secrets"]),
    }


@pytest.mark.parametrize("name", ["import-report.yml", "import-registry.yml", "import-secrets.yml"])
def test_golden_file_is_current(outputs, name):
    path = os.path.join(GOLDEN, name)
    text = outputs[name]
    if REGEN:
        with open(path, "w") as handle:
            handle.write(text)
    assert os.path.isfile(path), "%s is missing: run with AI_BACKEND_REGEN_GOLDEN=1" % path
    with open(path) as handle:
        golden = handle.read()
    if golden != text:
        diff = "".join(difflib.unified_diff(golden.splitlines(True), text.splitlines(True), path, "now", n=2))
        pytest.fail("%s is out of date (AI_BACKEND_REGEN_GOLDEN=1 regenerates it):\n%s" % (name, diff[:6000]))
