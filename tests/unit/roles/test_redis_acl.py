# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The redis role's ACL users, for real: Ansible renders
roles/redis/templates/ai-backend-auth.conf.j2 with the role's vars, a
redis-server 7 includes it, and each user is tried with what it may and may
not do. LiteLLM's own redis client (the pinned release) logs in as the
gateway user through REDIS_USERNAME, as the litellm role's EnvironmentFile
sets it."""

import json
import os
import socket
import subprocess
import sys

import pytest

from litellm_venv import litellm_python
from redis_server import free_port, redis_server_binary, start_redis

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
ROLE = os.path.join(REPO, "roles", "redis")
GATEWAY_PASSWORD = "gw-Pass.word_0123456789+/="
EXPORTER_PASSWORD = "exporter-pass-9876543210~"


def render(directory, templates=("ai-backend-auth.conf",), **extra):
    """Each template as the role's template task writes it (Ansible's templating, the role's defaults and
    vars, ``extra`` on top), into ``directory``; one ansible-playbook run for all of them."""
    values = directory / "values.json"
    values.write_text(json.dumps(dict({"redis_password": GATEWAY_PASSWORD, "ansible_python_interpreter": sys.executable},
                                      **extra)))
    tasks = [{"name": "Render %s" % name, "ansible.builtin.template": {
        "src": os.path.join(ROLE, "templates", name + ".j2"), "dest": str(directory / name), "mode": "0600"}}
        for name in templates]
    playbook = directory / "render.yml"
    playbook.write_text(json.dumps([{"name": "Render", "hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    binary = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    done = subprocess.run(
        [binary, "-c", "local", "-i", "localhost,", str(playbook),
         "-e", "@" + os.path.join(ROLE, "defaults", "main.yml"), "-e", "@" + os.path.join(ROLE, "vars", "main.yml"),
         "-e", "@%s" % values],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout
    return directory / templates[0]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Both forms, rendered once: with the exporter's password and without it."""
    with_exporter = render(tmp_path_factory.mktemp("with"), redis_exporter_password=EXPORTER_PASSWORD)
    return {"with": with_exporter, "without": render(tmp_path_factory.mktemp("without"))}


@pytest.fixture
def redis(tmp_path, request, rendered):
    binary = redis_server_binary()
    include = rendered[getattr(request, "param", "with")]
    port = free_port()
    conf = tmp_path / "redis.conf"
    conf.write_text("bind 127.0.0.1\nport %d\nsave \"\"\nappendonly no\ndir %s\ninclude %s\n" % (port, tmp_path, include))
    process = start_redis(binary, conf, port)
    yield port, include
    process.terminate()
    process.wait(timeout=10)


def call(port, *commands, **kwargs):
    """Send commands on one connection; each answer as text ('-ERR...' for an error)."""
    def encode(parts):
        out = b"*%d\r\n" % len(parts)
        for part in parts:
            part = part.encode() if isinstance(part, str) else part
            out += b"$%d\r\n%s\r\n" % (len(part), part)
        return out

    answers = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        stream = sock.makefile("rb")
        if "auth" in kwargs:
            commands = (["AUTH"] + list(kwargs["auth"]),) + commands
        for command in commands:
            sock.sendall(encode(command))
            line = stream.readline().rstrip(b"\r\n").decode()
            if line.startswith("$") and int(line[1:]) >= 0:
                line = stream.read(int(line[1:]) + 2)[:-2].decode()
            elif line.startswith("*"):
                items = [stream.readline() for dummy in range(2 * int(line[1:]))]
                line = b"".join(items).decode()
            answers.append(line)
    return answers if "auth" not in kwargs else answers[1:] if answers[0] == "+OK" else [answers[0]]


def test_the_file_holds_no_password_in_clear(redis):
    text = redis[1].read_text()
    assert GATEWAY_PASSWORD not in text and EXPORTER_PASSWORD not in text
    assert "user default off" in text and text.count(" on #") == 2
    assert oct(os.stat(str(redis[1])).st_mode & 0o777) == "0o600"


def test_a_client_that_names_no_user_is_refused(redis):
    port = redis[0]
    assert call(port, ["PING"])[0].startswith("-NOAUTH")
    # AUTH <password> alone is the default user: off, whatever the password.
    assert call(port, ["PING"], auth=[GATEWAY_PASSWORD])[0].startswith("-WRONGPASS")
    assert call(port, ["PING"], auth=["default", GATEWAY_PASSWORD])[0].startswith("-WRONGPASS")


def test_the_gateway_user_reads_and_writes_but_cannot_administer(redis):
    port = redis[0]
    auth = ["litellm", GATEWAY_PASSWORD]
    assert call(port, ["SET", "k", "v", "EX", "60"], ["GET", "k"], ["INCR", "n"], ["EXPIRE", "n", "60"],
                ["PING"], auth=auth) == ["+OK", "v", ":1", ":1", "+PONG"]
    for command in (["CONFIG", "SET", "maxmemory", "0"], ["ACL", "LIST"], ["SHUTDOWN"], ["MONITOR"],
                    ["ACL", "SETUSER", "intruder", "on"], ["BGSAVE"], ["REPLICAOF", "127.0.0.1", "1"]):
        assert call(port, command, auth=auth)[0].startswith("-NOPERM"), command
    assert call(port, ["PING"], auth=["litellm", "wrong-password-0000000"])[0].startswith("-WRONGPASS")


def test_the_exporter_user_reads_server_information_and_no_key(redis):
    port = redis[0]
    auth = ["redis_exporter", EXPORTER_PASSWORD]
    info, maxmemory, clients, slowlog, latency, dbsize, ping = call(
        port, ["INFO", "all"], ["CONFIG", "GET", "maxmemory"], ["CLIENT", "LIST"], ["SLOWLOG", "GET", "10"],
        ["LATENCY", "LATEST"], ["DBSIZE"], ["PING"], auth=auth)
    assert "redis_version:7" in info and "maxmemory" in maxmemory and "user=redis_exporter" in clients
    assert not slowlog.startswith("-") and not latency.startswith("-") and dbsize.startswith(":")
    assert ping == "+PONG"
    for command in (["GET", "k"], ["SET", "k", "v"], ["KEYS", "*"], ["SCAN", "0"], ["FLUSHALL"],
                    ["CONFIG", "SET", "maxmemory", "0"], ["CLIENT", "KILL", "ID", "1"], ["ACL", "LIST"]):
        assert call(port, command, auth=auth)[0].startswith("-NOPERM"), command


@pytest.mark.parametrize("redis", ["without"], indirect=True)
def test_without_an_exporter_password_there_is_no_exporter_user(redis):
    assert "redis_exporter" not in redis[1].read_text()
    assert call(redis[0], ["PING"], auth=["redis_exporter", EXPORTER_PASSWORD])[0].startswith("-WRONGPASS")


def test_litellm_logs_in_as_the_gateway_user_from_its_environment(redis):
    python = litellm_python()
    script = ("import litellm._redis as r\n"
              "client = r.get_redis_client(host='127.0.0.1', port=%d, password='os.environ/REDIS_PASSWORD')\n"
              "client.set('from-litellm', 'ok')\n"
              "print(client.acl_whoami(), client.get('from-litellm').decode())\n" % redis[0])
    env = dict(os.environ, REDIS_USERNAME="litellm", REDIS_PASSWORD=GATEWAY_PASSWORD, LITELLM_LOCAL_MODEL_COST_MAP="True")
    done = subprocess.run([python, "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-2:] == ["litellm", "ok"]
