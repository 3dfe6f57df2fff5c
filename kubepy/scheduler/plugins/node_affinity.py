"""NodeAffinity: ``nodeSelector`` and required node affinity filter nodes; preferred node
affinity scores them (sum of the weights of matching preferred terms, normalised so the
best node gets 100)."""

from __future__ import annotations

from typing import Any

from kubepy.scheduler.framework import (SKIP, CycleState, Snapshot, Status, default_normalize,
                                        unresolvable)
from kubepy.scheduler.nodeinfo import NodeInfo, PodInfo
from kubepy.scheduler.plugins.helpers import required_node_affinity, term_matches

NAME = "NodeAffinity"
ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector"
_REJECT = unresolvable(ERR_REASON_POD)
_PRE_FILTER = "PreFilter" + NAME
_PRE_SCORE = "PreScore" + NAME


def _preferred(pod: PodInfo) -> list[tuple[int, dict[str, Any]]]:
    na = (pod.spec.get("affinity") or {}).get("nodeAffinity") or {}
    return [(int(t.get("weight") or 0), t.get("preference") or {})
            for t in na.get("preferredDuringSchedulingIgnoredDuringExecution") or []
            if t.get("weight")]


class NodeAffinity:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo, snapshot: Snapshot) -> Status | None:
        selector, required = required_node_affinity(pod.spec)
        if not selector and required is None:
            return SKIP
        terms = (required or {}).get("nodeSelectorTerms") or [] if required is not None else None
        state.write(_PRE_FILTER, (selector, terms))
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        data = state.read(_PRE_FILTER)
        if data is None:
            selector, required = required_node_affinity(pod.spec)
            data = (selector, None if required is None else required.get("nodeSelectorTerms") or [])
        selector, terms = data
        labels = node.labels
        for k, v in selector.items():
            if labels.get(k) != v:
                return _REJECT
        if terms is not None and not any(term_matches(t, node.name, labels) for t in terms):
            return _REJECT
        return None

    # -- score
    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo],
                  snapshot: Snapshot) -> Status | None:
        preferred = _preferred(pod)
        if not preferred:
            return SKIP
        state.write(_PRE_SCORE, preferred)
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        preferred = state.read(_PRE_SCORE)
        if preferred is None:
            preferred = _preferred(pod)
        return sum(w for w, term in preferred if term_matches(term, node.name, node.labels))

    def normalize_scores(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo],
                         scores: list[int]) -> list[int]:
        return default_normalize(scores)
