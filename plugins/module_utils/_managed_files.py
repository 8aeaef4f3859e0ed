# -*- coding: utf-8 -*-
# Copyright: gathewhy.ai engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The work of the managed_files module: directories, files and pruned leftovers of one role, in one pass.

A role's configure step used to be one module run per directory and two per
template (a stat, then a copy or a file). Here the same state is checked and
corrected in one run on the host: every write goes through write_atomic()
(temp file, attributes, validation, rotated backup, rename), so the files are
as safe as before and a no-change run reads them without writing anything.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import hashlib
import os
import posixpath
import stat

from ansible_collections.gathewhy.ai_backend.plugins.module_utils import atomic


def _describe(path):
    """'owner:group mode' of path, or 'absent'."""
    try:
        info = os.lstat(path)
    except OSError:
        return "absent"
    owner, group = atomic.owner_names(info)
    kind = "directory" if stat.S_ISDIR(info.st_mode) else "file"
    return "%s %s:%s %04o" % (kind, owner, group, stat.S_IMODE(info.st_mode))


def _text(data):
    if data is None:
        return ""
    return data.decode("utf-8", "replace")


def ensure_directory(spec, check_mode):
    """Create spec['path'] (parents 0755 root-owned, as mkdir -p) and correct its owner, group and mode."""
    path = os.path.abspath(spec["path"])
    before = _describe(path)
    if before != "absent" and not os.path.isdir(path):
        raise atomic.WriteError("%s exists and is not a directory (%s); remove it or choose another path"
                                % (path, before))
    # Names and mode are resolved first: an unknown user is an error before anything is created.
    uid, gid = atomic._uid(spec.get("owner")), atomic._gid(spec.get("group"))
    mode = atomic.parse_mode(spec.get("mode"))
    changed = before == "absent" or atomic.attributes_differ(path, spec.get("owner"), spec.get("group"),
                                                             spec.get("mode"))
    if changed and not check_mode:
        try:
            if before == "absent":
                os.makedirs(path, 0o755)
            atomic._set_attributes(path, uid, gid, mode)
        except OSError as exc:
            raise atomic.WriteError("cannot create %s: %s" % (path, exc.strerror or exc))
    result = {"path": path, "changed": changed}
    diff = None
    if changed:
        diff = {"before_header": path, "after_header": path, "before": before + "\n",
                "after": "directory %s:%s %s\n" % (spec.get("owner") or "-", spec.get("group") or "-",
                                                   spec.get("mode") or "-")}
    return result, diff


def write_file(spec, check_mode, validate_with):
    """Write spec['content'] to spec['dest'] unless the bytes, owner, group and mode are already right."""
    dest = os.path.abspath(spec["dest"])
    if os.path.isdir(dest):
        raise atomic.WriteError("%s is a directory; a file was expected there" % dest)
    validate = None
    if spec.get("validate"):
        command = spec["validate"]

        def validate(tmp):
            validate_with(command, tmp, dest)

    before_attrs = _describe(dest)
    if check_mode and not os.path.isdir(os.path.dirname(dest)):
        # Its directory is created by this run (or an earlier task that check mode did not run).
        after = spec["content"] if isinstance(spec["content"], bytes) else spec["content"].encode("utf-8")
        return ({"dest": dest, "changed": True, "backup_file": None},
                {"before_header": "%s (absent)" % dest, "after_header": dest, "before": "", "after": _text(after)})
    done = atomic.write_atomic(dest, spec["content"], owner=spec.get("owner"), group=spec.get("group"),
                               mode=spec.get("mode"), backups=spec.get("backups") or 0, check_mode=check_mode,
                               validate=validate)
    result = {"dest": dest, "changed": done["changed"], "backup_file": done["backup_file"]}
    diff = None
    if done["changed"]:
        after = spec["content"] if isinstance(spec["content"], bytes) else spec["content"].encode("utf-8")
        if done["before"] == after:
            diff = {"before_header": dest, "after_header": dest, "before": before_attrs + "\n",
                    "after": "file %s:%s %s\n" % (spec.get("owner") or "-", spec.get("group") or "-",
                                                  spec.get("mode") or "-")}
        else:
            diff = {"before_header": dest if done["before"] is not None else "%s (absent)" % dest,
                    "after_header": dest, "before": _text(done["before"]), "after": _text(after)}
    return result, diff


def prune(spec, keep, check_mode):
    """Remove the files of spec['path'] that match spec['patterns'] and are not in keep."""
    directory = os.path.abspath(spec["path"])
    removed = []
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return removed
    for name in names:
        path = os.path.join(directory, name)
        if path in keep or os.path.isdir(path):
            continue
        if not any(fnmatch.fnmatchcase(name, pattern) for pattern in spec.get("patterns") or ["*"]):
            continue
        described = _describe(path)
        if not check_mode:
            try:
                os.unlink(path)
            except OSError as exc:
                raise atomic.WriteError("cannot remove %s: %s" % (path, exc.strerror or exc))
        removed.append((path, described))
    return removed


def remove(path, check_mode):
    """Remove the file or link at path, if there is one; (path, what it was) or None."""
    path = os.path.abspath(path)
    described = _describe(path)
    if described == "absent":
        return None
    if os.path.isdir(path) and not os.path.islink(path):
        raise atomic.WriteError("%s is a directory; only files are removed this way" % path)
    if not check_mode:
        try:
            os.unlink(path)
        except OSError as exc:
            raise atomic.WriteError("cannot remove %s: %s" % (path, exc.strerror or exc))
    return path, described


def apply(directories, files, prunes, check_mode, validate_with, absent=()):
    """Directories first, then files in order, then pruning and absent paths. Stops at the first error
    (WriteError)."""
    out = {"changed": False, "directories": [], "files": [], "removed": [], "diff": []}
    for spec in directories or []:
        result, diff = ensure_directory(spec, check_mode)
        out["directories"].append(result)
        if diff:
            out["diff"].append(diff)
    for spec in files or []:
        result, diff = write_file(spec, check_mode, validate_with)
        out["files"].append(result)
        if diff:
            out["diff"].append(diff)
    keep = set(entry["dest"] for entry in out["files"])
    gone = [remove(path, check_mode) for path in absent or []]
    for spec in prunes or []:
        gone.extend(prune(spec, keep, check_mode))
    for path, described in [entry for entry in gone if entry]:
        out["removed"].append(path)
        out["diff"].append({"before_header": path, "after_header": path, "before": described + "\n",
                            "after": "absent\n"})
    out["changed"] = bool(out["diff"])
    out["changed_paths"] = ([entry["path"] for entry in out["directories"] if entry["changed"]]
                            + [entry["dest"] for entry in out["files"] if entry["changed"]] + out["removed"])
    return out


def _attributes_as_wanted(found, spec, kind):
    """Whether a host_survey entry is of this kind with the owner, group and mode spec asks for.
    An owner or group given as a number, or a mode that is not octal, is not judged here."""
    if not found or not found.get("exists", True) or found.get("type") != kind:
        return False
    for key in ("owner", "group"):
        want = spec.get(key)
        if want not in (None, "") and str(want) != found.get(key):
            return False
    mode = spec.get("mode")
    if mode is None:
        return True
    try:
        want_mode = atomic.parse_mode(mode)
        return want_mode == int(found.get("mode", ""), 8)
    except (atomic.WriteError, TypeError, ValueError):
        return False


def _content_digest(content):
    data = content if isinstance(content, bytes) else str(content).encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def settled(directories, files, prunes, absent, known):
    """Whether host_survey's answer (known: its paths, globs and checksums) shows that apply() would
    change nothing: every directory and file already there with the asked attributes and bytes, no
    prune leftover and no absent path present. Anything the survey did not look at counts as unknown,
    so the answer is False and the module runs on the host as usual."""
    if not isinstance(known, dict):
        return False
    paths = known.get("paths") or {}
    globs = known.get("globs") or {}
    checksums = known.get("checksums") or {}

    def entry(path):
        return paths.get(path) or paths.get(posixpath.normpath(path))

    for spec in directories or []:
        if not _attributes_as_wanted(entry(spec["path"]), spec, "directory"):
            return False
    for spec in files or []:
        dest = spec["dest"]
        digest = checksums.get(dest) or checksums.get(posixpath.normpath(dest))
        if not digest or digest != _content_digest(spec["content"]):
            return False
        if not _attributes_as_wanted(entry(dest), spec, "file"):
            return False
    for path in absent or []:
        found = entry(path)
        if found is None or found.get("exists"):
            return False
    keep = set(posixpath.normpath(spec["dest"]) for spec in files or [])
    for spec in prunes or []:
        leftovers = prune_leftovers(spec, keep, globs)
        if leftovers is None or leftovers:
            return False
    return True


def prune_globs(spec):
    """The host_survey globs that show every file prune() would consider in spec['path']: its
    patterns, and '.*' because prune() matches names that start with a dot and a glob skips them."""
    return [posixpath.join(spec["path"], pattern) for pattern in spec.get("patterns") or ["*"]] + [
        posixpath.join(spec["path"], ".*")]


def prune_leftovers(spec, keep, globs):
    """The files prune() would remove, from host_survey's globs, or None when it did not look."""
    found = []
    for pattern in prune_globs(spec):
        if pattern not in globs:
            return None
        found.extend(globs[pattern])
    patterns = spec.get("patterns") or ["*"]
    return sorted(set(entry["path"] for entry in found
                      if entry.get("type") != "directory" and posixpath.normpath(entry["path"]) not in keep
                      and any(fnmatch.fnmatchcase(posixpath.basename(entry["path"]), p) for p in patterns)))


def unchanged_result(directories, files):
    """apply()'s answer when settled() says nothing would change."""
    return {"changed": False, "changed_paths": [], "removed": [],
            "directories": [{"path": posixpath.normpath(spec["path"]), "changed": False} for spec in directories or []],
            "files": [{"dest": posixpath.normpath(spec["dest"]), "changed": False, "backup_file": None}
                      for spec in files or []]}
