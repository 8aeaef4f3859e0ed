# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one command, for real: ansible-playbook gathewhy.ai_backend.import, then validate.yml on the
inventory it wrote (its hosts.yml beside group_vars/), as the README tells users to."""
import os
import subprocess
import sys

import pytest
import yaml

from importer_paths import original_paths

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BIN = os.path.dirname(sys.executable)


@pytest.fixture(scope="module")
def original():
    return original_paths()


def playbook(cwd, *args):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".build", "collections"),
               ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), PWD=str(cwd), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook")] + list(args), cwd=str(cwd), env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def import_command(original, *extra):
    return ["gathewhy.ai_backend.import", "-e", "providers=" + original["providers"],
            "-e", "mappings=" + original["mappings"], "-e", "ports=" + original["ports"],
            "-e", "dest=inv/group_vars/all/ai_backend.yml"] + list(extra)


def test_import_then_validate(tmp_path, original):
    command = import_command(original, "-e", "litellm_config=" + original["litellm"])
    rc, out = playbook(tmp_path, *command)
    assert rc == 0, out
    assert "key path(s) carried" in out and "TODO litellm_master_key" in out
    registry = tmp_path / "inv" / "group_vars" / "all" / "ai_backend.yml"
    assert registry.is_file() and (tmp_path / "ai_backend-import-report.yml").is_file()
    assert (tmp_path / "inv" / "group_vars" / "all" / "ai_backend_secrets.yml").is_file()
    hosts = yaml.safe_load((tmp_path / "inv" / "hosts.yml").read_text())
    assert sorted(hosts["all"]["children"]) == ["ai_backend_gateway", "ai_backend_inference"]
    assert "PLACEHOLDER" in (tmp_path / "inv" / "hosts.yml").read_text()
    assert "inventory: %s" % (tmp_path / "inv" / "hosts.yml") in out
    assert yaml.safe_load(registry.read_text())["ai_backend_routing"]["timeout"] == 30

    # Idempotent: the second run changes nothing.
    rc, out = playbook(tmp_path, *command)
    assert rc == 0 and "changed=0" in out, out

    # The README's next command validates the imported inventory for real: until the vault_*
    # variables the report asks for are set, it stops naming the first one ...
    rc, out = playbook(tmp_path, "-i", "inv", "gathewhy.ai_backend.validate")
    assert rc != 0 and "vault_" in out and "is undefined" in out, out
    assert "Unable to parse" not in out and "No inventory was parsed" not in out, out
    # ... and with them set (the user's vaulted file; plain here), the registry passes as it stands.
    (tmp_path / "inv" / "group_vars" / "all" / "vault.yml").write_text(
        "vault_litellm_master_key: sk-%s\nvault_redis_password: %s\nvault_ollama_api_key: %s\n" % (
            "k7Qm2Xv9Lp4Rt8Wz3Nb6Hc1Jd5Fg0Sa" * 2, "r3dis-Pw-" * 4, "ollama-" * 5))
    rc, out = playbook(tmp_path, "-i", "inv", "gathewhy.ai_backend.validate")
    assert "Unable to parse" not in out and "No inventory was parsed" not in out, out
    assert rc == 0 and "failed=0" in out, out
    assert "ai_backend_host" in out

    # ... so a registry error brought back by hand is named: here the original's provider-name
    # fallback (llama_cpp_python) and its list-valued alias.
    data = yaml.safe_load(registry.read_text())
    data["ai_backend_routing"]["fallbacks"]["kimi-k2:1t-cloud"].append("llama_cpp_python")
    data["ai_backend_routing"]["aliases"]["code"] = ["qwen3-coder:480b-cloud"]
    registry.write_text(yaml.safe_dump(data))
    rc, out = playbook(tmp_path, "-i", "inv", "gathewhy.ai_backend.validate")
    assert rc != 0
    assert 'ai_backend_routing.fallbacks["kimi-k2:1t-cloud"][3]' in out
    assert "ai_backend_routing.aliases.code" in out


def test_an_existing_hosts_file_is_left_alone(tmp_path, original):
    (tmp_path / "inv").mkdir()
    mine = "all:\n  hosts:\n    gw:\n      ansible_connection: local\n"
    (tmp_path / "inv" / "hosts").write_text(mine)
    rc, out = playbook(tmp_path, *import_command(original))
    assert rc == 0, out
    assert "exists and was left alone" in out and "(existing, left alone)" in out
    assert (tmp_path / "inv" / "hosts").read_text() == mine and not (tmp_path / "inv" / "hosts.yml").exists()


def test_a_guess_stops_the_playbook_and_writes_nothing(tmp_path, original):
    mappings = tmp_path / "model-mappings.yaml"
    text = open(original["mappings"]).read()
    mappings.write_text(text + "\n  llama3.2:gone:\n    chain: [llama3.1:latest]\n"
                        if text.rstrip().endswith("]") else text.replace(
                            "fallback_chains:\n", "fallback_chains:\n  \"llama3.2:gone\":\n"
                            "    chain: [\"llama3.1:latest\"]\n", 1))
    command = import_command(original)
    command[command.index("mappings=" + original["mappings"])] = "mappings=" + str(mappings)
    rc, out = playbook(tmp_path, *command)
    assert rc != 0 and "import stopped" in out and "llama3.2:gone" in out, out
    assert not (tmp_path / "inv").exists() and not (tmp_path / "ai_backend-import-report.yml").exists()
    rc, out = playbook(tmp_path, *(command + ["-e", "accept_corrections=true"]))
    assert rc == 0, out
    report = yaml.safe_load((tmp_path / "ai_backend-import-report.yml").read_text())
    assert report["summary"]["accepted_corrections"] == 1
    found = [c for c in report["corrections"] if c["original"] == "llama3.2:gone"]
    assert found and "choices" in found[0] and found[0]["fix"].startswith("dropped")


def test_missing_parameters_are_explained(tmp_path):
    rc, out = playbook(tmp_path, "gathewhy.ai_backend.import", "-e", "providers=x.yaml")
    assert rc != 0 and "-e mappings=PATH/model-mappings.yaml" in out
    assert not any(tmp_path.iterdir())
