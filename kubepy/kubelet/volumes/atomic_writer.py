"""The kubelet's atomic writer (pkg/volume/util/atomic_writer.go): a directory whose files
change all at once, so a running container never sees half of an update.

Layout of the target directory::

    ..2026_11_23_12_00_00.1234567/   the payload as regular files (0755 directories)
    ..data -> ..2026_11_23_12_00_00.1234567
    key    -> ..data/key             one symlink per top-level name of the payload

A write goes: validate every path (relative, no ``..`` element, not starting with ``..``,
at most 4096 bytes and 255 per element); compare with the current ``..data`` content
(nothing to do when every file has the same bytes and no name went away); write the new
payload into a fresh timestamped directory (``chmod`` to each file's mode, then the
``set_perms`` hook, e.g. fsGroup); create the missing user-visible symlinks; point
``..data_tmp`` at the new directory and ``rename`` it over ``..data`` (the atomic step);
remove the symlinks of names no longer in the payload; remove the old directory.

``plan_write`` is the pure decision; ``AtomicWriter.write`` does the I/O.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Mapping

from kubepy.kubelet.volumes.projection import FileProjection, Payload

DATA_DIR = "..data"
DATA_DIR_TMP = "..data_tmp"
MAX_PATH_LENGTH = 4096
MAX_FILE_NAME_LENGTH = 255


class AtomicWriteError(ValueError):
    """The payload cannot be written (an invalid path, or I/O)."""


def validate_path(path: str) -> None:
    """``validatePath``: raises AtomicWriteError with the kubelet's message."""
    if len(path) > MAX_PATH_LENGTH:
        raise AtomicWriteError(f"invalid path: must be less than or equal to "
                               f"{MAX_PATH_LENGTH} characters")
    if path.startswith("/"):
        raise AtomicWriteError(f"invalid path: must be relative path: {path}")
    if path.startswith(".."):
        raise AtomicWriteError(f"invalid path: must not start with '..': {path}")
    for item in path.split("/"):
        if item == "..":
            raise AtomicWriteError(f"invalid path: must not contain '..': {path}")
        if len(item) > MAX_FILE_NAME_LENGTH:
            raise AtomicWriteError(f"invalid path: filenames must be less than or equal to "
                                   f"{MAX_FILE_NAME_LENGTH} characters")


def clean_payload(payload: Payload) -> Payload:
    """The payload with its paths validated and cleaned (``a//b/`` -> ``a/b``)."""
    out: Payload = {}
    for path, proj in payload.items():
        validate_path(path)
        clean = os.path.normpath(path)
        if clean in ("", "."):
            raise AtomicWriteError(f"invalid path: must not be empty: {path!r}")
        out[clean] = proj
    return out


def top_level(paths: object) -> set[str]:
    """The user-visible names: the first element of each path."""
    return {p.split("/", 1)[0] for p in paths}  # type: ignore[attr-defined]


@dataclass(frozen=True)
class WritePlan:
    write: bool                      # a new timestamped directory is needed
    create_links: frozenset[str]     # user-visible symlinks to create
    remove_links: frozenset[str]     # user-visible names to remove


def plan_write(current: Mapping[str, bytes] | None, payload: Payload,
               links: frozenset[str] | set[str]) -> WritePlan:
    """What to do to turn the directory into *payload*. *current* is the content of the
    files under ``..data`` (None when there is no ``..data``), *links* the user-visible
    names present now."""
    wanted = top_level(payload)
    old_names = top_level(current or {})
    remove = frozenset((old_names | set(links)) - wanted)
    changed = current is None or any(
        current.get(path) != proj.data for path, proj in payload.items())
    write = changed or bool(remove & old_names)
    return WritePlan(write=write, create_links=frozenset(wanted - set(links)),
                     remove_links=remove)


def _read_tree(root: str) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            full = os.path.join(dirpath, name)
            with open(full, "rb") as f:
                out[os.path.relpath(full, root)] = f.read()
    return out


class AtomicWriter:
    """Writes payloads into *target_dir* (which must exist) with the layout above."""

    def __init__(self, target_dir: str, *,
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.target_dir = target_dir
        self.now = now

    def current(self) -> dict[str, bytes] | None:
        data = os.path.join(self.target_dir, DATA_DIR)
        if not os.path.islink(data):
            return None
        return _read_tree(data + "/")

    def links(self) -> set[str]:
        out = set()
        for name in os.listdir(self.target_dir):
            full = os.path.join(self.target_dir, name)
            if not name.startswith("..") and os.path.islink(full):
                out.add(name)
        return out

    def write(self, payload: Payload,
              set_perms: Callable[[str], None] | None = None) -> bool:
        """Write *payload*; True when the content changed. *set_perms* is called with the
        new timestamped directory before it is published."""
        clean = clean_payload(payload)
        plan = plan_write(self.current(), clean, self.links())
        target = self.target_dir
        old_ts = ts_dir = ""
        if plan.write:
            old_ts = self._old_ts_dir()
            ts_dir = self._new_ts_dir()
            self._write_payload(clean, ts_dir)
            if set_perms is not None:
                set_perms(ts_dir)
        for name in sorted(plan.create_links):
            path = os.path.join(target, name)
            if os.path.lexists(path):
                _remove(path)
            os.symlink(os.path.join(DATA_DIR, name), path)
        if plan.write:
            tmp = os.path.join(target, DATA_DIR_TMP)
            if os.path.lexists(tmp):
                os.unlink(tmp)
            os.symlink(os.path.basename(ts_dir), tmp)
            os.rename(tmp, os.path.join(target, DATA_DIR))
        for name in sorted(plan.remove_links):
            _remove(os.path.join(target, name))
        if plan.write and old_ts:
            shutil.rmtree(os.path.join(target, old_ts), ignore_errors=True)
        return plan.write

    def _old_ts_dir(self) -> str:
        try:
            return os.readlink(os.path.join(self.target_dir, DATA_DIR))
        except OSError:
            return ""

    def _new_ts_dir(self) -> str:
        prefix = self.now().astimezone(timezone.utc).strftime("..%Y_%m_%d_%H_%M_%S.")
        ts_dir = tempfile.mkdtemp(prefix=prefix, dir=self.target_dir)
        os.chmod(ts_dir, 0o755)
        return ts_dir

    @staticmethod
    def _write_payload(payload: Payload, ts_dir: str) -> None:
        for path, proj in sorted(payload.items()):
            full = os.path.join(ts_dir, path)
            parent = os.path.dirname(full)
            if not os.path.isdir(parent):
                os.makedirs(parent, mode=0o755)
            with open(full, "wb") as f:
                f.write(proj.data)
            os.chmod(full, proj.mode & 0o7777)


def _remove(path: str) -> None:
    if os.path.islink(path) or not os.path.isdir(path):
        os.unlink(path)
    else:
        shutil.rmtree(path)


__all__ = ["AtomicWriteError", "AtomicWriter", "FileProjection", "WritePlan", "clean_payload",
           "plan_write", "validate_path"]
