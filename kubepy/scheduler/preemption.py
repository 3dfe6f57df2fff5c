"""DefaultPreemption's decision (PostFilter), pure: which lower-priority pods to evict so
that a pod that fits nowhere fits somewhere.

* A pod with ``preemptionPolicy: Never`` never preempts; nor does one whose nominated node
  still has a lower-priority pod terminating (its earlier preemption is under way).
* Only nodes rejected with ``UNSCHEDULABLE`` are candidates (``UNSCHEDULABLE_AND_UNRESOLVABLE``
  — a taint, a selector — cannot be fixed by evicting pods).
* On a candidate node all pods of lower priority are removed (on a copy); if the pod still
  does not fit the node is out. Otherwise victims are reprieved one by one, most important
  first (higher priority, then earlier start), PodDisruptionBudget-violating ones first,
  keeping each pod whose return still leaves room.
* The node is chosen by: fewest PDB violations, lowest highest-victim priority, lowest sum
  of victim priorities, fewest victims, latest start of the highest-priority victims, then
  the first.

Nodes not evaluated are reported as "Preemption is not helpful for scheduling"; a node with
no lower-priority pod as "No preemption victims found for incoming pod".
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from kubepy.api.labels import LabelSelector, selector_from_label_selector
from kubepy.errors import BadRequest
from kubepy.scheduler.framework import Code, CycleState, Framework, Snapshot, Status, unresolvable
from kubepy.scheduler.messages import (NO_PREEMPTION_VICTIMS, NOT_ELIGIBLE_NEVER,
                                       NOT_ELIGIBLE_TERMINATING, PREEMPTION_NOT_HELPFUL, FitError)
from kubepy.scheduler.nodeinfo import NodeInfo, PodInfo

Obj = dict[str, Any]
MIN_CANDIDATE_NODES_PERCENTAGE = 10
MIN_CANDIDATE_NODES_ABSOLUTE = 100
_INT32 = 2**31


@dataclass
class Candidate:
    node: str
    victims: list[PodInfo]
    pdb_violations: int = 0


@dataclass
class PreemptionResult:
    """``candidate`` is None when preemption cannot help; ``message`` then explains."""

    candidate: Candidate | None
    message: str = ""
    lower_priority_nominated: list[PodInfo] = field(default_factory=list)


def more_important(a: PodInfo, b: PodInfo) -> bool:
    if a.priority != b.priority:
        return a.priority > b.priority
    # earlier start is more important; no start time sorts last
    return (a.start_time or "~") < (b.start_time or "~")


def _sort_by_importance(pods: list[PodInfo]) -> list[PodInfo]:
    import functools

    def cmp(a: PodInfo, b: PodInfo) -> int:
        if more_important(a, b):
            return -1
        if more_important(b, a):
            return 1
        return 0
    return sorted(pods, key=functools.cmp_to_key(cmp))


def split_by_pdb_violation(pods: list[PodInfo], pdbs: list[Obj]) -> tuple[list[PodInfo],
                                                                         list[PodInfo]]:
    """(violating, non-violating), each keeping the input order."""
    allowed = [int((p.get("status") or {}).get("disruptionsAllowed") or 0) for p in pdbs]
    selectors: list[LabelSelector | None] = []  # None: the PDB's selector is invalid
    for pdb in pdbs:
        try:
            selectors.append(selector_from_label_selector((pdb.get("spec") or {}).get("selector")))
        except BadRequest:
            selectors.append(None)
    violating: list[PodInfo] = []
    ok: list[PodInfo] = []
    for pod in pods:
        violated = False
        if pod.labels:
            for i, pdb in enumerate(pdbs):
                sel = selectors[i]
                if (pdb.get("metadata") or {}).get("namespace") != pod.namespace or sel is None:
                    continue
                if sel.empty or sel.nothing or not sel.matches(pod.labels):
                    continue
                if pod.name in ((pdb.get("status") or {}).get("disruptedPods") or {}):
                    continue
                allowed[i] -= 1
                if allowed[i] < 0:
                    violated = True
        (violating if violated else ok).append(pod)
    return violating, ok


def eligible_to_preempt(pod: PodInfo, snapshot: Snapshot,
                        statuses: dict[str, Status]) -> tuple[bool, str]:
    if pod.preemption_policy == "Never":
        return False, NOT_ELIGIBLE_NEVER
    nominated = pod.nominated_node_name
    if nominated:
        s = statuses.get(nominated)
        if s is not None and s.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
            return True, ""
        ni = snapshot.get(nominated)
        if ni is not None and any(p.priority < pod.priority and p.terminating
                                  for p in ni.pods.values()):
            return False, NOT_ELIGIBLE_TERMINATING
    return True, ""


def select_victims_on_node(fw: Framework, state: CycleState, pod: PodInfo, node: NodeInfo,
                           pdbs: list[Obj]) -> tuple[list[PodInfo], int, Status | None]:
    """Victims on ``node`` (most important first), PDB violations, or a failure Status."""
    state = state.clone()
    ni = node.clone()
    potential = [p for p in ni.pods.values() if p.priority < pod.priority]
    if not potential:
        return [], 0, unresolvable(NO_PREEMPTION_VICTIMS)

    def remove(p: PodInfo) -> None:
        ni.remove_pod(p)
        for ext in fw.extensions:
            ext.remove_pod(state, pod, p, ni)

    def add(p: PodInfo) -> None:
        ni.add_pod(p)
        for ext in fw.extensions:
            ext.add_pod(state, pod, p, ni)

    for p in potential:
        remove(p)
    s = fw.run_filter_with_nominated(state, pod, ni)
    if s is not None:
        return [], 0, s
    potential = _sort_by_importance(potential)
    violating, non_violating = split_by_pdb_violation(potential, pdbs)
    victims: list[PodInfo] = []
    violations = 0
    for group, counts in ((violating, True), (non_violating, False)):
        for p in group:
            add(p)
            if fw.run_filter_with_nominated(state, pod, ni) is not None:
                remove(p)
                victims.append(p)
                if counts:
                    violations += 1
    return _sort_by_importance(victims), violations, None


def num_candidates(num_nodes: int) -> int:
    n = num_nodes * MIN_CANDIDATE_NODES_PERCENTAGE // 100
    return min(max(n, MIN_CANDIDATE_NODES_ABSOLUTE), num_nodes)


def pick_one_node(candidates: list[Candidate]) -> Candidate:
    for c in candidates:
        if not c.victims:
            return c

    def key(c: Candidate) -> tuple[int, int, int, int, str]:
        top = c.victims[0].priority
        earliest_top = min((v.start_time or "~") for v in c.victims if v.priority == top)
        # latest earliest-start wins: invert by sorting on the negated string order below
        return (c.pdb_violations, top, sum(v.priority + _INT32 for v in c.victims),
                len(c.victims), earliest_top)

    best = candidates[0]
    for c in candidates[1:]:
        kb, kc = key(best), key(c)
        if kc[:4] < kb[:4] or (kc[:4] == kb[:4] and kc[4] > kb[4]):
            best = c
    return best


def preempt(fw: Framework, state: CycleState, pod: PodInfo, snapshot: Snapshot,
            fit_error: FitError, pdbs: list[Obj], *,
            rng: random.Random | None = None) -> PreemptionResult:
    """Decide preemption for ``pod`` after ``fit_error``; the caller applies it."""
    ok, why = eligible_to_preempt(pod, snapshot, fit_error.statuses)
    if not ok:
        return PreemptionResult(None, why)
    nodes = snapshot.node_infos()
    potential = [n for n in nodes
                 if (s := fit_error.statuses.get(n.name)) is not None
                 and s.code != Code.UNSCHEDULABLE_AND_UNRESOLVABLE]
    statuses: dict[str, Status] = {}
    candidates: list[Candidate] = []
    if potential:
        rng = rng or random.Random()
        offset = rng.randrange(len(potential))
        wanted = num_candidates(len(potential))
        for i in range(len(potential)):
            node = potential[(offset + i) % len(potential)]
            victims, violations, s = select_victims_on_node(fw, state, pod, node, pdbs)
            if s is None and not victims:
                s = Status(Code.ERROR, (f'expected at least one victim pod on node "{node.name}"',))
            if s is not None:
                statuses[node.name] = s
                continue
            candidates.append(Candidate(node.name, victims, violations))
            if len(candidates) >= wanted:
                break
    if not candidates:
        err = FitError(pod.key, len(nodes), statuses,
                       absent_reasons=(PREEMPTION_NOT_HELPFUL,))
        return PreemptionResult(None, err.message())
    best = pick_one_node(candidates)
    lower = [p for p in fw.nominated_pods(best.node)
             if p.priority < pod.priority and p.uid != pod.uid]
    return PreemptionResult(best, "", lower)
