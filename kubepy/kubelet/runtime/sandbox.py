"""The pod sandbox: an infra container that holds the pod's namespaces. I/O.

The sandbox is itself a runc container whose rootfs is a tiny directory the runtime prepares
once per node (``prepare_pause_rootfs``: Debian's statically linked busybox as
``/bin/busybox`` plus empty mount points) and shares, read-only, between all sandboxes. Its
process (``spec.PAUSE_ARGS``) is a shell that sleeps forever and exits 0 on SIGTERM; as PID 1
of the pod's PID namespace it also reaps orphans when ``shareProcessNamespace`` puts the
containers' processes there. It creates the network, IPC and UTS (and PID) namespaces the pod
does not take from the host; the pod's containers join them through
``/proc/<sandbox pid>/ns/{net,ipc,uts,pid}`` (``spec.container_spec(sandbox_pid=...)``), and
CNI configures ``Sandbox.netns_path``. The namespaces live as long as some process is in
them, so the sandbox is stopped last.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from typing import Any, Iterable

from kubepy.kubelet.runtime.bundle import remove_bundle, write_bundle
from kubepy.kubelet.runtime.runc import Runc, stop
from kubepy.kubelet.runtime.spec import sandbox_spec

Obj = dict[str, Any]

BUSYBOX = "/bin/busybox"
PAUSE_DIRS = ("bin", "dev", "proc", "sys", "etc", "tmp")


def prepare_pause_rootfs(path: str, *, busybox: str = BUSYBOX) -> str:
    """Create (or refresh) the shared sandbox rootfs at *path*; returns *path*."""
    if not os.path.exists(busybox):
        raise FileNotFoundError(f"{busybox} not found (Debian package busybox-static)")
    for d in PAUSE_DIRS:
        os.makedirs(os.path.join(path, d), exist_ok=True)
    target = os.path.join(path, "bin", "busybox")
    if not os.path.exists(target) or os.path.getsize(target) != os.path.getsize(busybox):
        shutil.copy2(busybox, target + ".tmp")
        os.replace(target + ".tmp", target)
    return path


@dataclass(frozen=True)
class Sandbox:
    id: str
    pid: int
    bundle: str
    cgroups_path: str

    @property
    def netns_path(self) -> str:
        return f"/proc/{self.pid}/ns/net"


async def run_sandbox(runc: Runc, pod: Obj, *, sandbox_id: str, bundle_dir: str,
                      pause_rootfs: str, cgroup_parent: str,
                      mounts: Iterable[Obj] = (), oom_score_adj_floor: int = -1000) -> Sandbox:
    """Create and start the pod's sandbox container; its output goes to
    ``<bundle>/sandbox.log``. On failure nothing is left behind."""
    spec = sandbox_spec(pod, sandbox_id=sandbox_id, rootfs=os.path.abspath(pause_rootfs),
                        cgroup_parent=cgroup_parent, mounts=mounts,
                        oom_score_adj_floor=oom_score_adj_floor)
    write_bundle(bundle_dir, spec)
    log = os.path.join(bundle_dir, "sandbox.log")
    try:
        pid = await runc.create(sandbox_id, bundle_dir, stdout_path=log, stderr_path=log)
        await runc.start(sandbox_id)
    except BaseException:
        try:
            await runc.delete(sandbox_id, force=True)
        except Exception:
            pass
        remove_bundle(bundle_dir)
        raise
    return Sandbox(sandbox_id, pid, bundle_dir, spec["linux"]["cgroupsPath"])


async def stop_sandbox(runc: Runc, sandbox: Sandbox) -> None:
    """Kill the sandbox at once, reap it when it is our child (``ExitWatcher``), delete it
    from runc and remove its bundle."""
    await stop(runc, sandbox.id, sandbox.pid, grace=0)
    try:
        os.waitpid(sandbox.pid, os.WNOHANG)
    except ChildProcessError:
        pass
    await runc.delete(sandbox.id, force=True)
    remove_bundle(sandbox.bundle)
