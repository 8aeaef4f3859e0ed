# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real redis-server for the tests that need one (the redis role's ACL and TLS, smoke_check).

`make unit` installs Debian's redis-server first (tests/harness/unit.sh), so a
missing binary is a broken set-up and fails the test; it never skips it.
"""

import shutil
import socket
import subprocess
import time

import pytest


def redis_server_binary():
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: run the tests with `make unit`, which installs it "
                    "(or apt-get install redis-server)")
    return binary


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_redis(binary, conf, port):
    """redis-server on ``conf``, once it accepts connections on ``port``; fails with its output otherwise."""
    process = subprocess.Popen([binary, str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)
    deadline = time.time() + 20
    while time.time() < deadline and process.poll() is None:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process
        time.sleep(0.05)
    process.kill()
    pytest.fail("redis-server did not start: %s" % process.communicate()[0].decode())
    return None
