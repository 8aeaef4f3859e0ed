# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""site.yml under tags, run for real with ansible-playbook and no host touched.

Every tag a role README documents must select that role's tasks through
site.yml (`--list-tasks --tags TAG`). A role that site.yml includes
dynamically shows only its include task in the listing, so for those the
role's own tasks are listed too (through a playbook that imports the role)
and must carry the tag.

`--skip-tags validate` must leave the later plays working: they all read the
registry view that validate.yml builds.
"""

import collections
import functools
import os
import re
import sys

import pytest
import yaml

from test_validate_playbook import GPU, PLAYBOOKS, REPO, ansible_playbook, raw_ansible_playbook, secrets

ROLES = os.path.join(REPO, "roles")
SITE = os.path.join(PLAYBOOKS, "site.yml")
TAG = re.compile(r"`([a-z][a-z0-9_]*)`")
# The role's own tag list is written under this heading, or in a sentence such as "Its tags (`a`, `b`)".
SECTION = re.compile(r"^## Tags\s*$(.*?)(?=^## |\Z)", re.M | re.S)
SENTENCE = re.compile(r"\btags \(([^)]*)\)", re.I)
FLAG = re.compile(r"--tags[ =]([a-z][a-z0-9_,]*)")
ARG_SPEC_TASK = "Validating arguments against arg spec"
FACTS_ONCE = "Gather facts once per run"
# The roles of the site.yml plays that gather facts through playbooks/tasks/facts_once.yml.
FACTS_ONCE_ROLES = ("llama_cpp", "ollama", "vllm", "redis", "litellm", "haproxy")


def documented_tags():
    """[(role, tag)] for every tag a role README documents (_common only points at other roles' tags)."""
    pairs = []
    for role in sorted(os.listdir(ROLES)):
        readme = os.path.join(ROLES, role, "README.md")
        if role.startswith("_") or not os.path.exists(readme):
            continue
        with open(readme) as handle:
            text = handle.read()
        found = set()
        # The list is the section's first sentence; what follows explains it (and may quote `import_role`).
        lists = [re.split(r"[.;]", block.strip(), maxsplit=1)[0] for block in SECTION.findall(text)]
        for block in lists + SENTENCE.findall(text):
            found.update(TAG.findall(block))
        for flag in FLAG.findall(text):
            found.update(flag.split(","))
        pairs.extend((role, tag) for tag in sorted(found))
    return pairs


def test_the_readmes_document_tags_at_all():
    roles = collections.Counter(role for role, _tag in documented_tags())
    # A parser that finds nothing would make the test below pass vacuously.
    assert {"litellm", "llama_cpp", "redis", "haproxy"} <= set(roles), roles
    assert roles["llama_cpp"] >= 5 and "litellm_configure" in [t for _r, t in documented_tags()]


@pytest.fixture(scope="module")
def listing_inventory(tmp_path_factory):
    root = tmp_path_factory.mktemp("tags")
    hosts = {"all": {"children": dict(
        (group, {"hosts": {"box": {"ansible_connection": "local"}}})
        for group in ("ai_backend_gateway", "ai_backend_inference", "ai_backend_redis"))}}
    (root / "hosts.yml").write_text(yaml.safe_dump(hosts))
    return str(root / "hosts.yml")


def listed_tasks(output):
    """[(task line, set of tags)] from ansible-playbook --list-tasks."""
    tasks = []
    for line in output.splitlines():
        match = re.match(r"^ {6}(\S.*?)\tTAGS: \[(.*)\]\s*$", line)
        if match:
            tasks.append((match.group(1), set(t.strip() for t in match.group(2).split(",") if t.strip())))
    return tasks


def site_includes():
    """{role: [names of the site.yml tasks that include_role it]}."""
    with open(SITE) as handle:
        plays = yaml.safe_load(handle)
    includes = collections.defaultdict(list)
    for play in plays:
        for task in play.get("tasks", []):
            action = task.get("ansible.builtin.include_role")
            if action:
                includes[action["name"].rsplit(".", 1)[-1]].append(task["name"])
    return includes


@functools.lru_cache(maxsize=None)
def role_task_tags(role, tmp_root):
    """The role's own tasks and their tags, listed through a playbook that imports it."""
    playbook = os.path.join(tmp_root, "import-%s.yml" % role)
    with open(playbook, "w") as out:
        yaml.safe_dump([{"name": "list", "hosts": "all", "gather_facts": False, "tasks": [
            {"name": "import", "ansible.builtin.import_role": {"name": "gathewhy.ai_backend.%s" % role}}]}], out)
    rc, out = raw_ansible_playbook(tmp_root, "-i", "localhost,", playbook, "--list-tasks")
    assert rc == 0, out
    return [(name, tags) for name, tags in listed_tasks(out) if ARG_SPEC_TASK not in name]


@pytest.fixture(scope="module")
def site_listing(listing_inventory):
    """Every site.yml task with its effective tags, from one --list-tasks run.

    No task carries `never`, so `--tags TAG` selects exactly the listed tasks
    whose tags hold TAG or `always`: one listing answers every tag.
    """
    rc, out = raw_ansible_playbook(REPO, "-i", listing_inventory, SITE, "--list-tasks")
    assert rc == 0, out
    tasks = listed_tasks(out)
    assert not any("never" in tags for _name, tags in tasks), out
    return tasks


def selected(tasks, tag):
    return [(name, tags) for name, tags in tasks if tag in tags or "always" in tags]


@pytest.mark.parametrize("role,tag", documented_tags())
def test_every_documented_tag_selects_its_role_through_site_yml(role, tag, site_listing, tmp_path_factory):
    tasks = selected(site_listing, tag)
    out = "\n".join("%s  TAGS: %s" % (name, sorted(tags)) for name, tags in tasks)
    own = [name for name, _tags in tasks if name.startswith("gathewhy.ai_backend.%s : " % role)
           and ARG_SPEC_TASK not in name]
    if role in FACTS_ONCE_ROLES:
        # Their plays gather no facts themselves: the tag must also select the play's fact gathering.
        assert any(name == FACTS_ONCE for name, _tags in tasks), "--tags %s gathers no facts:\n%s" % (tag, out)
    if own:
        return
    includes = [name for name, _tags in tasks if name in site_includes().get(role, [])]
    assert includes, "--tags %s selects no task of role %s through site.yml:\n%s" % (tag, role, out)
    # Included dynamically: the include is selected, so the role's tasks with the tag must exist.
    tagged = [name for name, tags in role_task_tags(role, str(tmp_path_factory.getbasetemp())) if tag in tags]
    assert tagged, "site.yml includes role %s under --tags %s, but none of its tasks has that tag" % (role, tag)


def test_skipping_validate_still_gives_the_later_plays_their_view(tmp_path):
    # One local box whose only provider is disabled: the backends play reads the
    # view for it and applies no role, so nothing on this machine changes.
    gpu = {"ai_backend_providers": {"chat": dict(GPU["ai_backend_providers"]["chat"], enabled=False)}}
    root = tmp_path / "inv"
    (root / "host_vars").mkdir(parents=True)
    (root / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {
        "ai_backend_inference": {"hosts": {"box": {"ansible_connection": "local",
                                                   "ansible_python_interpreter": sys.executable}}},
        "ai_backend_gateway": {"hosts": {"gw": {"ansible_connection": "local"}}}}}}))
    (root / "host_vars" / "box.yml").write_text(yaml.safe_dump(gpu))
    rc, out = ansible_playbook(tmp_path, "-i", str(root / "hosts.yml"), SITE, "--skip-tags", "validate",
                               "--tags", "backends", "-e", secrets(tmp_path), "--limit", "box")
    assert rc == 0, out
    assert "Apply the llama_cpp role where this host enables it" in out
    assert "is undefined" not in out and "ai_backend validate:" not in out
    # The checks themselves cannot be skipped: a registry error still stops the run.
    gpu["ai_backend_providers"]["chat"]["port"] = 99999
    (root / "host_vars" / "box.yml").write_text(yaml.safe_dump(gpu))
    rc, out = ansible_playbook(tmp_path, "-i", str(root / "hosts.yml"), SITE, "--skip-tags", "validate",
                               "--tags", "backends", "-e", secrets(tmp_path), "--limit", "box")
    assert rc != 0 and "host_vars[box].ai_backend_providers.chat.port" in out, out
    assert "Apply the llama_cpp role" not in out
