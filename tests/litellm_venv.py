# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pinned LiteLLM's python, for the tests that run LiteLLM's own code.

`make unit` builds .venv-litellm first (tests/harness/litellm-venv.sh, from the
role's hash lock), so a missing venv is a broken set-up and fails the test; it
never skips it.
"""

import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LITELLM_PYTHON = os.path.join(REPO, ".venv-litellm", "bin", "python")


def litellm_python():
    if not os.access(LITELLM_PYTHON, os.X_OK):
        pytest.fail("no %s: run the tests with `make unit`, which builds it "
                    "(or bash tests/harness/litellm-venv.sh)" % LITELLM_PYTHON)
    return LITELLM_PYTHON
