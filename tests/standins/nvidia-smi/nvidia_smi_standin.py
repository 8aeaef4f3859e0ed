# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""nvidia-smi STAND-IN: replays recorded nvidia-smi output. It is not nvidia-smi.

Installed as `nvidia-smi` on the PATH of a Molecule container (or pointed at by
the gpu_facts module's nvidia_smi option) so the GPU-budget preflight runs
against known GPUs on a machine that has none. It answers only the exact
command lines present in the recording, byte for byte as recorded; anything
else exits 2 with a message, so a query the recording lacks is never invented.

Recording: $NVIDIA_SMI_STANDIN_RECORDING, else /etc/nvidia-smi-standin/recording.json
(format: tests/unit/gpu/fixtures/*.json).
"""
import json
import os
import sys

DEFAULT = "/etc/nvidia-smi-standin/recording.json"


def main(argv):
    path = os.environ.get("NVIDIA_SMI_STANDIN_RECORDING") or DEFAULT
    try:
        with open(path) as handle:
            recording = json.load(handle)
    except (OSError, ValueError) as exc:
        sys.stderr.write("nvidia-smi stand-in: cannot read recording %s: %s\n" % (path, exc))
        return 2
    key = " ".join(argv[1:])
    answer = recording.get("commands", {}).get(key)
    if answer is None:
        sys.stderr.write("nvidia-smi stand-in: no recording of `nvidia-smi %s` in %s\n" % (key, path))
        return 2
    sys.stdout.write(answer.get("stdout", ""))
    sys.stderr.write(answer.get("stderr", ""))
    return int(answer.get("rc", 0))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
