"""Runc bundles over a busybox rootfs, for the e2e tests that drive runc and conmon directly
(without the kubelet's image store and overlay mounts).

- ``busybox_rootfs``: a plain directory tree: busybox-static, a symlink in /bin per applet
  (``tests.images.busybox_applets``), /etc/passwd and /etc/group as the test asks;
- ``sh_container``: a container of the busybox image running a shell script;
- ``container_bundle``: a container's bundle, ``<bundles_dir>/<container id>/config.json``
  from ``container_spec`` over that rootfs, its users from the rootfs' /etc/passwd, joining
  the namespaces of *sandbox* when one is given;
- ``remove_runc_containers``: the safety net of a test's own runc root, every container
  killed and force-deleted.

Everything is written below the paths the caller passes; the caller removes it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Collection, Iterable

from kubepy.kubelet.runtime.bundle import write_bundle
from kubepy.kubelet.runtime.runc import Runc, RuncError, oom_score_adj_floor, stop
from kubepy.kubelet.runtime.sandbox import Sandbox
from kubepy.kubelet.runtime.spec import container_spec
from tests.images import BUSYBOX, GROUP, PASSWD, busybox_applets

Obj = dict[str, Any]
ROOT_PASSWD = "root:x:0:0:root:/root:/bin/sh\n"   # root only


def busybox_rootfs(path: str, *, dirs: Iterable[str] = ("bin", "etc", "tmp"),
                   passwd: str = PASSWD, group: str | None = GROUP) -> str:
    """Make *path* (it must not exist) a container rootfs: *dirs* (mode 0755; they must hold
    ``bin`` and ``etc``), /bin/busybox with every applet linked beside it, /etc/passwd and,
    unless None, /etc/group. Returns *path*."""
    for d in dirs:
        os.makedirs(os.path.join(path, d))
    shutil.copy2(BUSYBOX, os.path.join(path, "bin", "busybox"))
    for name in busybox_applets():
        if name != "busybox":
            os.symlink("busybox", os.path.join(path, "bin", name))
    Path(path, "etc", "passwd").write_text(passwd)
    if group is not None:
        Path(path, "etc", "group").write_text(group)
    return path


def sh_container(name: str, script: str, **extra: Any) -> Obj:
    """A container *name* of image ``busybox`` running ``/bin/sh -c <script>``, with the
    other fields of *extra*."""
    return {"name": name, "image": "busybox", "command": ["/bin/sh", "-c", script], **extra}


def container_bundle(bundles_dir: str | Path, pod: Obj, container: Obj, *, rootfs: str,
                     cgroup_parent: str, sandbox: Sandbox | None = None,
                     container_id: str | None = None, tty: bool = False,
                     exist_ok: bool = False) -> tuple[str, str, Obj]:
    """Write the bundle of *container* of *pod* at ``bundles_dir/<id>`` (the id defaults to
    ``<pod uid>-<container name>``; an existing dir is an error unless *exist_ok*), in
    *sandbox*'s namespaces when given, with a terminal when *tty*. Returns (container id,
    bundle dir, spec)."""
    cid = container_id or f"{pod['metadata']['uid']}-{container['name']}"
    bundle = os.path.join(str(bundles_dir), cid)
    os.makedirs(bundle, exist_ok=exist_ok)
    spec = container_spec(pod, container, container_id=cid,
                          sandbox_id=sandbox.id if sandbox else "",
                          sandbox_pid=sandbox.pid if sandbox else None,
                          rootfs=rootfs, cgroup_parent=cgroup_parent,
                          oom_score_adj_floor=oom_score_adj_floor(),
                          passwd=Path(rootfs, "etc", "passwd").read_text())
    spec["process"]["terminal"] = tty
    write_bundle(bundle, spec)
    return cid, bundle, spec


async def remove_runc_containers(runc: Runc, *, keep: Collection[str] = ()) -> list[str]:
    """Kill (SIGKILL at once) and force-delete every container of *runc*'s root but those
    whose ids are in *keep*; the deletes that failed, as problems to report."""
    problems: list[str] = []
    for state in await runc.list():
        if state.id in keep:
            continue
        if state.pid > 0 and state.status != "stopped":
            # a stopped container has no process (runc reports pid 0): only delete it
            await stop(runc, state.id, state.pid, grace=0)
        try:
            await runc.delete(state.id, force=True)
        except RuncError as e:
            problems.append(str(e))
    return problems
