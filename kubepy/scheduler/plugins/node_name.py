"""NodeName: a pod that names a node in ``spec.nodeName`` fits only that node. (The
scheduler never picks up such pods itself; the plugin matters for preemption and for
callers that evaluate a pod against nodes.)"""

from __future__ import annotations

from kubepy.scheduler.framework import SKIP, CycleState, Snapshot, Status, unresolvable
from kubepy.scheduler.nodeinfo import NodeInfo, PodInfo

NAME = "NodeName"
ERR_REASON = "node(s) didn't match the requested node name"
_REJECT = unresolvable(ERR_REASON)


class NodeName:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo, snapshot: Snapshot) -> Status | None:
        return None if pod.node_name else SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not pod.node_name or pod.node_name == node.name:
            return None
        return _REJECT
