"""``NodeSimulator``: one process pretending to be many kubelets with a simulated runtime
(kwok's shape), talking to the API server only through the API.

Scale comes from sharing, never from a task per node or per pod:

* two informers for the whole process: Nodes carrying our marker label, and bound Pods
  (``fieldSelector=spec.nodeName!=``), filtered to our node names in the handlers;
* three work queues (``Controller`` subclasses: de-duplicated keys, a fixed pool of
  workers, timers on the queue's one delay heap, per-key back-off on failure):
  lease renewals (every 10 s per node, leaseDurationSeconds 40), node status heartbeats
  (every ``node_status_frequency`` s, or at once when the node no longer reads Ready from
  us) and pod syncs (a key per pod: its next lifecycle transition or deletion deadline is
  its next ``add_after``);
* a pod's status is written with one PUT of ``pods/status`` carrying every change since the
  last write, and only when it differs from what the informer holds.

The pod lifecycle itself is ``lifecycle`` (pure) and its status ``podstatus`` (pure).
Stopping the simulator writes nothing: its nodes' Leases stop being renewed, so the node
lifecycle controller sees them as lost machines.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from kubepy import errors
from kubepy.api.registry import Registry, ResourceType
from kubepy.client import gcpolicy
from kubepy.client.clock import REAL_CLOCK, Clock
from kubepy.client.controller import Controller
from kubepy.client.factory import SharedInformerFactory
from kubepy.client.informer import Informer
from kubepy.client.ratelimit import ItemExponentialFailureRateLimiter
from kubepy.client.rest import ApiClient
from kubepy.client.tasks import cancel_and_wait
from kubepy.kubelet.simulated import lifecycle, nodes
from kubepy.kubelet.simulated.podstatus import pod_status

log = logging.getLogger("kubepy.kubelet.simulated")

Obj = dict[str, Any]
_REGISTRY = Registry()
NODES: ResourceType = _REGISTRY.get("", "v1", "nodes")  # type: ignore[assignment]
PODS: ResourceType = _REGISTRY.get("", "v1", "pods")  # type: ignore[assignment]
LEASES: ResourceType = _REGISTRY.get("coordination.k8s.io", "v1", "leases")  # type: ignore[assignment]


@dataclass
class SimNode:
    name: str
    index: int
    uid: str = ""
    lease: Obj | None = None           # as last written (its resourceVersion is our precondition)
    last_node: Obj | None = None       # as last written or registered
    allocator: nodes.PodIPAllocator | None = None


@dataclass
class SimConfig:
    count: int
    prefix: str = "sim-"
    start_index: int = 0
    template: nodes.NodeTemplate = field(default_factory=nodes.NodeTemplate)
    node_status_frequency: float = 60.0
    lease_duration: int = nodes.LEASE_DURATION_SECONDS  # renewed every quarter of it

    @property
    def lease_renew_interval(self) -> float:
        return self.lease_duration / 4
    workers: int = 16
    registration_concurrency: int = 32
    tune_gc: bool = True  # kubepy.client.gcpolicy: thresholds, a freeze once registered


def _retry_limiter() -> ItemExponentialFailureRateLimiter:
    return ItemExponentialFailureRateLimiter(0.2, 10.0)


class _Queue(Controller):
    """A work queue whose reconcile is a bound method of the simulator."""

    def __init__(self, name: str, fn: Callable[[str], Awaitable[float | None]], *,
                 workers: int, clock: Clock, informers: list[Informer]) -> None:
        super().__init__(name=name, workers=workers, clock=clock, informers=informers,
                         rate_limiter=_retry_limiter())
        self._fn = fn

    async def reconcile(self, key: str) -> float | None:
        return await self._fn(key)


class NodeSimulator:
    def __init__(self, client: ApiClient, config: SimConfig, *,
                 clock: Clock | None = None) -> None:
        self.client = client
        self.config = config
        self.clock: Clock = clock or REAL_CLOCK
        self.nodes: dict[str, SimNode] = {}
        for i in range(config.start_index, config.start_index + config.count):
            name = nodes.node_name(config.prefix, i)
            self.nodes[name] = SimNode(name, i)
        self.informers = SharedInformerFactory(client, clock=self.clock)
        self.node_informer = self.informers.informer(
            NODES, label_selector=f"{nodes.SIM_LABEL}={nodes.SIM_LABEL_VALUE}")
        self.pod_informer = self.informers.informer(PODS, field_selector="spec.nodeName!=")
        self.runtimes: dict[str, lifecycle.PodRuntime] = {}
        self.pod_nodes: dict[str, str] = {}            # pod key -> node, for IP release
        self.deletion_deadlines: dict[str, float] = {}
        workers = config.workers
        self.lease_queue = _Queue("sim-leases", self.renew_lease, workers=workers,
                                  clock=self.clock, informers=[])
        self.status_queue = _Queue("sim-node-status", self.post_node_status, workers=workers,
                                   clock=self.clock, informers=[self.node_informer])
        self.pod_queue = _Queue("sim-pods", self.sync_pod, workers=workers * 2,
                                clock=self.clock,
                                informers=[self.node_informer, self.pod_informer])
        self.node_informer.add_event_handler(self._on_node, lambda _, new: self._on_node(new),
                                             self._on_node_deleted)
        self.pod_informer.add_event_handler(self._on_pod, lambda _, new: self._on_pod(new),
                                            self._on_pod)
        self.registered = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Register every node, then keep them alive and run their pods (returns once
        registration is done; the work continues in background tasks)."""
        if self.config.tune_gc:
            gcpolicy.tune()
        self.informers.start()
        loop = asyncio.get_running_loop()
        for q in (self.lease_queue, self.status_queue, self.pod_queue):
            self._tasks.append(loop.create_task(q.run(), name=q.name))
        await self.register_all()
        self.registered.set()
        if self.config.tune_gc:
            gcpolicy.freeze()  # the registered nodes stay out of the collector's scans

    async def stop(self) -> None:
        for q in (self.lease_queue, self.status_queue, self.pod_queue):
            await q.shutdown()
        await cancel_and_wait(self._tasks)
        self._tasks = []
        await self.informers.stop()

    def _now(self) -> float:
        return self.clock.now().timestamp()

    # ------------------------------------------------------------------ nodes

    async def register_all(self) -> None:
        pending = list(self.nodes.values())
        sem = asyncio.Semaphore(self.config.registration_concurrency)

        async def one(node: SimNode) -> None:
            async with sem:
                delay = 0.5
                while True:
                    try:
                        await self.register(node)
                        return
                    except (errors.StatusError, ConnectionError) as e:
                        log.warning("registering node %s failed, retrying: %r", node.name, e)
                        await self.clock.sleep(delay)
                        delay = min(delay * 2, 10.0)

        await asyncio.gather(*(one(n) for n in pending))
        log.info("registered %d simulated nodes", len(pending))

    async def register(self, node: SimNode) -> None:
        now = self.clock.now()
        body = nodes.new_node(node.name, node.index, self.config.template, now)
        try:
            created = await self.client.create(NODES, body)
        except errors.AlreadyExists:
            created = await self.client.get(NODES, node.name)
        node.uid = created["metadata"]["uid"]
        node.last_node = created
        self.lease_queue.enqueue_key(node.name)
        if not nodes.node_is_healthy(created) or self._status_stale(created):
            self.status_queue.enqueue_key(node.name)
        else:
            self.status_queue.enqueue_after(node.name, self.config.node_status_frequency)

    def _status_stale(self, node: Obj) -> bool:
        info = (node.get("status") or {}).get("nodeInfo") or {}
        return info.get("kubeletVersion") != self.config.template.kubelet_version

    async def renew_lease(self, name: str) -> float | None:
        node = self.nodes.get(name)
        if node is None or not node.uid:
            return None
        now = self.clock.now()
        if node.lease is None:
            try:
                node.lease = await self.client.get(LEASES, name, nodes.NODE_LEASE_NAMESPACE)
            except errors.NotFound:
                try:
                    node.lease = await self.client.create(
                        LEASES, nodes.new_lease(name, node.uid, now,
                                                self.config.lease_duration))
                    return self.config.lease_renew_interval
                except errors.AlreadyExists:
                    return 0.05
        try:
            node.lease = await self.client.update(
                LEASES, nodes.renewed_lease(node.lease, name, now, self.config.lease_duration))
        except (errors.Conflict, errors.NotFound):
            node.lease = None  # re-read (or re-create) at once
            return 0.05
        return self.config.lease_renew_interval

    async def post_node_status(self, name: str) -> float | None:
        node = self.nodes.get(name)
        if node is None or not node.uid:
            return None
        current = self.node_informer.store.get(name) or node.last_node
        if current is None:
            return 1.0
        body = {**current, "status": nodes.node_status(name, node.index, self.config.template,
                                                       current.get("status"), self.clock.now())}
        try:
            node.last_node = await self.client.update(NODES, body, subresource="status")
        except errors.Conflict:
            node.last_node = await self.client.get(NODES, name)
            return 0.05
        except errors.NotFound:
            return None
        return self.config.node_status_frequency

    def _on_node(self, obj: Obj) -> None:
        name = obj["metadata"]["name"]
        node = self.nodes.get(name)
        if node is None or not node.uid:
            return
        if obj["metadata"].get("uid") != node.uid:
            return
        if not nodes.node_is_healthy(obj):
            self.status_queue.enqueue_key(name)

    def _on_node_deleted(self, obj: Obj) -> None:
        name = obj["metadata"]["name"]
        node = self.nodes.get(name)
        if node is not None and obj["metadata"].get("uid") == node.uid:
            log.info("simulated node %s was deleted: no longer simulating it", name)
            del self.nodes[name]

    def host_ip(self, node: SimNode) -> str:
        return nodes.node_ip(node.index)

    def _allocator(self, node: SimNode) -> nodes.PodIPAllocator:
        cached = self.node_informer.store.get(node.name) or node.last_node or {}
        cidr = (cached.get("spec") or {}).get("podCIDR") or nodes.fallback_pod_cidr(node.index)
        if node.allocator is None or str(node.allocator.network) != cidr:
            node.allocator = nodes.PodIPAllocator(cidr)
        return node.allocator

    # ------------------------------------------------------------------ pods

    def _on_pod(self, obj: Obj) -> None:
        node = (obj.get("spec") or {}).get("nodeName")
        if node in self.nodes:
            self.pod_queue.enqueue(obj)

    def _forget(self, key: str) -> None:
        rt = self.runtimes.pop(key, None)
        node_name = self.pod_nodes.pop(key, None)
        self.deletion_deadlines.pop(key, None)
        if rt is not None and node_name is not None:
            node = self.nodes.get(node_name)
            if node is not None and node.allocator is not None:
                node.allocator.release(rt.pod_ip)

    def _start(self, pod: Obj, node: SimNode, now: float) -> lifecycle.PodRuntime:
        spec = pod.get("spec") or {}
        status = pod.get("status") or {}
        ip: str | None
        if spec.get("hostNetwork"):
            ip = self.host_ip(node)
        else:
            allocator = self._allocator(node)
            ip = status.get("podIP") if status.get("podIP") and allocator.reserve(
                status["podIP"]) else allocator.allocate()
            if ip is None:
                raise RuntimeError(f"node {node.name}: no pod IP left in {allocator.network}")
        return lifecycle.start_pod(pod, now, ip)

    async def sync_pod(self, key: str) -> float | None:
        pod = self.pod_informer.store.get(key)
        node = self.nodes.get((pod or {}).get("spec", {}).get("nodeName") or "")
        if pod is None or node is None:
            self._forget(key)
            return None
        meta = pod["metadata"]
        rt = self.runtimes.get(key)
        if rt is not None and rt.uid != meta.get("uid"):
            self._forget(key)
            rt = None
        now = self._now()
        phase = (pod.get("status") or {}).get("phase")
        terminal = phase in ("Succeeded", "Failed")
        if meta.get("deletionTimestamp"):
            deadline = lifecycle.deletion_deadline(
                meta.get("deletionGracePeriodSeconds"), now, self.deletion_deadlines.get(key),
                terminal=terminal or (rt is not None and rt.finished_at is not None))
            self.deletion_deadlines[key] = deadline
            if deadline > now:
                return deadline - now
            try:
                await self.client.delete(PODS, meta["name"], meta["namespace"],
                                         grace_period_seconds=0,
                                         preconditions={"uid": meta["uid"]})
            except (errors.NotFound, errors.Conflict):
                pass
            self._forget(key)
            return None
        if rt is None:
            if terminal:
                return None  # finished before we knew it: nothing runs any more
            rt = self._start(pod, node, now)
            self.pod_nodes[key] = node.name
        rt = lifecycle.advance(rt, now)
        self.runtimes[key] = rt
        status = pod_status(pod, rt, self.host_ip(node), now)
        if status != pod.get("status"):
            body = copy.copy(pod)
            body["status"] = status
            try:
                # the answer is not read: the informer brings the stored pod
                await self.client.update(PODS, body, subresource="status", decode=False)
            except errors.NotFound:
                self._forget(key)
                return None
            except errors.Conflict:
                return 0.1  # the informer brings the newer pod; sync again then
        nxt = lifecycle.next_transition(rt)
        return None if nxt is None else max(0.0, nxt - now)

    # ------------------------------------------------------------------ views

    def registered_nodes(self) -> int:
        return sum(1 for n in self.nodes.values() if n.uid)

    def running_pods(self) -> int:
        return sum(1 for rt in self.runtimes.values() if rt.finished_at is None)
