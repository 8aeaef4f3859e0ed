# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pull one model through Ollama's streaming /api/pull, keeping a status file.

The ollama role runs this on the host in the background (async) and prints
the status file every poll: a non-streaming pull says nothing until it ends,
up to ollama_pull_timeout (an hour by default) later.

    python3 -c "$(cat ollama_pull.py)" URL MODEL STATUS_FILE IDLE_TIMEOUT

STATUS_FILE holds one JSON object, replaced atomically at most once a second:
{"status": Ollama's last status, "completed": bytes, "total": bytes,
"percent": 0-100 or null before the sizes are known}. Bytes add up every
layer seen so far. Exits 0 once Ollama reports "success"; otherwise 1, with
Ollama's error (or the transport error) on stderr.
"""
import json
import os
import sys
import time
import urllib.error
import urllib.request


def write_status(path, state):
    partial = path + ".partial"
    with open(partial, "w") as out:
        json.dump(state, out)
    os.replace(partial, path)


def error_text(err):
    """Ollama's {"error": ...} message of an HTTP error, else its body or reason."""
    try:
        body = err.read().decode("utf-8", "replace")
    except OSError:
        body = ""
    try:
        return json.loads(body)["error"]
    except (ValueError, KeyError, TypeError):
        return body.strip() or str(err.reason)


def pull(url, model, status_path, idle_timeout):
    request = urllib.request.Request(
        url.rstrip("/") + "/api/pull", data=json.dumps({"model": model, "stream": True}).encode(),
        headers={"Content-Type": "application/json"}, method="POST")
    layers = {}
    state = {"status": "connecting", "completed": 0, "total": 0, "percent": None}
    write_status(status_path, state)
    written = time.monotonic()
    # The timeout bounds each read: a stalled download fails instead of hanging
    # until the role's overall limit.
    with urllib.request.urlopen(request, timeout=idle_timeout) as response:
        for line in response:
            if not line.strip():
                continue
            event = json.loads(line)
            if "error" in event:
                raise RuntimeError(event["error"])
            if event.get("digest") and event.get("total"):
                layers[event["digest"]] = (int(event.get("completed") or 0), int(event["total"]))
            completed = sum(done for done, size in layers.values())
            total = sum(size for done, size in layers.values())
            state = {"status": event.get("status", ""), "completed": completed, "total": total,
                     "percent": min(100, completed * 100 // total) if total else None}
            if time.monotonic() - written >= 1:
                write_status(status_path, state)
                written = time.monotonic()
    write_status(status_path, state)
    if state["status"] != "success":
        raise RuntimeError("the pull ended without success (last status: %r)" % state["status"])


def main(argv):
    url, model, status_path, idle_timeout = argv
    try:
        pull(url, model, status_path, float(idle_timeout))
    except urllib.error.HTTPError as err:
        sys.stderr.write("HTTP %d: %s\n" % (err.code, error_text(err)))
        return 1
    except (urllib.error.URLError, OSError, ValueError, RuntimeError) as err:
        sys.stderr.write("%s\n" % (err,))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
