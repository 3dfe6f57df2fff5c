"""One scheduling decision (kube-scheduler's ``schedulePod``), pure over a snapshot.

1. PreFilter; a rejection fails the pod on every node with the PreFilter's message.
2. A pod with ``status.nominatedNodeName`` (it preempted) tries that node first.
3. Filter nodes in zone-interleaved order from a rotating start index until
   ``num_feasible_nodes_to_find`` nodes passed (all nodes below 100; otherwise
   max(5, 50 - nodes/125)% of them, at least 100), so large clusters are sampled and
   successive pods start where the last one stopped.
4. PreScore + Score the feasible nodes (a single feasible node is taken as it is); the
   highest weighted total wins, ties broken uniformly at random.

No feasible node raises ``FitError`` (each rejected node with its Status); an empty
cluster raises ``NoNodesAvailable``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

from kubepy.scheduler.framework import CycleState, Framework, Snapshot, Status
from kubepy.scheduler.messages import NO_NODES_AVAILABLE, FitError
from kubepy.scheduler.nodeinfo import NodeInfo, PodInfo

MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5


class NoNodesAvailable(Exception):
    def __str__(self) -> str:
        return NO_NODES_AVAILABLE


def num_feasible_nodes_to_find(num_all_nodes: int, percentage: int = 0) -> int:
    """How many feasible nodes to look for before scoring (percentageOfNodesToScore; 0
    means adaptive)."""
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    if percentage <= 0:
        percentage = max(MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND, 50 - num_all_nodes // 125)
    if percentage >= 100:
        return num_all_nodes
    return max(MIN_FEASIBLE_NODES_TO_FIND, num_all_nodes * percentage // 100)


@dataclass
class ScheduleResult:
    node: str
    evaluated_nodes: int
    feasible_nodes: int


class Algorithm:
    def __init__(self, framework: Framework, *, rng: random.Random | None = None,
                 percentage_of_nodes_to_score: int = 0,
                 has_nominated_pods: Callable[[], bool] = lambda: False) -> None:
        self.framework = framework
        self.rng = rng or random.Random()
        self.percentage = percentage_of_nodes_to_score
        self.next_start_node_index = 0
        self.has_nominated_pods = has_nominated_pods

    def schedule(self, pod: PodInfo, snapshot: Snapshot,
                 state: CycleState | None = None) -> ScheduleResult:
        fw = self.framework
        state = state if state is not None else CycleState()
        nodes = snapshot.node_infos()
        if not nodes:
            raise NoNodesAvailable()
        rejected = fw.run_pre_filter(state, pod, snapshot)
        if rejected is not None:
            raise FitError(pod.key, len(nodes), {n.name: rejected for n in nodes},
                           pre_filter_msg=rejected.message)
        if pod.nominated_node_name:
            ni = snapshot.get(pod.nominated_node_name)
            if ni is not None and fw.run_filter_with_nominated(state, pod, ni) is None:
                return ScheduleResult(ni.name, 1, 1)
        feasible, statuses = self.find_nodes_that_fit(state, pod, nodes)
        if not feasible:
            raise FitError(pod.key, len(nodes), statuses)
        if len(feasible) == 1:
            return ScheduleResult(feasible[0].name, 1 + len(statuses), 1)
        s = fw.run_pre_score(state, pod, feasible, snapshot)
        if s is not None:
            raise RuntimeError(f"running PreScore plugin {s.plugin!r}: {s.message}")
        totals = fw.run_score(state, pod, feasible)
        return ScheduleResult(self.select_host(feasible, totals).name,
                              len(feasible) + len(statuses), len(feasible))

    def find_nodes_that_fit(self, state: CycleState, pod: PodInfo,
                            nodes: list[NodeInfo]) -> tuple[list[NodeInfo], dict[str, Status]]:
        n = len(nodes)
        to_find = num_feasible_nodes_to_find(n, self.percentage)
        start = self.next_start_node_index % n

        def take(offset: int, size: int) -> list[NodeInfo]:
            """``size`` nodes from ``offset`` past ``start``, wrapping around."""
            a = start + offset
            size = min(size, n - offset)
            if a >= n:
                a -= n
            if a + size <= n:
                return nodes[a:a + size]
            return nodes[a:] + nodes[:a + size - n]
        feasible: list[NodeInfo] = []
        statuses: dict[str, Status] = {}
        fw = self.framework
        offset = 0
        if self.has_nominated_pods():
            for node in take(0, n):
                s = fw.run_filter_with_nominated(state, pod, node)
                offset += 1
                if s is None:
                    feasible.append(node)
                    if len(feasible) >= to_find:
                        break
                else:
                    statuses[node.name] = s
        else:
            while offset < n and len(feasible) < to_find:
                need = to_find - len(feasible)
                chunk = take(offset, max(need, 64))
                passed, bad = fw.filter_nodes(state, pod, chunk)
                if len(passed) > need:  # stop at the node that completed the count
                    position = {id(x): k for k, x in enumerate(chunk)}
                    cut = position[id(passed[need - 1])]
                    passed = passed[:need]
                    bad = [(x, s) for x, s in bad if position[id(x)] < cut]
                    offset += cut + 1
                else:
                    offset += len(chunk)
                feasible.extend(passed)
                for x, s in bad:
                    statuses[x.name] = s
        self.next_start_node_index = (start + len(feasible) + len(statuses)) % n
        return feasible, statuses

    def select_host(self, nodes: list[NodeInfo], totals: list[int]) -> NodeInfo:
        best = max(totals)
        ties = [i for i, t in enumerate(totals) if t == best]
        return nodes[ties[0] if len(ties) == 1 else ties[self.rng.randrange(len(ties))]]
