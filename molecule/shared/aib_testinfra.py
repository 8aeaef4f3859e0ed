# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared pytest plugin for the Molecule scenarios' testinfra tests.

Loaded with `-p aib_testinfra` (see .config/molecule/config.yml). It gives
tests the host's inventory variables, small HTTP and Redis clients that run
on the controller (the containers share the host network, so a test reaches
a service at the host's own loopback address), and a failure hook: when a
test fails, the journal of every ai_backend unit that is not running is
attached to the report.
"""

import json
import os
import socket
import subprocess
import sys
import time

import pytest

# Units the collection manages; instances are globbed.
UNIT_PATTERNS = ("redis-server.service", "haproxy.service", "litellm@*.service", "llama-cpp@*.service",
                 "ollama@*.service", "vllm@*.service")
JOURNAL_LINES = 60


def unit_journal(host, unit, lines=JOURNAL_LINES):
    """The last journal lines of one unit, for failure messages."""
    out = host.run("journalctl --no-pager --output=short-iso --lines=%s --unit=%s", str(lines), unit)
    return "---- journalctl -u %s (last %d lines) ----\n%s" % (unit, lines, out.stdout or out.stderr)


def not_running_units(host):
    """Managed units that exist on the host but are not active."""
    out = host.run("systemctl list-units --all --plain --no-legend --type=service %s",
                   " ".join(UNIT_PATTERNS))
    names = []
    for line in out.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[2] != "active":
            names.append(fields[0])
    return names


def assert_unit_running(host, unit):
    """Active and enabled, or fail with the unit's journal in the message."""
    service = host.service(unit)
    if not (service.is_running and service.is_enabled):
        pytest.fail("%s: running=%s enabled=%s\n%s" % (
            unit, service.is_running, service.is_enabled, unit_journal(host, unit)))


def unit_process_users(host, unit):
    """{pid: user} of every process whose cgroup is the unit's (or below it)."""
    # One round trip: pid, owner of /proc/<pid> (= the process's user; procps
    # is not in the image) and the cgroup v2 path of every process. No
    # arguments, so testinfra does no %-formatting of this command.
    out = host.check_output(
        "for p in /proc/[0-9]*; do "
        "printf '%s %s %s\\n' \"${p#/proc/}\" \"$(stat -c %U \"$p\" 2>/dev/null)\" "
        "\"$(grep -m1 '^0::' \"$p/cgroup\" 2>/dev/null | cut -d: -f3)\"; done")
    users = {}
    for line in out.splitlines():
        fields = line.split(" ", 2)
        if len(fields) < 3 or not fields[1]:
            continue
        cgroup = fields[2]
        if cgroup.endswith("/" + unit) or ("/" + unit + "/") in cgroup:
            users[int(fields[0])] = fields[1]
    return users


def own_listeners(host):
    """(local address, port, process) of TCP listeners owned by this container's processes.

    The containers share the host's network namespace, so `ss` lists every
    container's sockets; only the container's own processes (its PID
    namespace) carry process details.
    """
    out = host.check_output("ss --tcp --listening --numeric --processes --no-header")
    found = []
    for line in out.splitlines():
        if "users:((" not in line:
            continue
        fields = line.split()
        local = fields[3]
        address, port = local.rsplit(":", 1)
        process = line.split('users:(("', 1)[1].split('"', 1)[0]
        found.append((address.strip("[]"), int(port), process))
    return found


def wait_for(what, check, timeout=90, step=2):
    """check()'s first truthy result, polled every `step` s; AssertionError after `timeout` s.
    For what settles a moment after the answer a test waited for: counters raised in
    callbacks, journal lines, Prometheus scrapes and alerts."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = check()
        if last:
            return last
        time.sleep(step)
    raise AssertionError("gave up waiting for %s after %d s (last: %r)" % (what, timeout, last))


def http(method, url, headers=None, body=None, timeout=120):
    """(status, headers, parsed JSON or text) with only the standard library."""
    import urllib.error
    import urllib.request
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, head, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        status, head, raw = err.code, dict(err.headers), err.read()
    head = dict((key.lower(), value) for key, value in head.items())
    try:
        return status, head, json.loads(raw)
    except ValueError:
        return status, head, raw.decode("utf-8", "replace")


def redis_command(host, port, password, *args, **kwargs):
    """One Redis command over RESP, from the controller: the password never
    reaches a command line inside the container. ``user``: the ACL user
    (default: litellm, the gateways' user)."""
    def encode(parts):
        out = b"*%d\r\n" % len(parts)
        for part in parts:
            part = part if isinstance(part, bytes) else str(part).encode()
            out += b"$%d\r\n%s\r\n" % (len(part), part)
        return out

    def read(stream):
        line = stream.readline().rstrip(b"\r\n")
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError("redis error: %s" % rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            return None if size < 0 else stream.read(size + 2)[:-2].decode("utf-8", "replace")
        if kind == b"*":
            return [read(stream) for dummy in range(int(rest))]
        raise RuntimeError("unexpected redis reply %r" % line)

    with socket.create_connection((host, int(port)), timeout=10) as sock:
        stream = sock.makefile("rb")
        sock.sendall(encode(["AUTH", kwargs.get("user", "litellm"), password]))
        read(stream)
        sock.sendall(encode(list(args)))
        return read(stream)


def run_playbook(playbook, extra_vars=None, limit=None, timeout=1200):
    """ansible-playbook against the scenario's inventory, with Molecule's
    ansible.cfg and collection path (inherited from the verifier's env)."""
    binary = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    argv = [binary, "-i", os.environ["MOLECULE_INVENTORY_FILE"], playbook]
    if extra_vars is not None:
        argv += ["--extra-vars", json.dumps(extra_vars)]
    if limit:
        argv += ["--limit", limit]
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
    done = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=timeout, check=False)
    return done.returncode, done.stdout


def needles(expected):
    """The parts an error message must contain: one string, or a tuple of them
    (the variable path and the problem are printed on separate lines)."""
    return (expected,) if isinstance(expected, str) else tuple(expected)


def shared_playbook(name):
    return os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "molecule", "shared", name)


@pytest.fixture(scope="module")
def hostvars(host):
    """The host's inventory variables (as Molecule wrote them)."""
    return host.ansible.get_variables()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    host = item.funcargs.get("host") if hasattr(item, "funcargs") else None
    if host is None:
        return
    try:
        units = not_running_units(host)
    except Exception as exc:  # the report must never hide the original failure
        report.sections.append(("ai_backend units", "could not list units: %s" % exc))
        return
    for unit in units:
        report.sections.append(("journal of %s (not running)" % unit, unit_journal(host, unit)))
