"""The node lifecycle controller (upstream's ``nodelifecycle.Controller``, component
``node-controller``).

Two kinds of keys share one queue:

* ``MONITOR_KEY`` — the periodic health pass, every ``node_monitor_period`` on the
  injected clock: each node is observed with its Lease (``health.observe``); a node silent
  for the grace period gets Unknown conditions (``health.unknown_conditions``, one
  ``pods/status``-style write of ``nodes/status``) and a ``NodeNotReady`` Event; the pods
  of a node that is not Ready get their Ready condition set False (MarkPodsNotReady, a
  ``NodeNotReady`` Warning on each pod); zones get their disruption state and each zone a
  token bucket that paces NoExecute tainting (``not-ready`` when Ready=False,
  ``unreachable`` when Unknown; swapped at once, removed at once on recovery, never added —
  and all removed — while every zone is fully disrupted: "master disruption mode").
  ``RegisteredNode`` / ``RemovingNode`` Events mark nodes the controller starts or stops
  tracking.
* a node name — its NoSchedule taints are made to mirror its conditions and
  ``spec.unschedulable`` (``taints.condition_taints``), so ``kubectl cordon`` gives the
  ``node.kubernetes.io/unschedulable`` taint and ``uncordon`` takes it away.

Taint writes re-read the node and PUT it with its resourceVersion (a Conflict re-reads
again), touching only the taints this controller owns.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import Any

from kubepy import errors
from kubepy.api.registry import Registry, ResourceType
from kubepy.api.taints import NO_EXECUTE
from kubepy.client.controller import Controller
from kubepy.client.events import NORMAL, WARNING
from kubepy.controllers.context import ControllerContext
from kubepy.controllers.nodelifecycle import health as hl
from kubepy.controllers.nodelifecycle import taints as tn

log = logging.getLogger("kubepy.controllers.nodelifecycle")
Obj = dict[str, Any]
_REG = Registry()
NODES: ResourceType = _REG.get("", "v1", "nodes")  # type: ignore[assignment]
PODS: ResourceType = _REG.get("", "v1", "pods")  # type: ignore[assignment]
LEASES: ResourceType = _REG.get("coordination.k8s.io", "v1", "leases")  # type: ignore[assignment]
NODE_LEASE_NAMESPACE = "kube-node-lease"
COMPONENT = "node-controller"
MONITOR_KEY = " monitor"  # not a valid node name
POD_NODE_INDEX = "pod-node-name"
WRITE_RETRIES = 5


def pod_node_index(pod: Obj) -> list[str]:
    node = (pod.get("spec") or {}).get("nodeName")
    return [node] if node else []


def pods_to_mark_not_ready(pods: list[Obj], node_name: str) -> list[Obj]:
    """Pods on ``node_name`` whose Ready condition is still True."""
    out = []
    for pod in pods:
        if (pod.get("spec") or {}).get("nodeName") != node_name:
            continue
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        if any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or []):
            out.append(pod)
    return out


def pod_not_ready(pod: Obj, now: str) -> Obj:
    """A copy of ``pod`` with its Ready condition False since ``now``."""
    out = copy.deepcopy(pod)
    for cond in out.get("status", {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            cond["status"] = "False"
            cond["lastTransitionTime"] = now
    return out


class NodeLifecycleController(Controller):
    name = COMPONENT

    def __init__(self, ctx: ControllerContext, *, eviction_qps: float = hl.EVICTION_QPS,
                 secondary_eviction_qps: float = hl.SECONDARY_EVICTION_QPS,
                 large_cluster_size: int = hl.LARGE_CLUSTER_SIZE,
                 unhealthy_zone_threshold: float = hl.UNHEALTHY_ZONE_THRESHOLD) -> None:
        self.client = ctx.client
        self.config = ctx.config
        self.nodes = ctx.informers.informer(NODES)
        self.leases = ctx.informers.informer(LEASES, namespace=NODE_LEASE_NAMESPACE)
        self.pods = ctx.informers.informer(PODS)
        self.pods.add_indexer(POD_NODE_INDEX, pod_node_index)
        super().__init__(name=COMPONENT, workers=ctx.workers(COMPONENT, 2), clock=ctx.clock,
                         informers=[self.nodes, self.leases, self.pods])
        self.recorder = ctx.recorder_for(COMPONENT)
        self.eviction_qps = eviction_qps
        self.secondary_eviction_qps = secondary_eviction_qps
        self.large_cluster_size = large_cluster_size
        self.unhealthy_zone_threshold = unhealthy_zone_threshold
        self.health: dict[str, hl.NodeHealth] = {}
        self.zone_states: dict[str, hl.ZoneState] = {}
        self.zone_buckets: dict[str, hl.TokenBucket] = {}
        self.taint_queue: dict[str, dict[str, None]] = {}  # zone -> ordered node names
        self.nodes.add_event_handler(self._on_node, self._on_node_update, None)
        self.enqueue_key(MONITOR_KEY)

    def _on_node(self, node: Obj) -> None:
        self.enqueue(node)

    def _on_node_update(self, old: Obj, new: Obj) -> None:
        if tn.condition_taints(old) != tn.condition_taints(new) or \
                tn.taint_ids((old.get("spec") or {}).get("taints")) != \
                tn.taint_ids((new.get("spec") or {}).get("taints")):
            self.enqueue(new)

    async def reconcile(self, key: str) -> float | None:
        if key == MONITOR_KEY:
            try:
                return await self.monitor()
            except (errors.StatusError, ConnectionError) as e:  # keep the period
                log.warning("node health pass failed: %r", e)
                return self.config.node_monitor_period
        node = self.nodes.store.get(key)
        if node is None:
            return None
        desired = tn.condition_taints(node)
        if tn.with_taints((node.get("spec") or {}).get("taints"), tn.NO_SCHEDULE_MANAGED,
                          desired) is not None:
            await self.update_taints(key, tn.NO_SCHEDULE_MANAGED, lambda fresh:
                                     tn.condition_taints(fresh))
        return None

    # ------------------------------------------------------------------ writes

    async def update_taints(self, name: str, managed: frozenset[tuple[str, str]],
                            desired_for: Any) -> Obj | None:
        """Make ``managed`` taints of node ``name`` equal ``desired_for(fresh node)``."""
        for _ in range(WRITE_RETRIES):
            try:
                fresh = await self.client.get(NODES, name)
            except errors.NotFound:
                return None
            spec = fresh.setdefault("spec", {})
            new = tn.with_taints(spec.get("taints"), managed, desired_for(fresh))
            if new is None:
                return fresh
            if new:
                spec["taints"] = new
            else:
                spec.pop("taints", None)
            try:
                return await self.client.update(NODES, fresh)
            except errors.Conflict:
                continue
            except errors.NotFound:
                return None
        raise errors.Conflict(f"could not update taints of node {name}")

    async def _mark_unknown(self, node: Obj, saved: hl.NodeHealth | None) -> tuple[Obj, hl.NodeHealth]:
        """Write Unknown conditions unless the node turns out alive after all."""
        name = node["metadata"]["name"]
        now = self.clock.monotonic()
        current, h = node, saved
        for attempt in range(WRITE_RETRIES):
            if attempt:
                try:
                    current = await self.client.get(NODES, name)
                except errors.NotFound:
                    return node, h  # type: ignore[return-value]
                h = hl.observe(h, current, self.leases.store.get_by_name(
                    NODE_LEASE_NAMESPACE, name), now)
                if not hl.is_stale(h, current, now, self.config.node_monitor_grace_period):
                    return current, h
            conditions = hl.unknown_conditions(current, hl.format_time(self.clock.now()))
            if conditions is None:
                return current, h  # type: ignore[return-value]
            body = copy.deepcopy(current)
            body.setdefault("status", {})["conditions"] = conditions
            try:
                updated = await self.client.update_status(NODES, body)
            except errors.Conflict:
                continue
            except errors.NotFound:
                return current, h  # type: ignore[return-value]
            assert h is not None
            return updated, hl.NodeHealth(h.probe_timestamp, now,
                                          hl.ready_condition(updated), h.lease_renew_time)
        return current, h  # type: ignore[return-value]

    async def mark_pods_not_ready(self, node_name: str) -> None:
        pods = pods_to_mark_not_ready(self.pods.store.by_index(POD_NODE_INDEX, node_name),
                                      node_name)
        stamp = hl.format_time(self.clock.now())

        async def one(pod: Obj) -> None:
            try:
                await self.client.update_status(PODS, pod_not_ready(pod, stamp))
            except (errors.Conflict, errors.NotFound):
                return
            self.recorder.event(pod, WARNING, "NodeNotReady", "Node is not ready")
        for i in range(0, len(pods), 50):
            await asyncio.gather(*(one(p) for p in pods[i:i + 50]))

    # ------------------------------------------------------------------ monitor

    def _bucket(self, zone: str, now: float) -> hl.TokenBucket:
        bucket = self.zone_buckets.get(zone)
        if bucket is None:
            bucket = self.zone_buckets[zone] = hl.TokenBucket(self.eviction_qps, now)
        return bucket

    def _zone_qps(self, state: hl.ZoneState, size: int) -> float:
        return hl.eviction_qps(state, size, qps=self.eviction_qps,
                               secondary_qps=self.secondary_eviction_qps,
                               large_cluster_size=self.large_cluster_size)

    async def monitor(self) -> float:
        now = self.clock.monotonic()
        nodes = {n["metadata"]["name"]: n for n in self.nodes.store.list()}
        for name in [n for n in self.health if n not in nodes]:
            del self.health[name]
            for queue in self.taint_queue.values():
                queue.pop(name, None)
            self.recorder.event({"apiVersion": "v1", "kind": "Node",
                                 "metadata": {"name": name, "uid": name}}, NORMAL,
                                "RemovingNode",
                                f"Node {name} event: Removing Node {name} from Controller")
        ready_by_node: dict[str, str | None] = {}
        zone_of: dict[str, str] = {}
        for name, node in nodes.items():
            if name not in self.health:
                self.recorder.event(node, NORMAL, "RegisteredNode",
                                    f"Node {name} event: Registered Node {name} in Controller")
            lease = self.leases.store.get_by_name(NODE_LEASE_NAMESPACE, name)
            observed = hl.ready_condition(node)
            h = hl.observe(self.health.get(name), node, lease, now)
            current = node
            if hl.is_stale(h, node, now, self.config.node_monitor_grace_period):
                current, h = await self._mark_unknown(node, h)
            self.health[name] = h
            current_ready = (hl.ready_condition(current) or {}).get("status")
            if (observed or {}).get("status") == "True" and current_ready != "True":
                self.recorder.event(current, NORMAL, "NodeNotReady",
                                    f"Node {name} status is now: NodeNotReady")
            if current_ready != "True":
                await self.mark_pods_not_ready(name)
            ready_by_node[name] = current_ready
            zone_of[name] = hl.zone_key(current)
            nodes[name] = current
        all_disrupted = self._handle_disruption(ready_by_node, zone_of, now)
        await self._no_execute_pass(nodes, ready_by_node, zone_of, all_disrupted)
        return self._next_pass_in(now)

    def _handle_disruption(self, ready_by_node: dict[str, str | None],
                           zone_of: dict[str, str], now: float) -> bool:
        by_zone: dict[str, list[str | None]] = {}
        for name, status in ready_by_node.items():
            by_zone.setdefault(zone_of[name], []).append(status)
        new_states = {z: hl.zone_state(s, self.unhealthy_zone_threshold)
                      for z, s in by_zone.items()}
        full = hl.ZoneState.FULL_DISRUPTION
        all_now = bool(new_states) and all(s is full for s in new_states.values())
        all_before = bool(self.zone_states) and all(
            s is full for s in self.zone_states.values())
        if all_now and not all_before:
            log.warning("Controller detected that all Nodes are not-Ready. Entering master "
                        "disruption mode.")
        if all_before and not all_now:
            log.info("Controller detected that some Nodes are Ready. Exiting master "
                     "disruption mode.")
            self.health = {n: hl.NodeHealth(now, now, h.ready_condition, h.lease_renew_time)
                           for n, h in self.health.items()}
        for zone, state in new_states.items():
            qps = 0.0 if all_now else self._zone_qps(state, len(by_zone[zone]))
            self._bucket(zone, now).set_qps(qps, now)
        for zone in [z for z in self.zone_buckets if z not in new_states]:
            del self.zone_buckets[zone]
            self.taint_queue.pop(zone, None)
        self.zone_states = new_states
        return all_now

    async def _no_execute_pass(self, nodes: dict[str, Obj], ready_by_node: dict[str, str | None],
                               zone_of: dict[str, str], all_disrupted: bool) -> None:
        for name, node in nodes.items():
            want = None if all_disrupted else tn.no_execute_taint_for(ready_by_node[name])
            have = tn.taint_ids((node.get("spec") or {}).get("taints")) & tn.NO_EXECUTE_MANAGED
            queue = self.taint_queue.setdefault(zone_of[name], {})
            if want is None:
                queue.pop(name, None)
                if have:
                    await self._set_no_execute(name, None)
            elif have == {(want, NO_EXECUTE)}:
                queue.pop(name, None)
            elif have:  # the other one (or both): swap at once, no rate limit
                queue.pop(name, None)
                await self._set_no_execute(name, want)
            else:
                queue.setdefault(name, None)
        now = self.clock.monotonic()
        for zone, queue in self.taint_queue.items():
            bucket = self._bucket(zone, now)
            while queue:
                name = next(iter(queue))
                want = tn.no_execute_taint_for(ready_by_node.get(name, "True"))
                if want is None or name not in nodes:
                    del queue[name]
                    continue
                if not bucket.try_accept(now):
                    break
                del queue[name]
                await self._set_no_execute(name, want)

    async def _set_no_execute(self, name: str, key: str | None) -> None:
        stamp = hl.format_time(self.clock.now())
        desired = [] if key is None else [{"key": key, "effect": NO_EXECUTE,
                                           "timeAdded": stamp}]
        try:
            await self.update_taints(name, tn.NO_EXECUTE_MANAGED, lambda fresh: desired)
        except errors.StatusError as e:
            log.warning("updating NoExecute taints of node %s failed: %s", name, e.message)

    def _next_pass_in(self, now: float) -> float:
        delay = self.config.node_monitor_period
        for zone, queue in self.taint_queue.items():
            if queue:
                wait = self._bucket(zone, now).wait_time(now)
                if wait is not None:
                    delay = min(delay, max(wait, 0.01))
        return delay
