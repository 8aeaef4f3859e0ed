# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""managed_files with `known`: the controller may skip the host only when host_survey's
answer shows that apply() would change nothing. The property: for any directories,
files (odd names, any Unicode, secrets included), prune patterns and absent paths, and
any drift of bytes, mode, type or leftovers, settled() says True exactly when apply() in
check mode reports no change. The action plugin runs for real through ansible-playbook."""

import os
import stat

from hypothesis import given, settings, strategies as st

from test_engine_ansible_faces import (  # noqa: F401  pylint: disable=unused-import
    collections, play, only_result, task_results)

from ansible_collections.gathewhy.ai_backend.plugins.module_utils import _host_survey as hs
from ansible_collections.gathewhy.ai_backend.plugins.module_utils import _managed_files as mf

NAME = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\"),
               min_size=1, max_size=12).filter(lambda n: n not in (".", "..") and len(n.encode("utf-8")) < 200)
CONTENT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=200)
MODE = st.sampled_from([None, "0644", "0640", "0600", "0755", 0o640, "644"])
DRIFT = st.sampled_from(["none", "content", "mode", "missing", "leftover", "dot-leftover", "absent-present",
                         "link", "dir-mode"])


def survey_for(directories, files, prunes, absent):
    """What a role's host_survey task asks about these items, answered for real."""
    paths = [d["path"] for d in directories] + [f["dest"] for f in files] + list(absent)
    globs = [g for spec in prunes for g in mf.prune_globs(spec)]
    return {"paths": hs.survey_paths(paths), "globs": hs.survey_globs(globs),
            "checksums": hs.checksum_files([f["dest"] for f in files])}


def unchanged(directories, files, prunes, absent):
    return not mf.apply(directories, files, prunes, True, None, absent)["changed"]


@settings(max_examples=150, deadline=None)
@given(names=st.lists(NAME, min_size=1, max_size=5, unique=True), contents=st.lists(CONTENT, min_size=5, max_size=5),
       modes=st.lists(MODE, min_size=5, max_size=5), prune=st.booleans(), drift=DRIFT, pick=st.integers(0, 4))
def test_settled_says_unchanged_exactly_when_apply_would_change_nothing(
        tmp_path_factory, names, contents, modes, prune, drift, pick):
    root = tmp_path_factory.mktemp("known")
    sub = root / "conf.d"
    directories = [{"path": str(sub), "mode": "0750"}]
    files = [{"dest": str(sub / (name + ".conf")), "content": contents[i], "mode": modes[i]}
             for i, name in enumerate(names)]
    prunes = [{"path": str(sub), "patterns": ["*.conf"]}] if prune else []
    absent = [str(root / "retired.conf")]
    mf.apply(directories, files, prunes, False, None, absent)
    assert settled_now(directories, files, prunes, absent) and unchanged(directories, files, prunes, absent)

    target = files[pick % len(files)]["dest"]
    if drift == "content":
        with open(target, "ab") as handle:
            handle.write(b"\n# edited by hand")
    elif drift == "mode":
        os.chmod(target, 0o666)
    elif drift == "missing":
        os.unlink(target)
    elif drift == "leftover":
        (sub / "stale.conf").write_text("old")
    elif drift == "dot-leftover":
        (sub / ".stale.conf").write_text("old")
    elif drift == "absent-present":
        (root / "retired.conf").write_text("back")
    elif drift == "link":
        os.unlink(target)
        os.symlink(str(root / "elsewhere"), target)
    elif drift == "dir-mode":
        os.chmod(str(sub), 0o700)
    assert settled_now(directories, files, prunes, absent) == unchanged(directories, files, prunes, absent)


def settled_now(directories, files, prunes, absent):
    return mf.settled(directories, files, prunes, absent, survey_for(directories, files, prunes, absent))


def test_what_the_survey_did_not_look_at_is_never_taken_as_settled(tmp_path):
    dest = tmp_path / "a.conf"
    files = [{"dest": str(dest), "content": "x\n", "mode": "0644", "owner": "0"}]
    mf.apply([], files, [], False, None)
    full = survey_for([], files, [], [])
    assert not mf.settled([], files, [], [], full), "an owner given as a number is not judged from names"
    files[0].pop("owner")
    assert mf.settled([], files, [], [], full)
    assert not mf.settled([], files, [], [], dict(full, checksums={}))
    assert not mf.settled([], files, [], [], dict(full, paths={}))
    assert not mf.settled([], files, [{"path": str(tmp_path)}], [], full), "prune globs were not surveyed"
    assert not mf.settled([], files, [], [str(tmp_path / "gone")], full), "absent path not surveyed"
    assert not mf.settled([], files, [], [], None)


def test_checksums_are_of_the_bytes_and_none_for_what_is_not_a_regular_file(tmp_path):
    text = "ключ=värde 🔑\n"
    (tmp_path / "f").write_bytes(text.encode("utf-8"))
    os.symlink(str(tmp_path / "f"), str(tmp_path / "l"))
    sums = hs.checksum_files([str(tmp_path / "f"), str(tmp_path / "l"), str(tmp_path), str(tmp_path / "none")])
    assert sums[str(tmp_path / "f")] == mf._content_digest(text)
    assert sums[str(tmp_path / "l")] is None and sums[str(tmp_path)] is None and sums[str(tmp_path / "none")] is None


def test_action_skips_the_host_when_known_shows_it_settled_and_writes_when_not(collections, tmp_path):  # noqa: F811
    dest = tmp_path / "out" / "app.env"
    body = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Survey
      gathewhy.ai_backend.host_survey:
        paths: ["{d}", "{f}"]
        checksums: ["{f}"]
      register: survey
    - name: Write
      gathewhy.ai_backend.managed_files:
        directories: [{{path: "{d}", mode: "0750"}}]
        files: [{{dest: "{f}", content: "SECRET=s3cr3t-ü\\n", mode: "0600"}}]
        known: "{{{{ survey }}}}"
      register: wrote
    - name: Report whether the module ran on the host
      ansible.builtin.debug:
        msg: "{{{{ wrote.from_survey }}}}"
""".format(d=dest.parent, f=dest)
    first = task_results(play(collections, tmp_path, body))
    assert first[1][1]["changed"] and first[2][1]["msg"] is False
    assert stat.S_IMODE(os.stat(str(dest)).st_mode) == 0o600 and dest.read_text() == "SECRET=s3cr3t-ü\n"
    second = task_results(play(collections, tmp_path, body))
    assert not second[1][1]["changed"] and second[2][1]["msg"] is True
    assert second[1][1]["files"] == [{"dest": str(dest), "changed": False, "backup_file": None}]
    os.chmod(str(dest), 0o644)
    third = task_results(play(collections, tmp_path, body))
    assert third[1][1]["changed"] and third[2][1]["msg"] is False
    assert stat.S_IMODE(os.stat(str(dest)).st_mode) == 0o600
