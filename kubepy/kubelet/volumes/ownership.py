"""fsGroup: the group ownership of a volume's files (``SetVolumeOwnership``).

Every file and directory under the volume gets the group *fs_group* (``lchown``); regular
files get group read (and write, for writable volumes) added to their mode, directories
also the set-group-id and execute bits; symlinks keep their mode. ``owned_mode`` is the
pure mode rule.
"""

from __future__ import annotations

import os
import stat

RW_MASK = 0o660
RO_MASK = 0o440
EXEC_MASK = 0o110


def owned_mode(mode: int, *, is_dir: bool, read_only: bool) -> int:
    mask = RO_MASK if read_only else RW_MASK
    if is_dir:
        mask |= stat.S_ISGID | EXEC_MASK
    return stat.S_IMODE(mode) | mask


def _own(path: str, fs_group: int, read_only: bool) -> None:
    st = os.lstat(path)
    os.lchown(path, -1, fs_group)
    if not stat.S_ISLNK(st.st_mode):
        os.chmod(path, owned_mode(st.st_mode, is_dir=stat.S_ISDIR(st.st_mode),
                                  read_only=read_only))


def set_volume_ownership(root: str, fs_group: int, *, read_only: bool) -> None:
    """Apply *fs_group* to *root* and everything under it (symlinks not followed)."""
    _own(root, fs_group, read_only)
    for dirpath, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            _own(os.path.join(dirpath, name), fs_group, read_only)
