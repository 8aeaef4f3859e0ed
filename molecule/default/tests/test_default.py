# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The default scenario against the real services: redis, HAProxy in front
of two LiteLLM instances, and llama.cpp (tiny model) in one systemd
container. Tests run in file order; the rollback test changes the config
and runs near the end, the secret scan runs last so it also covers what the
rollback wrote to the journal.
"""

import ipaddress
import threading
import time
import uuid

import pytest

from aib_testinfra import (assert_unit_running, http, own_listeners, redis_command, run_playbook,
                           shared_playbook, unit_journal, unit_process_users)

UNITS = {
    "redis-server.service": "redis",
    "litellm@1.service": "litellm",
    "litellm@2.service": "litellm",
    "llama-cpp@llama_tiny.service": "llama-cpp",
}
MODEL = "tiny-llama"
INSTANCE_PORTS = (4001, 4002)
ADMIN_SOCKET = "/run/haproxy/admin.sock"


@pytest.fixture(scope="module")
def gateway(hostvars):
    gw = hostvars["ai_backend_gateway"]
    return "http://%s:%s" % (gw["listen_address"], gw["port"])


@pytest.fixture(scope="module")
def master_key(hostvars):
    return hostvars["litellm_master_key"]


def chat(gateway, key=None, content="Say something.", max_tokens=8):
    headers = {"Authorization": "Bearer %s" % key} if key else {}
    return http("POST", gateway + "/v1/chat/completions", headers=headers, body={
        "model": MODEL, "max_tokens": max_tokens, "temperature": 0,
        "messages": [{"role": "user", "content": content}]})


# 1. units active, enabled, each as its own non-root user
@pytest.mark.parametrize("unit,user", sorted(UNITS.items()))
def test_unit_active_enabled_as_own_user(host, unit, user):
    assert_unit_running(host, unit)
    users = unit_process_users(host, unit)
    assert users, "no process in %s\n%s" % (unit, unit_journal(host, unit))
    assert set(users.values()) == {user}, "%s processes run as %s, want only %s" % (unit, users, user)
    assert host.user(user).uid != 0


# 2. nothing listens beyond loopback unless asked; here nobody asked
def test_listeners_are_loopback_and_where_the_registry_says(host, hostvars):
    listeners = own_listeners(host)
    gateway = hostvars["ai_backend_gateway"]
    for address, port, process in listeners:
        ip = ipaddress.ip_address(address) if address not in ("*", "0.0.0.0", "::") else None
        assert ip is not None and ip.is_loopback, "%s listens on %s:%s, beyond loopback" % (process, address, port)
        if port == gateway["port"]:
            assert address == gateway["listen_address"]
        else:
            assert address == hostvars["ai_backend_listen_address"], (process, address, port)
    ports = set(listener[1] for listener in listeners)
    assert {gateway["port"], hostvars["ai_backend_redis"]["port"], 8080, 8404} | set(INSTANCE_PORTS) <= ports, listeners
    # The gateway port belongs to HAProxy, the instance ports to LiteLLM.
    owners = dict((port, process) for dummy, port, process in listeners)
    assert owners[gateway["port"]] == "haproxy", listeners


def haproxy_servers(host):
    """{server name: (status, open sessions)} of backend litellm, from the runtime API."""
    out = host.check_output("echo 'show stat' | socat -t 5 stdio UNIX-CONNECT:%s", ADMIN_SOCKET)
    servers = {}
    for line in out.splitlines():
        fields = line.split(",")
        if len(fields) > 17 and fields[0] == "litellm" and fields[1] not in ("FRONTEND", "BACKEND"):
            servers[fields[1]] = (fields[17], int(fields[4] or 0))
    return servers


def test_haproxy_runs_master_root_workers_unprivileged(host):
    assert_unit_running(host, "haproxy.service")
    users = set(unit_process_users(host, "haproxy.service").values())
    # Debian's master-worker: the master (root) re-executes on reload, the
    # workers that handle traffic run as haproxy.
    assert "haproxy" in users and users <= {"root", "haproxy"}, users


def test_haproxy_config_is_valid(host):
    result = host.run("haproxy -c -f /etc/haproxy/haproxy.cfg")
    assert result.rc == 0, result.stdout + result.stderr


def test_haproxy_runtime_socket_is_root_only(host):
    sock = host.file(ADMIN_SOCKET)
    assert sock.is_socket, ADMIN_SOCKET
    assert (sock.user, sock.group, sock.mode) == ("root", "root", 0o600), \
        "%s is %s:%s %o" % (ADMIN_SOCKET, sock.user, sock.group, sock.mode)


def test_both_instances_up_in_haproxy(host):
    servers = haproxy_servers(host)
    assert sorted(servers) == ["litellm1", "litellm2"], servers
    assert set(status for status, dummy in servers.values()) == {"UP"}, servers


def test_stats_and_prometheus_exporter_on_loopback(hostvars):
    base = "http://%s:8404" % hostvars["haproxy_stats_address"]
    status, dummy, body = http("GET", base + "/metrics")
    assert status == 200 and "haproxy_server_status" in body, (status, str(body)[:300])
    status, dummy, body = http("GET", base + "/stats")
    assert status == 200, status


def test_instances_run_the_pinned_release_from_its_venv(host, gateway, master_key):
    for unit in ("litellm@1.service", "litellm@2.service"):
        pids = unit_process_users(host, unit)
        argv = " ".join(host.file("/proc/%d/cmdline" % pid).content_string.replace("\0", " ") for pid in pids)
        assert "/opt/litellm/venvs/1.108.7/bin/" in argv, (unit, argv)
    # LiteLLM names its release on completions (not on /v1/models).
    status, headers, body = chat(gateway, master_key, "version probe %s" % uuid.uuid4())
    assert status == 200, body
    assert headers.get("x-litellm-version") == "1.108.7", sorted(headers)


def test_llama_server_sleeps_between_requests_beside_the_gateway(host):
    # This host runs the gateway too, so the engine's view gives the provider
    # poll 0: llama.cpp's threads must not spin on the CPU LiteLLM needs.
    pids = unit_process_users(host, "llama-cpp@llama_tiny.service")
    argv = [host.file("/proc/%d/cmdline" % pid).content_string.split("\0") for pid in pids]
    assert any(args[1:3] == ["--poll", "0"] for args in argv), argv


# The role skips sending an unchanged prebuilt binary by comparing the
# host's sha256 with the pin, so a binary changed in place at the same
# versioned path must still be put back, with its owner and mode.
def test_a_changed_llama_server_is_put_back_by_the_next_run(host, tmp_path):
    binary = host.check_output("ls /opt/llama.cpp/*/bin/llama-server")
    pinned = host.file(binary).sha256sum
    # A new inode, so the running instance keeps its own copy.
    host.run_expect([0], "cp %s %s.new && printf x >> %s.new && chmod 0700 %s.new && mv %s.new %s"
                    % ((binary,) * 6))
    assert host.file(binary).sha256sum != pinned
    book = tmp_path / "llama-cpp.yml"
    book.write_text("- hosts: aib-default-gw\n  roles:\n    - role: gathewhy.ai_backend.llama_cpp\n")
    rc, output = run_playbook(str(book))
    assert rc == 0, output[-3000:]
    assert "changed=1" in " ".join(output.split()), output[-3000:]
    installed = host.file(binary)
    assert (installed.sha256sum, installed.mode, installed.user) == (pinned, 0o755, "root")


# 3.
def test_readiness(gateway):
    status, dummy, body = http("GET", gateway + "/health/readiness")
    assert status == 200, body
    assert body["status"] == "healthy", body


# 4.
def test_chat_completion_with_master_key(gateway, master_key):
    status, dummy, body = chat(gateway, master_key)
    assert status == 200, body
    assert body["usage"]["completion_tokens"] >= 1, body
    assert isinstance(body["choices"][0]["message"]["content"], str), body
    assert body["model"] in (MODEL, "openai/" + MODEL) or MODEL in body["model"], body


# 5.
def test_without_a_key_is_401(gateway):
    status, dummy, body = chat(gateway, None)
    assert status == 401, (status, body)


def test_a_wrong_key_is_refused(gateway):
    # Without a database LiteLLM cannot look up virtual keys and answers 400
    # "No connected db" rather than 401; either way no completion.
    status, dummy, body = chat(gateway, "sk-not-the-master-key-0000000000000000000")
    assert status in (400, 401), (status, body)
    assert "choices" not in body


# 6. the second identical request is served from Redis
def test_second_identical_request_is_a_redis_cache_hit(gateway, master_key, hostvars):
    prompt = "cache probe %s" % uuid.uuid4()
    status, first_headers, first = chat(gateway, master_key, prompt)
    assert status == 200, first
    assert "x-litellm-cache-key" not in first_headers, "first request claims a cache hit: %s" % first_headers
    status, second_headers, second = chat(gateway, master_key, prompt)
    assert status == 200, second
    key = second_headers.get("x-litellm-cache-key")
    assert key, "second request was not a cache hit; headers: %s" % sorted(second_headers)
    assert second["choices"][0]["message"]["content"] == first["choices"][0]["message"]["content"]
    redis = hostvars["ai_backend_redis"]
    password = hostvars["redis_password"]
    assert redis_command(redis["host"], redis["port"], password, "EXISTS", key) == 1, \
        "LiteLLM reported cache key %s but Redis does not hold it" % key
    ttl = redis_command(redis["host"], redis["port"], password, "TTL", key)
    assert 0 < ttl <= hostvars["ai_backend_routing"]["cache"]["ttl"], ttl


def test_redis_refuses_clients_without_the_password(hostvars):
    redis = hostvars["ai_backend_redis"]
    with pytest.raises(RuntimeError, match="WRONGPASS|NOAUTH|invalid"):
        redis_command(redis["host"], redis["port"], "not-the-password-000000", "PING")


# 8. files: mode and owner
@pytest.mark.parametrize("path,owner,group,mode", [
    ("/etc/litellm/config.yaml", "root", "litellm", 0o640),
    ("/etc/litellm/litellm.env", "root", "root", 0o600),
    ("/etc/haproxy/haproxy.cfg", "root", "haproxy", 0o640),
    ("/etc/redis/redis.conf", "root", "redis", 0o640),
    ("/etc/redis/ai-backend-auth.conf", "redis", "redis", 0o600),
])
def test_file_mode_and_owner(host, path, owner, group, mode):
    f = host.file(path)
    assert f.is_file, path
    assert (f.user, f.group, f.mode) == (owner, group, mode), \
        "%s is %s:%s %o" % (path, f.user, f.group, f.mode)


def test_config_names_secrets_only_by_env(host, master_key, hostvars):
    text = host.file("/etc/litellm/config.yaml").content_string
    assert master_key not in text and hostvars["redis_password"] not in text
    assert "os.environ/LITELLM_MASTER_KEY" in text
    assert "os.environ/REDIS_PASSWORD" in text


# Bad input: a clear error naming the variable, and nothing written.
@pytest.mark.parametrize("role,extra,message,watched", [
    ("redis", {"redis_password": "changeme"},
     "redis_password on aib-default-gw is shorter than 16 characters, and is a well-known password",
     "/etc/redis/ai-backend-auth.conf"),
    ("litellm", {"litellm_master_key": "sk-short"},
     "litellm_master_key on aib-default-gw is shorter than 32 characters", "/etc/litellm/litellm.env"),
    ("litellm", {"litellm_version": "1.82.7"},
     "litellm_version is 1.82.7, which is in litellm_version_denylist", "/etc/litellm/config.yaml"),
])
def test_bad_input_fails_clearly_and_writes_nothing(host, tmp_path, role, extra, message, watched):
    before = host.file(watched).sha256sum
    book = tmp_path / "bad-input.yml"
    book.write_text("- hosts: aib-default-gw\n  roles:\n    - role: gathewhy.ai_backend.%s\n" % role)
    rc, output = run_playbook(str(book), extra_vars=extra)
    flat = " ".join(output.split())
    assert rc != 0, output[-3000:]
    assert message in flat, output[-3000:]
    assert "changed=0" in flat, output[-3000:]
    assert host.file(watched).sha256sum == before


# 10. a registry change that validates but does not come up healthy: the
# role rolls it back on the drained instance while the other one serves
# every request sent through HAProxy meanwhile.
def test_bad_registry_change_rolls_back_while_the_others_serve(host, gateway, master_key, hostvars):
    config = "/etc/litellm/config.yaml"
    before = host.file(config).sha256sum
    redis = dict(hostvars["ai_backend_redis"])
    # Valid registry, wrong place: no Redis answers at 127.0.10.2 (this
    # scenario's own loopback range), so LiteLLM starts but its cache cannot
    # reach Redis and the role's health check refuses the new config.
    redis["host"] = "127.0.10.2"
    results = []
    stop = threading.Event()

    def client():
        while not stop.is_set():
            try:
                status = chat(gateway, master_key, "during rollback %s" % uuid.uuid4())[0]
            except Exception as err:  # pylint: disable=broad-except
                status = repr(err)
            results.append(status)
            time.sleep(0.1)

    sender = threading.Thread(target=client)
    sender.start()
    try:
        rc, output = run_playbook(shared_playbook("converge.yml"), extra_vars={
            "ai_backend_redis": redis, "litellm_health_retries": 3})
    finally:
        stop.set()
        sender.join(timeout=180)
    assert rc != 0, "the converge with a broken Redis address succeeded:\n" + output[-4000:]
    # The callback folds long messages over several lines.
    flat = " ".join(output.split())
    assert "ROLLED BACK: LiteLLM instance 1 did not come up healthy with the new config" in flat, output[-6000:]
    assert host.file(config).sha256sum == before, "the previous config was not restored"
    rejected = host.run("ls -1t /etc/litellm/rejected/").stdout.split()
    assert rejected, "no rejected config kept"
    kept = host.file("/etc/litellm/rejected/" + rejected[0]).content_string
    assert "127.0.10.2" in kept
    assert "The rejected config is kept at /etc/litellm/rejected/" + rejected[0] in flat, output[-6000:]
    failed = [status for status in results if status != 200]
    print("requests through HAProxy during the rollback: %d, failed: %d" % (len(results), len(failed)))
    assert len(results) >= 10 and not failed, (len(results), failed[:10])
    servers = haproxy_servers(host)
    assert sorted(servers) == ["litellm1", "litellm2"] and set(s[0] for s in servers.values()) == {"UP"}, servers
    for number, port in enumerate(INSTANCE_PORTS, 1):
        assert_unit_running(host, "litellm@%d.service" % number)
        status, dummy, body = chat("http://%s:%d" % (hostvars["litellm_instance_address"], port), master_key,
                                   "after rollback %s" % uuid.uuid4())
        assert status == 200, (port, body)
        assert body["usage"]["completion_tokens"] >= 1, body


# 7. last: no secret in any argv or anywhere in the journal
def test_secrets_absent_from_argv_and_journal(host, master_key, hostvars):
    secrets = {"litellm_master_key": master_key, "redis_password": hostvars["redis_password"]}
    argv = host.check_output(
        "for f in /proc/[0-9]*/cmdline; do tr '\\000' ' ' < \"$f\" 2>/dev/null; echo; done")
    journal = host.run("journalctl --no-pager --output=cat").stdout
    assert len(journal) > 1000, "journal unexpectedly empty"
    for name, value in secrets.items():
        assert value not in argv, "%s appears in a process command line" % name
        assert value not in journal, "%s appears in the journal" % name
