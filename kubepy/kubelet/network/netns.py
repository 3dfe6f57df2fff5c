"""Persistent network namespaces for pod sandboxes.

A pod's network namespace is created before its infra container, so CNI can wire it up first
and runc can then join it by path (``linux.namespaces: [{"type": "network", "path": ...}]``),
as CRI runtimes do. The namespace is kept alive by a bind mount of its nsfs inode onto a file
in a kubepy-owned directory (default ``/run/kubepy/netns``; tests use a temp dir), made as
util-linux's ``unshare --net=FILE`` does it, but in-process: a thread of its own calls
``unshare(CLONE_NEWNET)`` (which moves only that thread) and bind-mounts its
``/proc/self/task/<tid>/ns/net`` onto the file, then ends, so no other thread ever runs in
the new namespace. That saves an exec per pod. We deliberately do not use ``ip netns add``:
that also turns ``/run/netns`` into a shared bind mount of itself which would outlive kubepy.
``nsenter --net=PATH`` (or ``ip netns exec`` after linking the file into ``/run/netns``) runs
commands inside one.

``loopback_up(path)`` brings ``lo`` up inside a namespace (what CNI's ``loopback`` plugin
does on ADD) the same way: ``setns`` in a thread of its own, one ``SIOCSIFFLAGS`` ioctl.

Deleting unmounts (lazily, so an open handle cannot make it fail) and removes the file; the
namespace itself disappears when its last process exits.
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import fcntl
import os
import re
import socket
import struct
import threading
from pathlib import Path
from typing import Callable, TypeVar

DEFAULT_ROOT = "/run/kubepy/netns"
_MNT_DETACH = 2
_MS_BIND = 4096
_CLONE_NEWNET = 0x40000000
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,250}")
T = TypeVar("T")


def _libc() -> ctypes.CDLL:
    # the symbols of the running process (libc among them): ctypes.util.find_library runs
    # ``ldconfig -p`` (and more) in a blocking subprocess, about 9 ms a call
    return ctypes.CDLL(None, use_errno=True)


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


async def in_own_thread(fn: Callable[[], T]) -> T:
    """Run *fn* in a new thread that ends with it: namespace changes (``unshare``,
    ``setns``) made by *fn* die with the thread and never reach a pooled or the loop's
    thread."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[T] = loop.create_future()

    def deliver(ok: bool, value: object) -> None:
        if fut.done():
            return
        if ok:
            fut.set_result(value)  # type: ignore[arg-type]
        else:
            fut.set_exception(value)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result: object = fn()
            ok = True
        except BaseException as e:  # noqa: BLE001 - handed to the awaiting coroutine
            result, ok = e, False
        loop.call_soon_threadsafe(deliver, ok, result)

    threading.Thread(target=run, name="kubepy-netns", daemon=True).start()
    return await fut


def _set_lo_up() -> None:
    """``ip link set lo up`` in the calling thread's network namespace."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(s.fileno(), _SIOCGIFFLAGS, req))[1]
        if not flags & _IFF_UP:
            fcntl.ioctl(s.fileno(), _SIOCSIFFLAGS, struct.pack("16sH", b"lo", flags | _IFF_UP))


def _pin_new_netns(path: str) -> None:
    """In a thread of its own: a new network namespace bind-mounted onto *path*, lo up."""
    libc = _libc()
    _check(libc.unshare(_CLONE_NEWNET), "unshare(CLONE_NEWNET)")
    own = f"/proc/self/task/{threading.get_native_id()}/ns/net"
    _check(libc.mount(own.encode(), path.encode(), None, _MS_BIND, None),
           f"bind mount of the new network namespace on {path}")
    _set_lo_up()


def _lo_up_in(path: str) -> None:
    """In a thread of its own: enter the namespace at *path* and bring lo up."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _check(_libc().setns(fd, _CLONE_NEWNET), f"setns({path})")
    finally:
        os.close(fd)
    _set_lo_up()


async def loopback_up(path: str) -> None:
    """Bring ``lo`` up in the network namespace pinned at *path* (CNI's loopback ADD);
    raises OSError."""
    await in_own_thread(lambda: _lo_up_in(path))


def sandbox_netns_name(pod_uid: str) -> str:
    """The namespace name of a pod's sandbox."""
    return f"kubepy-{pod_uid}"


def _umount_detach(path: str) -> None:
    libc = _libc()
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
        """Create (or reuse, when already pinned) namespace ``name``, its loopback up; its
        path. Raises OSError (nothing left behind)."""
        path = self.path(name)
        if os.path.exists(path) and _is_nsfs_mount(path):
            return path
        self.root.mkdir(parents=True, exist_ok=True)
        Path(path).touch()
        try:
            await in_own_thread(lambda: _pin_new_netns(path))
        except OSError:
            self.delete_path(path)
            raise
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
