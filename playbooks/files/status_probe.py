# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only probe of one host for playbooks/status.yml; prints one JSON object.

    python3 status_probe.py '<json request>'

The request (built by status.yml from the registry view) names what to look
at: unit name patterns, health URLs to GET, the deployed LiteLLM config and the
rollout record. The probe reads systemd, /proc/net, those files and nvidia-smi,
and GETs the health URLs; it writes nothing and starts nothing, so it is safe
in check mode. Standard library only: Debian 12's python3 runs it as is.
"""

from __future__ import absolute_import, division, print_function

import hashlib
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

try:
    from urllib.request import urlopen
    from urllib.error import HTTPError, URLError
except ImportError:  # pragma: no cover - Python 2 is not a target
    urlopen = None

SHOW = ("Id", "LoadState", "ActiveState", "SubState", "ActiveEnterTimestamp", "ExecStart")
# Release from an install path: /opt/litellm/venvs/<v>/, /opt/llama.cpp/<v>-<variant>/, .../vllm/<v>/
PATH_VERSION = re.compile(r"/(?:venvs|llama\.cpp|vllm)/([0-9][A-Za-z0-9._+-]*)/")
VERSION_FLAGS = {"haproxy": ["-v"], "redis-server": ["--version"]}


def run(argv, timeout=10):
    try:
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                              universal_newlines=True, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return 127, str(exc)
    return proc.returncode, proc.stdout


def units(patterns):
    """systemd's view of every unit matching the patterns (loaded or not-found ones that exist as files)."""
    if not patterns:
        return []
    rc, out = run(["systemctl", "list-units", "--all", "--plain", "--no-legend", "--no-pager"] + patterns)
    names = sorted(set(line.split()[0] for line in out.splitlines() if line.strip()) if rc == 0 else set())
    found = []
    for name in names:
        rc, out = run(["systemctl", "show", "--no-pager", "-p", ",".join(SHOW), name])
        props = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        exec_start = re.search(r"path=(\S+)", props.get("ExecStart", ""))
        props["Binary"] = exec_start.group(1) if exec_start else ""
        props.pop("ExecStart", None)
        found.append(props)
    return found


def version_of(binary):
    if not binary:
        return ""
    match = PATH_VERSION.search(binary)
    if match:
        return match.group(1)
    if not os.path.isfile(binary):
        return ""
    rc, out = run([binary] + VERSION_FLAGS.get(os.path.basename(binary), ["--version"]))
    first = out.strip().splitlines()[0] if out.strip() else ""
    match = re.search(r"\b[vV]?(\d+\.\d+(?:\.\d+)?[A-Za-z0-9.+-]*)", first)
    return match.group(1) if rc == 0 and match else ""


def listeners():
    """Listening TCP sockets as "address:port" (IPv6 in brackets), from /proc/net."""
    found = set()
    for name, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            with open(name) as handle:
                lines = handle.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 4 or fields[3] != "0A":  # 0A: LISTEN
                continue
            hexaddr, hexport = fields[1].split(":")
            raw = bytes.fromhex(hexaddr)
            if width == 8:
                address = ".".join(str(b) for b in reversed(raw))
            else:
                words = [raw[i:i + 4][::-1] for i in range(0, 16, 4)]
                packed = b"".join(words)
                groups = ["%x" % int.from_bytes(packed[i:i + 2], "big") for i in range(0, 16, 2)]
                address = "[%s]" % re.sub(r"(^|:)0(:0)+(:|$)", "::", ":".join(groups), count=1)
            found.add("%s:%d" % (address, int(hexport, 16)))
    return sorted(found)


def health(url):
    try:
        with urlopen(url, timeout=3) as resp:
            return url, str(resp.status)
    except HTTPError as exc:
        return url, str(exc.code)
    except (URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return url, "down (%s)" % (reason.__class__.__name__ if not isinstance(reason, str) else reason)


def head_lines(path, count):
    try:
        with open(path, "rb") as handle:
            return [handle.readline().decode("utf-8", "replace").rstrip("\n") for dummy in range(count)]
    except OSError:
        return None


def file_sha256(path):
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return None


def gpus():
    """Memory per GPU: the same query as the gpu_facts module (and its recorded test answers)."""
    rc, out = run(["nvidia-smi", "--query-gpu=index,uuid,name,memory.total,memory.used,driver_version,compute_cap",
                   "--format=csv,noheader,nounits"])
    if rc != 0:
        return None
    rows = []
    for line in out.splitlines():
        parts = [part.strip() for part in line.split(",")]
        if len(parts) == 7 and parts[0].isdigit():
            try:
                rows.append({"index": int(parts[0]), "name": parts[2], "total_mib": int(float(parts[3])),
                             "used_mib": int(float(parts[4]))})
            except ValueError:
                continue  # "[N/A]" or a driver message: that GPU is left out
    return rows


def main(argv):
    request = json.loads(argv[1]) if len(argv) > 1 else {}
    found = units(request.get("units", []))
    for unit in found:
        unit["Version"] = version_of(unit.get("Binary", ""))
    urls = sorted(set(request.get("health_urls", [])))
    with ThreadPoolExecutor(max_workers=16) as pool:
        checked = dict(pool.map(health, urls)) if urls else {}
    config = request.get("config_file")
    rollout = request.get("rollout_file")
    rollout_lines = head_lines(rollout, 8) if rollout else None
    result = {
        "units": found,
        "listening": listeners(),
        "health": checked,
        "config_header": head_lines(config, 3) if config else None,
        "config_sha256": file_sha256(config) if config else None,
        "rollout": dict(line.split("=", 1) for line in rollout_lines or [] if "=" in line and not line.startswith("#")),
        "gpus": gpus(),
    }
    sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
