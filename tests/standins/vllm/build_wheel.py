# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build the vllm-standin wheel with the standard library only.

A wheel is a zip with METADATA, WHEEL, entry_points.txt and RECORD; writing
it directly keeps the build offline and byte-for-byte reproducible (fixed
timestamps, sorted entries), so its sha256 only changes when the code does.

    python3 build_wheel.py OUT_DIR   -> prints the wheel path
"""
import base64
import hashlib
import os
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "src")
NAME, DIST = "vllm-standin", "vllm_standin"
sys.path.insert(0, SRC)
from vllm_standin import __version__ as VERSION  # noqa: E402

METADATA = """Metadata-Version: 2.1
Name: {name}
Version: {version}
Summary: vLLM stand-in for the gathewhy.ai_backend tests (not vLLM)
License: GPL-3.0-or-later
Requires-Python: >=3.9

A test double that speaks vLLM's `vllm serve` CLI and HTTP API, backed by
llama-server on a tiny GGUF model. See tests/standins/vllm/README.md.
""".format(name=NAME, version=VERSION)
WHEEL = "Wheel-Version: 1.0\nGenerator: build_wheel.py\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
ENTRY_POINTS = "[console_scripts]\nvllm = vllm_standin.cli:main\n"


def digest(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def main(out_dir):
    info = "%s-%s.dist-info" % (DIST, VERSION)
    files = []
    for name in sorted(os.listdir(os.path.join(SRC, DIST))):
        if name.endswith(".py"):
            with open(os.path.join(SRC, DIST, name), "rb") as handle:
                files.append(("%s/%s" % (DIST, name), handle.read()))
    files += [(info + "/METADATA", METADATA.encode()), (info + "/WHEEL", WHEEL.encode()),
              (info + "/entry_points.txt", ENTRY_POINTS.encode())]
    record = "".join("%s,%s,%d\n" % (path, digest(data), len(data)) for path, data in files)
    record += info + "/RECORD,,\n"
    files.append((info + "/RECORD", record.encode()))
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "%s-%s-py3-none-any.whl" % (DIST, VERSION))
    tmp = path + ".tmp"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as whl:
        for name, data in files:
            entry = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            whl.writestr(entry, data)
    os.replace(tmp, path)
    print(path)


if __name__ == "__main__":
    main(sys.argv[1])
