# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Atomic, idempotent file writes with rotated backups, for every module of the collection.

write_atomic() only touches the disk when the bytes differ. It writes a temp
file in the destination directory (same filesystem, so rename is atomic),
fsyncs it, sets owner/group/mode on the temp file BEFORE the rename (readers
never see a file with the wrong permissions), keeps a timestamped copy of the
old file and prunes copies beyond ``backups``, then renames into place and
fsyncs the directory.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import grp
import os
import pwd
import re
import stat
import tempfile
import time


# Indirection so a test that writes thousands of throw-away files can skip the
# (slow, durability-only) fsync; production code never changes it.
_fsync = os.fsync


class WriteError(Exception):
    """A write that could not be done; the message says what and where."""


def read_bytes(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except IOError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise WriteError("cannot read %s: %s" % (path, exc.strerror))


def _uid(owner):
    if owner is None or owner == "":
        return -1
    if isinstance(owner, int) or str(owner).isdigit():
        return int(owner)
    try:
        return pwd.getpwnam(owner).pw_uid
    except KeyError:
        raise WriteError("user '%s' does not exist" % owner)


def _gid(group):
    if group is None or group == "":
        return -1
    if isinstance(group, int) or str(group).isdigit():
        return int(group)
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise WriteError("group '%s' does not exist" % group)


def owner_names(info):
    """(owner, group) of an os.stat result as names, or the ids where no name exists."""
    try:
        owner = pwd.getpwuid(info.st_uid).pw_name
    except KeyError:
        owner = str(info.st_uid)
    try:
        group = grp.getgrgid(info.st_gid).gr_name
    except KeyError:
        group = str(info.st_gid)
    return owner, group


def parse_mode(mode):
    if mode is None:
        return None
    if isinstance(mode, int):
        return mode
    text = str(mode)
    try:
        return int(text, 8)
    except ValueError:
        raise WriteError("mode '%s' is not an octal number such as '0640'" % text)


def backup_name(path, stamp=None):
    stamp = stamp if stamp is not None else time.time()
    return "%s.%s.%06d~" % (path, time.strftime("%Y%m%dT%H%M%S", time.gmtime(stamp)), int((stamp % 1) * 1e6))


# backup_name()'s suffix, exactly: only files this module made are ever pruned,
# never a user's own ``config.yaml.mine~``.
_BACKUP_SUFFIX = r"\.[0-9]{8}T[0-9]{6}\.[0-9]{6}~\Z"


def list_backups(path):
    directory, base = os.path.split(os.path.abspath(path))
    ours = re.compile(re.escape(base) + _BACKUP_SUFFIX)
    found = [name for name in os.listdir(directory) if ours.match(name)]
    return [os.path.join(directory, name) for name in sorted(found)]


def prune_backups(path, keep):
    removed = []
    backups = list_backups(path)
    excess = len(backups) - max(keep, 0)
    for old in backups[:excess] if excess > 0 else []:
        os.unlink(old)
        removed.append(old)
    return removed


def attributes_differ(path, owner=None, group=None, mode=None):
    try:
        info = os.stat(path)
    except OSError:
        return True
    uid, gid, want = _uid(owner), _gid(group), parse_mode(mode)
    return ((uid != -1 and info.st_uid != uid) or (gid != -1 and info.st_gid != gid)
            or (want is not None and stat.S_IMODE(info.st_mode) != want))


def write_atomic(path, data, owner=None, group=None, mode=None, backups=10, check_mode=False, validate=None):
    """Put ``data`` (bytes) at ``path``. Returns a dict: changed, backup_file, before (old bytes or None).

    Content unchanged -> only owner/group/mode are corrected (changed if they differed).
    check_mode -> nothing touched; changed says what would happen.
    validate -> called with the finished temp file (new bytes, final owner and
    mode) before anything is replaced; it raises WriteError to refuse it, and
    then the old file stays as it was.
    """
    if not isinstance(data, bytes):
        data = data.encode("utf-8")
    path = os.path.abspath(path)
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        raise WriteError("directory %s does not exist" % directory)
    before = read_bytes(path)
    want_mode = parse_mode(mode)
    uid, gid = _uid(owner), _gid(group)
    result = {"changed": False, "backup_file": None, "before": before, "path": path}
    if before == data:
        if attributes_differ(path, owner, group, mode):
            result["changed"] = True
            if not check_mode:
                _set_attributes(path, uid, gid, want_mode)
        return result
    result["changed"] = True
    if check_mode:
        return result
    handle, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            _fsync(out.fileno())
        if want_mode is None and before is not None:
            want_mode = stat.S_IMODE(os.stat(path).st_mode)
        _set_attributes(tmp, uid, gid, want_mode if want_mode is not None else 0o644)
        if validate is not None:
            validate(tmp)
        if before is not None and backups > 0:
            backup = backup_name(path)
            os.link(path, backup) if hasattr(os, "link") else _copy(path, backup)
            result["backup_file"] = backup
        os.rename(tmp, path)
        tmp = None
        _fsync_dir(directory)
        if before is not None:
            prune_backups(path, backups)
    except OSError as exc:
        raise WriteError("cannot write %s: %s" % (path, exc.strerror or exc))
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    return result


def _copy(source, target):
    with open(source, "rb") as src, open(target, "wb") as dst:
        dst.write(src.read())


def _set_attributes(path, uid, gid, mode):
    if uid != -1 or gid != -1:
        os.chown(path, uid, gid)
    if mode is not None:
        os.chmod(path, mode)


def _fsync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        _fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
