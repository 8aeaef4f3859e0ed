# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Ansible faces, run for real through ansible-playbook on localhost:
the litellm_config action (write, idempotence, --check --diff, backups and their
pruning, failure writes nothing), the filters (2.19 data tags stripped), and
playbooks/validate.yml."""

import json
import os
import subprocess
import sys

import pytest
import yaml

from engine_import import REPO

BIN = os.path.dirname(sys.executable)
PLAYBOOK = os.path.join(BIN, "ansible-playbook")
pytestmark = pytest.mark.skipif(not os.path.exists(PLAYBOOK), reason="ansible-playbook is not in this venv")


@pytest.fixture(scope="module")
def collections(tmp_path_factory):
    root = tmp_path_factory.mktemp("collections")
    link = root / "ansible_collections" / "gathewhy"
    link.mkdir(parents=True)
    os.symlink(REPO, str(link / "ai_backend"))
    return str(root)


def play(collections, tmp_path, body, extra=(), inventory=None):
    path = tmp_path / "play.yml"
    path.write_text(body)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="false", ANSIBLE_NOCOLOR="1")
    cmd = [PLAYBOOK, "-i", inventory or "localhost,", "-c", "local", "-e",
           "ansible_python_interpreter=%s" % sys.executable, str(path)] + list(extra)
    done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, env=env,
                          cwd=str(tmp_path), check=False)
    return done


def only_result(done):
    """The result of the single task of a one-task play."""
    results = task_results(done)
    assert len(results) == 1, results
    return results[0][1]


def task_results(done):
    start = done.stdout.find("{")
    data = json.loads(done.stdout[start:])
    out = []
    for play_ in data["plays"]:
        for task in play_["tasks"]:
            for host, result in task["hosts"].items():
                out.append((task["task"]["name"], result))
    return out


GOOD_VARS = """
    reg:
      gw:
        ai_backend_providers:
          ollama_main:
            type: ollama
            port: 11434
            models: [{name: llama3.1-8b, source: "llama3.1:latest"}, {name: qwen-coder}]
        ai_backend_routing:
          fallbacks: {qwen-coder: [llama3.1-8b]}
"""

MODULE_PLAY = """
- hosts: localhost
  gather_facts: false
  vars:
%s
  tasks:
    - name: write
      gathewhy.ai_backend.litellm_config:
        registry: "{{ reg }}"
        dest: "%s"
        mode: "0640"
        backups: 2
        master_key: "sk-0123456789abcdef0123456789abcdef"
"""


def test_module_writes_then_is_idempotent_then_diffs_and_backs_up(collections, tmp_path):
    dest = str(tmp_path / "litellm.yaml")
    body = MODULE_PLAY % (GOOD_VARS, dest)
    first = play(collections, tmp_path, body)
    assert first.returncode == 0, first.stdout + first.stderr
    result = only_result(first)
    assert result["changed"] is True
    assert result["model_groups"] == ["llama3.1-8b", "qwen-coder"]
    assert any("no fallback" in w for w in result["registry_warnings"])
    assert oct(os.stat(dest).st_mode & 0o777) == "0o640"
    assert "sk-0123456789abcdef" not in first.stdout  # no_log on master_key
    text = open(dest).read()
    assert text.startswith("# managed by Ansible (gathewhy.ai_backend)")

    second = play(collections, tmp_path, body)
    result = only_result(second)
    assert result["changed"] is False and "backup_file" not in result

    changed = body.replace("port: 11434", "port: 11435")
    check = play(collections, tmp_path, changed, extra=["--check", "--diff"])
    result = only_result(check)
    assert result["changed"] is True
    diff = result["diff"][0]  # ansible.builtin.copy's diff: one entry per file
    assert "11435" in diff["after"] and "11434" in diff["before"]
    assert open(dest).read() == text  # check mode wrote nothing

    real = play(collections, tmp_path, changed)
    result = only_result(real)
    assert result["changed"] is True
    assert open(result["backup_file"]).read() == text
    assert "11435" in open(dest).read()


def test_backup_pruning_removes_only_our_own_old_backups(collections, tmp_path):
    dest = str(tmp_path / "litellm.yaml")
    body = MODULE_PLAY % (GOOD_VARS, dest)
    assert play(collections, tmp_path, body).returncode == 0
    user_files = ["litellm.yaml.mine~", "litellm.yaml.orig~", "litellm.yaml.1.2020-01-01@00:00:00~.keep",
                  "litellm.yaml.20201127T120000.000000~", "other.yaml.1.2020-01-01@00:00:00~"]
    for name in user_files:
        (tmp_path / name).write_text("mine\n")
    (tmp_path / "litellm.yaml.7.2019-01-01@00:00:00~").write_text("an old backup of ours\n")
    made = []
    for port in (11435, 11436, 11437):
        done = play(collections, tmp_path, body.replace("port: 11434", "port: %d" % port))
        assert done.returncode == 0, done.stdout + done.stderr
        made.append(only_result(done)["backup_file"])
    ours = sorted(name for name in os.listdir(str(tmp_path))
                  if name.startswith("litellm.yaml.") and name.endswith("~") and "@" in name)
    assert len(ours) == 2, ours  # backups: 2
    assert os.path.basename(made[-1]) in ours  # the rollback's backup is kept
    assert "litellm.yaml.7.2019-01-01@00:00:00~" not in ours  # the oldest went first
    for name in user_files:
        assert (tmp_path / name).read_text() == "mine\n", name


def test_module_fails_with_the_report_and_writes_nothing(collections, tmp_path):
    dest = str(tmp_path / "litellm.yaml")
    body = MODULE_PLAY % (GOOD_VARS.replace("port: 11434", 'port: "CUSTOM_PORT"'), dest)
    done = play(collections, tmp_path, body)
    assert done.returncode != 0
    result = only_result(done)
    assert result["failed"] is True
    assert "host_vars[gw].ai_backend_providers.ollama_main.port" in result["msg"]
    assert "port is a placeholder or not a number" in result["msg"]
    assert "Traceback" not in done.stdout + done.stderr
    assert not os.path.exists(dest) and os.listdir(str(tmp_path)) == ["play.yml"]


def test_module_rejects_a_weak_master_key_without_echoing_it(collections, tmp_path):
    dest = str(tmp_path / "litellm.yaml")
    body = (MODULE_PLAY % (GOOD_VARS, dest)).replace("sk-0123456789abcdef0123456789abcdef", "sk-weak")
    done = play(collections, tmp_path, body)
    result = only_result(done)
    assert result["failed"] is True and "at least 32 needed" in result["msg"]
    assert "sk-weak" not in done.stdout
    assert not os.path.exists(dest)


def test_module_validate_only_writes_nothing_and_octal_mode_works(collections, tmp_path):
    dest = str(tmp_path / "litellm.yaml")
    body = MODULE_PLAY % (GOOD_VARS, dest)
    only = play(collections, tmp_path, body.replace('        backups: 2\n', '        backups: 2\n        validate_only: true\n'))
    result = only_result(only)
    assert result["changed"] is False and result["model_groups"] == ["llama3.1-8b", "qwen-coder"]
    assert not os.path.exists(dest)
    octal = play(collections, tmp_path, body.replace('mode: "0640"', "mode: 0600"))
    assert only_result(octal)["changed"] is True
    assert oct(os.stat(dest).st_mode & 0o777) == "0o600"


FILTER_PLAY = """
- hosts: all
  gather_facts: false
  tasks:
    - name: render through the filters (inventory values are data-tagged in 2.19)
      ansible.builtin.set_fact:
        rendered: "{{ hostvars | gathewhy.ai_backend.registry_hosts(groups['all'])
                      | gathewhy.ai_backend.litellm_config('gw') }}"
        problems: "{{ hostvars | gathewhy.ai_backend.registry_hosts(groups['all'])
                      | gathewhy.ai_backend.registry_problems }}"
      run_once: true
    - name: show
      ansible.builtin.debug:
        var: rendered
      run_once: true
"""


def write_inventory(tmp_path, gw_vars, gpu_vars):
    inv = tmp_path / "inv"
    (inv / "host_vars").mkdir(parents=True, exist_ok=True)
    (inv / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {
        "ai_backend_gateway": {"hosts": {"gw": {"ansible_connection": "local"}}},
        "ai_backend_inference": {"hosts": {"gw": {}, "gpu1": {"ansible_connection": "local"}}}}}}))
    (inv / "host_vars" / "gw.yml").write_text(yaml.safe_dump(gw_vars))
    (inv / "host_vars" / "gpu1.yml").write_text(yaml.safe_dump(gpu_vars))
    return str(inv / "hosts.yml")


GW = {"ai_backend_providers": {"ollama_main": {"type": "ollama", "port": 11434,
                                               "models": [{"name": "llama3.1-8b", "source": "llama3.1:latest"}]}},
      "ai_backend_routing": {"default_fallbacks": ["llama3.1-8b"], "aliases": {"code": "qwen-coder"}},
      "unrelated_var": "{{ undefined_thing }}",
      # validate.yml also checks that the gateway's vaulted secrets are defined.
      "litellm_master_key": "sk-" + "0123456789abcdef" * 3, "redis_password": "r3dis-pass-0123456789abcdef"}
GPU = {"ai_backend_listen_address": "127.0.2.1",
       "ai_backend_providers": {"vllm_coder": {"type": "vllm", "port": 8001, "gpus": [0],
                                               "models": [{"name": "qwen-coder", "source": "Qwen/Qwen2.5-7B"}]}}}


def test_filters_render_from_hostvars(collections, tmp_path):
    inventory = write_inventory(tmp_path, GW, GPU)
    done = play(collections, tmp_path, FILTER_PLAY, inventory=inventory)
    assert done.returncode == 0, done.stdout + done.stderr
    results = task_results(done)
    rendered = [r for name, r in results if name == "show"][0]["rendered"]
    config = yaml.safe_load(rendered)
    assert sorted(d["litellm_params"]["api_base"] for d in config["model_list"]) == [
        "http://127.0.0.1:11434", "http://127.0.2.1:8001/v1"]
    assert config["router_settings"]["model_group_alias"] == {"code": "qwen-coder"}


def test_validate_playbook_renders_and_fails(collections, tmp_path):
    validate = os.path.join(REPO, "playbooks", "validate.yml")
    inventory = write_inventory(tmp_path, GW, GPU)
    render_dir = tmp_path / "render"
    env_play = "- name: validate\n  ansible.builtin.import_playbook: %s\n" % validate
    done = play(collections, tmp_path, env_play, inventory=inventory, extra=["-e", "ai_backend_render_dir=%s" % render_dir])
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(os.listdir(str(render_dir))) == ["gw.litellm.yaml"]
    assert "hosted_vllm/qwen-coder" in (render_dir / "gw.litellm.yaml").read_text()

    bad_gpu = json.loads(json.dumps(GPU))
    bad_gpu["ai_backend_providers"]["vllm_coder"]["gpu_memory_utilisation"] = 0.5
    inventory = write_inventory(tmp_path, GW, bad_gpu)
    render_dir2 = tmp_path / "render2"
    done = play(collections, tmp_path, env_play, inventory=inventory, extra=["-e", "ai_backend_render_dir=%s" % render_dir2])
    assert done.returncode != 0
    assert "host_vars[gpu1].ai_backend_providers.vllm_coder.gpu_memory_utilisation" in done.stdout
    assert "did you mean 'gpu_memory_utilization'?" in done.stdout
    assert not render_dir2.exists()
