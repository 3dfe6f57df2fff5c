"""PodTopologySpread: ``topologySpreadConstraints`` (maxSkew, topologyKey,
whenUnsatisfiable, labelSelector + matchLabelKeys, minDomains, nodeAffinityPolicy,
nodeTaintsPolicy).

Filter (DoNotSchedule constraints): PreFilter counts matching pods (same namespace, not
terminating) per domain over the nodes that carry every constraint's key and pass the
inclusion policies; a node is rejected when it lacks a key (unresolvable) or when
``count(domain) + self - min(count over domains)`` exceeds maxSkew (``min`` is 0 while
there are fewer domains than minDomains).

Score (ScheduleAnyway constraints, or the system defaults — hostname maxSkew 3, zone
maxSkew 5 — for a pod with no constraints whose Services/ReplicaSets/... give a selector):
per constraint ``count * log(domains + 2) + maxSkew - 1``, rounded; normalised so the
emptiest domain scores 100.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from kubepy.api.labels import LabelSelector, Operator, Requirement, selector_from_label_selector
from kubepy.api.taints import first_untolerated_taint
from kubepy.scheduler.framework import (MAX_NODE_SCORE, SKIP, CycleState, Snapshot, Status,
                                        unresolvable, unschedulable)
from kubepy.scheduler.nodeinfo import NodeInfo, PodInfo
from kubepy.scheduler.plugins.helpers import pod_matches_node_affinity
from kubepy.scheduler.plugins.node_resources_fit import memo_key

NAME = "PodTopologySpread"
ERR_CONSTRAINTS = "node(s) didn't match pod topology spread constraints"
ERR_NODE_LABEL = ERR_CONSTRAINTS + " (missing required label)"
HOSTNAME = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"
_PRE_FILTER = "PreFilter" + NAME
_PRE_SCORE = "PreScore" + NAME

DefaultSelector = Callable[[PodInfo], "LabelSelector | None"]


class Constraint:
    __slots__ = ("max_skew", "topology_key", "selector", "min_domains", "honor_affinity",
                 "honor_taints")

    def __init__(self, c: dict[str, Any], pod: PodInfo | None = None,
                 selector: LabelSelector | None = None) -> None:
        self.max_skew = int(c.get("maxSkew") or 1)
        self.topology_key: str = c.get("topologyKey") or ""
        if selector is None:
            selector = selector_from_label_selector(c.get("labelSelector"))
            keys = [k for k in c.get("matchLabelKeys") or [] if pod and k in pod.labels]
            if keys and pod is not None:
                reqs = list(selector.requirements) + [
                    Requirement(k, Operator.IN, (pod.labels[k],)) for k in keys]
                selector = LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)),
                                         selector.nothing)
        self.selector = selector
        self.min_domains = int(c.get("minDomains") or 1)
        self.honor_affinity = (c.get("nodeAffinityPolicy") or "Honor") == "Honor"
        self.honor_taints = (c.get("nodeTaintsPolicy") or "Ignore") == "Honor"

    def includes(self, pod: PodInfo, node: NodeInfo) -> bool:
        if self.honor_affinity and not pod_matches_node_affinity(pod.spec, node.name, node.labels):
            return False
        if self.honor_taints and node.hard_taints and \
                first_untolerated_taint(node.hard_taints, pod.tolerations) is not None:
            return False
        return True


def constraints_of(pod: PodInfo, when: str) -> list[Constraint]:
    return [Constraint(c, pod) for c in pod.spec.get("topologySpreadConstraints") or []
            if c.get("whenUnsatisfiable", "DoNotSchedule") == when]


def count_matching(node: NodeInfo, selector: LabelSelector, namespace: str,
                   key: object | None = None) -> int:
    """Pods on *node* in *namespace*, not terminating, matching *selector*. Memoised in
    ``node.memo``, which NodeInfo clears whenever its pods change: the pods of one
    ReplicaSet are scored against the same nodes over and over. ``key`` is
    ``count_key(namespace, selector)`` when the caller has it (hashing a selector per node
    costs more than the lookup)."""
    if selector.nothing:
        return 0
    if key is None:
        key = count_key(namespace, selector)
    count = node.memo.get(key)
    if count is None:
        count = sum(1 for p in node.pods.values() if p.namespace == namespace
                    and not p.terminating and selector.matches(p.labels))
        node.memo[key] = count
    return count


def count_key(namespace: str, selector: LabelSelector) -> object:
    """The memo key of ``count_matching`` for this namespace and selector (one object per
    distinct pair, so the per-node lookups hash an identity, not a selector)."""
    return memo_key((NAME, namespace, selector))


def _has_all_keys(labels: dict[str, str], constraints: list[Constraint]) -> bool:
    return all(c.topology_key in labels for c in constraints)


class _FilterState:
    __slots__ = ("constraints", "counts")

    def __init__(self, constraints: list[Constraint]) -> None:
        self.constraints = constraints
        self.counts: list[dict[str, int]] = [{} for _ in constraints]

    def clone(self) -> "_FilterState":
        c = _FilterState(self.constraints)
        c.counts = [dict(m) for m in self.counts]
        return c

    def min_match(self, i: int) -> int:
        m = self.counts[i]
        if len(m) < self.constraints[i].min_domains or not m:
            return 0
        return min(m.values())


class _ScoreState:
    """PreScore's result: per constraint its weight, its domain counts (hostname: counted
    per node from ``node.memo``) and ``maxSkew - 1``; nodes lacking a required key."""

    __slots__ = ("constraints", "counts", "weights", "ignored", "_terms")

    def __init__(self, constraints: list[Constraint], counts: list[dict[str, int]],
                 weights: list[float], ignored: set[str], namespace: str) -> None:
        self.constraints = constraints
        self.counts = counts
        self.weights = weights
        self.ignored = ignored
        self._terms = [(c.topology_key, c.topology_key == HOSTNAME, counts[i], weights[i],
                        c.max_skew - 1, c.selector, namespace,
                        count_key(namespace, c.selector))
                       for i, c in enumerate(constraints)]

    def score(self, node: NodeInfo) -> int:
        if node.name in self.ignored:
            return 0
        total = 0.0
        labels = node.labels
        for key, per_node, domain, weight, skew, selector, namespace, memo in self._terms:
            value = labels.get(key)
            if value is None:
                continue
            if per_node:
                cnt = node.memo.get(memo)
                if cnt is None:
                    cnt = count_matching(node, selector, namespace, memo)
            else:
                cnt = domain.get(value, 0)
            total += cnt * weight + skew
        return int(math.floor(total + 0.5))

    def score_nodes(self, nodes: list[NodeInfo]) -> list[int]:
        """``[score(n) for n in nodes]``, a constraint at a time (the same sums in the same
        order); a constraint whose key no candidate carries adds nothing and is skipped."""
        totals = [0.0] * len(nodes)
        for key, per_node, domain, weight, skew, selector, namespace, memo in self._terms:
            if per_node:
                for j, node in enumerate(nodes):
                    if key in node.labels:
                        cnt = node.memo.get(memo)
                        if cnt is None:
                            cnt = count_matching(node, selector, namespace, memo)
                        totals[j] += cnt * weight + skew
            elif domain:
                for j, node in enumerate(nodes):
                    value = node.labels.get(key)
                    if value is not None:
                        totals[j] += domain.get(value, 0) * weight + skew
        floor = math.floor
        if self.ignored:
            return [0 if n.name in self.ignored else int(floor(t + 0.5))
                    for n, t in zip(nodes, totals)]
        return [int(floor(t + 0.5)) for t in totals]


class PodTopologySpread:
    name = NAME

    def __init__(self, default_selector: DefaultSelector | None = None) -> None:
        self.default_selector = default_selector

    # ------------------------------------------------------------------ filter

    def pre_filter(self, state: CycleState, pod: PodInfo, snapshot: Snapshot) -> Status | None:
        constraints = constraints_of(pod, "DoNotSchedule")
        if not constraints:
            return SKIP
        s = _FilterState(constraints)
        keys = [count_key(pod.namespace, c.selector) for c in constraints]
        for node in snapshot.node_infos():
            if not _has_all_keys(node.labels, constraints):
                continue
            for i, c in enumerate(constraints):
                if not c.includes(pod, node):
                    continue
                value = node.labels[c.topology_key]
                s.counts[i][value] = s.counts[i].get(value, 0) + count_matching(
                    node, c.selector, pod.namespace, keys[i])
        state.write(_PRE_FILTER, s)
        return None

    def _change(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo,
                sign: int) -> None:
        s: _FilterState | None = state.read(_PRE_FILTER)
        if s is None or not _has_all_keys(node.labels, s.constraints):
            return
        if other.namespace != pod.namespace or other.terminating:
            return
        for i, c in enumerate(s.constraints):
            if c.includes(pod, node) and not c.selector.nothing and c.selector.matches(other.labels):
                value = node.labels[c.topology_key]
                s.counts[i][value] = s.counts[i].get(value, 0) + sign

    def add_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        self._change(state, pod, other, node, 1)

    def remove_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        self._change(state, pod, other, node, -1)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        s: _FilterState | None = state.read(_PRE_FILTER)
        if s is None:
            return None
        for i, c in enumerate(s.constraints):
            value = node.labels.get(c.topology_key)
            if value is None:
                return unresolvable(ERR_NODE_LABEL)
            self_match = 1 if (not c.selector.nothing and c.selector.matches(pod.labels)) else 0
            skew = s.counts[i].get(value, 0) + self_match - s.min_match(i)
            if skew > c.max_skew:
                return unschedulable(ERR_CONSTRAINTS)
        return None

    # ------------------------------------------------------------------ score

    def _score_constraints(self, pod: PodInfo) -> tuple[list[Constraint], bool]:
        if pod.spec.get("topologySpreadConstraints"):
            return constraints_of(pod, "ScheduleAnyway"), True
        if self.default_selector is None:
            return [], False
        selector = self.default_selector(pod)
        if selector is None or selector.empty or selector.nothing:
            return [], False
        return [Constraint({"maxSkew": 3, "topologyKey": HOSTNAME}, pod, selector),
                Constraint({"maxSkew": 5, "topologyKey": ZONE}, pod, selector)], False

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo],
                  snapshot: Snapshot) -> Status | None:
        constraints, require_all = self._score_constraints(pod)
        if not constraints or not nodes:
            return SKIP
        ignored: set[str] = set()
        scored = nodes
        if require_all:
            scored = [n for n in nodes if _has_all_keys(n.labels, constraints)]
            if len(scored) != len(nodes):
                ignored = {n.name for n in nodes if not _has_all_keys(n.labels, constraints)}
        # per constraint (but hostname, counted per node in Score): the domains of the
        # candidate nodes, each with its matching pods over every node of the cluster; a
        # candidate without the key is one more domain for the weight, but is never scored
        # on this constraint, so its pods need no counting
        counts: list[dict[str, int]] = [{} for _ in constraints]
        sizes = [0] * len(constraints)
        scan = False
        for i, c in enumerate(constraints):
            if c.topology_key == HOSTNAME:
                continue
            key = c.topology_key
            values = {n.labels.get(key) for n in scored}
            sizes[i] = len(values)
            values.discard(None)
            if values:
                counts[i] = dict.fromkeys(values, 0)  # type: ignore[arg-type]
                scan = True
        if scan:
            keys = [count_key(pod.namespace, c.selector) for c in constraints]
            for node in snapshot.node_infos():
                if require_all and not _has_all_keys(node.labels, constraints):
                    continue
                for i, c in enumerate(constraints):
                    domain = counts[i]
                    if not domain:
                        continue
                    value = node.labels.get(c.topology_key)
                    if value is None or value not in domain or not c.includes(pod, node):
                        continue
                    domain[value] += count_matching(node, c.selector, pod.namespace, keys[i])
        weights = [math.log((len(nodes) - len(ignored) if c.topology_key == HOSTNAME
                             else sizes[i]) + 2) for i, c in enumerate(constraints)]
        state.write(_PRE_SCORE, _ScoreState(constraints, counts, weights, ignored,
                                            pod.namespace))
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        s: _ScoreState | None = state.read(_PRE_SCORE)
        if s is None:
            return 0
        return s.score(node)

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        s: _ScoreState | None = state.read(_PRE_SCORE)
        if s is None:
            return [0] * len(nodes)
        return s.score_nodes(nodes)

    def normalize_scores(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo],
                         scores: list[int]) -> list[int]:
        pre: _ScoreState | None = state.read(_PRE_SCORE)
        ignored = pre.ignored if pre is not None else set()
        valid = [s for n, s in zip(nodes, scores) if n.name not in ignored]
        if not valid:
            return [0] * len(scores)
        lo, hi = min(valid), max(valid)
        out = []
        for n, s in zip(nodes, scores):
            if n.name in ignored:
                out.append(0)
            elif hi == 0:
                out.append(MAX_NODE_SCORE)
            else:
                out.append(MAX_NODE_SCORE * (hi + lo - s) // hi)
        return out
