"""The atomic writer: path validation and write planning as tables, and the on-disk
layout (timestamped directory, ``..data`` swap, per-name symlinks) in tmp_path."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from kubepy.kubelet.volumes.atomic_writer import (AtomicWriteError, AtomicWriter, WritePlan,
                                                  plan_write, validate_path)
from kubepy.kubelet.volumes.projection import FileProjection

P = FileProjection


@pytest.mark.parametrize("path,message", [
    ("/abs", "invalid path: must be relative path: /abs"),
    ("..x", "invalid path: must not start with '..': ..x"),
    ("a/../b", "invalid path: must not contain '..': a/../b"),
    ("a/" + "n" * 256, "invalid path: filenames must be less than or equal to 255 characters"),
    ("a/" * 2049, "invalid path: must be less than or equal to 4096 characters"),
])
def test_validate_path_rejects(path: str, message: str) -> None:
    with pytest.raises(AtomicWriteError) as e:
        validate_path(path)
    assert str(e.value) == message


@pytest.mark.parametrize("path", ["a", "a/b/c", "a..b", ".hidden", "x/.y"])
def test_validate_path_accepts(path: str) -> None:
    validate_path(path)


@pytest.mark.parametrize("current,payload,links,plan", [
    pytest.param(None, {"a": P(b"1", 0o644)}, set(),
                 WritePlan(True, frozenset({"a"}), frozenset()), id="first-write"),
    pytest.param({"a": b"1"}, {"a": P(b"1", 0o600)}, {"a"},
                 WritePlan(False, frozenset(), frozenset()), id="same-bytes-no-write"),
    pytest.param({"a": b"1"}, {"a": P(b"2", 0o644)}, {"a"},
                 WritePlan(True, frozenset(), frozenset()), id="changed-bytes"),
    pytest.param({"a": b"1", "d/b": b"2"}, {"a": P(b"1", 0o644)}, {"a", "d"},
                 WritePlan(True, frozenset(), frozenset({"d"})), id="name-removed"),
    pytest.param({"a": b"1"}, {"a": P(b"1", 0o644)}, set(),
                 WritePlan(False, frozenset({"a"}), frozenset()), id="missing-link-repaired"),
    pytest.param({"a": b"1"}, {"a": P(b"1", 0o644)}, {"a", "stray"},
                 WritePlan(False, frozenset(), frozenset({"stray"})), id="stray-link-removed"),
    pytest.param({}, {}, set(), WritePlan(False, frozenset(), frozenset()), id="empty-stays-empty"),
    pytest.param(None, {}, set(), WritePlan(True, frozenset(), frozenset()), id="empty-first-write"),
])
def test_plan_write(current: dict[str, bytes] | None, payload: dict[str, FileProjection],
                    links: set[str], plan: WritePlan) -> None:
    assert plan_write(current, payload, links) == plan


def layout(root: Path) -> dict[str, str]:
    """name -> symlink target, or file content, for the top level of *root*."""
    out = {}
    for entry in sorted(os.listdir(root)):
        p = root / entry
        out[entry] = ("-> " + os.readlink(p)) if p.is_symlink() else ("dir" if p.is_dir() else p.read_text())
    return out


def test_write_update_and_remove(tmp_path: Path) -> None:
    times = iter([datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
                  datetime(2026, 1, 2, 3, 4, 6, tzinfo=timezone.utc)])
    w = AtomicWriter(str(tmp_path), now=lambda: next(times))
    assert w.write({"a": P(b"1", 0o600), "d/b": P(b"2", 0o644)})
    first = os.readlink(tmp_path / "..data")
    assert first.startswith("..2026_01_02_03_04_05.")
    top = layout(tmp_path)
    assert top == {first: "dir", "..data": "-> " + first, "a": "-> ..data/a", "d": "-> ..data/d"}
    assert (tmp_path / "a").read_bytes() == b"1" and (tmp_path / "d" / "b").read_bytes() == b"2"
    assert oct((tmp_path / first / "a").stat().st_mode & 0o7777) == oct(0o600)
    assert oct((tmp_path / first).stat().st_mode & 0o7777) == oct(0o755)

    # a reader holding the old directory open keeps reading old content until it re-resolves
    old_view = tmp_path / first / "a"
    assert not w.write({"a": P(b"1", 0o600), "d/b": P(b"2", 0o644)})   # nothing changed
    assert os.readlink(tmp_path / "..data") == first

    assert w.write({"a": P(b"one", 0o644), "c": P(b"3", 0o644)})
    second = os.readlink(tmp_path / "..data")
    assert second.startswith("..2026_01_02_03_04_06.") and second != first
    assert layout(tmp_path) == {second: "dir", "..data": "-> " + second, "a": "-> ..data/a",
                                "c": "-> ..data/c"}
    assert (tmp_path / "a").read_bytes() == b"one"
    assert not old_view.exists()        # the old timestamped directory is gone


def test_write_rejects_bad_path_without_touching(tmp_path: Path) -> None:
    w = AtomicWriter(str(tmp_path))
    w.write({"a": P(b"1", 0o644)})
    before = layout(tmp_path)
    with pytest.raises(AtomicWriteError):
        w.write({"a": P(b"2", 0o644), "../escape": P(b"x", 0o644)})
    assert layout(tmp_path) == before and (tmp_path / "a").read_bytes() == b"1"


def test_set_perms_hook_sees_new_dir_before_publication(tmp_path: Path) -> None:
    seen: list[tuple[str, str]] = []
    w = AtomicWriter(str(tmp_path))

    def hook(ts_dir: str) -> None:
        seen.append((os.path.basename(ts_dir), os.readlink(tmp_path / "..data")
                     if os.path.islink(tmp_path / "..data") else ""))
    w.write({"a": P(b"1", 0o644)}, hook)
    w.write({"a": P(b"2", 0o644)}, hook)
    (ts1, before1), (ts2, before2) = seen
    assert before1 == "" and before2 == ts1 and os.readlink(tmp_path / "..data") == ts2
