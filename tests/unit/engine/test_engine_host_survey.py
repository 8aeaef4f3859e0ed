# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""host_survey: unit states, paths, globs and small files read in one run. The helper is
tested directly (systemctl's output, literal paths with glob characters, links, odd names
and bytes, the size limit); the module runs for real through ansible-playbook on
localhost, with a stand-in systemctl first on PATH because this machine runs no systemd."""

import grp
import os
import pwd
import stat

import pytest
from hypothesis import given, settings, strategies as st

from test_engine_ansible_faces import collections, play, only_result  # noqa: F401  pylint: disable=unused-import

from ansible_collections.gathewhy.ai_backend.plugins.module_utils import _host_survey as hs

STATES = st.fixed_dictionaries({
    "LoadState": st.sampled_from(["loaded", "not-found", "bad-setting", "masked"]),
    "ActiveState": st.sampled_from(["active", "inactive", "failed", "activating", "deactivating", "reloading"]),
    "SubState": st.sampled_from(["running", "dead", "exited", "start-pre", "auto-restart"]),
    "UnitFileState": st.sampled_from(["enabled", "disabled", "static", "indirect", "masked", ""]),
    "ActiveEnterTimestamp": st.one_of(st.just(""), st.integers(1, 2 ** 40).map(lambda n: "@%d" % n)),
})
UNIT = st.from_regex(r"\A[a-zA-Z0-9:_.\\-]{1,40}@[a-zA-Z0-9:_.\\-]{0,20}\.service\Z")


def show_output(blocks):
    return "\n\n".join("\n".join("%s=%s" % item for item in block.items()) for block in blocks) + "\n"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(UNIT, STATES), min_size=1, max_size=8, unique_by=lambda pair: pair[0]))
def test_every_unit_gets_its_own_block_in_the_order_asked(pairs):
    units = [unit for unit, _block in pairs]
    states = hs.parse_show(units, show_output([block for _unit, block in pairs]))
    assert list(states) == units
    for unit, block in pairs:
        got = states[unit]
        assert got["active_state"] == block["ActiveState"] and got["unit_file_state"] == block["UnitFileState"]
        stamp = block["ActiveEnterTimestamp"]
        assert got["active_enter_timestamp"] == (int(stamp[1:]) if stamp else 0)


def test_a_property_systemctl_left_out_is_empty_and_a_block_too_few_is_an_error():
    states = hs.parse_show(["a.service"], "LoadState=not-found\nActiveState=inactive\n")
    assert states["a.service"]["unit_file_state"] == "" and states["a.service"]["active_enter_timestamp"] == 0
    with pytest.raises(hs.SurveyError, match="answered 1 block"):
        hs.parse_show(["a.service", "b.service"], "ActiveState=active\n")
    with pytest.raises(hs.SurveyError, match="systemd 248"):
        hs.parse_show(["a.service"], "ActiveEnterTimestamp=Tue 2026-12-01 11:20:00 UTC\n")
    assert "--timestamp=unix" in hs.show_command(["a.service"])


def test_paths_are_literal_links_are_not_followed_and_missing_ones_say_so(tmp_path):
    odd = tmp_path / "[x]*?.env"
    odd.write_text("A=1\n")
    plain = tmp_path / "x.env"
    plain.write_text("B=2\n")
    os.chmod(str(odd), 0o640)
    broken = tmp_path / "gone.link"
    os.symlink(str(tmp_path / "nowhere"), str(broken))
    found = hs.survey_paths([str(odd), str(broken), str(tmp_path / "absent")])
    assert found[str(odd)]["exists"] and found[str(odd)]["type"] == "file" and found[str(odd)]["mode"] == "0640"
    # The literal path is reported, not the file its glob characters would match.
    assert found[str(odd)]["path"] == str(odd)
    assert found[str(broken)] == dict(found[str(broken)], exists=True, type="link")
    assert found[str(tmp_path / "absent")] == {"path": str(tmp_path / "absent"), "exists": False}
    with pytest.raises(hs.SurveyError, match="relative"):
        hs.survey_paths(["etc/passwd"])


def test_globs_are_sorted_skip_dot_names_and_tell_directories_from_files(tmp_path):
    for name in ["b.d", "a.d", ".hidden.d"]:
        (tmp_path / name).mkdir()
    (tmp_path / "c.d").write_text("")
    found = hs.survey_globs([str(tmp_path / "*.d"), str(tmp_path / "none-*")])
    assert [(os.path.basename(e["path"]), e["type"]) for e in found[str(tmp_path / "*.d")]] == [
        ("a.d", "directory"), ("b.d", "directory"), ("c.d", "file")]
    assert found[str(tmp_path / "none-*")] == []


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300),
       st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"), min_size=1, max_size=20))
def test_read_returns_every_matched_file_whatever_its_bytes_and_name(tmp_path_factory, data, name):
    root = tmp_path_factory.mktemp("read")
    try:
        path = root / ("f-" + name)
        path.write_bytes(data)
    except (OSError, UnicodeEncodeError):
        return  # a name this file system refuses is not a survey question
    contents = hs.read_files([str(root / "f-*")])
    assert contents == {str(path): data.decode("utf-8", "replace")}


def test_read_follows_links_skips_directories_and_refuses_a_big_file(tmp_path):
    (tmp_path / "real.conf").write_text("port = 1\n")
    os.symlink(str(tmp_path / "real.conf"), str(tmp_path / "link.conf"))
    (tmp_path / "dir.conf").mkdir()
    contents = hs.read_files([str(tmp_path / "*.conf")])
    assert contents == {str(tmp_path / "link.conf"): "port = 1\n", str(tmp_path / "real.conf"): "port = 1\n"}
    (tmp_path / "big.conf").write_bytes(b"x" * 2048)
    with pytest.raises(hs.SurveyError, match="big.conf is 2048 bytes"):
        hs.read_files([str(tmp_path / "big.conf")], max_bytes=1024)


FAKE_SYSTEMCTL = """#!/bin/sh
# Stand-in for systemctl show: the arguments it got, then one block per unit after --.
echo "$@" > "%(log)s"
while [ "$1" != "--" ]; do shift; done; shift
first=1
for unit; do
  [ "$first" = 1 ] || echo
  first=0
  case "$unit" in
    up.service) printf 'LoadState=loaded\\nActiveState=active\\nSubState=running\\nUnitFileState=enabled\\nActiveEnterTimestamp=@1764580000\\n' ;;
    broken.service) echo "Failed to get properties: Access denied" >&2; exit 1 ;;
    *) printf 'LoadState=not-found\\nActiveState=inactive\\nSubState=dead\\nUnitFileState=\\nActiveEnterTimestamp=\\n' ;;
  esac
done
"""

SURVEY_PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: survey
      gathewhy.ai_backend.host_survey:
        units: %(units)s
        paths: ["%(dir)s/unit.conf", "%(dir)s/missing"]
        globs: ["%(dir)s/*.d"]
        read: ["%(dir)s/*.d/*.conf"]
"""


def test_module_answers_in_one_run_in_check_mode_too_and_fails_clearly(collections, tmp_path, monkeypatch):  # noqa: F811
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "systemctl"
    fake.write_text(FAKE_SYSTEMCTL % {"log": tmp_path / "systemctl.args"})
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", "%s:%s" % (bin_dir, os.environ["PATH"]))
    conf = tmp_path / "conf"
    (conf / "litellm@1.service.d").mkdir(parents=True)
    (conf / "litellm@1.service.d" / "10-instance.conf").write_text("[Service]\nEnvironment=PORT=4001\n")
    (conf / "unit.conf").write_text("")
    body = {"dir": conf, "units": "[up.service, gone.service]"}
    for extra in ([], ["--check"]):
        done = play(collections, tmp_path, SURVEY_PLAY % body, extra=extra)
        assert done.returncode == 0, done.stdout + done.stderr
        result = only_result(done)
        assert result["changed"] is False
        assert result["units"]["up.service"]["active_state"] == "active"
        assert result["units"]["up.service"]["active_enter_timestamp"] == 1764580000
        assert result["units"]["gone.service"]["load_state"] == "not-found"
        assert result["paths"]["%s/unit.conf" % conf]["exists"] and not result["paths"]["%s/missing" % conf]["exists"]
        assert [e["path"] for e in result["globs"]["%s/*.d" % conf]] == ["%s/litellm@1.service.d" % conf]
        assert result["contents"] == {"%s/litellm@1.service.d/10-instance.conf" % conf: "[Service]\nEnvironment=PORT=4001\n"}
    assert (tmp_path / "systemctl.args").read_text().split()[:2] == ["show", "--timestamp=unix"]

    body["units"] = "[up.service, broken.service]"
    failed = play(collections, tmp_path, SURVEY_PLAY % body)
    assert failed.returncode != 0
    assert "Access denied" in only_result(failed)["msg"] and "exit 1" in only_result(failed)["msg"]
    assert "Traceback" not in failed.stdout + failed.stderr


def test_users_and_groups_come_back_with_the_keys_the_user_module_takes():
    me = pwd.getpwuid(os.getuid())
    users = hs.survey_users([me.pw_name, "no-such-user-ai-backend"])
    assert users[me.pw_name] == {"name": me.pw_name, "exists": True, "uid": me.pw_uid,
                                 "group": grp.getgrgid(me.pw_gid).gr_name, "home": me.pw_dir,
                                 "shell": me.pw_shell, "comment": me.pw_gecos}
    assert users["no-such-user-ai-backend"] == {"name": "no-such-user-ai-backend", "exists": False}
    # What a role asks for is a subset of what exists exactly when nothing needs changing.
    wanted = {"name": me.pw_name, "home": me.pw_dir, "shell": me.pw_shell}
    assert set(wanted.items()) <= set(users[me.pw_name].items())
    assert not set(dict(wanted, shell="/bin/false-ai-backend").items()) <= set(users[me.pw_name].items())
    group = grp.getgrgid(os.getgid())
    assert hs.survey_groups([group.gr_name, "no-such-group-ai-backend"]) == {
        group.gr_name: {"name": group.gr_name, "exists": True, "gid": group.gr_gid},
        "no-such-group-ai-backend": {"name": "no-such-group-ai-backend", "exists": False}}
