# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The example inventories under inventory/ are documentation, so they are tested.

* Each one passes playbooks/validate.yml and site.yml's topology checks.
* The single-host inventory's rendered LiteLLM config matches
  tests/golden/single-host.litellm.yaml. After an intended change, regenerate it:
      AI_BACKEND_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/unit/inventories
  and review the diff.
* A broken host_vars file stops site.yml in validation: the run fails with the
  exact variable path and never reaches (or connects to) any host.

These run the real ansible-playbook; no host is ever contacted (every play
involved only runs on the controller).
"""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
INVENTORIES = os.path.join(REPO, "inventory")
GOLDEN = os.path.join(REPO, "tests", "golden", "single-host.litellm.yaml")
UPDATE_GOLDEN = os.environ.get("AI_BACKEND_UPDATE_GOLDEN") == "1"

# The demo inventory templates a lookup of a build artifact only when its
# llama_cpp role runs, which these tests never do.
EXAMPLES = ["single-host", "multi-host", "demo"]
# Validation checks every secret the roles will need, so these stand in for
# the vaulted values each example's group_vars/all/secrets.yml points at.
VAULT_VALUES = {"vault_litellm_master_key": "sk-example-0123456789abcdef0123456789abcdef",
                "vault_redis_password": "example-redis-password-0123456789",
                # multi-host: the exporter's Redis user, the backends' API keys, the gateway's TLS.
                "vault_redis_exporter_password": "example-exporter-password-0123456789",
                "vault_llama_shared_key": "example-llama-key-0123456789abcdef",
                "vault_vllm_coder_key": "example-vllm-key-0123456789abcdef",
                "vault_gateway_tls_certificate": "-----BEGIN CERTIFICATE-----",
                "vault_gateway_tls_key": "-----BEGIN PRIVATE KEY-----",
                "vault_gateway_tls_ca": "-----BEGIN CERTIFICATE-----"}


def ansible_playbook(*args):
    args = list(args) + ["-e", json.dumps(VAULT_VALUES)]
    env = dict(os.environ)
    env.setdefault("ANSIBLE_CONFIG", os.path.join(REPO, "ansible.cfg"))
    env["ANSIBLE_COLLECTIONS_PATH"] = os.path.join(REPO, ".build", "collections")
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_FORCE_COLOR"] = "0"
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook")] + list(args)
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)


def recap(output):
    """{host: {ok: n, changed: n, unreachable: n, failed: n, ...}} from PLAY RECAP."""
    result = {}
    for line in output.split("PLAY RECAP", 1)[-1].splitlines():
        match = re.match(r"^(\S+)\s+:\s+(.*)$", line)
        if match:
            result[match.group(1)] = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", match.group(2)))
    return result


def unreachable_copy(name, tmp_path):
    """A copy of an example inventory whose hosts can never be reached.

    Every host gets a docker connection to a container that does not exist,
    so a test that wrongly got past validation fails as "unreachable" instead
    of trying SSH to the example's documentation addresses.
    """
    dest = tmp_path / name
    shutil.copytree(os.path.join(INVENTORIES, name), str(dest))
    hosts_file = dest / "hosts.yml"
    data = yaml.safe_load(hosts_file.read_text())

    def patch(group):
        for host, host_vars in (group.get("hosts") or {}).items():
            host_vars = dict(host_vars or {})
            host_vars["ansible_connection"] = "community.docker.docker"
            host_vars["ansible_host"] = "aib-inventory-test-does-not-exist"
            group["hosts"][host] = host_vars
        for child in (group.get("children") or {}).values():
            patch(child)

    patch(data["all"])
    hosts_file.write_text(yaml.safe_dump(data))
    return dest


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_inventory_passes_validation(name, tmp_path):
    result = ansible_playbook("-i", os.path.join(INVENTORIES, name), "playbooks/validate.yml",
                              "-e", "ai_backend_render_dir=%s" % tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ERROR:" not in result.stdout
    assert all(counts["failed"] == 0 for counts in recap(result.stdout).values())
    # One rendered config per gateway host, each with at least one model.
    rendered = sorted(os.listdir(str(tmp_path)))
    assert rendered, "validate.yml rendered no gateway config"
    for filename in rendered:
        config = yaml.safe_load((tmp_path / filename).read_text())
        assert config["model_list"], filename


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_inventory_passes_site_topology_checks(name, tmp_path):
    # --tags validate runs validate.yml and site.yml's own checks of which
    # host runs what; the converge plays have no task with that tag.
    inventory = unreachable_copy(name, tmp_path)
    result = ansible_playbook("-i", str(inventory), "playbooks/site.yml", "--tags", "validate")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "TASK [List each host's roles and the addresses it serves, one host per line]" in result.stdout
    assert "ai_backend validate: " in result.stdout
    counts = recap(result.stdout)
    assert all(c["failed"] == 0 and c["unreachable"] == 0 and c["changed"] == 0 for c in counts.values())


def test_multi_host_serves_the_shared_model_from_both_gpu_hosts(tmp_path):
    result = ansible_playbook("-i", os.path.join(INVENTORIES, "multi-host"), "playbooks/validate.yml",
                              "-e", "ai_backend_render_dir=%s" % tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load((tmp_path / "gw1.litellm.yaml").read_text())
    shared = [d for d in config["model_list"] if d["model_name"] == "llama3.1-8b-gguf"]
    assert sorted(d["litellm_params"]["api_base"] for d in shared) == [
        "http://192.0.2.11:8080/v1", "http://192.0.2.12:8080/v1"]
    # ... and a different backend on each GPU host.
    by_name = dict((d["model_name"], d["litellm_params"]["api_base"]) for d in config["model_list"])
    assert by_name["llama3.1-8b"].startswith("http://192.0.2.11:11434")
    assert by_name["qwen-coder"].startswith("http://192.0.2.12:8001")


def test_single_host_rendered_config_matches_golden(tmp_path):
    result = ansible_playbook("-i", os.path.join(INVENTORIES, "single-host"), "playbooks/validate.yml",
                              "-e", "ai_backend_render_dir=%s" % tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    rendered = (tmp_path / "gpu-box.litellm.yaml").read_text()
    if UPDATE_GOLDEN:
        with open(GOLDEN, "w") as out:
            out.write(rendered)
    with open(GOLDEN) as fh:
        golden = fh.read()
    assert rendered == golden, (
        "inventory/single-host renders differently from %s; if intended, rerun with "
        "AI_BACKEND_UPDATE_GOLDEN=1 and review the diff" % GOLDEN)


def test_single_host_overrides_reach_the_rendered_config():
    """The host_vars overrides (a port, a model list) are what the gateway gets."""
    with open(GOLDEN) as fh:
        config = yaml.safe_load(fh)
    by_name = dict((d["model_name"], d["litellm_params"]) for d in config["model_list"])
    # Port override: 8080 in group_vars, 8081 in host_vars/gpu-box.
    assert by_name["llama3.1-8b-gguf"]["api_base"] == "http://127.0.0.1:8081/v1"
    # Model-list override: mistral-7b replaces qwen2.5-coder-7b on Ollama.
    assert "mistral-7b" in by_name
    assert "qwen2.5-coder-7b" not in by_name
    # All five services' worth of backends: Ollama, llama.cpp, vLLM.
    assert sorted(p["model"].split("/", 1)[0] for p in by_name.values()) == [
        "hosted_vllm", "llamafile", "ollama_chat", "ollama_chat"]


def test_broken_host_vars_stop_site_before_any_host_is_touched(tmp_path):
    inventory = unreachable_copy("multi-host", tmp_path)
    providers = inventory / "host_vars" / "gpu2" / "providers.yml"
    providers.write_text(providers.read_text().replace("parallel: 2", "parallel: two"))
    result = ansible_playbook("-i", str(inventory), "playbooks/site.yml")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "host_vars[gpu2].ai_backend_providers.llama_shared.parallel" in output
    assert "expected an integer" in output
    # Only the validation play ran: no other play, no connection attempt.
    assert "Converge the inference backends" not in output
    assert "Gathering Facts" not in output
    counts = recap(result.stdout)
    assert all(c["changed"] == 0 and c["unreachable"] == 0 for c in counts.values()), counts


def test_redis_host_must_be_one_gateway(tmp_path):
    inventory = unreachable_copy("multi-host", tmp_path)
    hosts_file = inventory / "hosts.yml"
    data = yaml.safe_load(hosts_file.read_text())
    # gpu1 is no gateway: it cannot hold the Redis the gateways share.
    data["all"]["children"]["ai_backend_redis"] = {"hosts": {"gpu1": None}}
    hosts_file.write_text(yaml.safe_dump(data))
    result = ansible_playbook("-i", str(inventory), "playbooks/site.yml")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "group ai_backend_redis" in output
    assert "Converge the inference backends" not in output
