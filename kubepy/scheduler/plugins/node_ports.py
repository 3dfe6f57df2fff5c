"""NodePorts: a pod's hostPorts must be free on the node. Two (hostIP, protocol, port)
uses conflict when protocol and port are equal and either IP is 0.0.0.0 or both are
the same."""

from __future__ import annotations

from kubepy.scheduler.framework import SKIP, CycleState, Snapshot, Status, unschedulable
from kubepy.scheduler.nodeinfo import NodeInfo, PodInfo

NAME = "NodePorts"
ERR_REASON = "node(s) didn't have free ports for the requested pod ports"
_REJECT = unschedulable(ERR_REASON)
WILDCARD = "0.0.0.0"


def ports_conflict(wanted: tuple[tuple[str, str, int], ...],
                   used: dict[tuple[str, str, int], int]) -> bool:
    for ip, proto, port in wanted:
        for uip, uproto, uport in used:
            if uport == port and uproto == proto and (
                    ip == WILDCARD or uip == WILDCARD or ip == uip):
                return True
    return False


class NodePorts:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo, snapshot: Snapshot) -> Status | None:
        return None if pod.host_ports else SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if pod.host_ports and node.used_ports and ports_conflict(pod.host_ports, node.used_ports):
            return _REJECT
        return None
