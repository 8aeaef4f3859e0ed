# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the importer tests find their inputs (not a conftest: the engine tests import theirs by name).

The real files of the original deployment live in ../shared/reference/original-configs
(beside the checkout, read-only in CI); AI_BACKEND_SHARED points elsewhere if needed.
"""
import os

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SHARED = os.environ.get("AI_BACKEND_SHARED", os.path.join(os.path.dirname(REPO), "shared"))
ORIGINAL = os.path.join(SHARED, "reference", "original-configs")
GOLDEN = os.path.join(REPO, "tests", "golden")


def original_paths():
    """Paths of the four real files; a clear skip (a failure under CI) when the reference material is absent."""
    paths = dict((key, os.path.join(ORIGINAL, name)) for key, name in (
        ("providers", "providers.yaml"), ("mappings", "model-mappings.yaml"), ("ports", "ports.yaml"),
        ("litellm", "litellm-unified.yaml")))
    missing = [path for path in paths.values() if not os.path.isfile(path)]
    if missing:
        message = "reference configs not found (set AI_BACKEND_SHARED): %s" % ", ".join(missing)
        if os.environ.get("CI"):
            # CI always has ../shared beside the clone: a skip there would hide a broken import.
            pytest.fail(message)
        pytest.skip(message)
    return paths
