# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one command, for real: ansible-playbook gathewhy.ai_backend.import, then validate.yml on the result."""
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


def test_import_then_validate(tmp_path, original):
    (tmp_path / "inv").mkdir()
    (tmp_path / "inv" / "hosts.yml").write_text("all:\n  hosts:\n    gw:\n      ansible_connection: local\n")
    command = ["gathewhy.ai_backend.import", "-e", "providers=" + original["providers"],
               "-e", "mappings=" + original["mappings"], "-e", "ports=" + original["ports"],
               "-e", "dest=inv/group_vars/all/ai_backend.yml"]
    rc, out = playbook(tmp_path, *command)
    assert rc == 0, out
    assert "key path(s) carried" in out and "TODO litellm_master_key" in out
    registry = tmp_path / "inv" / "group_vars" / "all" / "ai_backend.yml"
    assert registry.is_file() and (tmp_path / "ai_backend-import-report.yml").is_file()
    assert (tmp_path / "inv" / "group_vars" / "all" / "ai_backend_secrets.yml").is_file()

    # Idempotent: the second run changes nothing.
    rc, out = playbook(tmp_path, *command)
    assert rc == 0 and "changed=0" in out, out

    # The written registry passes the collection's validation as it stands ...
    rc, out = playbook(tmp_path, "-i", "inv", "gathewhy.ai_backend.validate")
    assert rc == 0 and "failed=0" in out, out

    # ... and validate.yml names what the importer corrected, if it comes back: here the original's
    # provider-name fallback (llama_cpp_python) and its list-valued alias.
    data = yaml.safe_load(registry.read_text())
    data["ai_backend_routing"]["fallbacks"]["kimi-k2:1t-cloud"].append("llama_cpp_python")
    data["ai_backend_routing"]["aliases"]["code"] = ["qwen3-coder:480b-cloud"]
    registry.write_text(yaml.safe_dump(data))
    rc, out = playbook(tmp_path, "-i", "inv", "gathewhy.ai_backend.validate")
    assert rc != 0
    assert 'ai_backend_routing.fallbacks["kimi-k2:1t-cloud"][3]' in out
    assert "ai_backend_routing.aliases.code" in out


def test_missing_parameters_are_explained(tmp_path):
    rc, out = playbook(tmp_path, "gathewhy.ai_backend.import", "-e", "providers=x.yaml")
    assert rc != 0 and "-e mappings=PATH/model-mappings.yaml" in out
    assert not any(tmp_path.iterdir())
