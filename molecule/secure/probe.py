# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Try a TCP connection to each ADDRESS:PORT and say what happened, as JSON.

    probe.py 192.0.2.2:8080 192.0.2.1:6379 ...

"open": the connection was accepted; "refused": the host answered with a
reset (nothing listens, but nothing filters either); "filtered": no answer
within the timeout (a firewall dropped the SYN); "unreachable": no route.
Runs in whichever network namespace it is started in (docker exec, ip netns
exec), with Python's standard library only.
"""

import errno
import json
import socket
import sys

TIMEOUT = 1.5


def probe(target):
    host, port = target.rsplit(":", 1)
    try:
        sock = socket.create_connection((host, int(port)), timeout=TIMEOUT)
        sock.close()
        return "open"
    except socket.timeout:
        return "filtered"
    except ConnectionRefusedError:
        return "refused"
    except OSError as err:
        if err.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            return "unreachable"
        return "error: %s" % err


print(json.dumps(dict((target, probe(target)) for target in sys.argv[1:])))
