"""OCI bundle directories: ``config.json`` beside (or pointing at) the rootfs. I/O.

A bundle is ``<dir>/config.json``; ``root.path`` in the spec is either relative to the
bundle (``rootfs`` — a directory or an overlay mount prepared by the image layer) or
absolute. ``config.json`` is written atomically (temporary file + rename).
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Any


def write_bundle(bundle_dir: str, spec: dict[str, Any]) -> str:
    """Create *bundle_dir* if needed and write its config.json; returns *bundle_dir*."""
    os.makedirs(bundle_dir, exist_ok=True)
    path = os.path.join(bundle_dir, "config.json")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(spec, f, indent=1)
    os.replace(tmp, path)
    return bundle_dir


def read_spec(bundle_dir: str) -> dict[str, Any]:
    with open(os.path.join(bundle_dir, "config.json")) as f:
        spec: dict[str, Any] = json.load(f)
    return spec


def mounts_under(path: str) -> list[str]:
    """Mount points at or below *path* (from /proc/self/mountinfo)."""
    path = os.path.realpath(path)
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].encode().decode("unicode_escape")
            if point == path or point.startswith(path + "/"):
                found.append(point)
    return found


def remove_bundle(bundle_dir: str) -> None:
    """Remove the bundle directory; refuses (OSError) while anything is mounted inside it, so
    an overlay rootfs is never emptied through its mount."""
    if not os.path.exists(bundle_dir):
        return
    mounted = mounts_under(bundle_dir)
    if mounted:
        raise OSError(f"{bundle_dir}: still mounted: {', '.join(mounted)}")
    shutil.rmtree(bundle_dir)
