"""NodeUnschedulable: a cordoned node (``spec.unschedulable``) takes no new pods unless the
pod tolerates the ``node.kubernetes.io/unschedulable:NoSchedule`` taint."""

from __future__ import annotations

from kubepy.api.taints import tolerations_tolerate_taint
from kubepy.scheduler.framework import SKIP, CycleState, Rejected, Snapshot, Status, unresolvable
from kubepy.scheduler.nodeinfo import NodeInfo, PodInfo

NAME = "NodeUnschedulable"
ERR_REASON_UNSCHEDULABLE = "node(s) were unschedulable"
UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
_REJECT = unresolvable(ERR_REASON_UNSCHEDULABLE)


class NodeUnschedulable:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo, snapshot: Snapshot) -> Status | None:
        return None if snapshot.any_node_unschedulable() else SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not node.unschedulable or \
                tolerations_tolerate_taint(pod.tolerations, UNSCHEDULABLE_TAINT):
            return None
        return _REJECT

    def filter_nodes(self, state: CycleState, pod: PodInfo,
                     nodes: list[NodeInfo]) -> tuple[list[NodeInfo], Rejected]:
        ok = [n for n in nodes if not n.unschedulable]
        if len(ok) == len(nodes) or \
                tolerations_tolerate_taint(pod.tolerations, UNSCHEDULABLE_TAINT):
            return nodes, []
        return ok, [(n, _REJECT) for n in nodes if n.unschedulable]
