"""The node IPAM controller (upstream's range allocator): every Node gets ``spec.podCIDR``
and ``spec.podCIDRs`` — one subnet of each cluster CIDR (``--cluster-cidr``, a /24 of an
IPv4 range by default) — that no other node has; a deleted Node's subnets are released.

Keys are node names. Before the first allocation every subnet the cached nodes already
hold is marked taken, so a restarted controller never hands one out twice. Allocation and
marking happen without an await between them, so several workers may run. A node whose
write has not yet reached the cache is given the same subnets again, never new ones.
When the range is exhausted the node gets a ``CIDRNotAvailable`` Event
(``Node n1 status is now: CIDRNotAvailable``) and is retried with back-off.
"""

from __future__ import annotations

import logging
from typing import Any

from kubepy import errors
from kubepy.api.registry import Registry, ResourceType
from kubepy.client.controller import Controller
from kubepy.client.events import NORMAL
from kubepy.client.store import meta_key
from kubepy.controllers.context import ControllerContext
from kubepy.controllers.nodeipam.cidrset import CidrSet, CIDRRangeNoCIDRsRemaining, cidr_sets

log = logging.getLogger("kubepy.controllers.nodeipam")
Obj = dict[str, Any]
NODES: ResourceType = Registry().get("", "v1", "nodes")  # type: ignore[assignment]
COMPONENT = "node-ipam-controller"


def node_pod_cidrs(node: Obj) -> list[str]:
    spec = node.get("spec") or {}
    cidrs = list(spec.get("podCIDRs") or [])
    if not cidrs and spec.get("podCIDR"):
        cidrs = [spec["podCIDR"]]
    return cidrs


class RangeAllocator:
    """The bookkeeping of the controller: which node holds which subnets. Pure."""

    def __init__(self, sets: list[CidrSet]) -> None:
        self.sets = sets
        self.by_node: dict[str, list[str]] = {}

    def _set_for(self, cidr: str) -> CidrSet | None:
        return next((s for s in self.sets if s.contains(cidr)), None)

    def occupy(self, node_name: str, cidrs: list[str]) -> None:
        """Record the subnets a node already has (ones outside every range are ignored)."""
        held = []
        for cidr in cidrs:
            cset = self._set_for(cidr)
            if cset is not None:
                cset.occupy(cidr)
                held.append(cidr)
        if held:
            self.by_node[node_name] = held

    def allocate(self, node_name: str) -> list[str]:
        """The node's subnets: those recorded for it, else one new subnet from each set."""
        if node_name in self.by_node:
            return list(self.by_node[node_name])
        got: list[str] = []
        try:
            for cset in self.sets:
                got.append(cset.allocate_next())
        except CIDRRangeNoCIDRsRemaining:
            for cidr in got:
                self._set_for(cidr).release(cidr)  # type: ignore[union-attr]
            raise
        self.by_node[node_name] = got
        return list(got)

    def release(self, node_name: str) -> list[str]:
        cidrs = self.by_node.pop(node_name, [])
        for cidr in cidrs:
            cset = self._set_for(cidr)
            if cset is not None:
                cset.release(cidr)
        return cidrs


class NodeIpamController(Controller):
    name = COMPONENT

    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        self.nodes = ctx.informers.informer(NODES)
        super().__init__(name=COMPONENT, workers=ctx.workers(COMPONENT, 10), clock=ctx.clock,
                         informers=[self.nodes])
        self.recorder = ctx.recorder_for(COMPONENT)
        self.allocator = RangeAllocator(cidr_sets(ctx.config.cluster_cidr,
                                                  ctx.config.node_cidr_mask_size))
        self._primed = False
        self.nodes.add_event_handler(self.enqueue, self._on_update, self._on_delete)

    def _on_update(self, old: Obj, new: Obj) -> None:
        if not node_pod_cidrs(new) or node_pod_cidrs(old) != node_pod_cidrs(new):
            self.enqueue(new)

    def _on_delete(self, node: Obj) -> None:
        self.enqueue_key(getattr(node, "key", None) or meta_key(node))

    def _prime(self) -> None:
        for node in self.nodes.store.list():
            cidrs = node_pod_cidrs(node)
            if cidrs:
                self.allocator.occupy(node["metadata"]["name"], cidrs)
        self._primed = True

    async def reconcile(self, key: str) -> float | None:
        if not self._primed:
            self._prime()
        node = self.nodes.store.get(key)
        if node is None:
            released = self.allocator.release(key)
            if released:
                log.info("released pod CIDRs %s of deleted node %s", released, key)
            return None
        have = node_pod_cidrs(node)
        if have:
            if self.allocator.by_node.get(key) != have:
                self.allocator.release(key)
                self.allocator.occupy(key, have)
            return None
        try:
            cidrs = self.allocator.allocate(key)
        except CIDRRangeNoCIDRsRemaining:
            self.recorder.event(node, NORMAL, "CIDRNotAvailable",
                                f"Node {key} status is now: CIDRNotAvailable")
            raise
        try:
            await self.client.patch(NODES, key, {"spec": {"podCIDR": cidrs[0],
                                                          "podCIDRs": cidrs}},
                                    namespace=None, patch_type="merge")
        except errors.NotFound:
            self.allocator.release(key)
        except errors.StatusError as e:
            self.recorder.event(node, NORMAL, "CIDRAssignmentFailed",
                                f"Node {key} status is now: CIDRAssignmentFailed")
            log.warning("assigning %s to node %s failed: %s", cidrs, key, e.message)
            raise
        return None


def new_controllers(ctx: ControllerContext) -> list[Controller]:
    return [NodeIpamController(ctx)]
