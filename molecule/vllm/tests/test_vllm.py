# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vllm role, checked against the running container (vLLM STAND-IN inside).

Containers share the host network, so HTTP goes straight from this process to
the container's loopback address; everything else is read inside the container.
"""

import base64
import json
import os
import time
import urllib.error
import urllib.request

import pytest
import yaml
from aib_testinfra import needles, own_listeners, run_playbook, shared_playbook

ADDR = "127.0.30.1"
HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIO = os.path.dirname(HERE)
with open(os.path.join(SCENARIO, "molecule.yml")) as _fh:
    HOST_VARS = yaml.safe_load(_fh)["provisioner"]["inventory"]["host_vars"]["aib-vllm-gpu"]
PROVIDERS = HOST_VARS["ai_backend_providers"]
KEY = HOST_VARS["vllm_api_keys"]["VLLM_CODER_KEY"]
MASTER = HOST_VARS["litellm_master_key"]
ENABLED = sorted(pid for pid, p in PROVIDERS.items() if p.get("enabled", True))
VENV = "/opt/vllm/venv"
WATCHED = ["/etc/vllm", "/etc/systemd/system", "/opt/vllm", "/var/lib/vllm"]


def http(url, body=None, key=None, timeout=60):
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = "Bearer " + key
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    try:
        return status, json.loads(raw or b"null")
    except ValueError:
        return status, raw.decode(errors="replace")


def main_pid(host, provider):
    return int(host.check_output("systemctl show -p MainPID --value vllm@%s" % provider))


def proc_list(host, pid, name):
    """NUL-separated /proc/PID/<name> as a list, read inside the container."""
    raw = host.check_output("cat /proc/%d/%s | base64 -w0" % (pid, name))
    return [part for part in base64.b64decode(raw).decode().split("\0") if part]


def expected_argv(provider):
    p = PROVIDERS[provider]
    model = p["models"][0]
    args = ["serve", model["source"], "--served-model-name", model["name"], "--host", ADDR,
            "--port", str(p["port"]), "--gpu-memory-utilization", str(p["gpu_memory_utilization"])]
    if "max_model_len" in p:
        args += ["--max-model-len", str(p["max_model_len"])]
    args += ["--tensor-parallel-size", str(p.get("tensor_parallel_size", len(p["gpus"])))]
    return args


# -- units, users, hardening ------------------------------------------------------------------

@pytest.mark.parametrize("provider", ENABLED)
def test_instance_is_active_enabled_and_runs_as_vllm(host, provider):
    unit = host.service("vllm@%s" % provider)
    assert unit.is_running and unit.is_enabled
    pid = main_pid(host, provider)
    children = host.check_output("cat /proc/%d/task/*/children" % pid).split()
    # The stand-in and the llama-server it spawned: both the service user
    # (the owner of /proc/<pid>; procps is not in the image).
    users = {p: host.check_output("stat --format=%%U /proc/%s" % p).strip() for p in [str(pid)] + children}
    assert len(users) >= 2 and set(users.values()) == {"vllm"}, users
    groups = host.user("vllm").groups
    assert "video" in groups and "render" in groups


@pytest.mark.parametrize("provider", ENABLED)
def test_unit_is_hardened(host, provider):
    lines = host.check_output(
        "systemctl show vllm@%s -p ProtectSystem -p NoNewPrivileges -p PrivateTmp -p ProtectHome "
        "-p CapabilityBoundingSet -p ReadWritePaths -p DevicePolicy -p DeviceAllow -p TimeoutStartUSec "
        "-p RestrictNamespaces -p ProtectKernelModules -p User -p EnvironmentFiles" % provider).splitlines()
    props = dict(line.split("=", 1) for line in lines)
    device_allow = [line.split("=", 1)[1] for line in lines if line.startswith("DeviceAllow=")]
    assert props["ProtectSystem"] == "strict" and props["NoNewPrivileges"] == "yes"
    assert props["PrivateTmp"] == "yes" and props["ProtectHome"] == "yes"
    assert props["CapabilityBoundingSet"] == "" and props["User"] == "vllm"
    assert props["ReadWritePaths"] == "/var/lib/vllm"
    assert props["DevicePolicy"] == "closed"
    for device_class in ("char-nvidia-frontend", "char-nvidia-uvm", "char-nvidia-caps"):
        assert device_class + " rw" in device_allow, device_allow
    assert props["TimeoutStartUSec"] == "5min"  # vllm_start_timeout: 300
    assert props["RestrictNamespaces"] == "yes" and props["ProtectKernelModules"] == "yes"
    assert props["EnvironmentFiles"].startswith("/etc/vllm/%s.env " % provider)


def test_unit_template_starts_with_ansible_managed(host):
    head = host.file("/etc/systemd/system/vllm@.service").content_string.splitlines()[:3]
    assert head == ["#", "# Ansible managed", "#"], head


@pytest.mark.parametrize("provider", ENABLED)
def test_env_file_is_root_only(host, provider):
    env = host.file("/etc/vllm/%s.env" % provider)
    assert env.user == "root" and env.group == "root" and env.mode == 0o600
    has_key = "api_key_env" in PROVIDERS[provider]
    assert env.contains('^VLLM_API_KEY="%s"$' % KEY) is has_key


# -- what each instance was started with -----------------------------------------------------

@pytest.mark.parametrize("provider", ENABLED)
def test_argv_is_rendered_from_the_registry(host, provider):
    argv = proc_list(host, main_pid(host, provider), "cmdline")
    assert argv[1:] == [VENV + "/bin/vllm"] + expected_argv(provider), argv


@pytest.mark.parametrize("provider", ENABLED)
def test_cuda_visible_devices_is_pinned(host, provider):
    env = dict(item.split("=", 1) for item in proc_list(host, main_pid(host, provider), "environ"))
    assert env["CUDA_VISIBLE_DEVICES"] == ",".join(str(g) for g in PROVIDERS[provider]["gpus"])
    assert env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID" and env["VLLM_NO_USAGE_STATS"] == "1"
    assert ("VLLM_API_KEY" in env) is ("api_key_env" in PROVIDERS[provider])


@pytest.mark.parametrize("provider", ENABLED)
def test_standin_logged_the_flags_and_gpus_it_received(host, provider):
    log = host.check_output("journalctl --no-pager -o cat -u vllm@%s" % provider)
    starts = [json.loads(line[len("vllm stand-in: start "):]) for line in log.splitlines()
              if line.startswith("vllm stand-in: start ")]
    assert starts, log[-2000:]
    last = starts[-1]
    assert last["argv"] == ["vllm"] + expected_argv(provider)
    assert last["cuda_visible_devices"] == ",".join(str(g) for g in PROVIDERS[provider]["gpus"])
    assert last["api_key"] == ("set" if "api_key_env" in PROVIDERS[provider] else "unset")


def test_api_key_is_never_in_argv_or_logs(host):
    assert KEY not in host.check_output("cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '")
    assert KEY not in host.check_output("journalctl --no-pager -o cat 2>/dev/null || true")


# -- network -----------------------------------------------------------------------------------

def test_listens_only_on_its_loopback_address(host):
    # Every TCP listener of this container: the stand-ins, their engines, redis, LiteLLM.
    listeners = own_listeners(host)
    assert listeners and all(listener[0] == ADDR for listener in listeners), listeners
    ports = {listener[1] for listener in listeners}
    for provider in ENABLED:
        assert PROVIDERS[provider]["port"] in ports
    # Each stand-in's engine (llama-server) listens too, on the same address.
    engines = [listener for listener in listeners if listener[2] == "llama-server"]
    assert len(engines) == len(ENABLED), listeners


# -- HTTP ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("provider", ENABLED)
def test_health_and_served_model_name(provider):
    port = PROVIDERS[provider]["port"]
    key = KEY if "api_key_env" in PROVIDERS[provider] else None
    assert http("http://%s:%d/health" % (ADDR, port))[0] == 200
    status, models = http("http://%s:%d/v1/models" % (ADDR, port), key=key)
    assert status == 200
    assert [m["id"] for m in models["data"]] == [PROVIDERS[provider]["models"][0]["name"]]


def test_key_is_required_where_the_registry_names_one():
    assert http("http://%s:8001/v1/models" % ADDR)[0] == 401


@pytest.mark.parametrize("provider", ENABLED)
def test_completion_through_litellm_returns_tokens(provider):
    name = PROVIDERS[provider]["models"][0]["name"]
    body = {"model": name, "max_tokens": 8, "temperature": 0,
            "messages": [{"role": "user", "content": "Say hello."}]}
    status, reply = http("http://%s:4000/v1/chat/completions" % ADDR, body, key=MASTER, timeout=120)
    assert status == 200, reply
    assert reply["usage"]["completion_tokens"] >= 1
    assert reply["choices"][0]["message"]["content"]


# -- start order -------------------------------------------------------------------------------------

def timestamps(host, provider):
    out = host.check_output("systemctl show vllm@%s -p ExecMainStartTimestampMonotonic "
                            "-p ActiveEnterTimestampMonotonic" % provider)
    return {k: int(v) for k, v in (line.split("=", 1) for line in out.splitlines())}


def test_instances_sharing_a_gpu_start_one_after_another(host):
    """Stop both instances, let the role start them again, and compare the times."""
    host.check_output("systemctl stop vllm@vllm_coder.service vllm@vllm_chat.service")
    rc, out = run_role({})
    assert rc == 0, out[-3000:]
    # vllm_chat (GPUs 0,1) sorts first; vllm_coder shares GPU 0 with it.
    first, second = timestamps(host, "vllm_chat"), timestamps(host, "vllm_coder")
    # Active = /health answered (the unit's ExecStartPost); the second process
    # was started only after that.
    assert second["ExecMainStartTimestampMonotonic"] >= first["ActiveEnterTimestampMonotonic"] > 0, (first, second)
    assert first["ActiveEnterTimestampMonotonic"] > first["ExecMainStartTimestampMonotonic"]
    order = host.file("/etc/systemd/system/vllm@vllm_coder.service.d/order.conf")
    assert order.contains("^After=vllm@vllm_chat.service$")
    assert "vllm@vllm_chat.service" in host.check_output("systemctl show -p After --value vllm@vllm_coder")


def test_disabled_provider_is_not_served(host):
    unit = host.service("vllm@vllm_old")
    assert not unit.is_running and not unit.is_enabled
    assert not host.file("/etc/vllm/vllm_old.env").exists


def test_installed_from_the_checked_wheel_directory(host):
    version = host.check_output(VENV + "/bin/python -c \"import importlib.metadata as m; "
                                "print(m.version('vllm-standin'))\"")
    assert version.strip() == "0.1.0"
    assert host.file(VENV + "/bin/vllm").exists


# -- runs of the role with another registry -----------------------------------------------------

def run_role(host_vars_override, playbook=None):
    """Run a playbook (default: the vllm role alone) with a changed registry; (rc, output)."""
    return run_playbook(playbook or os.path.join(HERE, "role.yml"), extra_vars=host_vars_override)


def snapshot(host):
    return host.check_output("find %s -xdev -printf '%%p %%s %%T@ %%m\\n' 2>/dev/null | sort" % " ".join(WATCHED))


def vllm_provider(port, gpus, util, name):
    return {"type": "vllm", "port": port, "gpus": gpus, "gpu_memory_utilization": util,
            "models": [{"name": name, "source": "org/" + name}]}


def test_two_instances_over_budget_on_one_gpu_fail_before_anything_is_written(host):
    pids = {p: main_pid(host, p) for p in ENABLED}
    before = snapshot(host)
    # Replaces the whole registry: had the play gone on, it would also have stopped the running instances.
    rc, out = run_role({"ai_backend_providers": {
        "budget_a": vllm_provider(8011, [1], 0.6, "budget-a"),
        "budget_b": vllm_provider(8012, [1], 0.6, "budget-b")}})
    assert rc != 0
    # The registry alone shows the over-commit, so it stops before any host fact is read.
    flat = " ".join(out.split())
    assert "ai_backend_providers.budget_b.gpu_memory_utilization" in flat, out[-3000:]
    assert "GPU 1 on host aib-vllm-gpu is over budget: budget_a 0.6 + budget_b 0.6 = 1.2 > ceiling 0.95" in flat
    assert "Traceback" not in out
    assert snapshot(host) == before
    assert not host.file("/etc/vllm/budget_a.env").exists
    assert {p: main_pid(host, p) for p in ENABLED} == pids


@pytest.mark.parametrize("providers,needle", [
    ({"ghost": vllm_provider(8013, [2], 0.3, "ghost")},
     "GPU index 2 does not exist on aib-vllm-gpu, which has 2 GPU(s): 0 (NVIDIA H100 80GB HBM3), 1 (NVIDIA H100 80GB HBM3)"),
    ({"keyless": dict(vllm_provider(8014, [1], 0.3, "keyless"), api_key_env="NOT_IN_VLLM_API_KEYS")},
     "ai_backend_providers.keyless.api_key_env names NOT_IN_VLLM_API_KEYS"),
    ({"two": dict(vllm_provider(8015, [1], 0.3, "two"), models=[{"name": "a"}, {"name": "b"}])},
     ("ai_backend_providers.two.models", "has 2 items, at most 1 allowed")),
])
def test_bad_registry_fails_in_preflight_and_writes_nothing(host, providers, needle):
    before = snapshot(host)
    rc, out = run_role({"ai_backend_providers": providers})
    flat = " ".join(out.split())
    assert rc != 0 and all(" ".join(part.split()) in flat for part in needles(needle)), out[-3000:]
    assert "Traceback" not in out
    assert snapshot(host) == before


def test_model_switch_stops_the_old_instance_and_the_gateway_follows(host):
    """Swap vllm_chat for vllm_chat2 through the whole converge, then switch back."""
    converge = shared_playbook("converge.yml")
    switched = {k: v for k, v in PROVIDERS.items() if k != "vllm_chat"}
    switched["vllm_chat2"] = dict(vllm_provider(8004, [1], 0.45, "chat-v2"), max_model_len=256)
    rc, out = run_role({"ai_backend_providers": switched}, playbook=converge)
    assert rc == 0, out[-4000:]
    old = host.service("vllm@vllm_chat")
    assert not old.is_running and not old.is_enabled
    assert not host.file("/etc/vllm/vllm_chat.env").exists
    assert host.service("vllm@vllm_chat2").is_running
    status, models = http("http://%s:4000/v1/models" % ADDR, key=MASTER)
    names = sorted(m["id"] for m in models["data"])
    assert "chat-v2" in names and "chat-tp2" not in names, names
    body = {"model": "chat-v2", "max_tokens": 8, "messages": [{"role": "user", "content": "Hi"}]}
    status, reply = http("http://%s:4000/v1/chat/completions" % ADDR, body, key=MASTER, timeout=120)
    assert status == 200 and reply["usage"]["completion_tokens"] >= 1, reply
    assert "pkill" not in out

    rc, out = run_role({"ai_backend_providers": PROVIDERS}, playbook=converge)
    assert rc == 0, out[-4000:]
    assert not host.service("vllm@vllm_chat2").is_running
    assert host.service("vllm@vllm_chat").is_running
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status, models = http("http://%s:4000/v1/models" % ADDR, key=MASTER)
        if status == 200 and "chat-tp2" in [m["id"] for m in models["data"]]:
            break
        time.sleep(2)
    assert "chat-tp2" in [m["id"] for m in models["data"]]


def test_tampered_wheel_is_refused_before_anything_is_written(host):
    """The air-gapped wheel directory is checked against vllm_wheel_sha256 in preflight."""
    wheel = "vllm_standin-0.1.0-py3-none-any.whl"
    host.check_output("mkdir -p /srv/aib-tampered && cp /var/cache/ai-backend/artifacts/vllm-standin/%s "
                      "/srv/aib-tampered/ && printf 'x' >> /srv/aib-tampered/%s" % (wheel, wheel))
    before = snapshot(host)
    rc, out = run_role({"vllm_wheel_dir": "/srv/aib-tampered"})
    host.check_output("rm -rf /srv/aib-tampered")
    assert rc != 0
    assert "vllm_wheel_dir: /srv/aib-tampered/%s has sha256 " % wheel in out, out[-3000:]
    published = host.check_output("sha256sum /var/cache/ai-backend/artifacts/vllm-standin/%s" % wheel).split()[0]
    assert "not vllm_wheel_sha256 " + published in out
    assert snapshot(host) == before
