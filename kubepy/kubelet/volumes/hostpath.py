"""hostPath volumes: the type checks of pkg/volume/hostpath (``checkType``).

``check_type(path, type)`` creates the path for ``DirectoryOrCreate`` (0755, parents
included) and ``FileOrCreate`` (0644, an empty file; its directory must exist), then checks what is there against the type;
``""`` checks nothing. Messages are the kubelet's (``hostPath type check failed: /p is not
a directory``). ``type_error`` is the pure part: the message for what a ``stat`` found.
"""

from __future__ import annotations

import os
import stat

TYPES = ("", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice",
         "BlockDevice")
_WANTED = {"Directory": (stat.S_ISDIR, "a directory"), "File": (stat.S_ISREG, "a file"),
           "Socket": (stat.S_ISSOCK, "a socket file"),
           "CharDevice": (stat.S_ISCHR, "a character device"),
           "BlockDevice": (stat.S_ISBLK, "a block device")}


class HostPathError(ValueError):
    pass


def validate_host_path(path: str) -> None:
    if ".." in path.split("/"):
        raise HostPathError(f"invalid HostPath `{path}`: must not contain '..'")


def type_error(path: str, path_type: str, mode: int | None) -> str | None:
    """The failure for *path* of *path_type* whose ``st_mode`` is *mode* (None: missing);
    None when it passes. ``...OrCreate`` types are checked as their plain type."""
    if path_type not in TYPES:
        return f"{path_type} is an invalid volume type"
    if path_type == "":
        return None
    check, what = _WANTED[path_type.removesuffix("OrCreate")]
    if path_type == "Socket" and mode is None:
        return f'path "{path}" does not exist'
    if mode is None or not check(mode):
        return f"hostPath type check failed: {path} is not {what}"
    return None


def _mode(path: str) -> int | None:
    try:
        return os.stat(path).st_mode
    except FileNotFoundError:
        return None


def check_type(path: str, path_type: str) -> None:
    """Create (for ``...OrCreate``) and check *path*; raises HostPathError."""
    validate_host_path(path)
    if path_type == "DirectoryOrCreate" and not os.path.lexists(path):
        os.makedirs(path, exist_ok=True)
        os.chmod(path, 0o755)
    elif path_type == "FileOrCreate" and not os.path.lexists(path):
        try:   # as the kubelet: the parent directory is not created
            fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o644)
        except OSError as e:
            raise HostPathError(f"open {path}: {os.strerror(e.errno or 0).lower()}") from e
        os.close(fd)
        os.chmod(path, 0o644)
    message = type_error(path, path_type, _mode(path))
    if message is not None:
        raise HostPathError(message)
