# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The default scenario against the real services: redis, LiteLLM and
llama.cpp (tiny model) in one systemd container. Tests run in file order;
the rollback test changes the config and runs near the end, the secret
scan runs last so it also covers what the rollback wrote to the journal.
"""

import ipaddress
import uuid

import pytest

from aib_testinfra import (assert_unit_running, http, own_listeners, redis_command, run_playbook,
                           shared_playbook, unit_journal, unit_process_users)

UNITS = {
    "redis-server.service": "redis",
    "litellm.service": "litellm",
    "llama-cpp@llama_tiny.service": "llama-cpp",
}
MODEL = "tiny-llama"


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
    assert {gateway["port"], hostvars["ai_backend_redis"]["port"], 8080} <= ports, listeners


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


# 10. a registry change that validates but does not come up healthy
def test_bad_registry_change_rolls_back_and_gateway_still_answers(host, gateway, master_key, hostvars):
    config = "/etc/litellm/config.yaml"
    before = host.file(config).sha256sum
    redis = dict(hostvars["ai_backend_redis"])
    # Valid registry, wrong place: no Redis answers at 127.0.10.2 (this
    # scenario's own loopback range), so LiteLLM starts but its cache cannot
    # reach Redis and the role's health check refuses the new config.
    redis["host"] = "127.0.10.2"
    rc, output = run_playbook(shared_playbook("converge.yml"), extra_vars={
        "ai_backend_redis": redis, "litellm_health_retries": 3})
    assert rc != 0, "the converge with a broken Redis address succeeded:\n" + output[-4000:]
    # The callback folds long messages over several lines.
    flat = " ".join(output.split())
    assert "ROLLED BACK: LiteLLM did not come up healthy with the new config" in flat, output[-6000:]
    assert host.file(config).sha256sum == before, "the previous config was not restored"
    rejected = host.run("ls -1t /etc/litellm/rejected/").stdout.split()
    assert rejected, "no rejected config kept"
    kept = host.file("/etc/litellm/rejected/" + rejected[0]).content_string
    assert "127.0.10.2" in kept
    assert "The rejected config is kept at /etc/litellm/rejected/" + rejected[0] in flat, output[-6000:]
    assert_unit_running(host, "litellm.service")
    status, dummy, body = chat(gateway, master_key, "after rollback %s" % uuid.uuid4())
    assert status == 200, body
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
