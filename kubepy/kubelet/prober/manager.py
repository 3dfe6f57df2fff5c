"""ProbeManager: the probe workers of every container on the node (prober_manager.go).

``add_container`` (re)starts the workers of a container instance: a new ``container_id``
replaces the previous instance's workers and results (clearing its liveness failure); the
same ``container_id`` again only refreshes the pod IP and exec function. Answers follow the
kubelet's UpdatePodStatus and are meant for a *running* container (the caller reports a
container that is not running as neither started nor ready):

- ``started``: the startupProbe has succeeded; True when there is none or the container is
  unknown here (no workers);
- ``ready``: started, and the readinessProbe's stored result is success (it starts as
  failure); True when started and there is no readinessProbe;
- ``liveness_failed``: 'Container <name> failed liveness probe' (or 'startup probe') once
  that probe reached failureThreshold, reported once per instance; the kubelet kills the
  container then, adding ', will be restarted' when the restart policy restarts it.

``on_change(pod_uid, container_name)`` is called whenever a stored result changes; events are
queued as ``(pod_uid, type, reason, message)`` and drained by ``events()``.
"""

from __future__ import annotations

import asyncio
from typing import Callable

from kubepy.client.clock import Clock
from kubepy.kubelet.prober.types import ExecSync, Obj
from kubepy.kubelet.prober.worker import ContainerProbes, Event

MAX_QUEUED_EVENTS = 1000   # undrained events beyond this are dropped, oldest first


class ProbeManager:
    def __init__(self, *, clock: Clock, on_change: Callable[[str, str], None]) -> None:
        self._clock = clock
        self._on_change = on_change
        self._containers: dict[tuple[str, str], ContainerProbes] = {}
        self._events: list[Event] = []
        self._cancelled: set[asyncio.Task[None]] = set()

    def add_container(self, pod: Obj, container: Obj, *, container_id: str,
                      started_at: float, pod_ip: str, exec_sync: ExecSync) -> None:
        uid = str((pod.get("metadata") or {}).get("uid", ""))
        key = (uid, str(container.get("name", "")))
        current = self._containers.get(key)
        if current is not None and current.container_id == container_id:
            current.pod_ip, current.exec_sync = pod_ip, exec_sync
            return
        self.remove_container(*key)
        probes = ContainerProbes(pod, container, container_id=container_id,
                                 started_at=started_at, pod_ip=pod_ip, exec_sync=exec_sync,
                                 clock=self._clock, on_change=self._on_change, emit=self._emit)
        self._containers[key] = probes
        probes.start()

    def remove_container(self, pod_uid: str, container_name: str) -> None:
        probes = self._containers.pop((pod_uid, container_name), None)
        if probes is not None:
            self._forget(probes.cancel())

    def remove_pod(self, pod_uid: str) -> None:
        for uid, name in [k for k in self._containers if k[0] == pod_uid]:
            self.remove_container(uid, name)

    def ready(self, pod_uid: str, container_name: str) -> bool:
        probes = self._containers.get((pod_uid, container_name))
        return True if probes is None else probes.ready()

    def started(self, pod_uid: str, container_name: str) -> bool:
        probes = self._containers.get((pod_uid, container_name))
        return True if probes is None else probes.started()

    def liveness_failed(self, pod_uid: str, container_name: str) -> str | None:
        probes = self._containers.get((pod_uid, container_name))
        return None if probes is None else probes.failure_message

    def events(self) -> list[tuple[str, str, str, str]]:
        drained, self._events = self._events, []
        return drained

    async def close(self) -> None:
        for key in list(self._containers):
            self.remove_container(*key)
        pending = list(self._cancelled)
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    def _emit(self, event: Event) -> None:
        self._events.append(event)
        if len(self._events) > MAX_QUEUED_EVENTS:
            del self._events[: len(self._events) - MAX_QUEUED_EVENTS]

    def _forget(self, tasks: list[asyncio.Task[None]]) -> None:
        for task in tasks:
            if not task.done():
                self._cancelled.add(task)
                task.add_done_callback(self._cancelled.discard)
