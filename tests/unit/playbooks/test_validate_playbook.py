# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/validate.yml (and the validation that opens site.yml and smoke.yml),
run for real with ansible-playbook on small temporary inventories.

Each test is one way a run could go wrong before any host is touched: a missing
vault secret, an inventory that targets nothing, a misspelled group, a relative
render dir, and the registry validated more than once. No host is contacted:
every inventory host points at a docker container that does not exist.
"""

import os
import re
import socket
import subprocess
import sys

import pytest
import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
PLAYBOOKS = os.path.join(REPO, "playbooks")
MASTER_KEY = "sk-unit-0123456789abcdef0123456789abcdef"
REDIS_PASSWORD = "unit-redis-password-0123456789"
UNREACHABLE = {"ansible_connection": "community.docker.docker", "ansible_host": "aib-playbook-test-does-not-exist"}
GPU = {"ai_backend_providers": {"chat": {"type": "ollama", "port": 11434,
                                         "models": [{"name": "llama3.1-8b", "source": "llama3.1:8b"}]}}}


def ansible_playbook(cwd, *args, **env_extra):
    rc, out = raw_ansible_playbook(cwd, *args, **env_extra)
    # Whitespace folded, so a needle matches however the callback wraps a long line.
    return rc, " ".join(out.split())


def raw_ansible_playbook(cwd, *args, **env_extra):
    """ansible-playbook as a user runs it: from ``cwd``, whose shell sets PWD to it."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".build", "collections"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", PWD=str(cwd), ANSIBLE_LOCALHOST_WARNING="false")
    env.setdefault("ANSIBLE_CONFIG", os.path.join(REPO, "ansible.cfg"))
    env.update(env_extra)
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook")] + list(args)
    done = subprocess.run(command, cwd=str(cwd), env=env, capture_output=True, text=True, timeout=300, check=False)
    return done.returncode, done.stdout + done.stderr


def inventory(tmp_path, groups, host_vars=None, name="inv"):
    """hosts.yml with ``groups`` {group: [hosts]} and host_vars/<host>.yml files."""
    root = tmp_path / name
    (root / "host_vars").mkdir(parents=True, exist_ok=True)
    children = dict((group, {"hosts": dict((h, dict(UNREACHABLE)) for h in hosts)}) for group, hosts in groups.items())
    (root / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": children}}))
    for host, values in (host_vars or {}).items():
        (root / "host_vars" / ("%s.yml" % host)).write_text(yaml.safe_dump(values))
    return str(root / "hosts.yml")


def secrets(tmp_path, **values):
    path = tmp_path / "secrets.yml"
    path.write_text(yaml.safe_dump(values or {"litellm_master_key": MASTER_KEY, "redis_password": REDIS_PASSWORD}))
    return "@%s" % path


def one_box(tmp_path, **extra_vars):
    return inventory(tmp_path, {"ai_backend_gateway": ["box"], "ai_backend_inference": ["box"]},
                     {"box": dict(GPU, **extra_vars)})


def test_a_missing_master_key_fails_validate_with_the_variable_host_and_vault_command(tmp_path):
    rc, out = ansible_playbook(tmp_path, "-i", one_box(tmp_path), os.path.join(PLAYBOOKS, "validate.yml"),
                               "-e", secrets(tmp_path, redis_password=REDIS_PASSWORD))
    assert rc != 0, out
    assert "ERROR: host_vars[box].litellm_master_key" in out
    assert "litellm_master_key is not defined on box" in out
    assert "ansible-vault encrypt_string --name litellm_master_key" in out
    # The secret that is set is checked, never shown, and not reported.
    assert REDIS_PASSWORD not in out and "host_vars[box].redis_password" not in out


def test_a_missing_provider_secret_fails_before_the_backends_are_touched(tmp_path):
    gpu = {"ai_backend_providers": {"coder": {
        "type": "vllm", "port": 8001, "gpus": [0], "api_key_env": "CODER_KEY",
        "models": [{"name": "qwen-coder", "source": "Qwen/Qwen2.5-Coder-7B-Instruct"}]}}}
    inv = inventory(tmp_path, {"ai_backend_gateway": ["gw"], "ai_backend_inference": ["gpu1"]}, {"gpu1": gpu})
    rc, out = ansible_playbook(tmp_path, "-i", inv, os.path.join(PLAYBOOKS, "site.yml"), "-e", secrets(tmp_path))
    assert rc != 0, out
    assert "host_vars[gpu1].vllm_api_keys[CODER_KEY]" in out
    assert "host_vars[gw].litellm_provider_secrets[CODER_KEY]" in out
    assert "Converge the inference backends" not in out and "Gathering Facts" not in out


def test_a_vaulted_secret_is_checked_without_being_shown(tmp_path):
    password_file = tmp_path / "vault-password"
    password_file.write_text("unit-vault-password\n")
    vaulted = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-vault"), "encrypt_string",
                              "--vault-password-file", str(password_file), "--name", "litellm_master_key", MASTER_KEY],
                             capture_output=True, text=True, check=True).stdout
    inv = one_box(tmp_path)
    (tmp_path / "inv" / "group_vars" / "all").mkdir(parents=True)
    (tmp_path / "inv" / "group_vars" / "all" / "vault.yml").write_text(vaulted)
    validate = os.path.join(PLAYBOOKS, "validate.yml")
    rc, out = ansible_playbook(tmp_path, "-i", inv, validate, "-e", secrets(tmp_path, redis_password=REDIS_PASSWORD))
    assert rc != 0, out
    assert "litellm_master_key is vaulted but could not be decrypted" in out
    rc, out = ansible_playbook(tmp_path, "-i", inv, validate, "-e", secrets(tmp_path, redis_password=REDIS_PASSWORD),
                               "--vault-password-file", str(password_file))
    assert rc == 0, out
    assert MASTER_KEY not in out and REDIS_PASSWORD not in out


@pytest.mark.parametrize("text", ["all: {}\n", "", "all:\n  children: [unclosed\n"],
                         ids=["empty", "blank", "does-not-parse"])
def test_an_inventory_without_hosts_fails_instead_of_passing_silently(tmp_path, text):
    source = tmp_path / "hosts.yml"
    source.write_text(text)
    rc, out = ansible_playbook(tmp_path, "-i", str(source), os.path.join(PLAYBOOKS, "validate.yml"))
    assert rc != 0, out
    assert "the inventory has no host" in out


def test_a_limit_outside_the_ai_backend_groups_fails(tmp_path):
    inv = inventory(tmp_path, {"ai_backend_gateway": ["box"], "ai_backend_inference": ["box"], "monitoring": ["mon"]},
                    {"box": GPU})
    rc, out = ansible_playbook(tmp_path, "-i", inv, os.path.join(PLAYBOOKS, "validate.yml"), "-e", secrets(tmp_path),
                               "--limit", "mon")
    assert rc != 0, out
    assert "no host of ai_backend_gateway or ai_backend_inference matched this run" in out


def test_a_misspelled_group_says_did_you_mean(tmp_path):
    inv = inventory(tmp_path, {"ai_backend_gateway": ["gw"], "ai_backend_inferance": ["gpu1"]}, {"gpu1": GPU})
    rc, out = ansible_playbook(tmp_path, "-i", inv, os.path.join(PLAYBOOKS, "validate.yml"), "-e", secrets(tmp_path))
    assert rc != 0, out
    assert "did you mean ai_backend_inference?" in out
    inv = inventory(tmp_path, {"ai_backend_gatway": ["gw"], "ai_backend_inferance": ["gpu1"]}, {"gpu1": GPU}, "inv2")
    rc, out = ansible_playbook(tmp_path, "-i", inv, os.path.join(PLAYBOOKS, "validate.yml"), "-e", secrets(tmp_path))
    assert rc != 0 and "did you mean ai_backend_gateway?" in out and "did you mean ai_backend_inference?" in out


def test_a_relative_render_dir_is_written_where_the_command_runs(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    before = sorted(os.listdir(PLAYBOOKS))
    rc, out = ansible_playbook(work, "-i", one_box(tmp_path), os.path.join(PLAYBOOKS, "validate.yml"),
                               "-e", secrets(tmp_path), "-e", "ai_backend_render_dir=render")
    assert rc == 0, out
    assert sorted(os.listdir(str(work / "render"))) == ["box.litellm.yaml"]
    assert sorted(os.listdir(PLAYBOOKS)) == before


RENDER_LISTED = r"TASK \[List each gateway's rendered config, written for inspection\] \**\s*%s: "


def test_the_render_is_written_once_and_templated_registry_values_still_resolve(tmp_path):
    # Registry values that are plain data are read raw (fast at scale); a templated one must still be templated.
    box = one_box(tmp_path, ai_backend_advertise_address="{{ box_address }}", box_address="127.0.0.9")
    args = ("-i", box, os.path.join(PLAYBOOKS, "validate.yml"), "-e", secrets(tmp_path),
            "-e", "ai_backend_render_dir=%s" % (tmp_path / "render"))
    rc, out = ansible_playbook(tmp_path, *args)
    assert rc == 0, out
    rendered = (tmp_path / "render" / "box.litellm.yaml").read_text()
    assert "api_base: http://127.0.0.9:11434" in rendered and "box_address" not in rendered
    assert re.search(RENDER_LISTED % "changed", out), out
    # Unchanged content: not rewritten, not reported as changed.
    mtime = os.stat(str(tmp_path / "render" / "box.litellm.yaml")).st_mtime_ns
    rc, out = ansible_playbook(tmp_path, *args)
    assert rc == 0 and re.search(RENDER_LISTED % "ok", out), out
    assert os.stat(str(tmp_path / "render" / "box.litellm.yaml")).st_mtime_ns == mtime


def test_a_passing_validate_ends_with_one_summary_line(tmp_path):
    rc, out = ansible_playbook(tmp_path, "-i", one_box(tmp_path), os.path.join(PLAYBOOKS, "validate.yml"),
                               "-e", secrets(tmp_path), ANSIBLE_STDOUT_CALLBACK="default",
                               ANSIBLE_CALLBACK_RESULT_FORMAT="json")
    assert rc == 0, out
    # The one warning: llama3.1-8b has no fallback.
    assert out.endswith('"msg": "ai_backend validate: 1 hosts, 1 gateways, 1 inference hosts, 1 model groups, '
                        '1 warnings" } PLAY RECAP ' + out.split("PLAY RECAP ")[1]), out


def test_site_validates_the_registry_once_per_run(tmp_path):
    trace = tmp_path / "trace"
    rc, out = ansible_playbook(tmp_path, "-i", one_box(tmp_path), os.path.join(PLAYBOOKS, "site.yml"),
                               "-e", secrets(tmp_path), "--tags", "validate,smoke", "--check",
                               AI_BACKEND_VIEW_TRACE=str(trace))
    assert rc == 0, out
    # site.yml imports validate.yml, and so does smoke.yml: the view is built once.
    assert out.count("PLAY [Validate the ai_backend registry]") == 2
    assert trace.read_text().splitlines() == ["view built"]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_smoke_table_reads_well_with_the_default_callback(tmp_path):
    """Nothing listens: every check fails, and the table still shows one row per line."""
    box = dict(GPU, ai_backend_gateway={"port": free_port()}, ai_backend_redis={"port": free_port()})
    box["ai_backend_providers"]["chat"]["port"] = free_port()
    inv = tmp_path / "hosts.yml"
    inv.write_text(yaml.safe_dump({"all": {"children": {
        "ai_backend_gateway": {"hosts": {"box": {"ansible_connection": "local",
                                                 "ansible_python_interpreter": sys.executable}}},
        "ai_backend_inference": {"hosts": {"box": None}}}}}))
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "host_vars" / "box.yml").write_text(yaml.safe_dump(box))
    config = tmp_path / "empty.cfg"
    config.write_text("[defaults]\n")
    rc, out = raw_ansible_playbook(tmp_path, "-i", str(inv), os.path.join(PLAYBOOKS, "smoke.yml"),
                                   "-e", secrets(tmp_path),
                                   ANSIBLE_CONFIG=str(config), ANSIBLE_STDOUT_CALLBACK="default")
    assert rc != 0, out
    table = out.split("TASK [Print the smoke-check table, one row per check]")[1].split("TASK [")[0]
    assert "\\n" not in table, table
    rows = [line.strip().strip('",') for line in table.splitlines() if "FAIL" in line or "RESULT" in line]
    expected = [["RESULT", "CHECK"], ["FAIL", "gateway"], ["FAIL", "backend"], ["FAIL", "redis"], ["FAIL", "completion"]]
    assert [row.split()[:2] for row in rows] == expected, table
    assert MASTER_KEY not in out and REDIS_PASSWORD not in out


def role_play(tmp_path, role, providers):
    """The role applied on its own to this machine, in check mode, as molecule's role.yml does."""
    book = tmp_path / "role.yml"
    book.write_text("- hosts: box\n  gather_facts: true\n  tasks:\n    - ansible.builtin.include_role:\n"
                    "        name: gathewhy.ai_backend.%s\n" % role)
    inv = tmp_path / "role-hosts.yml"
    inv.write_text(yaml.safe_dump({"all": {"hosts": {"box": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
        "redis_password": REDIS_PASSWORD, "ai_backend_providers": providers}}}}))
    return ansible_playbook(tmp_path, "-i", str(inv), str(book), "--check")


def test_a_backend_role_on_its_own_checks_its_registry_with_the_engine(tmp_path):
    trace = tmp_path / "trace"
    providers = {"broken": {"type": "llama_cpp", "models": [{"name": "no-port", "gguf": {"path": "/srv/x.gguf"}}]},
                 "ok": {"type": "vllm", "port": 8001, "models": [{"name": "a"}, {"name": "b"}]}}
    for role in ("llama_cpp", "vllm", "ollama", "redis"):
        rc, out = role_play(tmp_path, role, providers)
        assert rc != 0, out
        assert "ERROR: host_vars[box].ai_backend_providers.broken.port" in out, (role, out)
        assert "ERROR: host_vars[box].ai_backend_providers.ok.models" in out, (role, out)
        assert "Nothing was changed" in out and "Traceback" not in out
        # Nothing after the registry check ran: no other check, no GPU probe.
        assert "Registry | Stop before anything is written" in out
        assert "Check the platform" not in out and "gpu" not in out.lower().rsplit("registry | stop", maxsplit=1)[-1], (role, out)
