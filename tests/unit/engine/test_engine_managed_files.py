# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""managed_files: directories, files and pruning in one run. The helper is tested
directly (validation refusals, pruning, odd names, check mode); the module runs for real
through ansible-playbook on localhost (idempotence, --check --diff, backups, a clear
failure that leaves the old file in place)."""

import os
import stat

import pytest
from hypothesis import given, settings, strategies as st

from engine_import import atomic
from test_engine_ansible_faces import collections, play, only_result  # noqa: F401  pylint: disable=unused-import

from ansible_collections.gathewhy.ai_backend.plugins.module_utils import _managed_files as mf


def no_validation(command, tmp, dest):
    raise AssertionError("no validate command was given, yet one ran: %s" % command)


def test_directories_files_and_prune_in_one_pass_then_nothing(tmp_path):
    sd = tmp_path / "etc" / "file_sd"
    (tmp_path / "etc").mkdir()
    directories = [{"path": str(sd), "mode": "0750"}]
    files = [{"dest": str(sd / "redis.json"), "content": "[]\n", "mode": "0640"},
             {"dest": str(sd / "llama-cpp.json"), "content": "[{}]\n", "mode": "0644"}]
    sd.mkdir()
    (sd / "gone.json").write_text("old")
    (sd / "keep.txt").write_text("not ours")
    first = mf.apply(directories, files, [{"path": str(sd), "patterns": ["*.json"]}], False, no_validation)
    assert first["changed"]
    assert sorted(os.listdir(str(sd))) == ["keep.txt", "llama-cpp.json", "redis.json"]
    assert first["removed"] == [str(sd / "gone.json")]
    assert stat.S_IMODE(os.stat(str(sd)).st_mode) == 0o750
    assert stat.S_IMODE(os.stat(str(sd / "redis.json")).st_mode) == 0o640
    again = mf.apply(directories, files, [{"path": str(sd), "patterns": ["*.json"]}], False, no_validation)
    assert not again["changed"] and again["changed_paths"] == [] and again["diff"] == []


def test_check_mode_reports_and_touches_nothing(tmp_path):
    target = tmp_path / "new" / "deeper"
    result = mf.apply([{"path": str(target), "mode": "0700"}], [], [], True, no_validation)
    assert result["changed"] and result["changed_paths"] == [str(target)]
    assert not (tmp_path / "new").exists()
    dest = tmp_path / "a.conf"
    dest.write_text("old\n")
    result = mf.apply([], [{"dest": str(dest), "content": "new\n"}], [], True, no_validation)
    assert result["diff"][0]["before"] == "old\n" and result["diff"][0]["after"] == "new\n"
    assert dest.read_text() == "old\n"


def test_a_refused_file_is_never_swapped_in_and_later_files_are_not_written(tmp_path):
    dest, later = tmp_path / "haproxy.cfg", tmp_path / "later.conf"
    dest.write_text("good\n")
    seen = []

    def refuse(command, tmp, path):
        seen.append(open(tmp).read())
        raise atomic.WriteError("%s was refused by %s" % (path, command))

    files = [{"dest": str(dest), "content": "bad\n", "validate": "haproxy -c -f %s", "backups": 3},
             {"dest": str(later), "content": "x\n"}]
    with pytest.raises(atomic.WriteError, match="refused by haproxy -c -f %s"):
        mf.apply([], files, [], False, refuse)
    assert seen == ["bad\n"]  # the validator saw the candidate, with its final content
    assert dest.read_text() == "good\n" and not later.exists()
    assert sorted(os.listdir(str(tmp_path))) == ["haproxy.cfg"]  # no temp file, no backup left behind


def test_attribute_drift_alone_is_corrected_with_a_readable_diff(tmp_path):
    dest = tmp_path / "unit.service"
    mf.apply([], [{"dest": str(dest), "content": "[Unit]\n", "mode": "0644"}], [], False, no_validation)
    os.chmod(str(dest), 0o600)
    result = mf.apply([], [{"dest": str(dest), "content": "[Unit]\n", "mode": "0644"}], [], False, no_validation)
    assert result["changed"] and "0600" in result["diff"][0]["before"] and "0644" in result["diff"][0]["after"]
    assert stat.S_IMODE(os.stat(str(dest)).st_mode) == 0o644


def test_a_file_where_a_directory_is_wanted_and_the_reverse_are_clear_errors(tmp_path):
    (tmp_path / "plain").write_text("x")
    with pytest.raises(atomic.WriteError, match="exists and is not a directory"):
        mf.apply([{"path": str(tmp_path / "plain")}], [], [], False, no_validation)
    (tmp_path / "dir").mkdir()
    with pytest.raises(atomic.WriteError, match="is a directory; a file was expected"):
        mf.apply([], [{"dest": str(tmp_path / "dir"), "content": "x"}], [], False, no_validation)
    with pytest.raises(atomic.WriteError, match="does not exist"):
        mf.apply([], [{"dest": str(tmp_path / "missing" / "f"), "content": "x"}], [], False, no_validation)


def test_absent_files_go_after_the_writes_and_a_directory_there_is_refused(tmp_path):
    (tmp_path / "old.pem").write_text("cert")
    os.symlink(str(tmp_path / "nowhere"), str(tmp_path / "dangling"))
    files = [{"dest": str(tmp_path / "haproxy.cfg"), "content": "global\n"}]
    absent = [str(tmp_path / "old.pem"), str(tmp_path / "dangling"), str(tmp_path / "never-there")]
    check = mf.apply([], files, [], True, no_validation, absent)
    assert check["removed"] == absent[:2] and (tmp_path / "old.pem").exists()
    done = mf.apply([], files, [], False, no_validation, absent)
    assert done["removed"] == absent[:2] and sorted(os.listdir(str(tmp_path))) == ["haproxy.cfg"]
    assert not mf.apply([], files, [], False, no_validation, absent)["changed"]
    (tmp_path / "sub").mkdir()
    with pytest.raises(atomic.WriteError, match="is a directory; only files are removed"):
        mf.apply([], [], [], False, no_validation, [str(tmp_path / "sub")])


NAME = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"), min_size=1,
               max_size=40).filter(lambda name: name not in (".", "..") and len(name.encode("utf-8")) < 200)


@settings(max_examples=60, deadline=None)
@given(names=st.lists(NAME, min_size=1, max_size=6, unique=True),
       contents=st.lists(st.text(max_size=200), min_size=6, max_size=6), data=st.data())
def test_any_names_and_contents_round_trip_and_prune_keeps_exactly_the_managed_ones(
        tmp_path_factory, names, contents, data):
    root = tmp_path_factory.mktemp("any")
    kept = data.draw(st.lists(st.sampled_from(names), unique=True))
    for name in names:
        (root / name).write_bytes(b"before")
    files = [{"dest": str(root / name), "content": contents[index]} for index, name in enumerate(kept)]
    result = mf.apply([], files, [{"path": str(root)}], False, no_validation)
    assert sorted(os.listdir(str(root))) == sorted(kept)
    for spec in files:
        with open(spec["dest"], "rb") as handle:
            assert handle.read() == spec["content"].encode("utf-8")
    assert sorted(result["removed"]) == sorted(str(root / name) for name in names if name not in kept)
    assert not mf.apply([], files, [{"path": str(root)}], False, no_validation)["changed"]


MODULE_PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: files
      gathewhy.ai_backend.managed_files:
        directories:
          - {path: "%(dir)s", mode: "0755"}
        files:
          - dest: "%(dir)s/app.conf"
            content: "port = %(port)s\\n"
            mode: "0640"
            backups: 2
            validate: "%(validate)s"
        prune:
          - {path: "%(dir)s", patterns: ["*.json"]}
"""


def test_module_is_idempotent_diffs_in_check_mode_backs_up_and_refuses_clearly(collections, tmp_path):  # noqa: F811
    directory = str(tmp_path / "conf.d")
    body = {"dir": directory, "port": 4000, "validate": "grep -q port %s"}
    first = play(collections, tmp_path, MODULE_PLAY % body)
    assert first.returncode == 0, first.stdout + first.stderr
    assert only_result(first)["changed"] is True
    assert only_result(play(collections, tmp_path, MODULE_PLAY % body))["changed"] is False

    body["port"] = 4001
    check = only_result(play(collections, tmp_path, MODULE_PLAY % body, extra=["--check", "--diff"]))
    assert check["changed"] is True and "4001" in check["diff"][0]["after"] and "4000" in check["diff"][0]["before"]
    assert open(os.path.join(directory, "app.conf")).read() == "port = 4000\n"

    real = only_result(play(collections, tmp_path, MODULE_PLAY % body))
    assert open(real["files"][0]["backup_file"]).read() == "port = 4000\n"
    assert real["changed_paths"] == [os.path.join(directory, "app.conf")]

    body.update(port=4002, validate="false %s")
    refused = play(collections, tmp_path, MODULE_PLAY % body)
    assert refused.returncode != 0
    message = only_result(refused)["msg"]
    assert "app.conf was refused by its validate command" in message and "exit 1" in message
    assert open(os.path.join(directory, "app.conf")).read() == "port = 4001\n"
    assert "Traceback" not in refused.stdout + refused.stderr
