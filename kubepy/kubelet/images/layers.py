"""Unpacking layer tars (plain, gzip or zstd) into directories, with whiteouts.

A layer is a tar of changes. ``.wh.<name>`` deletes ``<name>`` from the layers beneath and
``.wh..wh..opq`` in a directory hides everything beneath that directory (OCI image spec,
"Representing Changes"). Two targets:

- ``overlay`` (a layer of its own, later an overlayfs lowerdir): whiteouts become what
  overlayfs understands — a 0/0 character device for a deleted name, the xattr
  ``trusted.overlay.opaque=y`` for an opaque directory.
- ``flat`` (applied on top of the layers beneath in one directory): whiteouts delete.

Safety: member names are made relative and may not leave the target (``..``, absolute paths,
writes through symlinks in the target, hard links to outside); device nodes and ownership are
kept, which needs root. ``whiteout_action`` and ``safe_member_path`` are the pure parts.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import stat
import tarfile
from pathlib import Path
from typing import IO, Literal

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
OVERLAY_OPAQUE_XATTR = "trusted.overlay.opaque"

Mode = Literal["overlay", "flat"]


class LayerError(ValueError):
    """A layer that cannot be unpacked safely, or whose content does not match its digest."""


def safe_member_path(name: str) -> str:
    """The normalised relative path of a tar member; raises LayerError when it escapes.

    ``./a//b/`` -> ``a/b``; ``/etc/x`` -> ``etc/x`` (tars with absolute names are read
    relative to the root, as Docker does); ``a/../../x`` is refused; the root itself is ``""``.
    """
    parts: list[str] = []
    for part in name.replace("\\", "/").split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise LayerError(f"path escapes the layer: {name!r}")
            parts.pop()
            continue
        parts.append(part)
    return "/".join(parts)


def whiteout_action(path: str) -> tuple[str, str]:
    """Classify a normalised member path: ("opaque", dir), ("whiteout", deleted path) or ("file", path)."""
    head, _, base = path.rpartition("/")
    if base == OPAQUE_MARKER:
        return "opaque", head
    if base.startswith(WHITEOUT_PREFIX):
        target = base[len(WHITEOUT_PREFIX):]
        if not target or target in (".", ".."):
            raise LayerError(f"invalid whiteout {path!r}")
        return "whiteout", f"{head}/{target}" if head else target
    return "file", path


class _HashingReader:
    """A read-only stream that hashes what passes through (the uncompressed diff_id)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.hash = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.hash.update(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        while self.read(1 << 20):
            pass

    @property
    def digest(self) -> str:
        return "sha256:" + self.hash.hexdigest()


def _decompressed(raw: IO[bytes], compression: str) -> IO[bytes]:
    if compression == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if compression == "zstd":
        try:
            import zstandard  # type: ignore[import-not-found]
        except ImportError as e:
            raise LayerError("zstd-compressed layers need the zstandard package") from e
        return zstandard.ZstdDecompressor().stream_reader(raw)  # type: ignore[no-any-return]
    if compression == "none":
        return raw
    raise LayerError(f"unknown compression {compression!r}")


def detect_compression(path: Path) -> str:
    """``gzip``, ``zstd`` or ``none`` from a blob's magic bytes."""
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic[:2] == b"\x1f\x8b":
        return "gzip"
    if magic == b"\x28\xb5\x2f\xfd":
        return "zstd"
    return "none"


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _check_parents(root: Path, rel: str) -> Path:
    """root/rel, refusing when a parent component inside root is a symlink (a write would escape)."""
    current = root
    parts = rel.split("/")
    for part in parts[:-1]:
        current = current / part
        if current.is_symlink():
            raise LayerError(f"refusing to write through symlink {current.relative_to(root)}")
        if not current.exists():
            current.mkdir(mode=0o755)
    return root / rel


def _apply_metadata(target: Path, member: tarfile.TarInfo, *, as_root: bool) -> None:
    if as_root:
        os.lchown(target, member.uid, member.gid)
    if not member.issym():
        os.chmod(target, member.mode & 0o7777)
    for key, value in member.pax_headers.items():
        if key.startswith("SCHILY.xattr."):
            try:
                os.setxattr(target, key[len("SCHILY.xattr."):], value.encode("utf-8", "surrogateescape"),
                            follow_symlinks=False)
            except OSError:
                pass
    os.utime(target, (member.mtime, member.mtime), follow_symlinks=False)


def _clear_opaque(directory: Path, written: set[Path]) -> None:
    if not directory.is_dir():
        return
    for child in directory.iterdir():
        if child not in written:
            _remove(child)


def unpack_layer(blob: Path, target: Path, *, compression: str | None = None,
                 mode: Mode = "overlay") -> tuple[str, int]:
    """Unpack the layer ``blob`` into ``target``; returns (diff_id, uncompressed size)."""
    as_root = os.geteuid() == 0
    target.mkdir(parents=True, exist_ok=True)
    written: set[Path] = set()
    directories: list[tuple[Path, tarfile.TarInfo]] = []
    with open(blob, "rb") as raw:
        reader = _HashingReader(_decompressed(raw, compression or detect_compression(blob)))
        try:
            with tarfile.open(fileobj=reader, mode="r|") as tar:  # type: ignore[call-overload]
                for member in tar:
                    _unpack_member(tar, member, target, mode, written, directories, as_root=as_root)
        except (tarfile.TarError, EOFError, OSError) as e:
            if isinstance(e, LayerError):
                raise
            raise LayerError(f"bad layer {blob.name}: {e}") from e
        reader.drain()
    for path, member in reversed(directories):
        _apply_metadata(path, member, as_root=as_root)
    return reader.digest, reader.size


def _unpack_member(tar: tarfile.TarFile, member: tarfile.TarInfo, root: Path, mode: Mode,
                   written: set[Path], directories: list[tuple[Path, tarfile.TarInfo]], *, as_root: bool) -> None:
    rel = safe_member_path(member.name)
    if not rel:
        if member.isdir():
            directories.append((root, member))
        return
    action, path = whiteout_action(rel)
    if action == "opaque":
        directory = _check_parents(root, f"{path}/x").parent if path else root
        if mode == "overlay":
            directory.mkdir(exist_ok=True)
            os.setxattr(directory, OVERLAY_OPAQUE_XATTR, b"y")
        else:
            _clear_opaque(directory, written)
        return
    target = _check_parents(root, path)
    if action == "whiteout":
        _remove(target)
        if mode == "overlay":
            os.mknod(target, stat.S_IFCHR | 0o000, os.makedev(0, 0))
        return
    if member.isdir():
        if target.is_symlink() or (target.exists() and not target.is_dir()):
            _remove(target)
        target.mkdir(exist_ok=True)
        directories.append((target, member))
        written.add(target)
        return
    _remove(target)
    if member.isreg():
        source = tar.extractfile(member)
        assert source is not None
        with open(target, "wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)
    elif member.issym():
        os.symlink(member.linkname, target)
    elif member.islnk():
        link_rel = safe_member_path(member.linkname)
        source_path = root / link_rel
        real_root = os.path.realpath(root)
        inside = os.path.commonpath([os.path.realpath(source_path.parent), real_root]) == real_root
        if not link_rel or not inside or not (source_path.exists() or source_path.is_symlink()):
            raise LayerError(f"hard link {rel} to missing or outside {member.linkname!r}")
        os.link(source_path, target, follow_symlinks=False)
        written.add(target)
        return
    elif member.ischr() or member.isblk() or member.isfifo():
        kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK if member.isblk() else stat.S_IFIFO
        os.mknod(target, kind | (member.mode & 0o7777), os.makedev(member.devmajor, member.devminor))
    else:
        return  # sockets and unknown types are skipped, as Docker does
    written.add(target)
    _apply_metadata(target, member, as_root=as_root)
