"""Garbage-collector graph and decisions (kubepy.controllers.garbagecollector.graph), as
tables: which work each graph event calls for, and the verdict for one object given its
owners' states."""

from __future__ import annotations

from typing import Any

import pytest

from kubepy.controllers.garbagecollector import graph as g
from kubepy.controllers.garbagecollector.controller import AbsentCache

S, D, W = g.OwnerState.SOLID, g.OwnerState.DANGLING, g.OwnerState.WAITING


def ref(uid: str, *, block: bool | None = None, kind: str = "ReplicaSet",
        name: str | None = None) -> dict[str, Any]:
    r: dict[str, Any] = {"apiVersion": "apps/v1", "kind": kind, "name": name or uid, "uid": uid}
    if block is not None:
        r["blockOwnerDeletion"] = block
    return r


def obj(uid: str, *owners: dict[str, Any], kind: str = "ReplicaSet", ns: str = "ns",
        deleting: bool = False, finalizers: tuple[str, ...] = ()) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": uid, "namespace": ns, "uid": uid}
    if owners:
        meta["ownerReferences"] = list(owners)
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    if finalizers:
        meta["finalizers"] = list(finalizers)
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": meta}


def work(w: g.Work) -> tuple[list[str], list[str], list[str]]:
    return sorted(set(w.delete)), sorted(set(w.orphan)), sorted(set(w.absent))


# ---------------------------------------------------------------------------- graph events

def apply(graph: g.Graph, steps: list[tuple[str, Any]]) -> g.Work:
    last = g.Work()
    for op, arg in steps:
        if op == "observe":
            last = graph.observe(arg)
        elif op == "forget":
            last = graph.forget(arg)
        else:
            last = graph.forget_virtual(arg)
    return last


OWNER = obj("o")
CASES: list[tuple[str, list[tuple[str, Any]], tuple[list[str], list[str], list[str]]]] = [
    ("plain-object-no-work", [("observe", OWNER)], ([], [], [])),
    ("owner-seen-first-dependent-no-work",
     [("observe", OWNER), ("observe", obj("p", ref("o")))], ([], [], [])),
    ("dependent-first-virtual-owner-checked",
     [("observe", obj("p", ref("o")))], (["o"], [], [])),
    ("virtual-becomes-observed-no-work",
     [("observe", obj("p", ref("o"))), ("observe", OWNER)], ([], [], [])),
    ("virtual-observed-with-other-kind-rechecks-dependents",
     [("observe", obj("p", ref("o", kind="Deployment"))), ("observe", OWNER)], (["p"], [], [])),
    ("owner-deleted-dependents-examined-and-absent",
     [("observe", OWNER), ("observe", obj("p", ref("o"))), ("observe", obj("q", ref("o"))),
      ("forget", OWNER)], (["p", "q"], [], ["o"])),
    ("childless-owner-deleted-nothing", [("observe", OWNER), ("forget", OWNER)], ([], [], [])),
    ("virtual-absent-dependents-examined",
     [("observe", obj("p", ref("o"))), ("virtual", "o")], (["p"], [], ["o"])),
    ("orphan-finalizer-queues-orphaning",
     [("observe", OWNER), ("observe", obj("o", deleting=True, finalizers=("orphan",)))],
     ([], ["o"], [])),
    ("orphan-finalizer-without-deletion-nothing",
     [("observe", obj("o", finalizers=("orphan",)))], ([], [], [])),
    ("enters-foreground-owner-and-dependents",
     [("observe", OWNER), ("observe", obj("p", ref("o", block=True))),
      ("observe", obj("o", deleting=True, finalizers=("foregroundDeletion",)))],
     (["o", "p"], [], [])),
    ("still-foreground-owner-only",
     [("observe", OWNER), ("observe", obj("p", ref("o", block=True))),
      ("observe", obj("o", deleting=True, finalizers=("foregroundDeletion",))),
      ("observe", obj("o", deleting=True, finalizers=("foregroundDeletion", "x")))],
     (["o"], [], [])),
    ("dependent-gone-wakes-foreground-owner",
     [("observe", obj("o", deleting=True, finalizers=("foregroundDeletion",))),
      ("observe", obj("p", ref("o", block=True))), ("forget", obj("p", ref("o")))],
     (["o"], [], [])),
    ("dependent-drops-reference-wakes-foreground-owner",
     [("observe", obj("o", deleting=True, finalizers=("foregroundDeletion",))),
      ("observe", obj("p", ref("o", block=True))), ("observe", obj("p"))],
     (["o"], [], [])),
    ("unblocking-wakes-foreground-owner",
     [("observe", obj("o", deleting=True, finalizers=("foregroundDeletion",))),
      ("observe", obj("p", ref("o", block=True))),
      ("observe", obj("p", ref("o", block=False)))], (["o"], [], [])),
    ("new-dependent-of-foreground-owner",
     [("observe", obj("o", deleting=True, finalizers=("foregroundDeletion",))),
      ("observe", obj("p", ref("o", block=True)))], (["o", "p"], [], [])),
    ("reference-to-new-virtual-owner",
     [("observe", OWNER), ("observe", obj("p", ref("o"))),
      ("observe", obj("p", ref("o"), ref("x")))], (["x"], [], [])),
]


@pytest.mark.parametrize("steps,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_graph_events(steps: list[tuple[str, Any]],
                      expected: tuple[list[str], list[str], list[str]]) -> None:
    assert work(apply(g.Graph(), steps)) == expected


def test_graph_edges_follow_references() -> None:
    graph = g.Graph()
    graph.observe(obj("p", ref("o"), ref("x")))
    assert {u: (n.observed, sorted(n.dependents)) for u, n in graph.nodes.items()} == {
        "p": (True, []), "o": (False, ["p"]), "x": (False, ["p"])}
    assert graph.nodes["o"].identity == g.Identity("apps/v1", "ReplicaSet", "ns", "o", "o")
    graph.observe(obj("p", ref("o")))  # x dropped: the virtual node goes with its last edge
    assert sorted(graph.nodes) == ["o", "p"]
    graph.observe(obj("q", ref("o")))
    graph.forget(obj("p"))
    assert sorted(graph.nodes) == ["o", "q"] and graph.nodes["o"].dependents == {"q"}
    graph.forget(obj("q"))  # and the virtual owner with it
    assert len(graph) == 0


def test_duplicate_references_count_once() -> None:
    graph = g.Graph()
    graph.observe(obj("o"))
    graph.observe(obj("p", ref("o"), ref("o", block=True)))
    assert graph.nodes["p"].owners == [ref("o")]
    assert graph.nodes["o"].dependents == {"p"}


# ---------------------------------------------------------------------------- decisions

DECISIONS: list[tuple[str, dict[str, Any], dict[str, g.OwnerState], dict[str, bool],
                      g.Decision]] = [
    ("no-owners", obj("p"), {}, {}, g.NOTHING),
    ("being-deleted", obj("p", ref("o"), deleting=True), {"o": D}, {}, g.NOTHING),
    ("solid-owner", obj("p", ref("o")), {"o": S}, {}, g.NOTHING),
    ("dangling-background", obj("p", ref("o")), {"o": D}, {},
     g.Decision("delete", policy="Background")),
    ("dangling-orphan-finalizer", obj("p", ref("o"), finalizers=("orphan",)), {"o": D}, {},
     g.Decision("delete", policy="Orphan")),
    ("dangling-foreground-finalizer", obj("p", ref("o"), finalizers=("foregroundDeletion",)),
     {"o": D}, {}, g.Decision("delete", policy="Foreground")),
    ("solid-and-dangling-drops-dangling", obj("p", ref("o"), ref("x")), {"o": S, "x": D}, {},
     g.Decision("remove-owners", uids=("x",))),
    ("solid-and-waiting-drops-waiting", obj("p", ref("o"), ref("x"), ref("y")),
     {"o": W, "x": S, "y": D}, {}, g.Decision("remove-owners", uids=("y", "o"))),
    ("waiting-no-dependents-background", obj("p", ref("o")), {"o": W}, {},
     g.Decision("delete", policy="Background")),
    ("waiting-with-dependents-foreground", obj("p", ref("o")), {"o": W},
     {"has_dependents": True}, g.Decision("delete", policy="Foreground")),
    ("waiting-cycle-unblocks", obj("p", ref("o")), {"o": W},
     {"has_dependents": True, "dependent_deleting_dependents": True},
     g.Decision("delete", policy="Foreground", unblock=True)),
    ("waiting-and-dangling-deletes", obj("p", ref("o"), ref("x")), {"o": W, "x": D}, {},
     g.Decision("delete", policy="Background")),
    ("unknown-owner-state-waits", obj("p", ref("o"), ref("x")), {"o": D}, {}, g.NOTHING),
]


@pytest.mark.parametrize("item,states,kwargs,expected", [d[1:] for d in DECISIONS],
                         ids=[d[0] for d in DECISIONS])
def test_decide(item: dict[str, Any], states: dict[str, g.OwnerState],
                kwargs: dict[str, bool], expected: g.Decision) -> None:
    assert g.decide(item, states, **kwargs) == expected


@pytest.mark.parametrize("dependents,expected", [
    ([], g.Decision("remove-finalizer", finalizer="foregroundDeletion")),
    ([obj("p", ref("o", block=False)), obj("q", ref("o"))],
     g.Decision("remove-finalizer", finalizer="foregroundDeletion")),
    ([obj("p", ref("o", block=True)), obj("q", ref("o", block=True)), obj("r", ref("o"))],
     g.Decision("attempt", uids=("p", "q"))),
    ([obj("p", ref("o", block=True), deleting=True, finalizers=("foregroundDeletion",))],
     g.NOTHING),
    ([obj("p", ref("o", block=True), deleting=True)], g.Decision("attempt", uids=("p",))),
], ids=["no-dependents", "none-blocking", "push-blocking", "blocking-one-waits-itself",
        "blocking-one-terminating"])
def test_decide_deleting_dependents(dependents: list[dict[str, Any]],
                                    expected: g.Decision) -> None:
    graph = g.Graph()
    graph.observe(obj("o", deleting=True, finalizers=("foregroundDeletion",)))
    for dep in dependents:
        graph.observe(dep)
    assert g.decide_deleting_dependents(graph, "o") == expected


@pytest.mark.parametrize("refs,uids,expected", [
    ([ref("a"), ref("b")], ["a"], [ref("b")]),
    ([ref("a")], ["a"], []),
    ([ref("a")], ["z"], [ref("a")]),
], ids=["one-of-two", "last", "not-referenced"])
def test_without_owners(refs: list[dict[str, Any]], uids: list[str],
                        expected: list[dict[str, Any]]) -> None:
    assert g.without_owners(refs, uids) == expected


def test_unblocked() -> None:
    assert g.unblocked([ref("a", block=True), ref("b", block=False), ref("c")]) == [
        ref("a", block=False), ref("b", block=False), ref("c")]


def test_absent_cache_is_bounded_lru() -> None:
    cache = AbsentCache(size=2)
    cache.add("a")
    cache.add("b")
    cache.add("a")  # refreshed
    cache.add("c")  # evicts b
    assert ("a" in cache, "b" in cache, "c" in cache) == (True, False, True)
