# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The firewall_ruleset filter: SSH added on the port Ansible uses, bad input refused with the
variable to fix, the SSH check passed through, and ansible-doc renders its documentation."""

import json
import os
import subprocess
import sys

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.gathewhy.ai_backend.plugins.filter.firewall import FilterModule, firewall_ruleset

ENTRY = {"enabled": True, "problems": [],
         "rules": [{"port": 8080, "protocol": "tcp", "sources": ["192.0.2.1/32"], "services": ["llama_cpp/x"]}]}


def test_ssh_is_added_on_the_port_ansible_uses():
    result = firewall_ruleset(ENTRY, 2222, ["192.0.2.0/24"], "192.0.2.7")
    assert [r["port"] for r in result["rules"]] == [2222, 8080]
    assert "ip saddr { 192.0.2.0/24 } tcp dport 2222 counter accept" in result["text"]
    assert result["ssh_cut"] == ""


def test_a_cut_is_reported_not_raised():
    result = firewall_ruleset(ENTRY, 22, ["192.0.2.0/24"], "203.0.113.9")
    assert "not to 203.0.113.9" in result["ssh_cut"]


@pytest.mark.parametrize("sources, port, needle", [
    (["192.0.2.0/33"], 22, "firewall_ssh_sources: '192.0.2.0/33'"),
    (["admin-net"], 22, "firewall_ssh_sources: 'admin-net'"),
    (None, "ssh", "ansible_port: 'ssh'"),
])
def test_bad_input_names_the_variable(sources, port, needle):
    with pytest.raises(AnsibleFilterError, match=needle.replace("/", ".").replace("'", ".")):
        firewall_ruleset(ENTRY, port, sources, "")


def test_it_is_registered_and_documented():
    assert "firewall_ruleset" in FilterModule().filters()
    doc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-doc"), "-t", "filter", "--json",
                          "gathewhy.ai_backend.firewall_ruleset"], capture_output=True, text=True, check=False)
    assert doc.returncode == 0, doc.stderr
    options = json.loads(doc.stdout)["gathewhy.ai_backend.firewall_ruleset"]["doc"]["options"]
    assert set(options) == {"_input", "ssh_port", "ssh_sources", "client_address"}
