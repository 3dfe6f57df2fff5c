"""Memory-backed volume directories: tmpfs mounts (mount(2)) and their removal.

``mount_tmpfs(path, size)`` mounts a tmpfs (mode 1777, ``size=`` bytes when given) unless
*path* is a mount point already; ``unmount(path)`` is idempotent and falls back to a lazy
detach when the mount is busy. ``tmpfs_options`` is the pure option builder.
"""

from __future__ import annotations

import ctypes
import os

_MNT_DETACH = 2
_MS_NOSUID, _MS_NODEV = 2, 4


class MountError(OSError):
    pass


def _libc() -> ctypes.CDLL:
    # the process's own libc; find_library("c") would run ldconfig (~9 ms) on every call
    return ctypes.CDLL(None, use_errno=True)


def tmpfs_options(size: int | None) -> str:
    return "mode=1777" + (f",size={size}" if size else "")


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1:i + 4].isdigit() and len(field[i + 1:i + 4]) == 3:
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mount_points() -> set[str]:
    with open("/proc/self/mountinfo") as f:
        return {_unescape(line.split()[4]) for line in f if line.strip()}


def is_mount_point(path: str) -> bool:
    return os.path.realpath(path) in mount_points()


def mount_tmpfs(path: str, size: int | None = None) -> None:
    os.makedirs(path, exist_ok=True)
    if is_mount_point(path):
        return
    data = tmpfs_options(size).encode()
    if _libc().mount(b"tmpfs", path.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, data) != 0:
        err = ctypes.get_errno()
        raise MountError(err, f"mount tmpfs on {path}: {os.strerror(err)}")


def unmount(path: str) -> None:
    real = os.path.realpath(path)
    libc = _libc()
    while real in mount_points():   # stacked mounts: take them all off
        if libc.umount2(real.encode(), 0) != 0:
            err = ctypes.get_errno()
            if libc.umount2(real.encode(), _MNT_DETACH) != 0:
                err = ctypes.get_errno()
                raise MountError(err, f"umount {path}: {os.strerror(err)}")
