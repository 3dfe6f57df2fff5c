"""StatefulSet decisions (kubepy.controllers.statefulset.logic) and ControllerRevision
helpers (kubepy.controllers.history), as tables."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from kubepy.controllers import history
from kubepy.controllers.statefulset import logic

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
Obj = dict[str, Any]


def sts(replicas: int = 3, *, policy: str = "OrderedReady", strategy: str = "RollingUpdate",
        partition: int = 0, claims: list[str] | None = None, min_ready: int = 0,
        start: int = 0) -> Obj:
    spec: Obj = {"replicas": replicas, "podManagementPolicy": policy, "serviceName": "svc",
                 "selector": {"matchLabels": {"app": "web"}},
                 "updateStrategy": {"type": strategy},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}],
                                       "volumes": [{"name": "www", "emptyDir": {}}]}}}
    if strategy == "RollingUpdate":
        spec["updateStrategy"]["rollingUpdate"] = {"partition": partition}
    if claims:
        spec["volumeClaimTemplates"] = [{"metadata": {"name": c}, "spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}
            for c in claims]
    if min_ready:
        spec["minReadySeconds"] = min_ready
    if start:
        spec["ordinals"] = {"start": start}
    return {"metadata": {"name": "web", "namespace": "ns", "uid": "u1", "generation": 4},
            "spec": spec, "status": {}}


def pod(ordinal: int, state: str = "ready", rev: str = "new", ready_for: int = 3600) -> Obj:
    """state: ready | running (not ready) | pending | failed | succeeded | terminating."""
    phase = {"ready": "Running", "running": "Running", "pending": "Pending",
             "failed": "Failed", "succeeded": "Succeeded", "terminating": "Running"}[state]
    meta: Obj = {"name": f"web-{ordinal}", "labels": {"controller-revision-hash": rev}}
    if state == "terminating":
        meta["deletionTimestamp"] = "2026-01-01T11:59:00Z"
    ready = "True" if state in ("ready", "terminating") else "False"
    since = (NOW - timedelta(seconds=ready_for)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"metadata": meta, "status": {"phase": phase, "conditions": [
        {"type": "Ready", "status": ready, "lastTransitionTime": since}]}}


PLAN_CASES = [
    ("empty-ordered-creates-0-only", sts(3), [], [(0, "new")], []),
    ("empty-parallel-creates-all", sts(3, policy="Parallel"), [],
     [(0, "new"), (1, "new"), (2, "new")], []),
    ("waits-for-0-ready", sts(3), [pod(0, "running")], [], []),
    ("waits-for-0-pending", sts(3), [pod(0, "pending")], [], []),
    ("creates-1-after-0-ready", sts(3), [pod(0)], [(1, "new")], []),
    ("fills-gap-first", sts(3), [pod(0), pod(2)], [(1, "new")], []),
    ("parallel-ignores-unready", sts(3, policy="Parallel"), [pod(0, "pending")],
     [(1, "new"), (2, "new")], []),
    ("failed-pod-deleted", sts(2), [pod(0, "failed"), pod(1)], [], ["web-0"]),
    ("succeeded-pod-deleted", sts(1), [pod(0, "succeeded")], [], ["web-0"]),
    ("terminating-blocks-ordered", sts(3), [pod(0, "terminating")], [], []),
    ("scale-down-highest-first", sts(1), [pod(0), pod(1), pod(2)], [], ["web-2"]),
    ("scale-down-waits-on-terminating", sts(1), [pod(0), pod(1), pod(2, "terminating")], [], []),
    ("scale-down-blocked-by-unready-replica", sts(1), [pod(0, "running"), pod(1)], [], []),
    ("scale-down-blocked-by-lower-unhealthy-condemned", sts(1),
     [pod(0), pod(1, "running"), pod(2)], [], []),
    ("parallel-scale-down-all", sts(1, policy="Parallel"), [pod(0), pod(1), pod(2)], [],
     ["web-2", "web-1"]),
    ("rolling-highest-first", sts(3), [pod(0, rev="old"), pod(1, rev="old"), pod(2, rev="old")],
     [], ["web-2"]),
    ("rolling-waits-for-updated-ready", sts(3),
     [pod(0, rev="old"), pod(1, rev="old"), pod(2, "running")], [], []),
    ("rolling-next-lower", sts(3), [pod(0, rev="old"), pod(1, rev="old"), pod(2)], [], ["web-1"]),
    ("rolling-stops-at-partition", sts(3, partition=2), [pod(0, rev="old"), pod(1, rev="old"),
                                                          pod(2)], [], []),
    ("partition-recreates-current", sts(3, partition=2), [pod(0, rev="old"), pod(2)],
     [(1, "old")], []),
    ("ondelete-no-rolling", sts(2, strategy="OnDelete"), [pod(0, rev="old"), pod(1, rev="old")],
     [], []),
    ("ondelete-recreates-at-update", sts(2, strategy="OnDelete"), [pod(1, rev="old")],
     [(0, "new")], []),
    ("min-ready-blocks-rolling", sts(2, min_ready=60),
     [pod(0, rev="old"), pod(1, ready_for=10)], [], []),
    ("start-ordinal", sts(2, start=5), [], [(5, "new")], []),
    ("start-ordinal-condemns-below", sts(1, start=1), [pod(0), pod(1)], [], ["web-0"]),
]


@pytest.mark.parametrize("set_, pods, creates, deletes",
                         [c[1:] for c in PLAN_CASES], ids=[c[0] for c in PLAN_CASES])
def test_plan(set_: Obj, pods: list[Obj], creates: list[tuple[int, str]],
              deletes: list[str]) -> None:
    got = logic.plan(set_, pods, "old", "new", NOW)
    assert got.create == creates
    assert got.delete == deletes


def test_plan_nothing_while_set_deleting() -> None:
    s = sts(3)
    s["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert logic.plan(s, [], "old", "new", NOW).create == []


def test_new_pod_identity_and_claims() -> None:
    s = sts(3, claims=["data", "www"])
    p = logic.new_pod(s, s["spec"]["template"], 2, "web-abc")
    assert p["metadata"]["name"] == "web-2"
    assert p["metadata"]["labels"] == {
        "app": "web", "statefulset.kubernetes.io/pod-name": "web-2",
        "apps.kubernetes.io/pod-index": "2", "controller-revision-hash": "web-abc"}
    assert p["metadata"]["ownerReferences"] == [{
        "apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": "u1",
        "controller": True, "blockOwnerDeletion": True}]
    assert p["spec"]["hostname"] == "web-2" and p["spec"]["subdomain"] == "svc"
    assert p["spec"]["volumes"] == [
        {"name": "data", "persistentVolumeClaim": {"claimName": "data-web-2"}},
        {"name": "www", "persistentVolumeClaim": {"claimName": "www-web-2"}}]
    assert s["spec"]["template"]["spec"]["volumes"] == [{"name": "www", "emptyDir": {}}]


@pytest.mark.parametrize("when_deleted, owned", [("Retain", False), ("Delete", True)],
                         ids=["retain", "delete-with-set"])
def test_new_claims(when_deleted: str, owned: bool) -> None:
    s = sts(2, claims=["data"])
    s["spec"]["persistentVolumeClaimRetentionPolicy"] = {"whenDeleted": when_deleted,
                                                         "whenScaled": "Retain"}
    (claim,) = logic.new_claims(s, 1)
    assert claim["metadata"]["name"] == "data-web-1"
    assert claim["metadata"]["labels"] == {"app": "web"}
    assert ("ownerReferences" in claim["metadata"]) is owned
    assert claim["spec"]["resources"] == {"requests": {"storage": "1Gi"}}


STATUS_CASES = [
    ("all-updated-ready-completes", sts(2), [pod(0), pod(1)],
     {"replicas": 2, "readyReplicas": 2, "updatedReplicas": 2, "currentReplicas": 2,
      "currentRevision": "new", "availableReplicas": 2}),
    ("mid-rollout", sts(2), [pod(0, rev="old"), pod(1)],
     {"replicas": 2, "readyReplicas": 2, "updatedReplicas": 1, "currentReplicas": 1,
      "currentRevision": "old"}),
    ("not-ready-keeps-current", sts(2), [pod(0), pod(1, "running")],
     {"readyReplicas": 1, "updatedReplicas": 2, "currentRevision": "old"}),
    ("ondelete-never-completes", sts(1, strategy="OnDelete"), [pod(0)],
     {"currentRevision": "old", "updatedReplicas": 1}),
    ("terminating-not-current", sts(1), [pod(0, "terminating", rev="old")],
     {"replicas": 1, "currentReplicas": 0}),
    ("min-ready-available", sts(2, min_ready=60), [pod(0), pod(1, ready_for=5)],
     {"readyReplicas": 2, "availableReplicas": 1}),
]


@pytest.mark.parametrize("set_, pods, expect", [c[1:] for c in STATUS_CASES],
                         ids=[c[0] for c in STATUS_CASES])
def test_compute_status(set_: Obj, pods: list[Obj], expect: Obj) -> None:
    status = logic.compute_status(set_, pods, "old", "new", NOW, None)
    assert {k: status[k] for k in expect} == expect
    assert status["observedGeneration"] == 4 and status["updateRevision"] == "new"


# ------------------------------------------------------------------ history

@pytest.mark.parametrize("data, expect", [(b"", 0x811C9DC5), (b"a", 0x050C5D7E),
                                          (b"foobar", 0x31F0B262)],
                         ids=["empty", "a", "foobar"])
def test_fnv32(data: bytes, expect: int) -> None:
    assert history.fnv32(data) == expect


def test_safe_encode_and_go_json() -> None:
    assert history.safe_encode_string("0123456789") == "456789bcdf"
    assert history.go_json({"b": "<&>", "a": [1, {"d": 1, "c": None}]}) == \
        b'{"a":[1,{"c":null,"d":1}],"b":"\\u003c\\u0026\\u003e"}'


def test_revision_name_hash_and_collision() -> None:
    s = sts(1)
    r1 = history.new_revision(s, api_version="apps/v1", kind="StatefulSet", revision=1,
                              collision_count=None)
    r2 = history.new_revision(s, api_version="apps/v1", kind="StatefulSet", revision=1,
                              collision_count=1)
    h = r1["metadata"]["labels"]["controller.kubernetes.io/hash"]
    assert r1["metadata"]["name"] == f"web-{h}" and r1["metadata"]["name"] != r2["metadata"]["name"]
    assert set(h) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert r1["data"]["spec"]["template"]["$patch"] == "replace"
    assert history.template_of(r1) == s["spec"]["template"]
    assert r1["metadata"]["labels"]["app"] == "web"


def _rev(name: str, number: int, image: str) -> Obj:
    s = sts(1)
    s["spec"]["template"]["spec"]["containers"][0]["image"] = image
    r = history.new_revision(s, api_version="apps/v1", kind="StatefulSet", revision=number,
                             collision_count=None)
    r["metadata"]["name"] = name
    return r


@pytest.mark.parametrize("revisions, image, action, number", [
    ([], "nginx", "create", 1),
    ([_rev("a", 1, "nginx")], "nginx", "keep", 1),
    ([_rev("a", 1, "nginx")], "nginx:2", "create", 2),
    ([_rev("a", 1, "nginx"), _rev("b", 2, "nginx:2")], "nginx", "renumber", 3),
], ids=["first", "unchanged", "new-template", "rollback-renumbers"])
def test_plan_update_revision(revisions: list[Obj], image: str, action: str,
                              number: int) -> None:
    s = sts(1)
    s["spec"]["template"]["spec"]["containers"][0]["image"] = image
    rev, got = history.plan_update_revision(s, revisions, api_version="apps/v1",
                                            kind="StatefulSet")
    assert (got, rev["revision"]) == (action, number)


@pytest.mark.parametrize("live, limit, pruned", [
    (set(), 10, []),
    (set(), 2, ["a", "b"]),
    ({"a"}, 2, ["b"]),
    ({"d"}, 0, ["a", "b", "c"]),
], ids=["under-limit", "oldest-go", "live-kept", "limit-zero"])
def test_revisions_to_prune(live: set[str], limit: int, pruned: list[str]) -> None:
    revisions = [_rev("a", 1, "1"), _rev("b", 2, "2"), _rev("c", 3, "3"), _rev("d", 4, "4")]
    got = [r["metadata"]["name"] for r in history.revisions_to_prune(revisions, live, limit)]
    assert got == pruned
