"""Running one pod with real containers: ``PodRuntime``. I/O.

The agent's sync loop drives it step by step: ``start_sandbox(pod, volumes=...)`` does what
the kubelet's pod worker and a CRI runtime do before any container runs:

1. pins a network namespace (``NetNSManager``) and attaches it to the node network with CNI
   (``PodNetwork.setup``), unless the pod uses the host network;
2. writes ``etc-hosts``, ``etc-hostname`` and ``resolv.conf`` into the pod directory
   (``files``); the volumes come from the VolumeManager (``volumes``: name -> host path;
   without it only emptyDir volumes are made here);
3. starts the sandbox (infra) container with runc, which joins the pinned network namespace
   and creates the IPC, UTS (and PID) namespaces the containers then join.

Then ``start_container(state, name, init=...)`` (re)starts one container (the instance
before becomes ``last`` and counts as a restart) and ``kill_container`` stops one.
``start_pod`` runs the whole pod at once (init containers to completion, then the app
containers) for callers without a sync loop.

Every container gets an overlayfs rootfs over its image's layers (``snapshot``), a bundle
with the generated ``config.json`` (``runtime.spec.container_spec``, its environment from
the ``env`` resolver) and runs under conmon (``ConmonRunner``, when given; else as a direct
runc child): its output goes to ``<data_dir>/logs/<namespace>_<name>_<uid>/<container>/
<restartCount>.log`` in the CRI log format, its exit code to conmon's exit file. A task per
container waits for the exit, records it (exit code, OOM kill, termination message), then
removes the container and unmounts and removes the bundle: an exited container leaves only
its record and its log. The records, the sandbox and the instances are checkpointed in
``runtime.json`` after every change, so that ``recover`` in a later process takes the pods
over (see ``checkpoint``).

``stop_pod(uid, grace)`` SIGTERMs the running containers, SIGKILLs them after *grace*
seconds, then stops the sandbox, tears the network down, unpins the namespace, unmounts every
rootfs, removes the bundles and the pod's cgroups. The pod directory (logs, volumes) stays
until ``remove_pod``. Both are safe to call on a half-started pod; a stop during a start makes
the start stop at the next step.

On disk, under ``data_dir``::

    pause/                         the shared sandbox rootfs (busybox-static)
    pods/<uid>/pod.json            the pod as started
    pods/<uid>/runtime.json        the checkpoint (sandbox, records, instances, volumes)
    pods/<uid>/etc-hosts, etc-hostname, resolv.conf
    pods/<uid>/volumes/<plugin>/<name>/
    pods/<uid>/sandbox/            the sandbox bundle
    pods/<uid>/containers/<id>/    a container bundle: config.json, rootfs/ (the overlay
                                   mount), upper/, work/, termination-log
    logs/<namespace>_<name>_<uid>/<container>/<n>.log
"""

from __future__ import annotations

import asyncio
import glob
import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping

from kubepy.kubelet.images.pull import PullAction, default_pull_policy, never_pull_message, \
    pull_action
from kubepy.kubelet.images.store import Image, ImageStore
from kubepy.kubelet.network import CNIError, NetNSManager, PodNetwork, port_mappings, \
    sandbox_netns_name
from kubepy.kubelet.pods import checkpoint, crilog, files, snapshot
from kubepy.kubelet.pods.mounts import container_mounts, volume_dirs
from kubepy.kubelet.volumes.manager import read_only_volumes
from kubepy.kubelet.pods.status import ContainerPhase, ContainerRecord, container_statuses, \
    initialized, pod_phase, rfc3339
from kubepy.kubelet.runtime import cgroups
from kubepy.kubelet.runtime.bundle import remove_bundle, write_bundle
from kubepy.kubelet.runtime.env import ContainerConfigError, container_env
from kubepy.kubelet.runtime.conmon import ConmonRunner
from kubepy.kubelet.runtime.runc import ContainerNotFound, ExitWatcher, Runc, RuncError, \
    oom_score_adj_floor, stop, wait_pid
from kubepy.kubelet.runtime.sandbox import BUSYBOX, Sandbox, prepare_pause_rootfs
from kubepy.kubelet.runtime.spec import container_spec, sandbox_spec

Obj = dict[str, Any]
Puller = Callable[[str, Obj], Awaitable[Image]]   # (image, pod): the pod's pull secrets apply
Recorder = Callable[[Obj, str, str, str], None]   # (pod, type, reason, message): an Event
# (pod, container, pod IP) -> the container's final environment; raises ContainerConfigError
EnvResolver = Callable[[Obj, Obj, str], Awaitable[list[tuple[str, str]]]]

TERMINATION_MESSAGE_LIMIT = 4096
CHECKPOINT = "runtime.json"
EXIT_WAIT = 15.0


class PodStartError(Exception):
    """The pod's sandbox or network could not be set up (the pod was cleaned up again)."""


class PodStopError(Exception):
    """Stopping finished, but something could not be removed (the message lists what);
    ``kubepy killall``-style cleanup can still remove it."""


def image_config_for_spec(config: Mapping[str, Any]) -> Obj:
    """The image store's parsed config in the Docker field names ``container_spec`` reads."""
    return {"Entrypoint": config.get("entrypoint") or None, "Cmd": config.get("cmd") or None,
            "Env": config.get("env") or [], "WorkingDir": config.get("working_dir") or "",
            "User": config.get("user") or ""}


@dataclass
class _Instance:
    """A created container: what is needed to stop it and clean it up."""

    container_id: str
    pid: int
    bundle: str
    cgroups_path: str
    exited: "asyncio.Task[None]"
    name: str = ""
    init: bool = False


@dataclass
class PodState:
    pod: Obj
    pod_dir: str
    started_at: float
    netns_path: str | None = None
    pod_ips: list[str] = field(default_factory=list)
    host_ip: str = ""
    sandbox: Sandbox | None = None
    sandbox_exit: "asyncio.Task[int | None] | None" = None
    init_containers: dict[str, ContainerRecord] = field(default_factory=dict)
    containers: dict[str, ContainerRecord] = field(default_factory=dict)
    instances: dict[str, _Instance] = field(default_factory=dict)
    stopping: bool = False
    volumes: dict[str, str] | None = None   # VolumeManager.setup's answer (None: emptyDir only)
    failure: tuple[str, str] | None = None  # (reason, message) the kubelet failed the pod with

    @property
    def uid(self) -> str:
        return str(self.pod["metadata"]["uid"])

    @property
    def phase(self) -> str:
        if self.failure is not None:
            return "Failed"
        return pod_phase(self.pod, self.init_containers, self.containers)

    def status(self) -> Obj:
        """The kubelet-owned part of ``status`` (no conditions yet)."""
        spec = self.pod.get("spec") or {}
        out: Obj = {"phase": self.phase, "startTime": rfc3339(self.started_at)}
        if self.failure is not None:
            out["reason"], out["message"] = self.failure
        if self.host_ip:
            out["hostIP"], out["hostIPs"] = self.host_ip, [{"ip": self.host_ip}]
        if self.pod_ips:
            out["podIP"], out["podIPs"] = self.pod_ips[0], [{"ip": ip} for ip in self.pod_ips]
        initializing = not initialized(self.pod, self.init_containers)
        if spec.get("initContainers"):
            out["initContainerStatuses"] = container_statuses(
                spec["initContainers"], self.init_containers, init=True,
                initializing=initializing)
        out["containerStatuses"] = container_statuses(
            spec.get("containers") or [], self.containers, initializing=initializing)
        return out


class PodRuntime:
    """Runs pods on this node with runc, the image store and CNI (see the module docstring).
    Create one per process; it makes the process a child subreaper (``ExitWatcher``)."""

    def __init__(self, data_dir: str, images: ImageStore, runc: Runc,
                 network: PodNetwork | None, *, netns: NetNSManager | None = None,
                 watcher: ExitWatcher | None = None, cgroup_parent: str = "kubepy",
                 cluster_dns: list[str] | None = None, cluster_domain: str = "cluster.local",
                 host_ip: str = "", host_resolv_conf: str = "/etc/resolv.conf",
                 host_hosts: str = "/etc/hosts", busybox: str = BUSYBOX,
                 pull: Puller | None = None, clock: Callable[[], float] = time.time,
                 recorder: Recorder | None = None, env: EnvResolver | None = None,
                 conmon: ConmonRunner | None = None) -> None:
        self.data_dir = os.path.abspath(data_dir)
        self.images, self.runc, self.network = images, runc, network
        self.netns = netns or NetNSManager()
        self.watcher = watcher or ExitWatcher()
        self.cgroup_parent = cgroup_parent.strip("/")
        self.cluster_dns = list(cluster_dns or [])
        self.cluster_domain = cluster_domain
        self.host_ip = host_ip
        self.host_resolv_conf, self.host_hosts = host_resolv_conf, host_hosts
        self.busybox = busybox
        self.pull = pull
        self.clock = clock
        self.recorder = recorder
        self.resolve_env = env
        self.conmon = conmon
        self.pods: dict[str, PodState] = {}
        self._oom_floor = oom_score_adj_floor()
        self._pause_rootfs: str | None = None

    # paths ------------------------------------------------------------------------------
    def pod_dir(self, uid: str) -> str:
        return os.path.join(self.data_dir, "pods", uid)

    def pod_log_dir(self, pod: Obj) -> str:
        meta = pod["metadata"]
        return os.path.join(self.data_dir, "logs",
                            f"{meta.get('namespace', 'default')}_{meta['name']}_{meta['uid']}")

    def log_path(self, pod: Obj, container_name: str, restart_count: int = 0) -> str:
        return os.path.join(self.pod_log_dir(pod), container_name, f"{restart_count}.log")

    def _pod_cgroup(self, uid: str) -> str:
        return f"/{self.cgroup_parent}/pod{uid}"

    # start ------------------------------------------------------------------------------
    async def start_pod(self, pod: Obj) -> PodState:
        """Start *pod* (see the module docstring); returns its state once the app containers
        run, or earlier when an init container failed. A pod already known is returned as
        is. Raises PodStartError when the network or the sandbox cannot be set up."""
        uid = pod["metadata"]["uid"]
        if uid in self.pods:
            return self.pods[uid]
        state = await self.start_sandbox(pod)
        spec = pod.get("spec") or {}
        for c in spec.get("initContainers") or []:
            if state.stopping:
                return state
            inst = await self._start_container(state, c, init=True)
            if inst is None:
                return state
            await inst.exited
            if state.init_containers[c["name"]].exit_code != 0:
                return state
        for c in spec.get("containers") or []:
            if state.stopping:
                return state
            await self._start_container(state, c, init=False)
        return state

    async def start_sandbox(self, pod: Obj, *,
                            volumes: dict[str, str] | None = None) -> PodState:
        """Steps 1-3 only (network, pod files, sandbox): the containers are then started one
        by one with ``start_container`` (the agent's sync loop). *volumes* are the host
        paths the VolumeManager set up (None: emptyDir volumes are made here). A pod already
        known is returned as is. Raises PodStartError (after cleaning up) on failure."""
        uid = pod["metadata"]["uid"]
        if uid in self.pods:
            return self.pods[uid]
        state = PodState(pod=pod, pod_dir=self.pod_dir(uid), started_at=self.clock(),
                         host_ip=self.host_ip, volumes=volumes)
        self.pods[uid] = state
        try:
            await self._start_sandbox(state)
        except Exception as e:
            await self.stop_pod(uid, 0)
            raise PodStartError(f"pod {pod['metadata']['name']}: {e}") from e
        return state

    async def _start_sandbox(self, state: PodState) -> None:
        pod, uid = state.pod, state.uid
        meta, spec = pod["metadata"], pod.get("spec") or {}
        os.makedirs(state.pod_dir, exist_ok=True)
        with open(os.path.join(state.pod_dir, "pod.json"), "w") as f:
            json.dump(pod, f)
        if not spec.get("hostNetwork"):
            if self.network is None:
                raise PodStartError("no pod network configured")
            state.netns_path = await self.netns.create(sandbox_netns_name(uid))
            ips = await self.network.setup(uid, meta.get("namespace", "default"), meta["name"],
                                           state.netns_path, port_mappings(pod))
            state.pod_ips = list(ips.ips)
        elif self.host_ip:
            state.pod_ips = [self.host_ip]
        self._write_pod_files(state)
        if self._pause_rootfs is None:
            self._pause_rootfs = prepare_pause_rootfs(os.path.join(self.data_dir, "pause"),
                                                      busybox=self.busybox)
        sandbox_id = secrets.token_hex(32)
        bundle = os.path.join(state.pod_dir, "sandbox")
        sb_spec = sandbox_spec(pod, sandbox_id=sandbox_id, rootfs=self._pause_rootfs,
                               cgroup_parent=self.cgroup_parent,
                               oom_score_adj_floor=self._oom_floor)
        if state.netns_path:
            for ns in sb_spec["linux"]["namespaces"]:
                if ns["type"] == "network":
                    ns["path"] = state.netns_path
        write_bundle(bundle, sb_spec)
        log = os.path.join(bundle, "sandbox.log")
        pid = await self.runc.create(sandbox_id, bundle, stdout_path=log, stderr_path=log)
        state.sandbox = Sandbox(sandbox_id, pid, bundle, sb_spec["linux"]["cgroupsPath"])
        state.sandbox_exit = asyncio.ensure_future(self.watcher.wait(pid))
        await self.runc.start(sandbox_id)
        self.checkpoint(state)

    def _read_host_file(self, path: str) -> str:
        try:
            with open(path) as f:
                return f.read()
        except OSError:
            return ""

    def _write_pod_files(self, state: PodState) -> None:
        pod = state.pod
        contents = {
            "etc-hosts": files.hosts_file(pod, state.pod_ips, cluster_domain=self.cluster_domain,
                                          host_hosts=self._read_host_file(self.host_hosts)),
            "etc-hostname": files.hostname_file(pod),
            "resolv.conf": files.resolv_conf(files.pod_dns(
                pod, cluster_dns=self.cluster_dns, cluster_domain=self.cluster_domain,
                host_resolv=self._read_host_file(self.host_resolv_conf))),
        }
        for name, text in contents.items():
            with open(os.path.join(state.pod_dir, name), "w") as f:
                f.write(text)
        paths = volume_dirs(pod, state.pod_dir)[0] if state.volumes is None else {}
        for path in paths.values():
            os.makedirs(path, exist_ok=True)
            os.chmod(path, 0o777)

    def _event(self, pod: Obj, type_: str, reason: str, message: str) -> None:
        if self.recorder is not None:
            self.recorder(pod, type_, reason, message)

    async def _image(self, pod: Obj, container: Obj) -> Image:
        ref = container.get("image") or ""
        image = self.images.get(ref)
        policy = container.get("imagePullPolicy") or default_pull_policy(ref)
        action = pull_action(policy, present=image is not None)
        if action is PullAction.NEVER_PULL_ERROR:
            self._event(pod, "Warning", "ErrImageNeverPull", never_pull_message(ref))
            raise _Waiting("ErrImageNeverPull", never_pull_message(ref))
        # Always with the image present and no puller configured: the present image is used
        if action is PullAction.PULL and (image is None or self.pull is not None):
            if self.pull is None:
                raise _Waiting("ErrImagePull", f'image "{ref}" is not present and this '
                                               f'node cannot pull')
            self._event(pod, "Normal", "Pulling", f'Pulling image "{ref}"')
            began = time.monotonic()
            try:
                image = await self.pull(ref, pod)
            except Exception as e:
                self._event(pod, "Warning", "Failed", f'Failed to pull image "{ref}": {e}')
                self._event(pod, "Warning", "Failed", "Error: ErrImagePull")
                raise _Waiting("ErrImagePull", f'failed to pull image "{ref}": {e}') from e
            took = f"{time.monotonic() - began:.3f}s"
            self._event(pod, "Normal", "Pulled", f'Successfully pulled image "{ref}" in {took} '
                                                 f'({took} including waiting)')
        else:
            self._event(pod, "Normal", "Pulled",
                        f'Container image "{ref}" already present on machine')
        assert image is not None
        return image

    async def start_container(self, state: PodState, name: str, *,
                              init: bool) -> _Instance | None:
        """(Re)start the spec's container *name*; None (and a waiting record) when it cannot
        be created. An exited instance before it becomes ``lastState`` and counts as a
        restart; a failed creation before it does not."""
        spec = state.pod.get("spec") or {}
        container = next(c for c in spec.get("initContainers" if init else "containers") or []
                         if c["name"] == name)
        try:
            return await self._start_container(state, container, init=init)
        finally:
            self.checkpoint(state)

    async def _start_container(self, state: PodState, container: Obj, *,
                               init: bool) -> _Instance | None:
        """Create and start one container; None (and a waiting record) when it cannot be."""
        records = state.init_containers if init else state.containers
        name = container["name"]
        previous = records.get(name)
        if previous is None:
            restart_count, last = 0, None
        elif previous.phase is ContainerPhase.EXITED:
            restart_count, last = previous.restart_count + 1, previous
        else:
            restart_count, last = previous.restart_count, previous.last
        record = ContainerRecord(name=name, image=container.get("image", ""),
                                 restart_count=restart_count, last=last)
        if previous is not None and previous.phase is ContainerPhase.RUNNING:
            raise RuntimeError(f"container {name} is running")
        records[name] = record
        container_id = secrets.token_hex(32)
        bundle = os.path.join(state.pod_dir, "containers", container_id)
        try:
            image = await self._image(state.pod, container)
            record.image = image["repo_tags"][0] if image["repo_tags"] else record.image
            record.image_id = image["repo_digests"][0] if image["repo_digests"] else image["id"]
            pid, cgroups_path = await self._create(state, container, image, container_id,
                                                   bundle, restart_count)
        except _Waiting as w:
            record.reason, record.message = w.reason, w.message
            self._discard_bundle(bundle)
            return None
        except ContainerConfigError as e:
            record.reason, record.message = "CreateContainerConfigError", str(e)
            self._event(state.pod, "Warning", "Failed", f"Error: {e}")
            self._discard_bundle(bundle)
            return None
        except (RuncError, OSError) as e:
            record.reason, record.message = "CreateContainerError", str(e)
            self._event(state.pod, "Warning", "Failed", f"Error: {e}")
            await self._delete_quietly(container_id)
            self._discard_bundle(bundle)
            return None
        record.container_id = container_id
        inst = _Instance(container_id, pid, bundle, cgroups_path, asyncio.ensure_future(
            self._watch(state, record, container_id, pid, bundle, cgroups_path)),
            name=name, init=init)
        state.instances[container_id] = inst
        self._event(state.pod, "Normal", "Created", f"Created container: {name}")
        record.started_at = self.clock()
        try:
            if self.conmon is not None:
                await self.conmon.start(container_id)
            else:
                await self.runc.start(container_id)
        except RuncError as e:
            record.reason, record.message = "RunContainerError", str(e)
            self._event(state.pod, "Warning", "Failed", f"Error: {e}")
            await self._stop_instance(inst, 0)
            await inst.exited
            record.phase = ContainerPhase.WAITING  # never ran: waiting, not terminated
            return None
        if record.phase is ContainerPhase.WAITING:  # it may have exited already
            record.phase = ContainerPhase.RUNNING
        self._event(state.pod, "Normal", "Started", f"Started container {name}")
        return inst

    async def kill_container(self, state: PodState, name: str, grace: float, *,
                             init: bool = False, message: str = "") -> None:
        """Stop the running instance of *name* (SIGTERM, SIGKILL after *grace*) and wait
        for its exit to be recorded; a Killing event with *message* ("Container c failed
        liveness probe, will be restarted") or "Stopping container c"."""
        records = state.init_containers if init else state.containers
        record = records.get(name)
        if record is None or record.phase is not ContainerPhase.RUNNING:
            return
        inst = state.instances.get(record.container_id)
        if inst is None or inst.exited.done():
            return
        self._event(state.pod, "Normal", "Killing", message or f"Stopping container {name}")
        await self._stop_instance(inst, grace)
        await asyncio.wait([inst.exited], timeout=EXIT_WAIT)

    async def _create(self, state: PodState, container: Obj, image: Image, container_id: str,
                      bundle: str, restart_count: int) -> tuple[int, str]:
        """Mount the rootfs, write the bundle and ``runc create``; (init pid, cgroups path)."""
        pod = state.pod
        assert state.sandbox is not None
        if state.volumes is None:
            volumes, unsupported = volume_dirs(pod, state.pod_dir)
        else:
            volumes, unsupported = state.volumes, {}
        env = None
        if self.resolve_env is not None:
            env = await self.resolve_env(pod, container,
                                         state.pod_ips[0] if state.pod_ips else "")
        termination_log = os.path.join(bundle, "termination-log")
        mounts = container_mounts(
            container, volumes=volumes, unsupported=unsupported,
            read_only_volumes=read_only_volumes(pod),
            etc_hosts=os.path.join(state.pod_dir, "etc-hosts"),
            etc_hostname=os.path.join(state.pod_dir, "etc-hostname"),
            resolv_conf=os.path.join(state.pod_dir, "resolv.conf"),
            termination_log=termination_log,
            env=container_env(container) if env is None else env)   # for subPathExpr
        os.makedirs(bundle)
        for m in mounts:
            if m["source"].startswith(os.path.join(state.pod_dir, "volumes") + "/"):
                if not os.path.lexists(m["source"]):   # a subPath may name a file or symlink
                    os.makedirs(m["source"])
        open(termination_log, "w").close()
        rootfs = snapshot.mount_rootfs(bundle, [str(self.images.layer_dir(c))
                                                for c in image["layers"]])
        spec = container_spec(
            pod, container, container_id=container_id, sandbox_id=state.sandbox.id,
            sandbox_pid=state.sandbox.pid, image_config=image_config_for_spec(image["config"]),
            env=env, mounts=mounts, rootfs=rootfs, cgroup_parent=self.cgroup_parent,
            passwd=_rootfs_file(rootfs, "etc/passwd"), group=_rootfs_file(rootfs, "etc/group"),
            oom_score_adj_floor=self._oom_floor)
        write_bundle(bundle, spec)
        log = self.log_path(pod, container["name"], restart_count)
        os.makedirs(os.path.dirname(log), exist_ok=True)
        if self.conmon is not None:
            pid = await self.conmon.create(container_id, bundle, log_path=log,
                                           stdin=bool(container.get("stdin")),
                                           stdin_once=bool(container.get("stdinOnce")),
                                           tty=bool(container.get("tty")))
        else:
            pid = await self.runc.create(container_id, bundle, stdout_path=log, stderr_path=log)
        return pid, spec["linux"]["cgroupsPath"]

    async def _watch(self, state: PodState, record: ContainerRecord, container_id: str,
                     pid: int, bundle: str, cgroups_path: str) -> None:
        """Wait for the container's exit, record it, and free what it held."""
        if self.conmon is not None:
            try:
                status = await self.conmon.wait(container_id)
                record.exit_code, record.oom_killed = status.exit_code, status.oom_killed
                record.finished_at = status.finished_at
            except ContainerNotFound:      # gone while no agent watched: exit unknown
                record.exit_code, record.finished_at = None, self.clock()
        else:
            record.exit_code = await self.watcher.wait(pid)
            record.oom_killed = cgroups.oom_kill_count(cgroups_path) > 0
            record.finished_at = self.clock()
        record.started_at = record.started_at or record.finished_at
        try:
            with open(os.path.join(bundle, "termination-log"), errors="replace") as f:
                record.message = f.read(TERMINATION_MESSAGE_LIMIT)
        except OSError:
            pass
        if not record.message and record.exit_code != 0 and \
                _message_policy(state.pod, record.name) == "FallbackToLogsOnError":
            try:
                with open(self.log_path(state.pod, record.name, record.restart_count),
                          errors="replace") as f:
                    f.seek(max(0, os.fstat(f.fileno()).st_size - 64 * 1024))
                    record.message = crilog.log_tail(f.read())
            except OSError:
                pass
        record.phase = ContainerPhase.EXITED
        if self.conmon is not None:
            try:
                await self.conmon.remove(container_id)
            except (RuncError, OSError):
                pass
        else:
            await self._delete_quietly(container_id)
        self._discard_bundle(bundle)
        if not state.stopping:
            self.checkpoint(state)

    async def _stop_instance(self, inst: _Instance, grace: float) -> None:
        if self.conmon is not None:
            await self.conmon.stop(inst.container_id, grace)
        else:
            await stop(self.runc, inst.container_id, inst.pid, grace=grace)

    async def exec_sync(self, container_id: str, argv: list[str], *,
                        timeout: float | None) -> tuple[int, bytes, bytes]:
        """Run *argv* in a running container; raises asyncio.TimeoutError on *timeout*."""
        if self.conmon is not None:
            return await self.conmon.exec_sync(container_id, argv, timeout=timeout)
        return await self.runc.exec_sync(container_id, argv, timeout=timeout)

    # checkpoint and recovery ---------------------------------------------------------------
    def checkpoint(self, state: PodState) -> None:
        """Write ``runtime.json`` (see ``checkpoint``) atomically."""
        if state.sandbox is None or not os.path.isdir(state.pod_dir):
            return
        cp = checkpoint.Checkpoint(
            started_at=state.started_at, netns_path=state.netns_path,
            pod_ips=state.pod_ips, host_ip=state.host_ip, sandbox_id=state.sandbox.id,
            sandbox_bundle=state.sandbox.bundle,
            sandbox_cgroups_path=state.sandbox.cgroups_path,
            init_containers=state.init_containers, containers=state.containers,
            instances=[checkpoint.InstanceInfo(i.container_id, i.name, i.init, i.bundle,
                                               i.cgroups_path)
                       for i in state.instances.values() if not i.exited.done()],
            volumes=state.volumes, failure=state.failure)
        path = os.path.join(state.pod_dir, CHECKPOINT)
        with open(path + ".tmp", "w") as f:
            json.dump(checkpoint.to_json(cp), f)
        os.replace(path + ".tmp", path)

    async def recover(self) -> list[PodState]:
        """Take over the pods an earlier process left running (their ``runtime.json``):
        running containers are watched again (not restarted), exits that happened meanwhile
        are recorded from conmon's exit files, containers no checkpoint names are removed.
        Pods without a readable checkpoint are left alone (``remove_pod`` / killall clean
        them)."""
        root = os.path.join(self.data_dir, "pods")
        found: list[PodState] = []
        for uid in sorted(os.listdir(root)) if os.path.isdir(root) else []:
            if uid in self.pods:
                continue
            pod_dir = os.path.join(root, uid)
            try:
                with open(os.path.join(pod_dir, "pod.json")) as f:
                    pod = json.load(f)
                with open(os.path.join(pod_dir, CHECKPOINT)) as f:
                    cp = checkpoint.from_json(json.load(f))
            except (OSError, ValueError):
                continue
            state = PodState(pod=pod, pod_dir=pod_dir, started_at=cp.started_at,
                             netns_path=cp.netns_path, pod_ips=cp.pod_ips, host_ip=cp.host_ip,
                             init_containers=cp.init_containers, containers=cp.containers,
                             volumes=cp.volumes, failure=cp.failure)
            sandbox_pid = await self._running_pid(cp.sandbox_id)
            state.sandbox = Sandbox(cp.sandbox_id, sandbox_pid, cp.sandbox_bundle,
                                    cp.sandbox_cgroups_path)
            state.sandbox_exit = asyncio.ensure_future(_wait_foreign(sandbox_pid))
            for info in cp.instances:
                records = state.init_containers if info.init else state.containers
                record = records.get(info.name)
                if record is None or record.container_id != info.container_id:
                    continue
                pid = await self._running_pid(info.container_id)
                state.instances[info.container_id] = _Instance(
                    info.container_id, pid, info.bundle, info.cgroups_path,
                    asyncio.ensure_future(self._watch(state, record, info.container_id, pid,
                                                      info.bundle, info.cgroups_path)),
                    name=info.name, init=info.init)
            self.pods[uid] = state
            found.append(state)
        await self._remove_orphans(found)
        return found

    async def _remove_orphans(self, states: list[PodState]) -> None:
        """Containers conmon knows of that no checkpoint names (an earlier process stopped
        between creating them and recording them) are stopped and removed: their pods' syncs
        start them again, so none runs twice."""
        if self.conmon is None:
            return
        recorded = {cid for st in states for cid in st.instances}
        recorded |= {st.sandbox.id for st in self.pods.values() if st.sandbox is not None}
        for cid in self.conmon.known():
            if cid in recorded or any(cid in st.instances for st in self.pods.values()):
                continue
            try:
                await self.conmon.stop(cid, 0)
                await self.conmon.remove(cid)
            except (RuncError, OSError):
                pass
            for bundle in glob.glob(os.path.join(self.data_dir, "pods", "*", "containers", cid)):
                self._discard_bundle(bundle)

    async def _running_pid(self, container_id: str) -> int:
        try:
            st = await self.runc.state(container_id)
        except RuncError:
            return -1
        return st.pid if st.status in ("running", "created", "paused") else -1

    # stop -------------------------------------------------------------------------------
    async def stop_pod(self, uid: str, grace: float) -> None:
        """Stop and clean up the pod (see the module docstring). Unknown uids are a no-op.
        Every step runs even when an earlier one failed; raises PodStopError at the end
        naming what could not be removed."""
        state = self.pods.get(uid)
        if state is None:
            return
        state.stopping = True
        running = [i for i in state.instances.values() if not i.exited.done()]
        await asyncio.gather(*(self._stop_instance(i, grace) for i in running))
        if state.instances:
            await asyncio.wait([i.exited for i in state.instances.values()], timeout=EXIT_WAIT)
        if state.sandbox is not None and state.sandbox.pid > 0:
            await stop(self.runc, state.sandbox.id, state.sandbox.pid, grace=0)
        if state.sandbox is not None:
            if state.sandbox_exit is not None:
                await asyncio.wait([state.sandbox_exit], timeout=EXIT_WAIT)
            await self._delete_quietly(state.sandbox.id)
        problems: list[str] = []
        if state.netns_path is not None and self.network is not None:
            meta = state.pod["metadata"]
            try:
                await self.network.teardown(uid, meta.get("namespace", "default"),
                                            meta["name"], state.netns_path)
            except (CNIError, OSError) as e:
                problems.append(f"network teardown: {e}")
        await self.netns.delete(sandbox_netns_name(uid))
        for bundle in [*(i.bundle for i in state.instances.values()),
                       os.path.join(state.pod_dir, "sandbox")]:
            try:
                self._discard_bundle(bundle)
            except OSError as e:
                problems.append(str(e))
        left = cgroups.remove_cgroup(self._pod_cgroup(uid))
        if left:
            problems.append(f"cgroups still busy: {', '.join(left)}")
        del self.pods[uid]
        if problems:
            raise PodStopError(f"pod {uid}: " + "; ".join(problems))

    def remove_pod(self, pod: Obj) -> None:
        """Remove a stopped pod's directory (volumes) and its logs."""
        uid = pod["metadata"]["uid"]
        if uid in self.pods:
            raise RuntimeError(f"pod {uid} is still running")
        shutil.rmtree(self.pod_dir(uid), ignore_errors=True)
        shutil.rmtree(self.pod_log_dir(pod), ignore_errors=True)

    async def wait_containers(self, uid: str, timeout: float | None = None) -> bool:
        """Wait until every container of the pod has exited; False on timeout."""
        state = self.pods[uid]
        tasks = [i.exited for i in state.instances.values()]
        if not tasks:
            return True
        done, pending = await asyncio.wait(tasks, timeout=timeout)
        return not pending

    async def _delete_quietly(self, container_id: str) -> None:
        try:
            await self.runc.delete(container_id, force=True)
        except RuncError:
            pass

    @staticmethod
    def _discard_bundle(bundle: str) -> None:
        snapshot.unmount(os.path.join(bundle, "rootfs"))
        remove_bundle(bundle)


def _message_policy(pod: Obj, name: str) -> str:
    spec = pod.get("spec") or {}
    for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        if c.get("name") == name:
            return str(c.get("terminationMessagePolicy") or "File")
    return "File"


async def _wait_foreign(pid: int) -> int | None:
    """Wait for a process that is not our child (a sandbox of an earlier agent); its exit
    code cannot be known."""
    if pid > 0:
        await wait_pid(pid)
    return None


class _Waiting(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message


def _rootfs_file(rootfs: str, rel: str) -> str:
    """A small file of the image (passwd, group); "" when absent or a symlink (which could
    point outside the rootfs)."""
    path = os.path.join(rootfs, rel)
    if os.path.islink(path) or not os.path.isfile(path):
        return ""
    with open(path, errors="replace") as f:
        return f.read(1 << 20)
