# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The llama_cpp role against its running container: the in-container build,
instances per provider, hardening, models by URL and path, the API key; then
bad input (checksum mismatch, broken registry) and provider removal, which
re-run the role with a changed registry. Tests run in file order."""

import copy
import os

import pytest

from aib_testinfra import assert_unit_running, http, needles, own_listeners, run_playbook

ADDR = "127.0.40.1"
BIN = "/opt/llama.cpp/0.3.36-cpu/bin/llama-server"
ENABLED = {"tiny_url": 8081, "tiny_path": 8082}
ROLE_PLAYBOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "role.yml")
ARTIFACTS = os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], ".cache", "artifacts")
CHAT = {"model": "any", "max_tokens": 8, "temperature": 0,
        "messages": [{"role": "user", "content": "Hello"}]}


def tiny_sha256():
    with open(os.path.join(ARTIFACTS, "tiny-llama.gguf.sha256")) as fh:
        return fh.read().split()[0]


@pytest.fixture(scope="module")
def api_key(hostvars):
    return hostvars["llama_cpp_api_keys"]["TINY_PATH_KEY"]


@pytest.fixture(scope="module")
def registry(hostvars):
    """The scenario's enabled providers, as extra-vars the tests can extend."""
    providers = {pid: p for pid, p in hostvars["ai_backend_providers"].items() if p.get("enabled", True)}
    return {"ai_backend_providers": providers}


def with_provider(registry, pid, provider):
    changed = copy.deepcopy(registry)
    changed["ai_backend_providers"][pid] = provider
    return changed


def test_binary_is_the_static_versioned_build(host):
    binary = host.file(BIN)
    assert binary.is_file and binary.user == "root" and binary.mode == 0o755
    libs = host.check_output("ldd %s", BIN)
    assert "libllama" not in libs and "libggml" not in libs  # BUILD_SHARED_LIBS=OFF
    assert not host.file("/opt/llama.cpp/src/0.3.36").exists  # build tree removed


@pytest.mark.parametrize("provider", sorted(ENABLED))
def test_instance_runs_as_llama_cpp(host, provider):
    unit = "llama-cpp@%s.service" % provider
    assert_unit_running(host, unit)
    pid = host.check_output("systemctl show --property=MainPID --value %s", unit)
    assert int(pid) > 0
    # The owner of /proc/<pid> is the process's user.
    assert host.check_output("stat --format=%%U /proc/%s", pid) == "llama-cpp"
    assert host.check_output("stat --format=%%U /proc/%s/task/%s", pid, pid) == "llama-cpp"


@pytest.mark.parametrize("provider", sorted(ENABLED))
def test_unit_is_hardened(host, provider):
    props = dict(line.split("=", 1) for line in host.check_output(
        "systemctl show llama-cpp@%s -p ProtectSystem -p NoNewPrivileges -p PrivateTmp -p ProtectHome "
        "-p CapabilityBoundingSet -p PrivateDevices -p ReadWritePaths -p ExecStart -p EnvironmentFiles "
        "-p TimeoutStopUSec", provider).splitlines())
    # llama_cpp_stop_timeout's default: a stop holds requests in flight no longer than this.
    assert props["TimeoutStopUSec"] == "10s"
    assert props["ProtectSystem"] == "strict" and props["NoNewPrivileges"] == "yes"
    assert props["PrivateTmp"] == "yes" and props["ProtectHome"] == "yes" and props["PrivateDevices"] == "yes"
    assert props["CapabilityBoundingSet"] == ""
    assert props["ReadWritePaths"] == "/var/lib/llama-cpp/models"
    # The binary and the registry's extra_args (empty here): everything else is in the env file.
    assert "argv[]=%s $AIB_LLAMA_EXTRA_ARGS ;" % BIN in props["ExecStart"]
    assert props["EnvironmentFiles"].startswith("/etc/llama-cpp/%s.env" % provider)


def test_instances_listen_only_on_their_loopback_address(host):
    mine = [(addr, port) for addr, port, proc in own_listeners(host) if proc == "llama-server"]
    assert sorted(mine) == sorted((ADDR, port) for port in ENABLED.values())


@pytest.mark.parametrize("provider", sorted(ENABLED))
def test_env_file_is_root_only_and_has_no_gpu_flags(host, provider):
    env = host.file("/etc/llama-cpp/%s.env" % provider)
    assert (env.user, env.group, env.mode) == ("root", "root", 0o600)
    assert env.contains('^LLAMA_ARG_HOST="%s"$' % ADDR)
    assert not env.contains("N_GPU_LAYERS")  # CPU-only host: no GPU flags at all


def test_url_model_is_downloaded_and_checksummed(host):
    model = host.file("/var/lib/llama-cpp/models/tiny_url.gguf")
    assert (model.user, model.group, model.mode) == ("root", "llama-cpp", 0o640)
    assert model.sha256sum == tiny_sha256()


def test_chat_completion_returns_tokens():
    status, _headers, reply = http("POST", "http://%s:8081/v1/chat/completions" % ADDR, body=CHAT)
    assert status == 200 and reply["usage"]["completion_tokens"] >= 1
    status, _headers, models = http("GET", "http://%s:8081/v1/models" % ADDR)
    assert status == 200 and "tiny-url" in [m["id"] for m in models["data"]]


def test_api_key_is_enforced(api_key):
    url = "http://%s:8082/v1/chat/completions" % ADDR
    assert http("POST", url, body=CHAT)[0] == 401
    assert http("POST", url, headers={"Authorization": "Bearer wrong-key-0123456789"}, body=CHAT)[0] == 401
    status, _headers, reply = http("POST", url, headers={"Authorization": "Bearer %s" % api_key}, body=CHAT)
    assert status == 200 and reply["usage"]["completion_tokens"] >= 1


def test_metrics_follow_completions_and_the_api_key(api_key):
    # 8081 has no key; 8082's /metrics needs its key like every other route.
    status, _headers, text = http("GET", "http://%s:8081/metrics" % ADDR)
    assert status == 200 and "llamacpp:tokens_predicted_total" in text
    url = "http://%s:8082/metrics" % ADDR
    assert http("GET", url)[0] == 401
    status, _headers, text = http("GET", url, headers={"Authorization": "Bearer %s" % api_key})
    assert status == 200 and "llamacpp:prompt_tokens_total" in text


def test_api_key_is_in_no_argv_and_no_journal(host, api_key):
    argv = host.check_output("cat /proc/[0-9]*/cmdline | tr '\\0' ' '")
    assert "llama-server" in argv and api_key not in argv
    assert api_key not in host.check_output("journalctl --no-pager --output=cat")


def test_disabled_provider_is_not_served(host):
    unit = host.service("llama-cpp@tiny_off")
    assert not unit.is_running and not unit.is_enabled
    assert not host.file("/etc/llama-cpp/tiny_off.env").exists


def test_checksum_mismatch_fails_clearly_and_keeps_no_file(host, registry):
    bad = {"type": "llama_cpp", "port": 8084, "models": [{"name": "tiny-bad", "gguf": {
        "url": "http://%s:18040/tiny-llama.gguf" % ADDR, "sha256": "0" * 64}}]}
    rc, out = run_playbook(ROLE_PLAYBOOK, with_provider(registry, "tiny_bad", bad))
    assert rc != 0, out[-3000:]
    assert "ai_backend_providers.tiny_bad.models[0].gguf: downloading" in out, out[-3000:]
    assert "fix gguf.sha256" in out and "Traceback" not in out
    assert not host.file("/var/lib/llama-cpp/models/tiny_bad.gguf").exists
    # No copy of the (wrong) download anywhere: the only file of the model's size is the good one.
    size = "%dc" % os.path.getsize(os.path.join(ARTIFACTS, "tiny-llama.gguf"))
    assert host.check_output("find / -xdev -type f -size %s", size).split() == ["/var/lib/llama-cpp/models/tiny_url.gguf"]
    assert not host.file("/etc/llama-cpp/tiny_bad.env").exists
    assert http("GET", "http://%s:8081/health" % ADDR)[0] == 200  # the served instances are untouched


@pytest.mark.parametrize("provider,needle", [
    ({"type": "llama_cpp", "port": 8085, "models": [{"name": "no-gguf"}]},
     ("ai_backend_providers.broken.models[0].gguf", "is missing (llama_cpp needs the model file")),
    ({"type": "llama_cpp", "models": [{"name": "no-port", "gguf": {"path": "/srv/x.gguf"}}]},
     ("ai_backend_providers.broken.port", "is missing (local providers")),
    ({"type": "llama_cpp", "port": 8085, "models": [{"name": "absent", "gguf": {"path": "/srv/none.gguf"}}]},
     "ai_backend_providers.broken.models[0].gguf: /srv/none.gguf is not a file on this host"),
    ({"type": "llama_cpp", "port": 8081, "models": [{"name": "dup", "gguf": {"path": "/srv/x.gguf"}}]},
     ("port 8081 on host", "is already used by provider")),
    ({"type": "llama_cpp", "port": 8085, "api_key_env": "NO_SUCH_KEY",
      "models": [{"name": "keyless", "gguf": {"path": "/srv/x.gguf"}}]},
     "ai_backend_providers.broken.api_key_env names NO_SUCH_KEY"),
])
def test_bad_registry_fails_in_preflight_and_writes_nothing(host, registry, provider, needle):
    before = host.check_output("ls -l --full-time /etc/llama-cpp /var/lib/llama-cpp/models")
    rc, out = run_playbook(ROLE_PLAYBOOK, with_provider(registry, "broken", provider))
    flat = " ".join(out.split())
    assert rc != 0 and all(part in flat for part in needles(needle)), out[-3000:]
    assert "Traceback" not in out
    assert host.check_output("ls -l --full-time /etc/llama-cpp /var/lib/llama-cpp/models") == before
    assert "changed=0" in out


def test_removed_provider_is_stopped_and_disabled(host, registry):
    extra = {"type": "llama_cpp", "port": 8086, "context_size": 256, "models": [{"name": "tiny-extra", "gguf": {
        "path": "/var/cache/ai-backend/artifacts/tiny-llama.gguf", "sha256": tiny_sha256()}}]}
    rc, out = run_playbook(ROLE_PLAYBOOK, with_provider(registry, "tiny_extra", extra))
    assert rc == 0, out[-3000:]
    assert_unit_running(host, "llama-cpp@tiny_extra.service")
    assert http("GET", "http://%s:8086/health" % ADDR)[0] == 200
    rc, out = run_playbook(ROLE_PLAYBOOK, registry)
    assert rc == 0, out[-3000:]
    unit = host.service("llama-cpp@tiny_extra")
    assert not unit.is_running and not unit.is_enabled
    assert not host.file("/etc/llama-cpp/tiny_extra.env").exists
    for provider in ENABLED:  # the others kept serving
        assert_unit_running(host, "llama-cpp@%s.service" % provider)


def main_pid(host, provider):
    return host.check_output("systemctl show -p MainPID --value llama-cpp@%s.service" % provider)


def test_a_changed_setting_restarts_only_its_own_instance(host, registry):
    # This host runs no gateway, so no --poll is passed unless the registry sets one.
    assert "--poll" not in host.file("/etc/llama-cpp/tiny_path.env").content_string
    before = dict((provider, main_pid(host, provider)) for provider in ENABLED)
    polled = with_provider(registry, "tiny_path", dict(registry["ai_backend_providers"]["tiny_path"], poll=10))
    rc, out = run_playbook(ROLE_PLAYBOOK, polled)
    assert rc == 0, out[-3000:]
    assert main_pid(host, "tiny_path") != before["tiny_path"]  # its env file changed: restarted
    assert main_pid(host, "tiny_url") == before["tiny_url"]    # untouched: kept serving
    argv = host.file("/proc/%s/cmdline" % main_pid(host, "tiny_path")).content_string.split("\0")
    assert argv[1:3] == ["--poll", "10"], argv
    rc, out = run_playbook(ROLE_PLAYBOOK, registry)
    assert rc == 0, out[-3000:]
    assert "--poll" not in host.file("/etc/llama-cpp/tiny_path.env").content_string
    for provider in ENABLED:
        assert_unit_running(host, "llama-cpp@%s.service" % provider)


def test_an_instance_older_than_its_files_is_restarted_by_the_next_run(host, registry):
    # As after a restart that failed: the file on disk is newer than the
    # running process, and nothing in the registry changed.
    before = dict((provider, main_pid(host, provider)) for provider in ENABLED)
    host.check_output("sleep 1.1 && touch /etc/llama-cpp/tiny_url.env")
    rc, out = run_playbook(ROLE_PLAYBOOK, registry)
    assert rc == 0, out[-3000:]
    assert main_pid(host, "tiny_url") != before["tiny_url"]
    assert main_pid(host, "tiny_path") == before["tiny_path"]
    rc, out = run_playbook(ROLE_PLAYBOOK, registry)
    assert rc == 0 and "changed=0" in out, out[-3000:]
