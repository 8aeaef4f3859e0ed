# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The work of the host_survey module: what a role reads before it decides, in one pass.

A role's service step used to read the host one question at a time: an
`systemctl is-active` per instance, a slurp per drop-in, a find per directory.
Each is a module run of about a quarter second on the host whatever it reads,
so a rerun that changes nothing paid for every question. Here the units' states
come from one `systemctl show` and the paths from the file system, read-only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import grp
import hashlib
import os
import pwd
import stat

from ansible_collections.gathewhy.ai_backend.plugins.module_utils import atomic

# systemctl show's names for what a role decides on, and the keys returned for them.
UNIT_PROPERTIES = (
    ("LoadState", "load_state"),
    ("ActiveState", "active_state"),
    ("SubState", "sub_state"),
    ("UnitFileState", "unit_file_state"),
    ("ActiveEnterTimestamp", "active_enter_timestamp"),
)

# Drop-ins, env files and markers are a few hundred bytes; anything this big was not meant to be read whole.
MAX_READ_BYTES = 1024 * 1024


class SurveyError(Exception):
    """A question that cannot be answered; the message says which and why."""


def show_command(units):
    """The one systemctl call that answers for every unit, in the order given."""
    # --timestamp=unix (systemd 248 and later) prints a time as @<seconds>, which needs no parsing of dates.
    return (["systemctl", "show", "--timestamp=unix", "--property=" + ",".join(name for name, _key in UNIT_PROPERTIES),
             "--"] + list(units))


def parse_show(units, output):
    """Map each requested unit to its states. systemctl show prints one block per unit, in
    the order asked, blocks separated by an empty line; a property it lacks is ''."""
    blocks = output.strip("\n").split("\n\n") if output.strip() else []
    if len(blocks) != len(units):
        raise SurveyError("systemctl show answered %d block(s) for %d unit(s) (%s); output was: %r"
                          % (len(blocks), len(units), ", ".join(units), output[-2000:]))
    keys = dict(UNIT_PROPERTIES)
    states = {}
    for unit, block in zip(units, blocks):
        entry = dict((key, "") for key in keys.values())
        for line in block.split("\n"):
            name, sep, value = line.partition("=")
            if sep and name in keys:
                entry[keys[name]] = value
        entry["active_enter_timestamp"] = _seconds(unit, entry["active_enter_timestamp"])
        states[unit] = entry
    return states


def _seconds(unit, stamp):
    """'@1764580000' to 1764580000; '' (never entered) to 0."""
    if not stamp:
        return 0
    try:
        return int(stamp.lstrip("@"))
    except ValueError:
        raise SurveyError("systemctl show gave %s an ActiveEnterTimestamp of %r, not @<seconds>; "
                          "this module needs systemd 248 or later" % (unit, stamp))


def _kind(mode):
    if stat.S_ISLNK(mode):
        return "link"
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "other"


def describe(path):
    """Type, owner, group, mode and mtime of path, not following a final link."""
    info = os.lstat(path)
    owner, group = atomic.owner_names(info)
    return {
        "path": path,
        "type": _kind(info.st_mode),
        "owner": owner,
        "group": group,
        "mode": "%04o" % stat.S_IMODE(info.st_mode),
        "mtime": info.st_mtime,
    }


def _absolute(path, what):
    if not os.path.isabs(path):
        raise SurveyError("%s %r is relative; give an absolute one" % (what, path))


def look_up(path):
    """What is at path now (not following a final link): exists false when nothing is."""
    _absolute(path, "path")
    try:
        entry = describe(path)
    except OSError:
        return {"path": path, "exists": False}
    entry["exists"] = True
    return entry


def _matches(pattern):
    _absolute(pattern, "glob")
    # glob skips names that start with a dot unless the pattern spells the dot, as a shell does.
    found = []
    for path in sorted(glob.glob(pattern)):
        try:
            found.append(describe(path))
        except OSError:
            # Removed between the glob and the lstat: it is not there.
            continue
    return found


def survey_paths(paths):
    """Each literal path to what is there now; glob characters in it are plain characters."""
    return dict((path, look_up(path)) for path in paths)


def survey_globs(patterns):
    """Each shell glob to the sorted list of what matches it now."""
    return dict((pattern, _matches(pattern)) for pattern in patterns)


def read_files(patterns, max_bytes=MAX_READ_BYTES):
    """The text of every regular file the patterns match, by path; links are followed."""
    contents = {}
    for pattern in patterns:
        for entry in _matches(pattern):
            path = entry["path"]
            if not os.path.isfile(path):
                continue
            try:
                size = os.path.getsize(path)
                if size > max_bytes:
                    raise SurveyError("%s is %d bytes, more than the %d this survey reads whole; "
                                      "read it with ansible.builtin.slurp instead" % (path, size, max_bytes))
                with open(path, "rb") as handle:
                    data = handle.read()
            except (IOError, OSError) as exc:
                raise SurveyError("cannot read %s: %s" % (path, exc))
            contents[path] = data.decode("utf-8", "replace")
    return contents


def checksum_files(paths, chunk=1024 * 1024):
    """Each literal path to the sha256 of its bytes, or None when it is not a regular file (a link
    is not followed: the files a role writes are never links, and a link there must be replaced)."""
    sums = {}
    for path in paths:
        _absolute(path, "checksum path")
        try:
            if not stat.S_ISREG(os.lstat(path).st_mode):
                sums[path] = None
                continue
            digest = hashlib.sha256()
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(chunk), b""):
                    digest.update(block)
        except (IOError, OSError) as exc:
            if not os.path.lexists(path):
                sums[path] = None
                continue
            raise SurveyError("cannot read %s to checksum it: %s" % (path, exc))
        sums[path] = digest.hexdigest()
    return sums


def survey_users(names):
    """Each user name to its account, with the keys of ansible.builtin.user's options."""
    users = {}
    for name in names:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            users[name] = {"name": name, "exists": False}
            continue
        try:
            group = grp.getgrgid(entry.pw_gid).gr_name
        except KeyError:
            group = str(entry.pw_gid)
        users[name] = {"name": name, "exists": True, "uid": entry.pw_uid, "group": group, "home": entry.pw_dir,
                       "shell": entry.pw_shell, "comment": entry.pw_gecos}
    return users


def survey_groups(names):
    """Each group name to whether it exists, and its gid."""
    groups = {}
    for name in names:
        try:
            groups[name] = {"name": name, "exists": True, "gid": grp.getgrnam(name).gr_gid}
        except KeyError:
            groups[name] = {"name": name, "exists": False}
    return groups
