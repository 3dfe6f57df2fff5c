"""Persistent network namespaces for pod sandboxes.

A pod's network namespace is created before its infra container, so CNI can wire it up first
and runc can then join it by path (``linux.namespaces: [{"type": "network", "path": ...}]``),
as CRI runtimes do. The namespace is kept alive by a bind mount of its nsfs inode onto a file
in a kubepy-owned directory (default ``/run/kubepy/netns``; tests use a temp dir), made with
util-linux's ``unshare --net=FILE true``. We deliberately do not use ``ip netns add``: that
also turns ``/run/netns`` into a shared bind mount of itself which would outlive kubepy.
``nsenter --net=PATH`` (or ``ip netns exec`` after linking the file into ``/run/netns``) runs
commands inside one.

Deleting unmounts (lazily, so an open handle cannot make it fail) and removes the file; the
namespace itself disappears when its last process exits.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import errno
import os
import re
from pathlib import Path

DEFAULT_ROOT = "/run/kubepy/netns"
_MNT_DETACH = 2
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,250}")


def sandbox_netns_name(pod_uid: str) -> str:
    """The namespace name of a pod's sandbox."""
    return f"kubepy-{pod_uid}"


def _umount_detach(path: str) -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.umount2(path.encode(), _MNT_DETACH) != 0:
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOENT):  # EINVAL: not a mount point
            raise OSError(err, os.strerror(err), path)


def _is_nsfs_mount(path: str) -> bool:
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            sep = parts.index("-")
            if parts[4] == path and parts[sep + 1] == "nsfs":
                return True
    return False


class NetNSManager:
    """Named network namespaces pinned under ``root``."""

    def __init__(self, root: str | Path = DEFAULT_ROOT) -> None:
        self.root = Path(root)

    def path(self, name: str) -> str:
        if not _NAME.fullmatch(name):
            raise ValueError(f"invalid network namespace name {name!r}")
        return str(self.root / name)

    async def create(self, name: str) -> str:
        """Create (or reuse, when already pinned) namespace ``name``; its path."""
        path = self.path(name)
        if os.path.exists(path) and _is_nsfs_mount(path):
            return path
        self.root.mkdir(parents=True, exist_ok=True)
        Path(path).touch()
        proc = await asyncio.create_subprocess_exec(
            "unshare", f"--net={path}", "true",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        _, err = await proc.communicate()
        if proc.returncode != 0:
            Path(path).unlink(missing_ok=True)
            raise OSError(f"unshare --net={path} failed: {err.decode(errors='replace').strip()}")
        return path

    async def delete(self, name: str) -> None:
        """Unpin and remove namespace ``name``; no error when it does not exist."""
        self.delete_path(self.path(name))

    def delete_path(self, path: str) -> None:
        _umount_detach(path)
        Path(path).unlink(missing_ok=True)

    def exists(self, name: str) -> bool:
        path = self.path(name)
        return os.path.exists(path) and _is_nsfs_mount(path)

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir())

    def delete_all(self) -> list[str]:
        """Remove every namespace under ``root`` (and ``root`` when empty); the names removed."""
        names = self.names()
        for n in names:
            self.delete_path(str(self.root / n))
        try:
            self.root.rmdir()
        except OSError:
            pass
        return names
