# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
import sys

from vllm_standin.cli import main

sys.exit(main())
