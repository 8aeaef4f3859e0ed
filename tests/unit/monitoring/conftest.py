# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The monitoring role's exported Prometheus files for a three-host inventory,
rendered once per session by the role's own export tasks."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from ansible_collections.gathewhy.ai_backend.plugins.module_utils import view as view_mod

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))

REGISTRIES = {
    "gw": {
        "ai_backend_listen_address": "10.0.0.2",
        "ai_backend_gateway": {"listen_address": "10.0.0.2", "port": 4000},
        "ai_backend_redis": {"host": "10.0.0.2"},
        "ai_backend_routing": {"cache": {"enabled": True}},
    },
    "gpu1": {
        "ai_backend_listen_address": "0.0.0.0",
        "ai_backend_advertise_address": "10.0.0.7",
        "ai_backend_providers": {
            "coder": {"type": "vllm", "port": 8001, "gpus": [0], "api_key_env": "VLLM_CODER_KEY",
                      "models": [{"name": "qwen-coder", "source": "Qwen/Qwen2.5-Coder-7B-Instruct"}]},
            "chat": {"type": "ollama", "port": 11434, "models": [{"name": "llama3.1-8b", "source": "llama3.1:8b"}]},
        },
    },
    "gpu2": {
        "ai_backend_listen_address": "10.0.0.8",
        "ai_backend_advertise_address": "10.0.0.8",
        "ai_backend_providers": {
            "tiny": {"type": "llama_cpp", "port": 8080, "api_key_env": "LLAMA_TINY_KEY",
                     "models": [{"name": "tiny-llama", "gguf": {"path": "/srv/models/tiny.gguf"}}]},
        },
    },
}
GROUPS = {"all": ["gw", "gpu1", "gpu2"], "ungrouped": [], "ai_backend_gateway": ["gw"],
          "ai_backend_inference": ["gpu1", "gpu2"]}


def build_view(registries=None, groups=None):
    return view_mod.build_view(json.loads(json.dumps(registries or REGISTRIES)), groups or GROUPS,
                               lambda host, var, key=None: "set")


def promtool():
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is not installed: tests/harness/unit.sh installs Debian's prometheus package")
    return path


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    """{dir, view}: the role's export for the three-host view, rendered by ansible-playbook."""
    out = tmp_path_factory.mktemp("prometheus-export")
    view = build_view()
    assert view["ok"], view["report"]
    view_file = out / "view.json"
    view_file.write_text(json.dumps(view))
    export_dir = out / "export"
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"))
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", os.path.join(REPO, ".build", "collections"))
    playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    done = subprocess.run([playbook, "-i", "localhost,", "-c", "local", os.path.join(HERE, "export.yml"),
                           "-e", "view_file=%s export_dir=%s" % (view_file, export_dir),
                           "-e", "ansible_python_interpreter=%s" % sys.executable],
                          capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return {"dir": export_dir, "view": view}
