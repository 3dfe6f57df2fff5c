"""InterPodAffinity: required pod affinity / anti-affinity (Filter) and preferred terms
(Score), by topology domain (the value of ``topologyKey`` on the node).

PreFilter counts, per (topologyKey, value):
* ``existing_anti``: existing pods' required anti-affinity terms that match the new pod;
* ``affinity``: existing pods matching *all* the new pod's required affinity terms;
* ``anti``: existing pods matching each of the new pod's required anti-affinity terms.
Filter then rejects a node when (in this order) a required affinity term has no matching
pod in the node's domain (or the node lacks the key) — unless no pod anywhere matches and
the pod matches its own terms (the first of a group); when an anti-affinity term has a
match in the node's domain; when an existing pod's anti-affinity forbids the new pod in the
node's domain.

Score sums, per domain, the weights of matching preferred terms in both directions (the
new pod's preferred terms against existing pods; existing pods' required affinity (weight
1) and preferred terms against the new pod; anti-affinity subtracts), then normalises by
min/max to 0..100.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Callable, Iterable

from kubepy.scheduler.framework import (MAX_NODE_SCORE, SKIP, CycleState, Snapshot, Status,
                                        unresolvable, unschedulable)
from kubepy.scheduler.nodeinfo import AffinityTerm, NodeInfo, PodInfo

NAME = "InterPodAffinity"
ERR_AFFINITY = "node(s) didn't match pod affinity rules"
ERR_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
ERR_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
HARD_POD_AFFINITY_WEIGHT = 1
_PRE_FILTER = "PreFilter" + NAME
_PRE_SCORE = "PreScore" + NAME

Pair = tuple[str, str]


class _FilterState:
    __slots__ = ("existing_anti", "affinity", "anti", "ns_labels", "lookup")

    def __init__(self) -> None:
        self.existing_anti: dict[Pair, int] = defaultdict(int)
        self.affinity: dict[Pair, int] = defaultdict(int)
        self.anti: dict[Pair, int] = defaultdict(int)
        self.ns_labels: dict[str, str] | None = None
        self.lookup: Callable[[str], dict[str, str] | None] = lambda ns: None

    def clone(self) -> "_FilterState":
        c = _FilterState()
        c.existing_anti = defaultdict(int, self.existing_anti)
        c.affinity = defaultdict(int, self.affinity)
        c.anti = defaultdict(int, self.anti)
        c.ns_labels = self.ns_labels
        c.lookup = self.lookup
        return c


def _matches_all(terms: list[AffinityTerm], pod: PodInfo,
                 ns_labels: dict[str, str] | None) -> bool:
    return bool(terms) and all(t.matches(pod, ns_labels) for t in terms)


def _update(s: _FilterState, pod: PodInfo, existing: PodInfo, node: NodeInfo,
            ns_of: dict[str, str] | None, sign: int) -> None:
    """Add (sign=1) or remove (-1) ``existing`` on ``node`` to the counts for ``pod``."""
    labels = node.labels
    for t in existing.required_anti_affinity:
        if t.topology_key in labels and t.matches(pod, s.ns_labels):
            s.existing_anti[(t.topology_key, labels[t.topology_key])] += sign
    if pod.required_affinity and _matches_all(pod.required_affinity, existing, ns_of):
        for t in pod.required_affinity:
            if t.topology_key in labels:
                s.affinity[(t.topology_key, labels[t.topology_key])] += sign
    for t in pod.required_anti_affinity:
        if t.topology_key in labels and t.matches(existing, ns_of):
            s.anti[(t.topology_key, labels[t.topology_key])] += sign


def _positive(counts: dict[Pair, int]) -> bool:
    return any(v > 0 for v in counts.values())


class InterPodAffinity:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo, snapshot: Snapshot) -> Status | None:
        with_anti = snapshot.nodes_with_required_anti_affinity_pods()
        if not pod.required_affinity and not pod.required_anti_affinity and not with_anti:
            return SKIP
        s = _FilterState()
        s.ns_labels = snapshot.namespace_labels(pod.namespace)
        s.lookup = snapshot.namespace_labels
        ns_cache: dict[str, dict[str, str] | None] = {}

        def ns_of(p: PodInfo) -> dict[str, str] | None:
            if p.namespace not in ns_cache:
                ns_cache[p.namespace] = snapshot.namespace_labels(p.namespace)
            return ns_cache[p.namespace]

        nodes: Iterable[NodeInfo] = (snapshot.node_infos()
                                     if pod.required_affinity or pod.required_anti_affinity
                                     else with_anti)
        for node in nodes:
            for existing in node.pods.values():
                if existing.uid != pod.uid:
                    _update(s, pod, existing, node, ns_of(existing), 1)
        state.write(_PRE_FILTER, s)
        return None

    def add_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        s = state.read(_PRE_FILTER)
        if s is not None:
            _update(s, pod, other, node, s.lookup(other.namespace), 1)

    def remove_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        s = state.read(_PRE_FILTER)
        if s is not None:
            _update(s, pod, other, node, s.lookup(other.namespace), -1)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        s: _FilterState | None = state.read(_PRE_FILTER)
        if s is None:
            return None
        labels = node.labels
        if pod.required_affinity:
            exists = True
            for t in pod.required_affinity:
                value = labels.get(t.topology_key)
                if value is None:
                    return unresolvable(ERR_AFFINITY)
                if s.affinity.get((t.topology_key, value), 0) <= 0:
                    exists = False
            if not exists and not (not _positive(s.affinity) and _matches_all(
                    pod.required_affinity, pod, s.ns_labels)):
                return unresolvable(ERR_AFFINITY)
        for t in pod.required_anti_affinity:
            value = labels.get(t.topology_key)
            if value is not None and s.anti.get((t.topology_key, value), 0) > 0:
                return unschedulable(ERR_ANTI_AFFINITY)
        if s.existing_anti:
            for key, value in labels.items():
                if s.existing_anti.get((key, value), 0) > 0:
                    return unschedulable(ERR_EXISTING_ANTI_AFFINITY)
        return None

    # ------------------------------------------------------------------ score

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo],
                  snapshot: Snapshot) -> Status | None:
        has_preferred = bool(pod.preferred_affinity or pod.preferred_anti_affinity)
        candidates = snapshot.node_infos() if has_preferred else snapshot.nodes_with_affinity_pods()
        if not has_preferred and not candidates:
            return SKIP
        ns_labels = snapshot.namespace_labels(pod.namespace)
        topology: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))

        def add(term: AffinityTerm, labels: dict[str, str], weight: int) -> None:
            value = labels.get(term.topology_key)
            if value is not None:
                topology[term.topology_key][value] += weight

        for node in candidates:
            labels = node.labels
            for existing in node.pods.values():
                if existing.uid == pod.uid:
                    continue
                if has_preferred:
                    ens = snapshot.namespace_labels(existing.namespace)
                    for t in pod.preferred_affinity:
                        if t.matches(existing, ens):
                            add(t, labels, t.weight)
                    for t in pod.preferred_anti_affinity:
                        if t.matches(existing, ens):
                            add(t, labels, -t.weight)
                for t in existing.required_affinity:
                    if t.matches(pod, ns_labels):
                        add(t, labels, HARD_POD_AFFINITY_WEIGHT)
                for t in existing.preferred_affinity:
                    if t.matches(pod, ns_labels):
                        add(t, labels, t.weight)
                for t in existing.preferred_anti_affinity:
                    if t.matches(pod, ns_labels):
                        add(t, labels, -t.weight)
        if not topology:
            return SKIP
        state.write(_PRE_SCORE, topology)
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        topology = state.read(_PRE_SCORE) or {}
        total = 0
        for key, values in topology.items():
            value = node.labels.get(key)
            if value is not None:
                total += values.get(value, 0)
        return total

    def normalize_scores(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo],
                         scores: list[int]) -> list[int]:
        if not state.read(_PRE_SCORE) or not scores:
            return scores
        lo, hi = min(scores), max(scores)
        if hi == lo:
            return [0] * len(scores)
        return [int(MAX_NODE_SCORE * ((s - lo) / (hi - lo))) for s in scores]
