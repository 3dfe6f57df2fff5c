"""TaintToleration: Filter rejects a node with a NoSchedule or NoExecute taint the pod does
not tolerate (the first such taint names the reason); Score counts the node's
PreferNoSchedule taints the pod does not tolerate, normalised in reverse (fewer is
better)."""

from __future__ import annotations

from typing import Any, Mapping

from kubepy.api.taints import first_untolerated_taint, tolerations_tolerate_taint
from kubepy.scheduler.framework import (SKIP, CycleState, Rejected, Snapshot, Status, default_normalize,
                                        unresolvable)
from kubepy.scheduler.nodeinfo import NodeInfo, PodInfo

NAME = "TaintToleration"
_STATE = "PreScore" + NAME


def untolerated_taint_reason(taint: Mapping[str, Any]) -> str:
    return f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value', '')}}}"


class TaintToleration:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo, snapshot: Snapshot) -> Status | None:
        return None if snapshot.any_node_tainted(hard=True) else SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not node.hard_taints:
            return None
        taint = first_untolerated_taint(node.hard_taints, pod.tolerations)
        if taint is None:
            return None
        return unresolvable(untolerated_taint_reason(taint))

    def filter_nodes(self, state: CycleState, pod: PodInfo,
                     nodes: list[NodeInfo]) -> tuple[list[NodeInfo], Rejected]:
        if not any(n.hard_taints for n in nodes):
            return nodes, []
        ok: list[NodeInfo] = []
        bad: Rejected = []
        for n in nodes:
            s = self.filter(state, pod, n)
            if s is None:
                ok.append(n)
            else:
                bad.append((n, s))
        return ok, bad

    # -- score
    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo],
                  snapshot: Snapshot) -> Status | None:
        state.write(_STATE, [t for t in pod.tolerations
                             if (t.get("effect") or "PreferNoSchedule") == "PreferNoSchedule"])
        state.write(_STATE + "/any", snapshot.any_node_tainted())
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        tolerations = state.read(_STATE)
        if tolerations is None:
            tolerations = pod.tolerations
        return sum(1 for t in node.taints if t.get("effect") == "PreferNoSchedule"
                   and not tolerations_tolerate_taint(tolerations, t))

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int] | int:
        if state.read(_STATE + "/any") is False or not any(n.taints for n in nodes):
            return 0
        return [self.score(state, pod, n) if n.taints else 0 for n in nodes]

    def normalize_scores(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo],
                         scores: list[int]) -> list[int]:
        return default_normalize(scores, reverse=True)
