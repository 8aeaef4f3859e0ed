# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ollama role, checked against the running container.

Only the binary is a stand-in (tests/standins/ollama): install from the
archive, user, directories, units, hardening, environment, model pulls
through the HTTP API, and the gateway in front all run for real.
Tests run in file order; the ones that re-run the role come last and put the
scenario's registry back when they are done.
"""

import json
import os
import subprocess
import tempfile
import urllib.error
import urllib.request

import pytest
from aib_testinfra import needles

ADDR = "127.0.20.1"
PREFIX = "/opt/ollama"
MODELS_ROOT = "/srv/ai-models/ollama"
MASTER_KEY = "sk-molecule-ollama-0123456789abcdef0123456789"
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.environ.get("MOLECULE_PROJECT_DIRECTORY", os.path.join(HERE, "../../.."))
ARCHIVE = os.path.join(REPO, ".cache", "artifacts", "ollama-standin-linux-amd64.tar.zst")
# provider id -> (port, tags /api/tags must list)
ENABLED = {"ollama_main": (11434, ["llama3.2:1b", "qwen2.5:0.5b"]),
           "ollama_second": (11435, ["tinyllama:latest"])}


def http(method, url, body=None, headers=None, timeout=60):
    """(status, parsed JSON or text). Containers share the host network, so
    the test reaches the container's loopback address directly."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers=dict({"Content-Type": "application/json"}, **(headers or {})))
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read().decode()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw


def tags(port):
    status, reply = http("GET", "http://%s:%d/api/tags" % (ADDR, port))
    assert status == 200
    return sorted(m["name"] for m in reply["models"])


def pulls_logged(host, provider):
    """How many pulls the stand-in of this instance has served, from its journal."""
    out = host.check_output("journalctl --no-pager -o cat -u ollama@%s.service" % provider)
    return out.count('msg="pull (stand-in')


def archive_sha256():
    with open(ARCHIVE + ".sha256") as handle:
        return handle.read().split()[0]


# --- install ----------------------------------------------------------------

def test_release_layout_installed_from_the_local_archive(host):
    binary = host.file(PREFIX + "/bin/ollama")
    assert binary.is_file and binary.user == "root" and binary.mode == 0o755
    assert host.file(PREFIX + "/lib/ollama/standin/llama-server").is_file
    marker = host.file(PREFIX + "/.ai_backend-installed").content_string
    assert "sha256=%s" % archive_sha256() in marker and "version=0.30.10-standin" in marker
    assert host.file("/usr/local/bin/ollama").linked_to == PREFIX + "/bin/ollama"
    # The staged archive and the unpack directory are cleaned up.
    assert host.check_output("ls -A /var/cache/ollama-install") == ""
    assert not host.file(PREFIX + "/.unpack").exists
    assert host.package("zstd").is_installed


def test_ollama_system_user(host):
    user = host.user("ollama")
    assert user.uid < 1000 and user.shell == "/usr/sbin/nologin" and user.home == "/var/lib/ollama"
    assert "video" in user.groups and "render" in user.groups
    assert not host.file("/var/lib/ollama").exists or host.file("/var/lib/ollama").user == "ollama"


# --- units ---------------------------------------------------------------------

@pytest.mark.parametrize("provider", sorted(ENABLED))
def test_instance_runs_as_ollama_and_is_enabled(host, provider):
    unit = host.service("ollama@%s" % provider)
    assert unit.is_running and unit.is_enabled
    pid = host.check_output("systemctl show -p MainPID --value ollama@%s" % provider)
    assert host.check_output("stat -c %%U /proc/%s" % pid).strip() == "ollama"


@pytest.mark.parametrize("provider", sorted(ENABLED))
def test_instance_is_hardened(host, provider):
    props = dict(line.split("=", 1) for line in host.check_output(
        "systemctl show ollama@%s -p ProtectSystem -p ProtectHome -p NoNewPrivileges -p PrivateTmp"
        " -p User -p DevicePolicy -p ReadWritePaths -p CapabilityBoundingSet -p RestrictSUIDSGID"
        " -p EnvironmentFiles" % provider).splitlines())
    assert props["ProtectSystem"] == "strict" and props["ProtectHome"] == "yes"
    assert props["NoNewPrivileges"] == "yes" and props["PrivateTmp"] == "yes"
    assert props["User"] == "ollama" and props["DevicePolicy"] == "closed"
    assert props["RestrictSUIDSGID"] == "yes" and props["CapabilityBoundingSet"] == ""
    assert MODELS_ROOT in props["ReadWritePaths"].split() and "/var/lib/ollama" in props["ReadWritePaths"].split()
    assert props["EnvironmentFiles"].startswith("/etc/ollama/%s.env" % provider)
    devices = host.check_output("systemctl show ollama@%s -p DeviceAllow" % provider).splitlines()
    assert "DeviceAllow=char-nvidia-frontend rw" in devices and "DeviceAllow=char-nvidia-uvm rw" in devices
    # systemd's own rating of the sandbox; "UNSAFE" starts at 9.0.
    score = host.check_output("systemd-analyze security --no-pager ollama@%s.service | tail -1" % provider)
    exposure = float(score.split("exposure level for")[1].split(":")[1].split()[0])
    assert exposure <= 4.0, score


def test_disabled_provider_has_no_instance(host):
    unit = host.service("ollama@ollama_off")
    assert not unit.is_running and not unit.is_enabled
    assert not host.file("/etc/ollama/ollama_off.env").exists


@pytest.mark.parametrize("provider", sorted(ENABLED))
def test_environment_file(host, provider):
    env = host.file("/etc/ollama/%s.env" % provider)
    assert env.user == "root" and env.group == "root" and env.mode == 0o600
    text = env.content_string
    assert "\nOLLAMA_HOST=%s:%d\n" % (ADDR, ENABLED[provider][0]) in text
    assert "\nOLLAMA_MODELS=%s/%s\n" % (MODELS_ROOT, provider) in text
    assert "\nOLLAMA_KEEP_ALIVE=10m\n" in text and "\nOLLAMA_NUM_PARALLEL=1\n" in text
    # Only ollama_main's registry models set a context_length.
    assert ("\nOLLAMA_CONTEXT_LENGTH=2048\n" in text) == (provider == "ollama_main")


def test_listens_only_on_loopback(host):
    """Every socket any process of an ollama@ unit listens on (the servers and
    their llama.cpp runners) is on loopback; the APIs on this host's address."""
    found = host.check_output("grep -l 'system-ollama.slice/ollama@' /proc/[0-9]*/cgroup || true")
    pids = set(path.split("/")[2] for path in found.split())
    assert len(pids) >= len(ENABLED)
    listening = []
    for line in host.check_output("ss -Hltnp").splitlines():
        owners = [part.split(",")[0] for part in line.split("pid=")[1:]]
        if pids.intersection(owners):
            listening.append(line.split()[3])
    assert sorted(listening) and all(addr.startswith("127.") for addr in listening), listening
    for port, _tags in ENABLED.values():
        assert "%s:%d" % (ADDR, port) in listening


# --- models -------------------------------------------------------------------

def test_models_dir_is_the_custom_path_owned_by_ollama(host):
    root = host.file(MODELS_ROOT)
    assert root.is_directory and root.user == "ollama" and root.group == "ollama" and root.mode == 0o750
    for provider in ENABLED:
        store = host.file("%s/%s" % (MODELS_ROOT, provider))
        assert store.is_directory and store.user == "ollama"
    manifest = host.file(MODELS_ROOT + "/ollama_main/manifests/registry.ollama.ai/library/llama3.2/1b")
    assert manifest.is_file and manifest.user == "ollama"
    blob = json.loads(manifest.content_string)["layers"][0]["digest"].replace(":", "-")
    assert host.file("%s/ollama_main/blobs/%s" % (MODELS_ROOT, blob)).user == "ollama"
    assert not host.file("/var/lib/ollama/models").exists  # the default path is not used


@pytest.mark.parametrize("provider", sorted(ENABLED))
def test_api_tags_lists_the_registry_models(provider):
    port, expected = ENABLED[provider]
    assert tags(port) == sorted(expected)


@pytest.mark.parametrize("provider", sorted(ENABLED))
def test_each_model_was_pulled_once(host, provider):
    """Converge pulled each model; the idempotence converge pulled nothing."""
    assert pulls_logged(host, provider) == len(ENABLED[provider][1])


def test_models_survive_a_restart(host):
    host.run_expect([0], "systemctl restart ollama@ollama_second.service")
    status = None
    for _attempt in range(60):
        try:
            status, _reply = http("GET", "http://%s:11435/api/tags" % ADDR, timeout=2)
        except (urllib.error.URLError, OSError):
            status = None
        if status == 200:
            break
        host.run("sleep 1")
    assert tags(11435) == ["tinyllama:latest"]


def test_native_chat_returns_tokens():
    status, reply = http("POST", "http://%s:11434/api/chat" % ADDR, {
        "model": "llama3.2:1b", "stream": False, "options": {"num_predict": 8},
        "messages": [{"role": "user", "content": "Hello"}]})
    assert status == 200 and reply["done"] and reply["eval_count"] >= 1


def test_completion_through_litellm_returns_tokens(host):
    before = host.check_output("journalctl --no-pager -o cat -u ollama@ollama_main.service").count("POST /api/chat")
    status, reply = http("POST", "http://%s:4000/v1/chat/completions" % ADDR, {
        "model": "qwen-small", "max_tokens": 8,
        # A fresh prompt, so the gateway's Redis cache cannot answer it.
        "messages": [{"role": "user", "content": "Hello %s" % os.urandom(8).hex()}]},
        headers={"Authorization": "Bearer " + MASTER_KEY}, timeout=120)
    assert status == 200, reply
    assert reply["usage"]["completion_tokens"] >= 1 and reply["choices"][0]["message"]["content"]
    after = host.check_output("journalctl --no-pager -o cat -u ollama@ollama_main.service").count("POST /api/chat")
    assert after == before + 1  # served by the Ollama instance, not from a cache


# --- the role re-run with other inputs (last: they change state and restore it) ---

def run_role(extra_vars):
    """ansible-playbook tests/role.yml with extra vars; returns (rc, output)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(extra_vars, handle)
    cmd = ["ansible-playbook", os.path.join(HERE, "role.yml"), "-e", "@" + handle.name]
    inventory = os.environ.get("MOLECULE_INVENTORY_FILE")
    if inventory:
        cmd[1:1] = ["-i", inventory]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    os.unlink(handle.name)
    return proc.returncode, proc.stdout + proc.stderr


def registry(main_models=None, **extra):
    providers = {
        "ollama_main": {"type": "ollama", "port": 11434, "models": main_models if main_models is not None else [
            {"name": "llama3.2-1b", "source": "llama3.2:1b", "context_length": 2048},
            {"name": "qwen-small", "source": "qwen2.5:0.5b"}]},
        "ollama_second": {"type": "ollama", "port": 11435, "models": [{"name": "tinyllama"}]},
    }
    providers.update(extra)
    return {"ai_backend_providers": providers}


def recap_changed(out):
    line = [ln for ln in out.splitlines() if ln.startswith("aib-ollama-gpu") and "changed=" in ln][-1]
    return int(line.split("changed=")[1].split()[0])


def test_rerun_changes_nothing_and_sees_the_recorded_gpu(host):
    rc, out = run_role(registry())
    assert rc == 0, out[-3000:]
    assert recap_changed(out) == 0, out[-3000:]
    # The shared GPU preflight read the recorded H200 (nvidia-smi stand-in).
    assert "Ollama can use NVIDIA H200" in out
    for provider in ENABLED:
        assert pulls_logged(host, provider) == len(ENABLED[provider][1])


@pytest.mark.parametrize("extra_vars,needle", [
    (registry(broken={"type": "ollama", "port": 0, "models": [{"name": "x", "source": "x:1b"}]}),
     ("ai_backend_providers.broken.port", "port 0 is out of range (1-65535)")),
    (registry(broken={"type": "ollama", "port": 11434, "models": [{"name": "x", "source": "x:1b"}]}),
     ("port 11434 on host", "is already used by provider")),
    (registry(main_models=[{"name": "bad", "source": "no such:model:tag"}]),
     'ai_backend_providers.ollama_main.models[0].source: "no such:model:tag" is not an Ollama model name'),
    (dict(registry(), ollama_models_dir="/home/models"),
     "ollama_models_dir: \"/home/models\" is under /home"),
    (dict(registry(), ollama_extra_environment={"OLLAMA_HOST": "0.0.0.0:1"}),
     "ollama_extra_environment.OLLAMA_HOST: set by the role"),
    (dict(registry(), ollama_version="9.9.9", ollama_archive_local_path="", ollama_archive_sha256=""),
     "no checksum is known for Ollama 9.9.9"),
])
def test_bad_input_fails_in_preflight_and_writes_nothing(host, extra_vars, needle):
    before = host.check_output("ls -l --time-style=+%s /etc/ollama /opt/ollama /srv/ai-models/ollama")
    rc, out = run_role(extra_vars)
    flat = " ".join(out.split())
    assert rc != 0 and all(" ".join(part.split()) in flat for part in needles(needle)), out[-3000:]
    assert "Traceback" not in out
    assert host.check_output("ls -l --time-style=+%s /etc/ollama /opt/ollama /srv/ai-models/ollama") == before


def test_checksum_mismatch_refuses_the_archive_and_keeps_the_install(host):
    marker = host.file(PREFIX + "/.ai_backend-installed").content_string
    rc, out = run_role(dict(registry(), ollama_archive_sha256="0" * 64))
    assert rc != 0 and "but ollama_archive_sha256 expects" in out and "Nothing was installed" in out, out[-3000:]
    assert host.file(PREFIX + "/.ai_backend-installed").content_string == marker
    assert host.check_output("ls -A /var/cache/ollama-install") == ""
    assert tags(11434) == sorted(ENABLED["ollama_main"][1])


def test_upgrade_removes_the_old_lib_ollama_first(host):
    host.run_expect([0], "touch %s/lib/ollama/stale-runner-from-old-release.so" % PREFIX)
    rc, out = run_role(dict(registry(), ollama_version="0.30.10-standin-next"))
    assert rc == 0, out[-3000:]
    assert not host.file(PREFIX + "/lib/ollama/stale-runner-from-old-release.so").exists
    assert host.file(PREFIX + "/lib/ollama/standin/llama-server").is_file
    assert "version=0.30.10-standin-next" in host.file(PREFIX + "/.ai_backend-installed").content_string
    for provider, (port, expected) in ENABLED.items():
        assert tags(port) == sorted(expected)  # restarted on the new release, models kept
    rc, out = run_role(registry())  # back to the scenario's version
    assert rc == 0, out[-3000:]
    assert "version=0.30.10-standin\n" in host.file(PREFIX + "/.ai_backend-installed").content_string


def test_removed_model_is_kept_unless_pruning(host):
    fewer = [{"name": "llama3.2-1b", "source": "llama3.2:1b", "context_length": 2048}]
    rc, out = run_role(registry(main_models=fewer))
    assert rc == 0, out[-3000:]
    assert "holds qwen2.5:0.5b, which its registry entry does not list; kept" in " ".join(out.split())
    assert tags(11434) == ["llama3.2:1b", "qwen2.5:0.5b"]
    rc, out = run_role(dict(registry(main_models=fewer), ollama_prune_models=True))
    assert rc == 0, out[-3000:]
    assert tags(11434) == ["llama3.2:1b"]
    assert not host.file(MODELS_ROOT + "/ollama_main/manifests/registry.ollama.ai/library/qwen2.5/0.5b").exists
    assert tags(11435) == ["tinyllama:latest"]  # pruning is per instance
    rc, out = run_role(registry())  # pulls it back
    assert rc == 0, out[-3000:]
    assert tags(11434) == sorted(ENABLED["ollama_main"][1])


def test_removed_provider_is_stopped_and_disabled(host):
    extra = {"type": "ollama", "port": 11437, "models": [{"name": "extra-model", "source": "smollm:135m"}]}
    rc, out = run_role(registry(ollama_extra=extra))
    assert rc == 0, out[-3000:]
    assert host.service("ollama@ollama_extra").is_running and tags(11437) == ["smollm:135m"]
    rc, out = run_role(registry())
    assert rc == 0, out[-3000:]
    unit = host.service("ollama@ollama_extra")
    assert not unit.is_running and not unit.is_enabled
    assert not host.file("/etc/ollama/ollama_extra.env").exists
    for provider in ENABLED:  # the others kept serving
        assert host.service("ollama@%s" % provider).is_running
