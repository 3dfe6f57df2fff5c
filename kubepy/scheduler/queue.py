"""The scheduling queue (kube-scheduler's PriorityQueue): pods waiting for a node.

Three sub-queues, a pod in at most one of them:
* **active** — a heap, higher ``spec.priority`` first, then earlier queue time; ``pop``
  takes from here (waiting while it is empty);
* **backoff** — pods that failed and wait out their back-off (1 s doubling per attempt,
  capped at 10 s) before going back to active;
* **unschedulable** — pods that failed and wait for a cluster event that could help them.

A cluster event (node added or changed, assigned pod deleted, ...) moves the unschedulable
pods whose rejecting plugins care about it (``EVENT_INTEREST``) to backoff if still inside
their back-off window, else to active. An event that arrives while a pod is being
scheduled is remembered (``move_request_cycle``), so a pod failing in that cycle is retried
instead of parking in unschedulable and missing it. Pods parked longer than
``max_unschedulable_seconds`` (5 min) are retried anyway. ``flush()`` (called every second
by ``run()``) does the time-driven moves.

The queue also keeps the *nominator*: pods nominated to a node by preemption, so filters
can count them as already there.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from kubepy.client.clock import REAL_CLOCK, Clock
from kubepy.scheduler.nodeinfo import PodInfo

INITIAL_BACKOFF = 1.0
MAX_BACKOFF = 10.0
MAX_UNSCHEDULABLE_SECONDS = 300.0


class ClusterEvent(str, Enum):
    NODE_ADD = "NodeAdd"
    NODE_UPDATE = "NodeUpdate"
    ASSIGNED_POD_ADD = "AssignedPodAdd"
    ASSIGNED_POD_UPDATE = "AssignedPodUpdate"
    ASSIGNED_POD_DELETE = "AssignedPodDelete"
    PVC_CHANGE = "PvcChange"
    PV_CHANGE = "PvChange"
    STORAGE_CLASS_CHANGE = "StorageClassChange"
    NAMESPACE_CHANGE = "NamespaceChange"
    UNSCHEDULABLE_TIMEOUT = "UnschedulableTimeout"
    FORCE = "ForceActivate"


_E = ClusterEvent
# plugin -> events that may make a pod it rejected schedulable
EVENT_INTEREST: dict[str, frozenset[ClusterEvent]] = {
    "NodeUnschedulable": frozenset({_E.NODE_ADD, _E.NODE_UPDATE}),
    "NodeName": frozenset({_E.NODE_ADD}),
    "TaintToleration": frozenset({_E.NODE_ADD, _E.NODE_UPDATE}),
    "NodeAffinity": frozenset({_E.NODE_ADD, _E.NODE_UPDATE}),
    "NodePorts": frozenset({_E.NODE_ADD, _E.ASSIGNED_POD_DELETE}),
    "NodeResourcesFit": frozenset({_E.NODE_ADD, _E.NODE_UPDATE, _E.ASSIGNED_POD_DELETE,
                                   _E.ASSIGNED_POD_UPDATE}),
    "VolumeRestrictions": frozenset({_E.ASSIGNED_POD_DELETE, _E.PVC_CHANGE}),
    "VolumeBinding": frozenset({_E.NODE_ADD, _E.NODE_UPDATE, _E.PVC_CHANGE, _E.PV_CHANGE,
                                _E.STORAGE_CLASS_CHANGE}),
    "PodTopologySpread": frozenset({_E.NODE_ADD, _E.NODE_UPDATE, _E.ASSIGNED_POD_ADD,
                                    _E.ASSIGNED_POD_UPDATE, _E.ASSIGNED_POD_DELETE}),
    "InterPodAffinity": frozenset({_E.NODE_ADD, _E.NODE_UPDATE, _E.ASSIGNED_POD_ADD,
                                   _E.ASSIGNED_POD_UPDATE, _E.ASSIGNED_POD_DELETE,
                                   _E.NAMESPACE_CHANGE}),
}
_ALWAYS = frozenset({_E.UNSCHEDULABLE_TIMEOUT, _E.FORCE})


def backoff_duration(attempts: int, initial: float = INITIAL_BACKOFF,
                     maximum: float = MAX_BACKOFF) -> float:
    d = initial
    for _ in range(1, attempts):
        d *= 2
        if d > maximum:
            return maximum
    return min(d, maximum)


@dataclass
class QueuedPodInfo:
    pod: PodInfo
    timestamp: float  # when it last entered the queue
    initial_attempt: float | None = None
    attempts: int = 0
    unschedulable_plugins: set[str] = field(default_factory=set)
    last_failure: float = 0.0  # when the last attempt failed
    where: str = ""  # "active" | "backoff" | "unschedulable" | "" (in flight / gone)
    seq: int = 0

    @property
    def uid(self) -> str:
        return self.pod.uid


class SchedulingQueue:
    def __init__(self, *, clock: Clock | None = None, initial_backoff: float = INITIAL_BACKOFF,
                 max_backoff: float = MAX_BACKOFF,
                 max_unschedulable_seconds: float = MAX_UNSCHEDULABLE_SECONDS) -> None:
        self.clock: Clock = clock or REAL_CLOCK
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.max_unschedulable_seconds = max_unschedulable_seconds
        self._pods: dict[str, QueuedPodInfo] = {}
        self._active: list[tuple[int, float, int, str]] = []
        self._backoff: list[tuple[float, int, str]] = []
        self._unschedulable: dict[str, QueuedPodInfo] = {}
        self._seq = itertools.count()
        self._wakeup = asyncio.Event()
        self._closed = False
        self.scheduling_cycle = 0
        self.move_request_cycle = -1
        self._nominated: dict[str, dict[str, PodInfo]] = {}  # node -> uid -> pod
        self._nominated_node: dict[str, str] = {}  # uid -> node

    # ------------------------------------------------------------------ reads

    def __len__(self) -> int:
        return sum(1 for q in self._pods.values() if q.where)

    def __contains__(self, uid: object) -> bool:
        return uid in self._pods

    def where(self, uid: str) -> str | None:
        q = self._pods.get(uid)
        return q.where if q is not None else None

    def counts(self) -> dict[str, int]:
        out = {"active": 0, "backoff": 0, "unschedulable": 0}
        for q in self._pods.values():
            if q.where:
                out[q.where] += 1
        return out

    # ------------------------------------------------------------------ sub-queue moves

    def _to_active(self, q: QueuedPodInfo) -> None:
        q.where = "active"
        q.seq = next(self._seq)
        heapq.heappush(self._active, (-q.pod.priority, q.timestamp, q.seq, q.uid))
        self._wakeup.set()

    def _backoff_expiry(self, q: QueuedPodInfo) -> float:
        return q.last_failure + backoff_duration(q.attempts, self.initial_backoff,
                                                 self.max_backoff)

    def _to_backoff(self, q: QueuedPodInfo) -> None:
        q.where = "backoff"
        q.seq = next(self._seq)
        heapq.heappush(self._backoff, (self._backoff_expiry(q), q.seq, q.uid))

    def _to_unschedulable(self, q: QueuedPodInfo) -> None:
        q.where = "unschedulable"
        self._unschedulable[q.uid] = q

    def _requeue(self, q: QueuedPodInfo) -> None:
        """Active if its back-off is over, else backoff."""
        self._unschedulable.pop(q.uid, None)
        if q.attempts and self.clock.monotonic() < self._backoff_expiry(q):
            self._to_backoff(q)
        else:
            self._to_active(q)

    # ------------------------------------------------------------------ API

    def add(self, pod: PodInfo) -> None:
        """A new pending pod."""
        q = self._pods.get(pod.uid)
        if q is not None:
            q.pod = pod
            return
        now = self.clock.monotonic()
        q = QueuedPodInfo(pod, now, now)
        self._pods[pod.uid] = q
        self._to_active(q)
        self._nominate(pod)

    def update(self, pod: PodInfo) -> None:
        """A pending pod changed: keep the new version; an unschedulable pod gets retried."""
        q = self._pods.get(pod.uid)
        if q is None:
            self.add(pod)
            return
        spec_changed = q.pod.pod.get("spec") != pod.pod.get("spec") or q.pod.labels != pod.labels
        q.pod = pod
        self._nominate(pod)
        if q.where == "unschedulable" and spec_changed:
            self._requeue(q)

    def delete(self, uid: str) -> None:
        q = self._pods.pop(uid, None)
        if q is not None:
            self._unschedulable.pop(uid, None)
            q.where = ""  # stale heap entries are skipped when popped
        self.delete_nominated(uid)

    async def pop(self) -> QueuedPodInfo | None:
        """The next pod to schedule (None once closed)."""
        while True:
            if self._closed:
                return None
            while self._active:
                _, _, seq, uid = heapq.heappop(self._active)
                q = self._pods.get(uid)
                if q is None or q.where != "active" or q.seq != seq:
                    continue
                q.where = ""
                q.attempts += 1
                self.scheduling_cycle += 1
                return q
            self._wakeup.clear()
            await self._wakeup.wait()

    def pop_nowait(self) -> QueuedPodInfo | None:
        while self._active:
            _, _, seq, uid = heapq.heappop(self._active)
            q = self._pods.get(uid)
            if q is None or q.where != "active" or q.seq != seq:
                continue
            q.where = ""
            q.attempts += 1
            self.scheduling_cycle += 1
            return q
        return None

    def done(self, uid: str) -> None:
        """The pod was scheduled (assumed): it leaves the queue."""
        q = self._pods.get(uid)
        if q is not None and not q.where:
            del self._pods[uid]

    def readd(self, q: QueuedPodInfo) -> None:
        """Take back a pod that left the queue (its binding failed)."""
        if q.uid not in self._pods:
            self._pods[q.uid] = q
            q.where = ""

    def add_unschedulable(self, q: QueuedPodInfo, cycle: int, *,
                          plugins: set[str] | None = None) -> None:
        """After a failed attempt in ``cycle``: park the pod, or retry it at once (after
        back-off) if a move request came during the attempt."""
        if q.uid not in self._pods or q.where:
            return  # deleted meanwhile, or already re-added
        q.unschedulable_plugins = set(plugins or ())
        q.last_failure = self.clock.monotonic()
        q.timestamp = q.last_failure
        if self.move_request_cycle >= cycle or not q.unschedulable_plugins:
            self._to_backoff(q)
        else:
            self._to_unschedulable(q)

    def move_all_to_active_or_backoff(self, event: ClusterEvent) -> int:
        moved = 0
        for q in list(self._unschedulable.values()):
            if event in _ALWAYS or not q.unschedulable_plugins or any(
                    event in EVENT_INTEREST.get(p, ()) for p in q.unschedulable_plugins):
                self._requeue(q)
                moved += 1
        self.move_request_cycle = self.scheduling_cycle
        return moved

    def flush(self) -> None:
        """Back-off expired -> active; parked too long -> active/backoff."""
        now = self.clock.monotonic()
        while self._backoff and self._backoff[0][0] <= now:
            _, seq, uid = heapq.heappop(self._backoff)
            q = self._pods.get(uid)
            if q is not None and q.where == "backoff" and q.seq == seq:
                self._to_active(q)
        for q in list(self._unschedulable.values()):
            if now - q.timestamp > self.max_unschedulable_seconds:
                self._requeue(q)

    async def run(self, period: float = 1.0) -> None:
        while not self._closed:
            await self.clock.sleep(period)
            self.flush()

    def close(self) -> None:
        self._closed = True
        self._wakeup.set()

    # ------------------------------------------------------------------ nominator

    def _nominate(self, pod: PodInfo) -> None:
        if pod.nominated_node_name:
            self.add_nominated(pod, pod.nominated_node_name)
        elif pod.uid in self._nominated_node:
            self.delete_nominated(pod.uid)

    def add_nominated(self, pod: PodInfo, node: str) -> None:
        self.delete_nominated(pod.uid)
        self._nominated.setdefault(node, {})[pod.uid] = pod
        self._nominated_node[pod.uid] = node

    def delete_nominated(self, uid: str) -> None:
        node = self._nominated_node.pop(uid, None)
        if node is not None:
            pods = self._nominated.get(node, {})
            pods.pop(uid, None)
            if not pods:
                self._nominated.pop(node, None)

    def nominated_pods(self, node: str) -> list[PodInfo]:
        return list(self._nominated.get(node, {}).values())

    def has_nominated_pods(self) -> bool:
        return bool(self._nominated_node)

    def nominated_node(self, uid: str) -> str | None:
        return self._nominated_node.get(uid)

    def snapshot(self) -> dict[str, Any]:
        return {"counts": self.counts(), "nominated": dict(self._nominated_node)}
