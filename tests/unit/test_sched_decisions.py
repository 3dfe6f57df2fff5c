"""Golden scheduling decisions of the default profile: where a pod goes, or the exact
FailedScheduling message (including preemption's part), or whom preemption evicts."""

from __future__ import annotations

import random
from typing import Any

import pytest
from schedtest import cluster, decide, framework, node, pod

from kubepy.scheduler.algorithm import Algorithm, num_feasible_nodes_to_find
from kubepy.scheduler.messages import FitError
from kubepy.scheduler.nodeinfo import PodInfo

Obj = dict[str, Any]
ZONE = "topology.kubernetes.io/zone"
CP_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


@pytest.mark.parametrize("nodes,want", [(0, 0), (50, 50), (100, 100), (200, 100), (1000, 420),
                                        (5000, 500), (6000, 300), (10000, 500)],
                         ids=["none", "small", "hundred", "min-100", "1k-42pct", "5k-10pct",
                              "6k-5pct", "10k-5pct"])
def test_num_feasible_nodes_to_find(nodes: int, want: int) -> None:
    assert num_feasible_nodes_to_find(nodes) == want


def test_explicit_percentage() -> None:
    assert num_feasible_nodes_to_find(5000, 50) == 2500
    assert num_feasible_nodes_to_find(5000, 100) == 5000


def zn(name: str, zone: str, **kw: Any) -> Obj:
    return node(name, labels={ZONE: zone}, **kw)


def anti(labels: dict[str, str], key: str) -> Obj:
    return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": labels}, "topologyKey": key}]}}


WEB = {"app": "web"}
THREE = [node("cp", taints=[CP_TAINT]), node("node-1", cpu="1"), node("node-2", cpu="1")]
FULL = [pod("a", "900m", node_name="node-1", priority=0, start="2026-01-01T00:00:00Z"),
        pod("b", "900m", node_name="node-2", priority=0, start="2026-01-01T00:00:01Z")]

DECISIONS = [
    ("issue-example", THREE, FULL, pod("web-1", "500m"),
     "0/3 nodes are available: 1 node(s) had untolerated taint "
     "{node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. preemption: 0/3 nodes "
     "are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims "
     "found for incoming pod."),
    ("fits-on-a-worker", THREE, FULL, pod("web-1", "100m"), "node-2"),
    ("no-node-matches-selector", THREE, [], pod("p", nodeSelector={"gpu": "yes"}),
     "0/3 nodes are available: 1 node(s) had untolerated taint "
     "{node-role.kubernetes.io/control-plane: }, 2 node(s) didn't match Pod's node "
     "affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful "
     "for scheduling."),
    ("preemption-never", THREE, FULL, pod("p", "500m", priority=10,
                                          preemptionPolicy="Never"),
     "0/3 nodes are available: 1 node(s) had untolerated taint "
     "{node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. preemption: not "
     "eligible due to preemptionPolicy=Never."),
    ("preempts-youngest-equal-choice", THREE, FULL, pod("p", "500m", priority=10),
     "nominate:node-2:b"),
    ("too-big-even-empty", THREE, FULL, pod("p", "2", priority=10),
     "0/3 nodes are available: 1 node(s) had untolerated taint "
     "{node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. preemption: 0/3 nodes "
     "are available: 1 Preemption is not helpful for scheduling, 2 Insufficient cpu."),
    ("tolerates-control-plane", THREE, FULL, pod("p", "500m", tolerations=[
        {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists"}]), "cp"),
    ("least-allocated-spreads", [node("a"), node("b")], [pod("x", "2", node_name="a")],
     pod("p", "500m"), "b"),
    ("selector-wins", [node("a"), node("b", labels={"disk": "ssd"})],
     [pod("x", "3", node_name="b")], pod("p", "500m", nodeSelector={"disk": "ssd"}), "b"),
    ("prefer-no-schedule-avoided", [node("a", taints=[{"key": "k", "effect": "PreferNoSchedule"}]),
                                    node("b")], [pod("x", "1", node_name="b")],
     pod("p", "100m"), "b"),
    ("anti-affinity-spreads-replicas", [node("a"), node("b"), node("c")],
     [pod("w1", labels=WEB, node_name="a", affinity=anti(WEB, "kubernetes.io/hostname")),
      pod("w2", labels=WEB, node_name="b", affinity=anti(WEB, "kubernetes.io/hostname"))],
     pod("w3", labels=WEB, affinity=anti(WEB, "kubernetes.io/hostname")), "c"),
    ("anti-affinity-no-room", [node("a"), node("b")],
     [pod("w1", labels=WEB, node_name="a", affinity=anti(WEB, "kubernetes.io/hostname")),
      pod("w2", labels=WEB, node_name="b", affinity=anti(WEB, "kubernetes.io/hostname"))],
     pod("w3", labels=WEB, affinity=anti(WEB, "kubernetes.io/hostname")),
     "0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules. preemption: "
     "0/2 nodes are available: 2 No preemption victims found for incoming pod."),
    ("affinity-follows-zone", [zn("a1", "a"), zn("b1", "b"), zn("b2", "b")],
     [pod("db", labels={"app": "db"}, node_name="b1", cpu="3")],
     pod("p", "500m", affinity={"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
         {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": ZONE}]}}), "b2"),
    ("spread-to-empty-zone", [zn("a1", "a"), zn("b1", "b")],
     [pod("w1", labels=WEB, node_name="a1")],
     pod("w2", labels=WEB, topologySpreadConstraints=[{
         "maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule",
         "labelSelector": {"matchLabels": WEB}}]), "b1"),
    ("gpu-node", [node("cpu-only"), node("gpu", extra={"nvidia.com/gpu": "2"})], [],
     pod("p", extra_requests={"nvidia.com/gpu": "1"}), "gpu"),
    ("no-nodes-have-gpu", [node("a"), node("b")], [],
     pod("p", extra_requests={"nvidia.com/gpu": "1"}),
     "0/2 nodes are available: 2 Insufficient nvidia.com/gpu. preemption: 0/2 nodes are "
     "available: 2 No preemption victims found for incoming pod."),
    ("cordoned-and-full", [node("a", unschedulable=True), node("b", pods="1")],
     [pod("x", node_name="b")], pod("p"),
     "0/2 nodes are available: 1 Too many pods, 1 node(s) were unschedulable. preemption: "
     "0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption "
     "is not helpful for scheduling."),
]


@pytest.mark.parametrize("nodes,pods,p,want", [c[1:] for c in DECISIONS],
                         ids=[c[0] for c in DECISIONS])
def test_decision(nodes: list[Obj], pods: list[Obj], p: Obj, want: str) -> None:
    assert decide(p, cluster(nodes, pods)) == want


# ---------------------------------------------------------------------- preemption

def P(name: str, cpu: str, node_name: str, priority: int, start: str = "2026-01-01T00:00:00Z",
      **kw: Any) -> Obj:
    return pod(name, cpu, node_name=node_name, priority=priority, start=start, **kw)


def pdb(labels: dict[str, str], allowed: int) -> Obj:
    return {"metadata": {"name": "pdb", "namespace": "default"},
            "spec": {"selector": {"matchLabels": labels}},
            "status": {"disruptionsAllowed": allowed}}


PREEMPTION = [
    ("lowest-priority-node", [node("a", cpu="2"), node("b", cpu="2")],
     [P("a1", "2", "a", 5), P("b1", "2", "b", 1)], pod("p", "1", priority=10), [],
     "nominate:b:b1"),
    ("fewest-victims", [node("a", cpu="2"), node("b", cpu="2")],
     [P("a1", "1", "a", 1), P("a2", "1", "a", 1), P("b1", "2", "b", 1)],
     pod("p", "2", priority=10), [], "nominate:b:b1"),
    ("reprieve-what-fits", [node("a", cpu="3")],
     [P("big", "2", "a", 1), P("small", "1", "a", 2)], pod("p", "2", priority=10), [],
     "nominate:a:big"),
    ("higher-priority-untouchable", [node("a", cpu="2")],
     [P("a1", "2", "a", 100)], pod("p", "1", priority=10), [],
     "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 "
     "No preemption victims found for incoming pod."),
    ("pdb-respected", [node("a", cpu="2"), node("b", cpu="2")],
     [P("a1", "2", "a", 1, labels={"app": "guarded"}), P("b1", "2", "b", 1)],
     pod("p", "1", priority=10), [pdb({"app": "guarded"}, 0)], "nominate:b:b1"),
    ("pdb-violated-when-needed", [node("a", cpu="2")],
     [P("a1", "2", "a", 1, labels={"app": "guarded"})],
     pod("p", "1", priority=10), [pdb({"app": "guarded"}, 0)], "nominate:a:a1"),
    ("latest-start-of-top-victims", [node("a", cpu="1"), node("b", cpu="1")],
     [P("old", "1", "a", 1, start="2026-01-01T00:00:00Z"),
      P("new", "1", "b", 1, start="2026-01-02T00:00:00Z")], pod("p", "1", priority=10), [],
     "nominate:b:new"),
]


@pytest.mark.parametrize("nodes,pods,p,pdbs,want", [c[1:] for c in PREEMPTION],
                         ids=[c[0] for c in PREEMPTION])
def test_preemption(nodes: list[Obj], pods: list[Obj], p: Obj, pdbs: list[Obj],
                    want: str) -> None:
    assert decide(p, cluster(nodes, pods), pdbs=pdbs) == want


def test_nominated_pod_holds_its_place() -> None:
    """A pod nominated to a node (after preempting) is counted there by pods of lower or
    equal priority."""
    c = cluster([node("a", cpu="2"), node("b", cpu="2")], [pod("x", "1500m", node_name="b")])
    nominee = PodInfo({**pod("n", "2", priority=100), "status": {"nominatedNodeName": "a"}})
    fw = framework(c, nominated={"a": [nominee]})
    alg = Algorithm(fw, rng=random.Random(0), has_nominated_pods=lambda: True)
    # a would be the emptier node, but its room is promised to the nominee
    with pytest.raises(FitError) as e:
        alg.schedule(PodInfo(pod("p", "1", priority=5)), c)
    assert e.value.message() == "0/2 nodes are available: 2 Insufficient cpu."
    assert alg.schedule(PodInfo(pod("q", "100m", priority=5)), c).node == "b"
    assert alg.schedule(PodInfo(pod("hi", "1", priority=200)), c).node == "a"


def test_sampling_rotates_start_and_spreads() -> None:
    nodes = [node(f"n{i:03d}") for i in range(300)]
    c = cluster(nodes)
    alg = Algorithm(framework(c), rng=random.Random(0))
    first = alg.schedule(PodInfo(pod("p0", "100m")), c)
    # 300 nodes: 50 - 300/125 = 48% -> 144 feasible nodes are enough
    assert (first.evaluated_nodes, first.feasible_nodes) == (144, 144)
    assert alg.next_start_node_index == 144
    alg.schedule(PodInfo(pod("p1", "100m")), c)
    assert alg.next_start_node_index == 288
    alg.schedule(PodInfo(pod("p2", "100m")), c)
    assert alg.next_start_node_index == (288 + 144) % 300


def test_zone_interleaving() -> None:
    c = cluster([node("a1", labels={ZONE: "a"}), node("a2", labels={ZONE: "a"}),
                 node("b1", labels={ZONE: "b"}), node("c1", labels={ZONE: "c"})])
    assert [n.name for n in c.node_infos()] == ["a1", "b1", "c1", "a2"]


def test_ties_are_random_but_seeded() -> None:
    c = cluster([node(f"n{i}") for i in range(4)])
    picks = {Algorithm(framework(c), rng=random.Random(seed)).schedule(
        PodInfo(pod("p", "1")), c).node for seed in range(20)}
    assert len(picks) > 1
