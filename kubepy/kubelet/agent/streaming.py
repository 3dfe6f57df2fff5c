"""``AgentStreamingRuntime``: the kubelet server's view of this agent's pods (its
``StreamingRuntime`` protocol). Reads the agent's pod states; no I/O beyond conmon's paths.

For a pod key it answers the pod's network namespace and container names; for a container
the current instance (running, or the last one that ran: a container in CrashLoopBackOff or
waiting after a failed restart answers with the instance before), its CRI log
(``<logs>/<ns>_<pod>_<uid>/<container>/<restartCount>.log``), the log of the instance before
(``previous``), the spec's stdin/tty flags and, while it runs, conmon's attach socket and
ctl FIFO. ``pods()`` (``PodLister``) lists the runtime's pods with their cgroups for
/stats/summary: the pod's ``/<cgroup parent>/pod<uid>`` and each running container's.
"""

from __future__ import annotations

from typing import Any, Callable

from kubepy.kubelet.pods.status import ContainerPhase, ContainerRecord
from kubepy.kubelet.pods.worker import PodRuntime, PodState
from kubepy.kubelet.server.runtime import ContainerRef, PodRef, PodStatsRef

Obj = dict[str, Any]
StateLookup = Callable[[str, str], "PodState | None"]   # (namespace, name) -> state


class AgentStreamingRuntime:
    def __init__(self, lookup: StateLookup, runtime: Callable[[], PodRuntime | None]) -> None:
        self._lookup, self._runtime = lookup, runtime

    def pod(self, namespace: str, name: str) -> PodRef | None:
        state = self._lookup(namespace, name)
        if state is None:
            return None
        spec = state.pod.get("spec") or {}
        names = tuple(c["name"] for kind in ("initContainers", "containers")
                      for c in spec.get(kind) or [])
        return PodRef(uid=state.uid, namespace=namespace, name=name,
                      netns_path=state.netns_path, containers=names)

    def container(self, namespace: str, name: str, container: str) -> ContainerRef | None:
        state = self._lookup(namespace, name)
        runtime = self._runtime()
        if state is None or runtime is None:
            return None
        spec = state.pod.get("spec") or {}
        c_spec = next((c for kind in ("initContainers", "containers")
                       for c in spec.get(kind) or [] if c["name"] == container), None)
        if c_spec is None:
            return None
        record = state.containers.get(container) or state.init_containers.get(container)
        current = _current_instance(record)
        running = current is not None and current.phase is ContainerPhase.RUNNING
        log_path = previous = None
        if current is not None:
            log_path = runtime.log_path(state.pod, container, current.restart_count)
            if current.restart_count > 0:
                previous = runtime.log_path(state.pod, container, current.restart_count - 1)
        attach = ctl = None
        if running and current is not None and runtime.conmon is not None:
            attach = runtime.conmon.attach_socket(current.container_id)
            try:
                ctl = runtime.conmon.ctl_path(current.container_id)
            except (OSError, ValueError):
                ctl = None
        return ContainerRef(
            pod_uid=state.uid, namespace=namespace, pod_name=name, container_name=container,
            container_id=current.container_id if current is not None else None,
            running=running, log_path=log_path, previous_log_path=previous,
            tty=bool(c_spec.get("tty")), stdin=bool(c_spec.get("stdin")),
            stdin_once=bool(c_spec.get("stdinOnce")), attach_socket=attach, ctl_path=ctl)

    def pods(self) -> list[PodStatsRef]:
        runtime = self._runtime()
        if runtime is None:
            return []
        return [pod_stats_ref(state, runtime.cgroup_parent)
                for state in list(runtime.pods.values())]

    def runc_command(self) -> list[str]:
        runtime = self._runtime()
        if runtime is None:
            return ["runc"]
        return [runtime.runc.binary, "--root", runtime.runc.root_dir]


def pod_stats_ref(state: PodState, cgroup_parent: str) -> PodStatsRef:
    """A pod's cgroups, as PodRuntime makes them: ``/<parent>/pod<uid>`` and its running
    containers' (``cgroupsPath`` of their specs)."""
    meta = state.pod["metadata"]
    running = {record.container_id: record
               for record in (*state.init_containers.values(), *state.containers.values())
               if record.container_id and record.phase is ContainerPhase.RUNNING}
    containers = tuple(
        (running[cid].name, running[cid].started_at or state.started_at, inst.cgroups_path)
        for cid, inst in sorted(state.instances.items(), key=lambda item: item[1].name)
        if cid in running)
    return PodStatsRef(uid=state.uid, namespace=meta.get("namespace", "default"),
                       name=meta["name"], start_time=state.started_at,
                       cgroup_path=f"/{cgroup_parent.strip('/')}/pod{state.uid}",
                       containers=containers)


def _current_instance(record: ContainerRecord | None) -> ContainerRecord | None:
    """The instance that ran last: the record itself once created, else the one before."""
    if record is None:
        return None
    if record.container_id:
        return record
    return record.last
