# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "unit", "engine"))
