# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The only way out of the secure scenario's namespaces: an HTTP proxy for apt and pip.

    egress_proxy.py LOG PID [PID ...]

The test containers have their own network namespaces with no route out, but
the roles install Debian packages and LiteLLM's wheels. For each container PID
this process listens on 127.0.0.1:3128 *inside* that container's namespace
(setns for the listening socket only) and connects out from the machine's own
namespace, to the hosts in ALLOWED and nowhere else. Nothing is routed: no
packet crosses between the namespaces, only the bytes of allowed requests.
Each request is logged as one line ("allow"/"refuse", host, port), so the
scenario can count what left the sandbox.
"""

import ctypes
import os
import socket
import sys
import threading

ALLOWED = {("deb.debian.org", 80), ("pypi.org", 443), ("files.pythonhosted.org", 443)}
CLONE_NEWNET = 0x40000000
PORT = 3128
_libc = ctypes.CDLL(None, use_errno=True)
_log_lock = threading.Lock()
_HOME = None


def setns(path):
    with open(path) as handle:
        if _libc.setns(handle.fileno(), CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns %s" % path)


def listen_in(pid):
    """A listening socket on 127.0.0.1:PORT in the network namespace of ``pid``."""
    setns("/proc/%d/ns/net" % pid)
    try:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", PORT))
        server.listen(64)
        return server
    finally:
        setns(_HOME)


def log(out, verdict, host, port):
    with _log_lock:
        out.write("%s %s %s\n" % (verdict, host, port))
        out.flush()


def pipe(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def handle(client, out):
    try:
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 65536:
            chunk = client.recv(4096)
            if not chunk:
                return
            head += chunk
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        method, target = line.split(" ")[:2]
        if method == "CONNECT":
            host, port = target.rsplit(":", 1)
        else:
            rest = target.split("://", 1)[1] if "://" in target else ""
            hostport = rest.split("/", 1)[0]
            host, port = (hostport.rsplit(":", 1) if ":" in hostport else (hostport, "80"))
        port = int(port)
        if (host, port) not in ALLOWED:
            log(out, "refuse", host, port)
            client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        log(out, "allow", host, port)
        upstream = socket.create_connection((host, port), timeout=30)
        upstream.settimeout(None)
        if method == "CONNECT":
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:
            # Origin servers accept the absolute-form request target (RFC 9112 3.2.2).
            upstream.sendall(head)
        threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
        pipe(client, upstream)
    except (OSError, ValueError, IndexError):
        pass
    finally:
        client.close()


def serve(server, out):
    while True:
        client, _addr = server.accept()
        threading.Thread(target=handle, args=(client, out), daemon=True).start()


def main(argv):
    global _HOME
    # A handle on the machine's namespace, taken before any setns, to come back to.
    _HOME = "/proc/self/fd/%d" % os.open("/proc/self/ns/net", os.O_RDONLY)
    out = open(argv[1], "a")
    servers = [listen_in(int(pid)) for pid in argv[2:]]
    for server in servers[1:]:
        threading.Thread(target=serve, args=(server, out), daemon=True).start()
    serve(servers[0], out)


if __name__ == "__main__":
    main(sys.argv)
