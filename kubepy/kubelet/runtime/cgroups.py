"""The cgroup files the runtime reads or removes itself. I/O.

runc creates and removes a container's own cgroup (``cgroupsPath``); the parents above it
(``<parent>/pod<uid>``) are created by runc but removed by nobody else, so ``remove_cgroup``
removes them once empty. Works on cgroup v1 (one hierarchy per controller, the v1 memory
controller's ``memory.oom_control``), the hybrid layout (v1 plus ``unified``) and v2
(``memory.events``).

OOM: a container killed by the OOM killer is recognised by the ``oom_kill`` counter of its
memory cgroup, which must be read after the container exits and before ``runc delete``
removes the cgroup.
"""

from __future__ import annotations

import os

CGROUP_ROOT = "/sys/fs/cgroup"


def is_unified(root: str = CGROUP_ROOT) -> bool:
    return os.path.exists(os.path.join(root, "cgroup.controllers"))


def hierarchies(root: str = CGROUP_ROOT) -> list[str]:
    """The mounted hierarchies: the root itself on v2, each v1 controller directory (and
    ``unified``) otherwise."""
    if is_unified(root):
        return [root]
    return sorted(os.path.join(root, d) for d in os.listdir(root)
                  if os.path.isdir(os.path.join(root, d))
                  and not os.path.islink(os.path.join(root, d)))


def _counter(path: str, key: str) -> int | None:
    try:
        with open(path) as f:
            for line in f:
                name, _, value = line.partition(" ")
                if name == key:
                    return int(value)
    except OSError:
        return None
    return None


def oom_kill_count(cgroups_path: str, root: str = CGROUP_ROOT) -> int:
    """How many processes of the cgroup the OOM killer has killed (0 if unknown)."""
    rel = cgroups_path.strip("/")
    if is_unified(root):
        found = _counter(os.path.join(root, rel, "memory.events"), "oom_kill")
    else:
        found = _counter(os.path.join(root, "memory", rel, "memory.oom_control"), "oom_kill")
    return found or 0


def remove_cgroup(cgroups_path: str, root: str = CGROUP_ROOT) -> list[str]:
    """Remove the cgroup and its descendants in every hierarchy, deepest first; returns the
    directories that could not be removed (still holding processes)."""
    rel = cgroups_path.strip("/")
    if not rel:
        raise ValueError("refusing to remove the root cgroup")
    left: list[str] = []
    for top in hierarchies(root):
        base = os.path.join(top, rel)
        if not os.path.isdir(base):
            continue
        for dirpath, _dirs, _files in sorted(os.walk(base), key=lambda t: -len(t[0])):
            try:
                os.rmdir(dirpath)
            except OSError:
                left.append(dirpath)
    return left


def existing(cgroups_path: str, root: str = CGROUP_ROOT) -> list[str]:
    """The hierarchies in which the cgroup exists."""
    rel = cgroups_path.strip("/")
    return [os.path.join(t, rel) for t in hierarchies(root) if os.path.isdir(os.path.join(t, rel))]
