"""The scheduling framework: plugin protocols, ``Status``, ``CycleState`` and the
``Framework`` that runs a profile's plugins at each extension point.

Extension points (kube-scheduler's names): PreFilter (once per pod; may return ``SKIP`` to
switch the plugin's Filter off for this pod, or reject the pod outright), Filter (per node:
``None`` means the node passes), PostFilter (after no node passed: preemption), PreScore
(once, over the feasible nodes; ``SKIP`` switches Score off), Score (per node, 0..100) and
NormalizeScore, each score then multiplied by the plugin's weight and summed.

Plugins are pure: they read a ``PodInfo``, ``NodeInfo``s and the ``Snapshot`` and return
``Status``/scores; no I/O. For speed a Filter plugin may also offer
``filter_nodes(state, pod, nodes) -> (passed, rejected)`` and a Score plugin
``score_nodes(state, pod, nodes) -> list[int] | int`` (an ``int`` means "the same score on
every node"); they must agree with the per-node methods, which preemption and tests use.

Filter order matters for messages: a node's status is that of the first plugin that
rejects it, as in kube-scheduler.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Callable, Iterable, Protocol, runtime_checkable

from kubepy.scheduler.nodeinfo import NodeInfo, PodInfo

MAX_NODE_SCORE = 100
MIN_NODE_SCORE = 0


class Code(IntEnum):
    SUCCESS = 0
    ERROR = 1
    UNSCHEDULABLE = 2
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3  # preemption cannot help on this node
    WAIT = 4
    SKIP = 5


@dataclass(frozen=True, slots=True)
class Status:
    code: Code
    reasons: tuple[str, ...] = ()
    plugin: str = ""

    @property
    def message(self) -> str:
        return ", ".join(self.reasons)

    @property
    def is_success(self) -> bool:
        return self.code == Code.SUCCESS

    @property
    def is_rejected(self) -> bool:
        return self.code in (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)

    def with_plugin(self, plugin: str) -> "Status":
        return Status(self.code, self.reasons, plugin)


def unschedulable(*reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE, reasons)


def unresolvable(*reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, reasons)


SKIP = Status(Code.SKIP)


class CycleState:
    """Per-pod, per-cycle data the plugins share between extension points."""

    __slots__ = ("data", "skip_filter", "skip_score")

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.skip_filter: set[str] = set()
        self.skip_score: set[str] = set()

    def read(self, key: str) -> Any:
        return self.data.get(key)

    def write(self, key: str, value: Any) -> None:
        self.data[key] = value

    def clone(self) -> "CycleState":
        c = CycleState()
        c.data = {k: (v.clone() if hasattr(v, "clone") else v) for k, v in self.data.items()}
        c.skip_filter = set(self.skip_filter)
        c.skip_score = set(self.skip_score)
        return c


class Snapshot(Protocol):
    """The cluster as the plugins see it during one cycle (``cache.Cache`` implements it)."""

    def node_infos(self) -> list[NodeInfo]: ...
    def get(self, node_name: str) -> NodeInfo | None: ...
    def nodes_with_affinity_pods(self) -> list[NodeInfo]: ...
    def nodes_with_required_anti_affinity_pods(self) -> list[NodeInfo]: ...
    def namespace_labels(self, namespace: str) -> dict[str, str] | None: ...
    def image_spread(self, image: str) -> int: ...
    def any_node_tainted(self, *, hard: bool = False) -> bool: ...
    def any_node_unschedulable(self) -> bool: ...


class Plugin(Protocol):
    name: str


@runtime_checkable
class PreFilterPlugin(Protocol):
    name: str

    def pre_filter(self, state: CycleState, pod: PodInfo, snapshot: Snapshot) -> Status | None: ...


@runtime_checkable
class FilterPlugin(Protocol):
    name: str

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None: ...


@runtime_checkable
class PreFilterExtensions(Protocol):
    """Keeps a plugin's PreFilter state right when preemption adds/removes pods."""

    name: str

    def add_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None: ...
    def remove_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None: ...


@runtime_checkable
class PreScorePlugin(Protocol):
    name: str

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo],
                  snapshot: Snapshot) -> Status | None: ...


@runtime_checkable
class ScorePlugin(Protocol):
    name: str

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int: ...


@runtime_checkable
class NormalizeScorePlugin(Protocol):
    name: str

    def normalize_scores(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo],
                         scores: list[int]) -> list[int]: ...


def default_normalize(scores: list[int], *, reverse: bool = False,
                      max_priority: int = MAX_NODE_SCORE) -> list[int]:
    """helper.DefaultNormalizeScore: scale so the highest is ``max_priority``; ``reverse``
    flips (max - score). All zero: all 0 (or all max when reversed)."""
    highest = max(scores, default=0)
    if highest == 0:
        return [max_priority] * len(scores) if reverse else list(scores)
    if reverse:
        return [max_priority - max_priority * s // highest for s in scores]
    return [max_priority * s // highest for s in scores]


Rejected = list[tuple[NodeInfo, Status]]
NominatedPods = Callable[[str], list[PodInfo]]


@dataclass
class Framework:
    """One profile: the plugins at each extension point and the score weights."""

    plugins: list[Any]
    weights: dict[str, int] = field(default_factory=dict)
    profile_name: str = "default-scheduler"
    nominated_pods: NominatedPods = lambda node_name: []  # noqa: E731

    def __post_init__(self) -> None:
        self.pre_filters = [p for p in self.plugins if isinstance(p, PreFilterPlugin)]
        self.filters = [p for p in self.plugins if isinstance(p, FilterPlugin)]
        self.pre_scores = [p for p in self.plugins if isinstance(p, PreScorePlugin)]
        self.scores = [p for p in self.plugins if isinstance(p, ScorePlugin)]
        self.extensions = [p for p in self.plugins if isinstance(p, PreFilterExtensions)]
        self.post_filters = [p for p in self.plugins if hasattr(p, "post_filter")]
        self._normalizers: dict[str, NormalizeScorePlugin] = {
            p.name: p for p in self.scores if isinstance(p, NormalizeScorePlugin)}

    def plugin(self, name: str) -> Any:
        for p in self.plugins:
            if p.name == name:
                return p
        raise KeyError(name)

    # ------------------------------------------------------------------ filter

    def run_pre_filter(self, state: CycleState, pod: PodInfo, snapshot: Snapshot) -> Status | None:
        """None when every PreFilter passed (or skipped); else the first rejection."""
        for p in self.pre_filters:
            s = p.pre_filter(state, pod, snapshot)
            if s is None or s.code == Code.SUCCESS:
                continue
            if s.code == Code.SKIP:
                state.skip_filter.add(p.name)
                continue
            return s.with_plugin(p.name)
        return None

    def _active_filters(self, state: CycleState) -> list[FilterPlugin]:
        return [p for p in self.filters if p.name not in state.skip_filter]

    def run_filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        for p in self._active_filters(state):
            s = p.filter(state, pod, node)
            if s is not None and s.code != Code.SUCCESS:
                return s.with_plugin(p.name)
        return None

    def run_filter_with_nominated(self, state: CycleState, pod: PodInfo,
                                  node: NodeInfo) -> Status | None:
        """Filter as if the pods nominated to this node with priority >= the pod's were
        already there (then also without them), as kube-scheduler does."""
        nominated = [p for p in self.nominated_pods(node.name)
                     if p.uid != pod.uid and p.priority >= pod.priority]
        if nominated:
            st = state.clone()
            ni = node.clone()
            for other in nominated:
                ni.add_pod(other)
                for ext in self.extensions:
                    if ext.name not in st.skip_filter:
                        ext.add_pod(st, pod, other, ni)
            s = self.run_filter(st, pod, ni)
            if s is not None:
                return s
        return self.run_filter(state, pod, node)

    def filter_nodes(self, state: CycleState, pod: PodInfo,
                     nodes: list[NodeInfo]) -> tuple[list[NodeInfo], Rejected]:
        """Run the Filter plugins over ``nodes``; returns the nodes that passed (in order)
        and each rejected node with its status."""
        rejected: Rejected = []
        passed = nodes
        for p in self._active_filters(state):
            if not passed:
                break
            batch = getattr(p, "filter_nodes", None)
            if batch is not None:
                passed, bad = batch(state, pod, passed)
                if bad:
                    rejected.extend((n, s.with_plugin(p.name)) for n, s in bad)
            else:
                ok: list[NodeInfo] = []
                for n in passed:
                    s = p.filter(state, pod, n)
                    if s is None or s.code == Code.SUCCESS:
                        ok.append(n)
                    else:
                        rejected.append((n, s.with_plugin(p.name)))
                passed = ok
        return passed, rejected

    # ------------------------------------------------------------------ score

    def run_pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo],
                      snapshot: Snapshot) -> Status | None:
        for p in self.pre_scores:
            s = p.pre_score(state, pod, nodes, snapshot)
            if s is None or s.code == Code.SUCCESS:
                continue
            if s.code == Code.SKIP:
                state.skip_score.add(p.name)
                continue
            return s.with_plugin(p.name)
        return None

    def plugin_scores(self, state: CycleState, pod: PodInfo,
                      nodes: list[NodeInfo]) -> dict[str, list[int]]:
        """Each active Score plugin's normalised (unweighted) scores, node by node."""
        out: dict[str, list[int]] = {}
        for p in self.scores:
            if p.name in state.skip_score:
                continue
            batch = getattr(p, "score_nodes", None)
            raw: list[int] | int = (batch(state, pod, nodes) if batch is not None
                                    else [p.score(state, pod, n) for n in nodes])
            if isinstance(raw, int):
                raw = [raw] * len(nodes)
            normalizer = self._normalizers.get(p.name)
            if normalizer is not None:
                raw = normalizer.normalize_scores(state, pod, nodes, raw)
            out[p.name] = raw
        return out

    def run_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        """Weighted totals per node."""
        totals = [0] * len(nodes)
        constant = 0
        for p in self.scores:
            if p.name in state.skip_score:
                continue
            w = self.weights.get(p.name, 1)
            batch = getattr(p, "score_nodes", None)
            raw: list[int] | int = (batch(state, pod, nodes) if batch is not None
                                    else [p.score(state, pod, n) for n in nodes])
            normalizer = self._normalizers.get(p.name)
            if normalizer is not None:
                raw = normalizer.normalize_scores(state, pod, nodes,
                                                  [raw] * len(nodes) if isinstance(raw, int) else raw)
            if isinstance(raw, int):
                constant += w * raw
            elif w == 1:
                totals = [t + s for t, s in zip(totals, raw)]
            else:
                totals = [t + w * s for t, s in zip(totals, raw)]
        if constant:
            totals = [t + constant for t in totals]
        return totals


def names(items: Iterable[Any]) -> list[str]:
    return [p.name for p in items]
