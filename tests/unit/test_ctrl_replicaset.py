"""Tables for the ReplicaSet controller's pure parts and the shared pod-ownership helpers
(kubepy.controllers.podcontrol, kubepy.controllers.replicaset)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from kubepy import errors
from kubepy.api.labels import selector_from_label_selector
from kubepy.client.clock import FakeClock
from kubepy.controllers import podcontrol as pc
from kubepy.controllers.replicaset import calculate_status, rc_selector, status_needs_update

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
Obj = dict[str, Any]


def ts(seconds_ago: float) -> str:
    return pc.format_time(NOW - timedelta(seconds=seconds_ago))


def pod(name: str, *, node: str = "n1", phase: str = "Running", ready: bool | None = True,
        ready_since: float = 3600, created: float = 7200, restarts: int = 0,
        cost: str | None = None, labels: dict[str, str] | None = None,
        owner: str | None = None, deleting: bool = False) -> Obj:
    meta: Obj = {"name": name, "namespace": "ns", "uid": f"uid-{name}",
                 "creationTimestamp": ts(created), "labels": labels or {"app": "a"}}
    if cost is not None:
        meta["annotations"] = {pc.POD_DELETION_COST: cost}
    if owner is not None:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                    "name": owner, "uid": owner, "controller": True}]
    if deleting:
        meta["deletionTimestamp"] = ts(0)
    status: Obj = {"phase": phase, "containerStatuses": [{"name": "c", "restartCount": restarts}]}
    if ready is not None:
        status["conditions"] = [{"type": "Ready", "status": "True" if ready else "False",
                                 "lastTransitionTime": ts(ready_since)}]
    return {"metadata": meta, "spec": {"nodeName": node}, "status": status}


# ---------------------------------------------------------------------------- ranking

@pytest.mark.parametrize("first,second,rank_first,rank_second", [
    (pod("a", node=""), pod("b"), 0, 0),
    (pod("a", phase="Pending"), pod("b", phase="Unknown"), 0, 0),
    (pod("a", phase="Unknown"), pod("b", phase="Running"), 0, 0),
    (pod("a", ready=False), pod("b", ready=True), 0, 0),
    (pod("a", cost="-5"), pod("b", cost="10"), 0, 0),
    (pod("a"), pod("b", cost="1"), 0, 0),
    (pod("a"), pod("b"), 3, 1),
    (pod("a", ready_since=10), pod("b", ready_since=3600), 0, 0),
    (pod("a", restarts=5), pod("b", restarts=1), 0, 0),
    (pod("a", created=10), pod("b", created=7200), 0, 0),
    # same logarithmic bucket of ready time (64-128 s): the uid decides
    (pod("a", ready_since=100), pod("b", ready_since=110), 0, 0),
], ids=["unassigned-first", "pending-before-unknown", "unknown-before-running",
        "not-ready-first", "lower-deletion-cost-first", "invalid-or-zero-cost-below-positive",
        "more-colocated-first", "ready-more-recently-first", "more-restarts-first",
        "newer-first", "same-log-bucket-uid-order"])
def test_deletion_order(first: Obj, second: Obj, rank_first: int, rank_second: int) -> None:
    assert pc.deletion_less(first, second, rank_first, rank_second, NOW)
    assert not pc.deletion_less(second, first, rank_second, rank_first, NOW)


def test_pods_to_delete_ranks_by_colocation_and_state() -> None:
    pods = [pod("old-ready", node="n1"), pod("crowded", node="n2"),
            pod("pending", node="n1", phase="Pending", ready=False), pod("unbound", node="")]
    related = pods + [pod("sibling1", node="n2"), pod("sibling2", node="n2")]
    got = [p["metadata"]["name"] for p in pc.pods_to_delete(pods, related, 3, NOW)]
    assert got == ["unbound", "pending", "crowded"]
    assert len(pc.pods_to_delete(pods, related, 9, NOW)) == 4


@pytest.mark.parametrize("count,sizes", [
    (0, []), (1, [1]), (3, [1, 2]), (10, [1, 2, 4, 3]), (500, [1, 2, 4, 8, 16, 32, 64, 128, 245]),
], ids=["none", "one", "three", "ten", "burst"])
def test_slow_start_batch_sizes(count: int, sizes: list[int]) -> None:
    assert pc.slow_start_batch_sizes(count) == sizes
    assert sum(sizes) == count


@pytest.mark.parametrize("fail_on,successes,calls", [
    (None, 10, 10), (1, 0, 1), (2, 2, 3), (4, 6, 7),
], ids=["all-succeed", "first-fails", "second-batch-fails", "third-batch-fails"])
def test_slow_start_batch_stops_after_a_failed_batch(fail_on: int | None, successes: int,
                                                     calls: int) -> None:
    n = 0

    async def create() -> None:
        nonlocal n
        n += 1
        if n == fail_on:
            raise errors.Forbidden("exceeded quota")
    done, err = asyncio.run(pc.slow_start_batch(10, create))
    assert (done, n) == (successes, calls)
    assert (err is None) == (fail_on is None)


# ---------------------------------------------------------------------------- ownership

OWNER = {"metadata": {"name": "a", "namespace": "ns", "uid": "rs-uid"}}
SEL = selector_from_label_selector({"matchLabels": {"app": "a"}})


@pytest.mark.parametrize("candidate,owner,decision", [
    (pod("x", owner="rs-uid"), OWNER, pc.Claim.KEEP),
    (pod("x"), OWNER, pc.Claim.ADOPT),
    (pod("x", labels={"app": "b"}), OWNER, pc.Claim.IGNORE),
    (pod("x", owner="rs-uid", labels={"app": "b"}), OWNER, pc.Claim.RELEASE),
    (pod("x", owner="other"), OWNER, pc.Claim.IGNORE),
    (pod("x", deleting=True), OWNER, pc.Claim.IGNORE),
    (pod("x"), {"metadata": {**OWNER["metadata"], "deletionTimestamp": ts(0)}}, pc.Claim.IGNORE),
    (pod("x", owner="rs-uid", labels={"app": "b"}),
     {"metadata": {**OWNER["metadata"], "deletionTimestamp": ts(0)}}, pc.Claim.IGNORE),
], ids=["owned-matching", "orphan-matching", "orphan-not-matching", "owned-not-matching",
        "someone-elses", "orphan-terminating", "owner-deleting-adopts-nothing",
        "owner-deleting-releases-nothing"])
def test_claim_decision(candidate: Obj, owner: Obj, decision: pc.Claim) -> None:
    assert pc.claim_decision(owner, SEL, candidate) is decision


def test_ownership_patches_and_controller_ref() -> None:
    ref = pc.controller_ref(OWNER, api_version="apps/v1", kind="ReplicaSet")
    assert ref == {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "a",
                   "uid": "rs-uid", "controller": True, "blockOwnerDeletion": True}
    assert pc.adoption_patch(ref, "p") == {"metadata": {"ownerReferences": [ref], "uid": "p"}}
    assert pc.release_patch("rs-uid", "p") == {"metadata": {
        "ownerReferences": [{"$patch": "delete", "uid": "rs-uid"}], "uid": "p"}}


def test_pod_from_template() -> None:
    template = {"metadata": {"labels": {"app": "a"}, "annotations": {"k": "v"},
                             "finalizers": ["f"], "name": "ignored"},
                "spec": {"containers": [{"name": "c", "image": "i"}]}}
    ref = pc.controller_ref(OWNER, api_version="apps/v1", kind="ReplicaSet")
    got = pc.pod_from_template(template, OWNER, ref)
    assert got["metadata"] == {"generateName": "a-", "namespace": "ns",
                               "labels": {"app": "a"}, "annotations": {"k": "v"},
                               "finalizers": ["f"], "ownerReferences": [ref]}
    assert got["spec"] == template["spec"] and got["spec"] is not template["spec"]


@pytest.mark.parametrize("p,min_ready,available", [
    (pod("x", ready_since=5), 0, True),
    (pod("x", ready_since=5), 10, False),
    (pod("x", ready_since=11), 10, True),
    (pod("x", ready=False), 0, False),
    (pod("x", ready=None), 0, False),
], ids=["ready-no-min", "ready-too-recently", "ready-long-enough", "not-ready", "no-condition"])
def test_is_pod_available(p: Obj, min_ready: int, available: bool) -> None:
    assert pc.is_pod_available(p, min_ready, NOW) is available


# ---------------------------------------------------------------------------- expectations

def test_expectations_creations_deletions_and_ttl() -> None:
    clock = FakeClock()
    exp = pc.ControllerExpectations(clock.monotonic)
    assert exp.satisfied("ns/a")
    exp.expect_creations("ns/a", 2)
    assert not exp.satisfied("ns/a")
    exp.creation_observed("ns/a")
    assert not exp.satisfied("ns/a")
    exp.creation_observed("ns/a")
    assert exp.satisfied("ns/a")
    exp.expect_deletions("ns/a", ["ns/p1", "ns/p2"])
    exp.deletion_observed("ns/a", "ns/unrelated")
    exp.deletion_observed("ns/a", "ns/p1")
    exp.deletion_observed("ns/a", "ns/p1")  # seen twice: counted once
    assert exp.pending("ns/a") == (0, 1) and not exp.satisfied("ns/a")
    clock.advance(pc.EXPECTATIONS_TIMEOUT + 1)
    assert exp.satisfied("ns/a")  # expired: a lost event cannot wedge the controller
    exp.delete("ns/a")
    assert exp.pending("ns/a") is None


# ---------------------------------------------------------------------------- status

def rs(replicas: int = 3, *, min_ready: int = 0, generation: int = 2,
       status: Obj | None = None) -> Obj:
    return {"metadata": {"name": "a", "namespace": "ns", "generation": generation},
            "spec": {"replicas": replicas, "minReadySeconds": min_ready,
                     "selector": {"matchLabels": {"app": "a"}},
                     "template": {"metadata": {"labels": {"app": "a", "tier": "web"}}}},
            "status": status or {}}


FULL = {"app": "a", "tier": "web"}


@pytest.mark.parametrize("owner,pods,error,expected", [
    (rs(), [pod("1", labels=FULL), pod("2"), pod("3", ready=False, labels=FULL)], None,
     {"replicas": 3, "fullyLabeledReplicas": 2, "readyReplicas": 2, "availableReplicas": 2}),
    (rs(min_ready=30), [pod("1", ready_since=10), pod("2", ready_since=60)], None,
     {"replicas": 2, "fullyLabeledReplicas": 0, "readyReplicas": 2, "availableReplicas": 1}),
    (rs(), [pod("1")], "pods is forbidden: exceeded quota", {
        "replicas": 1, "fullyLabeledReplicas": 0, "readyReplicas": 1, "availableReplicas": 1,
        "conditions": [{"type": "ReplicaFailure", "status": "True",
                        "lastTransitionTime": pc.format_time(NOW), "reason": "FailedCreate",
                        "message": "pods is forbidden: exceeded quota"}]}),
    (rs(1), [pod("1"), pod("2")], "boom", {
        "replicas": 2, "fullyLabeledReplicas": 0, "readyReplicas": 2, "availableReplicas": 2,
        "conditions": [{"type": "ReplicaFailure", "status": "True",
                        "lastTransitionTime": pc.format_time(NOW), "reason": "FailedDelete",
                        "message": "boom"}]}),
    (rs(status={"conditions": [{"type": "ReplicaFailure", "status": "True"}]}), [], None,
     {"replicas": 0, "fullyLabeledReplicas": 0, "readyReplicas": 0, "availableReplicas": 0}),
], ids=["counts", "min-ready-seconds", "failed-create", "failed-delete", "failure-cleared"])
def test_calculate_status(owner: Obj, pods: list[Obj], error: str | None, expected: Obj) -> None:
    assert calculate_status(owner, pods, NOW, error) == expected


@pytest.mark.parametrize("owner,new,needed", [
    (rs(status={"replicas": 3, "observedGeneration": 2}), {"replicas": 3}, False),
    (rs(status={"replicas": 3, "observedGeneration": 1}), {"replicas": 3}, True),
    (rs(status={"replicas": 3, "observedGeneration": 2}), {"replicas": 2}, True),
    (rs(status={"replicas": 3, "observedGeneration": 2}),
     {"replicas": 3, "conditions": [{"type": "ReplicaFailure"}]}, True),
], ids=["steady", "new-generation", "count-changed", "condition-changed"])
def test_status_needs_update(owner: Obj, new: Obj, needed: bool) -> None:
    assert status_needs_update(owner, new) is needed


@pytest.mark.parametrize("selector,labels,matches", [
    ({"app": "a"}, {"app": "a", "x": "y"}, True),
    ({"app": "a"}, {"app": "b"}, False),
    ({}, {"app": "a"}, False),
], ids=["map-matches", "map-differs", "empty-selects-nothing"])
def test_rc_selector(selector: dict[str, str], labels: dict[str, str], matches: bool) -> None:
    assert rc_selector({"spec": {"selector": selector}}).matches(labels) is matches
