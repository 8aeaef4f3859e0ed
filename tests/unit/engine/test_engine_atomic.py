# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Atomic writes: bytes-equal -> unchanged, rotated backups, check mode, modes,
and nothing on disk when the registry is wrong."""

import os
import stat

import pytest

from engine_import import base_host, atomic, registry


def test_first_write_second_write_unchanged(tmp_path):
    dest = str(tmp_path / "config.yaml")
    first = atomic.write_atomic(dest, b"a: 1\n", mode="0640")
    assert first["changed"] and first["backup_file"] is None and first["before"] is None
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o640
    again = atomic.write_atomic(dest, b"a: 1\n", mode="0640")
    assert not again["changed"]
    assert sorted(os.listdir(str(tmp_path))) == ["config.yaml"]  # no temp file, no backup


def test_mode_drift_alone_is_a_change(tmp_path):
    dest = str(tmp_path / "config.yaml")
    atomic.write_atomic(dest, b"x", mode="0640")
    os.chmod(dest, 0o644)
    assert atomic.write_atomic(dest, b"x", mode="0640", check_mode=True)["changed"]
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o644  # check mode touched nothing
    assert atomic.write_atomic(dest, b"x", mode="0640")["changed"]
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o640


def test_backups_keep_the_old_bytes_and_rotate(tmp_path):
    dest = str(tmp_path / "config.yaml")
    atomic.write_atomic(dest, b"v0")
    backups = []
    for version in range(1, 6):
        result = atomic.write_atomic(dest, ("v%d" % version).encode(), backups=3)
        backups.append(result["backup_file"])
        with open(result["backup_file"], "rb") as handle:
            assert handle.read() == ("v%d" % (version - 1)).encode()
    kept = atomic.list_backups(dest)
    assert kept == sorted(backups)[-3:]
    with open(dest, "rb") as handle:
        assert handle.read() == b"v5"


def test_check_mode_writes_nothing(tmp_path):
    dest = str(tmp_path / "config.yaml")
    result = atomic.write_atomic(dest, b"new", check_mode=True)
    assert result["changed"] and not os.path.exists(dest)


def test_missing_directory_and_bad_mode_are_clear_errors(tmp_path):
    with pytest.raises(atomic.WriteError, match="does not exist"):
        atomic.write_atomic(str(tmp_path / "nope" / "c.yaml"), b"x")
    with pytest.raises(atomic.WriteError, match="not an octal number"):
        atomic.write_atomic(str(tmp_path / "c.yaml"), b"x", mode="rw-r")
    with pytest.raises(atomic.WriteError, match="user 'no-such-user-aib' does not exist"):
        atomic.write_atomic(str(tmp_path / "c.yaml"), b"x", owner="no-such-user-aib")
    assert os.listdir(str(tmp_path)) == []


def test_registry_error_writes_nothing_and_keeps_the_old_file(tmp_path):
    dest = str(tmp_path / "config.yaml")
    good = {"gw": base_host()}
    registry.write_gateway_config(good, dest)
    with open(dest) as handle:
        before = handle.read()
    bad = {"gw": base_host()}
    bad["gw"]["ai_backend_providers"]["ollama_main"]["port"] = "CUSTOM_PORT"
    with pytest.raises(registry.RegistryError):
        registry.write_gateway_config(bad, dest)
    with open(dest) as handle:
        assert handle.read() == before
    assert sorted(os.listdir(str(tmp_path))) == ["config.yaml"]


def test_pruning_touches_only_its_own_backups(tmp_path):
    dest = str(tmp_path / "config.yaml")
    mine = ["config.yaml.mine~", "config.yaml.orig~", "config.yaml.2026.bak~", "config.yaml.20201127T120000.000000~x",
            "other.yaml.20201127T120000.000000~"]
    for name in mine:
        (tmp_path / name).write_text("user file\n")
    atomic.write_atomic(dest, b"v0", backups=1)
    for version in range(1, 4):
        atomic.write_atomic(dest, b"v%d" % version, backups=1)
    ours = [name for name in os.listdir(str(tmp_path)) if name not in mine and name != "config.yaml"]
    assert len(ours) == 1, ours
    for name in mine:
        assert (tmp_path / name).read_text() == "user file\n", name
