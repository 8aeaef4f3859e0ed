# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hosts file the import writes beside the registry (the end-to-end run is in test_import_playbook)."""
import os

import yaml

from ansible_collections.gathewhy.ai_backend.plugins.module_utils import importer
from test_import_errors import run_module, _write_sources


def test_inventory_dir_is_above_group_vars():
    assert importer.inventory_dir("/x/inv/group_vars/all/ai_backend.yml") == "/x/inv"
    assert importer.inventory_dir("/x/inv/group_vars/all.yml") == "/x/inv"
    assert importer.inventory_dir("/x/inv/host_vars/gw/ai_backend.yml") == "/x/inv"
    assert importer.inventory_dir("/x/registry.yml") is None


def test_loopback_sources_get_a_local_placeholder():
    text = importer.render_hosts({"ai_backend_listen_address": "127.0.0.1"})
    data = yaml.safe_load(text)
    gateway = data["all"]["children"]["ai_backend_gateway"]["hosts"]
    assert gateway == {"ai_backend_host": {"ansible_connection": "local"}}
    assert list(data["all"]["children"]["ai_backend_inference"]["hosts"]) == ["ai_backend_host"]
    assert "PLACEHOLDER" in text and text.startswith("---\n# Inventory written by")


def test_a_single_remote_address_becomes_the_host_address():
    data = yaml.safe_load(importer.render_hosts({"ai_backend_listen_address": "192.168.1.20"}))
    assert data["all"]["children"]["ai_backend_gateway"]["hosts"]["ai_backend_host"] == {
        "ansible_host": "192.168.1.20"}


def test_module_writes_hosts_in_step_with_check_mode_and_keeps_an_existing_one(tmp_path):
    sources = _write_sources(tmp_path)
    dest = tmp_path / "inv" / "group_vars" / "all" / "ai_backend.yml"
    rc, out = run_module(tmp_path, dict(sources, dest=str(dest)), check=True, diff=True)
    assert rc == 0 and out["changed"] is True and not (tmp_path / "inv").exists()
    assert str(tmp_path / "inv" / "hosts.yml") in [d["after_header"] for d in out["diff"]]
    rc, out = run_module(tmp_path, dict(sources, dest=str(dest)))
    assert rc == 0 and out["files"]["hosts"]["changed"] is True
    assert oct(os.stat(str(tmp_path / "inv" / "hosts.yml")).st_mode & 0o777) != "0o600"
    rc, out = run_module(tmp_path, dict(sources, dest=str(dest)))
    assert rc == 0 and out["changed"] is False and out["files"]["hosts"]["changed"] is False
    # The user's own inventory file is never replaced, and the module says so.
    (tmp_path / "inv" / "hosts.yml").write_text("all:\n  hosts:\n    gpu1: {}\n")
    rc, out = run_module(tmp_path, dict(sources, dest=str(dest)))
    assert rc == 0 and out["files"]["hosts"]["kept_existing"] is True
    assert "left alone" in str(out.get("warnings"))
    assert (tmp_path / "inv" / "hosts.yml").read_text() == "all:\n  hosts:\n    gpu1: {}\n"


def test_explicit_hosts_dest(tmp_path):
    sources = _write_sources(tmp_path)
    dest = tmp_path / "registry.yml"
    rc, out = run_module(tmp_path, dict(sources, dest=str(dest)))
    assert rc == 0 and "hosts" not in out["files"]
    rc, out = run_module(tmp_path, dict(sources, dest=str(dest), hosts_dest=str(tmp_path / "my-hosts.yml")))
    assert rc == 0 and (tmp_path / "my-hosts.yml").is_file()
