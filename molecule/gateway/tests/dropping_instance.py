# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A stand-in LiteLLM instance that crashes on its first completion, for the
gateway scenario's retry test (it runs inside the gateway container, behind
a copy of the deployed HAProxy config).

    python3 dropping_instance.py ADDRESS PORT MODE

Every GET answers 200 (HAProxy's health check). POSTs answer a small chat
completion, except the first one, which is dropped the way a crash drops it:

  before         the connection closes before a byte of the answer
  after-headers  the status line and headers go out, then the connection closes
  never          no POST is dropped

It serves until it is killed.
"""

import json
import socket
import sys
import threading

BODY = json.dumps({"object": "chat.completion", "choices": [
    {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}]}).encode("utf-8")
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"


def read_request(conn, pending):
    """(head, rest) of the next request on conn, or None when the peer closed."""
    while b"\r\n\r\n" not in pending:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        pending += chunk
    head, rest = pending.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, dummy, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        rest += chunk
    return head, rest[length:]


def serve(conn, mode, dropped):
    pending = b""
    with conn:
        while True:
            request = read_request(conn, pending)
            if request is None:
                return
            head, pending = request
            if head.startswith(b"GET "):
                conn.sendall(HEAD % 2 + b"ok")
                continue
            with dropped["lock"]:
                drop = mode != "never" and not dropped["done"]
                dropped["done"] = True
            if drop:
                if mode == "after-headers":
                    conn.sendall(HEAD % len(BODY))
                return
            conn.sendall(HEAD % len(BODY) + BODY)


def main(address, port, mode):
    if mode not in ("before", "after-headers", "never"):
        raise SystemExit("MODE %r: use before, after-headers or never" % mode)
    dropped = {"lock": threading.Lock(), "done": False}
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((address, int(port)))
    listener.listen(64)
    while True:
        conn, dummy = listener.accept()
        threading.Thread(target=serve, args=(conn, mode, dropped), daemon=True).start()


if __name__ == "__main__":
    main(*sys.argv[1:4])
