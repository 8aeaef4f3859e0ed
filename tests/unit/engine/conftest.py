# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
import copy
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from engine_import import golden_case  # noqa: E402


@pytest.fixture()
def lab():
    """A deep copy of the golden registry's hosts (safe to mutate)."""
    return copy.deepcopy(golden_case("original_lab")["hosts"])
