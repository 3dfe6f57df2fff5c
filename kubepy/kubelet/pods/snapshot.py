"""A container's root filesystem: an overlayfs mount of the image's unpacked layers with a
writable upper directory of its own. I/O (mount(2)), plus the pure option builder.

Layout of a snapshot directory (inside the container's bundle)::

    <dir>/upper/    the container's writes (discarded with the snapshot)
    <dir>/work/     overlayfs's work directory (same filesystem as upper/)
    <dir>/rootfs/   the mount point, the bundle's ``root.path``

The image lists its layers bottom first; overlayfs wants ``lowerdir`` top first. An image with
no layers gets an empty lower directory. The mount options must fit in one page (4096 bytes);
images with more layers than that allows are refused (``SnapshotError``) rather than half
mounted. ``unmount`` is idempotent, so cleanup after a crash can call it blindly.
"""

from __future__ import annotations

import ctypes
import errno
import os
from typing import Sequence

MAX_OPTIONS = 4095
_MNT_DETACH = 2


class SnapshotError(OSError):
    """The rootfs could not be mounted or unmounted."""


def overlay_options(lower_dirs_bottom_first: Sequence[str], upper: str, work: str) -> str:
    """The overlayfs mount data; raises SnapshotError when it is too long or a path cannot
    be expressed (``:`` and ``,`` separate the options)."""
    if not lower_dirs_bottom_first:
        raise SnapshotError("overlay needs at least one lower directory")
    for path in [*lower_dirs_bottom_first, upper, work]:
        if any(c in path for c in ":,\n"):
            raise SnapshotError(f"path not usable in overlay options: {path!r}")
    lower = ":".join(reversed(list(lower_dirs_bottom_first)))
    data = f"lowerdir={lower},upperdir={upper},workdir={work}"
    if len(data) > MAX_OPTIONS:
        raise SnapshotError(f"overlay options too long ({len(data)} bytes, "
                            f"{len(lower_dirs_bottom_first)} layers)")
    return data


def _libc() -> ctypes.CDLL:
    # the process's own libc; find_library("c") would run ldconfig (~9 ms) on every call
    return ctypes.CDLL(None, use_errno=True)


def is_mounted(path: str) -> bool:
    path = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def mount_rootfs(snapshot_dir: str, lower_dirs_bottom_first: Sequence[str]) -> str:
    """Create the snapshot's directories and mount its rootfs; returns the rootfs path.
    Mounting an already mounted snapshot is a no-op."""
    upper, work, rootfs = (os.path.join(snapshot_dir, d) for d in ("upper", "work", "rootfs"))
    lowers = list(lower_dirs_bottom_first)
    if not lowers:
        lowers = [os.path.join(snapshot_dir, "empty")]
    for d in (upper, work, rootfs, *([lowers[0]] if not lower_dirs_bottom_first else [])):
        os.makedirs(d, exist_ok=True)
    if is_mounted(rootfs):
        return rootfs
    data = overlay_options(lowers, upper, work)
    if _libc().mount(b"overlay", rootfs.encode(), b"overlay", 0, data.encode()) != 0:
        err = ctypes.get_errno()
        raise SnapshotError(err, f"mount overlay on {rootfs}: {os.strerror(err)}")
    return rootfs


def unmount(rootfs: str) -> None:
    """Unmount *rootfs* (lazily when busy); nothing to do when it is not mounted."""
    if not os.path.exists(rootfs) or not is_mounted(rootfs):
        return
    libc = _libc()
    if libc.umount2(rootfs.encode(), 0) == 0:
        return
    err = ctypes.get_errno()
    if err == errno.EBUSY:
        if libc.umount2(rootfs.encode(), _MNT_DETACH) == 0:
            return
        err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOENT):
        return
    raise SnapshotError(err, f"umount {rootfs}: {os.strerror(err)}")
