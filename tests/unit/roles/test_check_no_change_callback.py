# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Molecule `check` step relies on molecule/shared/callback_plugins/
aib_check_no_change.py to turn a predicted change into a failure. Prove it
does, and that it leaves normal runs alone."""

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Write a file
      ansible.builtin.copy:
        content: "{content}"
        dest: "{dest}"
        mode: "0644"
"""


def run(tmp_path, content, check):
    dest = tmp_path / "out.txt"
    book = tmp_path / "play.yml"
    book.write_text(PLAYBOOK.format(content=content, dest=dest))
    env = dict(os.environ,
               ANSIBLE_CALLBACK_PLUGINS=os.path.join(REPO, "molecule", "shared", "callback_plugins"),
               ANSIBLE_CALLBACKS_ENABLED="aib_check_no_change", ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    argv = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), str(book)]
    if check:
        argv.append("--check")
    done = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=120, check=False)
    return done.returncode, done.stdout


@pytest.mark.skipif(not os.path.exists(os.path.join(os.path.dirname(sys.executable), "ansible-playbook")),
                    reason="ansible-playbook not installed next to this Python")
def test_predicted_change_fails_check_run_only(tmp_path):
    rc, out = run(tmp_path, "one", check=True)
    assert rc == 3, out
    assert "predicted 1 change(s)" in out and "localhost: Write a file" in out
    rc, out = run(tmp_path, "one", check=False)
    assert rc == 0, out
    rc, out = run(tmp_path, "one", check=True)
    assert rc == 0, out
