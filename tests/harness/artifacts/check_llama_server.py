# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prove a llama-server binary serves the tiny model: start it on loopback,
wait for /health, ask for a chat completion and require generated tokens.
Prints the load time and the median latency of a few completions."""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HOST = "127.0.0.1"


def free_port():
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def request(url, body=None, timeout=30):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return resp.status, json.loads(resp.read() or b"{}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    port = free_port()
    env = dict(os.environ)
    # The same LLAMA_ARG_* variables the role's EnvironmentFile uses.
    env.update(LLAMA_ARG_MODEL=args.model, LLAMA_ARG_HOST=HOST, LLAMA_ARG_PORT=str(port),
               LLAMA_ARG_CTX_SIZE="512", LLAMA_ARG_N_PARALLEL="1", LLAMA_ARG_THREADS="2")
    base = "http://%s:%d" % (HOST, port)
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen([args.server], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            start = time.monotonic()
            while True:
                if proc.poll() is not None:
                    raise RuntimeError("llama-server exited with %s" % proc.returncode)
                try:
                    if request(base + "/health", timeout=2)[0] == 200:
                        break
                except (urllib.error.URLError, ConnectionError, OSError):
                    pass
                if time.monotonic() - start > 60:
                    raise RuntimeError("no healthy /health within 60 s")
                time.sleep(0.1)
            ready_s = time.monotonic() - start
            body = {"model": "tiny", "max_tokens": 8, "temperature": 0,
                    "messages": [{"role": "user", "content": "Say hello."}]}
            timings = []
            for _run in range(args.runs):
                t0 = time.monotonic()
                status, reply = request(base + "/v1/chat/completions", body)
                timings.append(time.monotonic() - t0)
                tokens = reply.get("usage", {}).get("completion_tokens", 0)
                if status != 200 or tokens < 1:
                    raise RuntimeError("bad completion: %s %s" % (status, reply))
            print("check: llama-server healthy after %.2f s; chat completion of %d tokens: "
                  "median %.1f ms, min %.1f ms over %d runs"
                  % (ready_s, tokens, statistics.median(timings) * 1000, min(timings) * 1000, args.runs))
            return 0
        except Exception as exc:  # report the server's own log, not a bare traceback
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace")[-4000:])
            sys.stderr.write("\ncheck: FAILED: %s\n" % exc)
            return 1
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    sys.exit(main())
