"""Tables for the Deployment controller's pure parts (kubepy.controllers.deployment: util,
rollout, status), and a simulated rolling update that checks maxSurge/maxUnavailable at
every step."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from kubepy.controllers import podcontrol as pc
from kubepy.controllers.deployment import rollout, status as ds, util

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
Obj = dict[str, Any]


def deploy(replicas: int = 10, *, surge: Any = "25%", unavailable: Any = "25%",
           strategy: str = "RollingUpdate", generation: int = 1, status: Obj | None = None,
           image: str = "v2", annotations: dict[str, str] | None = None,
           history: int = 10, deadline: int = 600, paused: bool = False) -> Obj:
    spec: Obj = {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": image}]}},
                 "strategy": {"type": strategy}, "revisionHistoryLimit": history,
                 "progressDeadlineSeconds": deadline, "paused": paused}
    if strategy == "RollingUpdate":
        spec["strategy"]["rollingUpdate"] = {"maxSurge": surge, "maxUnavailable": unavailable}
    return {"metadata": {"name": "web", "namespace": "ns", "uid": "d-uid",
                         "generation": generation, "annotations": annotations or {}},
            "spec": spec, "status": status or {}}


def rs(name: str, replicas: int, available: int | None = None, *, image: str = "v1",
       created: int = 0, revision: str | None = None, desired: int | None = None,
       max_replicas: int | None = None, actual: int | None = None) -> Obj:
    ann: dict[str, str] = {}
    if revision is not None:
        ann[util.REVISION] = revision
    if desired is not None:
        ann[util.DESIRED_REPLICAS] = str(desired)
    if max_replicas is not None:
        ann[util.MAX_REPLICAS] = str(max_replicas)
    avail = replicas if available is None else available
    return {"metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}",
                         "generation": 1, "annotations": ann,
                         "creationTimestamp": pc.format_time(NOW + timedelta(seconds=created))},
            "spec": {"replicas": replicas,
                     "template": {"metadata": {"labels": {"app": "web",
                                                          "pod-template-hash": name}},
                                  "spec": {"containers": [{"name": "c", "image": image}]}}},
            "status": {"replicas": replicas if actual is None else actual,
                       "readyReplicas": avail, "availableReplicas": avail,
                       "observedGeneration": 1}}


# ---------------------------------------------------------------------------- fenceposts

@pytest.mark.parametrize("surge,unavailable,desired,expected", [
    ("25%", "25%", 10, (3, 2)),
    ("25%", "25%", 4, (1, 1)),
    (1, 0, 3, (1, 0)),
    ("0%", "1%", 2, (0, 1)),
    ("1%", "0%", 2, (1, 0)),
    (0, 0, 5, (0, 1)),
    ("50%", 2, 3, (2, 2)),
    (None, None, 7, (0, 1)),
], ids=["defaults-of-10", "defaults-of-4", "numbers", "unavailable-rounds-down-to-0-then-1",
        "surge-rounds-up", "both-zero-means-one-unavailable", "mixed", "absent"])
def test_resolve_fenceposts(surge: Any, unavailable: Any, desired: int,
                            expected: tuple[int, int]) -> None:
    assert util.resolve_fenceposts(surge, unavailable, desired) == expected


def test_max_unavailable_capped_and_recreate_has_no_fenceposts() -> None:
    assert util.max_unavailable(deploy(2, unavailable=5)) == 2
    assert util.max_unavailable(deploy(0)) == 0
    d = deploy(5, strategy="Recreate")
    assert (util.max_surge(d), util.max_unavailable(d), util.min_available(d)) == (0, 0, 0)
    with pytest.raises(ValueError):
        util.int_or_percent("5", 10, round_up=True)


# ---------------------------------------------------------------------------- replica sets

def test_find_new_and_old_replica_sets_ignore_the_hash_label() -> None:
    old, new, newer_dup = rs("a", 3), rs("b", 0, image="v2", created=5), rs("c", 0, image="v2",
                                                                         created=9)
    d = deploy()
    assert util.find_new_replica_set(d, [newer_dup, old, new]) is new  # oldest match wins
    active, everything = util.find_old_replica_sets(d, [old, new, newer_dup])
    assert active == [old] and everything == [old, newer_dup]


def test_new_replica_set_shape() -> None:
    d = deploy(annotations={"team": "x", util.LAST_APPLIED: "{}", util.REVISION: "4"})
    ref = pc.controller_ref(d, api_version="apps/v1", kind="Deployment")
    got = util.new_replica_set(d, pod_template_hash="abc12", revision_="5", replicas_=3,
                               owner_ref=ref)
    assert got["metadata"]["name"] == "web-abc12"
    assert got["metadata"]["labels"] == {"app": "web", "pod-template-hash": "abc12"}
    assert got["metadata"]["ownerReferences"] == [ref]
    assert got["metadata"]["annotations"] == {"team": "x", util.REVISION: "5",
                                              util.DESIRED_REPLICAS: "10",
                                              util.MAX_REPLICAS: "13"}
    assert got["spec"]["selector"] == {"matchLabels": {"app": "web", "pod-template-hash": "abc12"}}
    assert got["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] == "abc12"
    assert "pod-template-hash" not in d["spec"]["template"]["metadata"]["labels"]


@pytest.mark.parametrize("existing,new_revision,history", [
    ({}, "3", None),
    ({util.REVISION: "1"}, "3", "1"),
    ({util.REVISION: "2", util.REVISION_HISTORY: "1"}, "4", "1,2"),
], ids=["fresh", "rollback-records-history", "history-appends"])
def test_revision_history(existing: dict[str, str], new_revision: str,
                          history: str | None) -> None:
    target = {"metadata": {"annotations": dict(existing)}}
    assert util.set_new_replica_set_annotations(deploy(), target, new_revision, exists=True)
    ann = target["metadata"]["annotations"]
    assert ann[util.REVISION] == new_revision
    assert ann.get(util.REVISION_HISTORY) == history


def test_revision_history_is_bounded() -> None:
    history = ",".join(str(i) for i in range(1, 400))
    target = {"metadata": {"annotations": {util.REVISION: "400", util.REVISION_HISTORY: history}}}
    util.set_new_replica_set_annotations(deploy(), target, "401", exists=True)
    got = target["metadata"]["annotations"][util.REVISION_HISTORY]
    assert len(got) <= util.MAX_REV_HISTORY_CHARS and got.endswith(",399,400")


def test_hash_algorithm() -> None:
    assert util.fnv32a(b"") == 0x811C9DC5 and util.fnv32a(b"a") == 0xE40C292C
    assert util.safe_encode_string("0123456789") == "456789bcdf"
    template = deploy()["spec"]["template"]
    h = util.compute_hash(template, None)
    assert h == util.compute_hash(copy.deepcopy(template), None)  # stable
    assert h != util.compute_hash(template, 1) != util.compute_hash(template, 2)
    assert set(h) <= set("bcdfghjklmnpqrstvwxz2456789") and 1 <= len(h) <= 10


# ---------------------------------------------------------------------------- planners

@pytest.mark.parametrize("d,rss,new_name,target", [
    (deploy(10), [rs("old", 10), rs("new", 0, image="v2")], "new", 3),
    (deploy(10), [rs("old", 10), rs("new", 3, 0, image="v2")], "new", None),
    (deploy(10), [rs("old", 8), rs("new", 3, image="v2")], "new", 5),
    (deploy(10), [rs("new", 12, image="v2")], "new", 10),
    (deploy(10, surge=0, unavailable=1), [rs("old", 10), rs("new", 0, image="v2")], "new", None),
], ids=["surge-first", "at-max-surge", "room-after-scale-down", "shrink-to-replicas",
        "no-surge-waits"])
def test_plan_new_replica_set(d: Obj, rss: list[Obj], new_name: str, target: int | None) -> None:
    new = next(r for r in rss if r["metadata"]["name"] == new_name)
    action = rollout.plan_new_replica_set(d, rss, new)
    assert (action.replicas if action else None) == target


@pytest.mark.parametrize("d,rss,expected", [
    (deploy(10), [rs("old", 10), rs("new", 3, 0, image="v2")], [("old", 8)]),
    (deploy(10), [rs("old", 8), rs("new", 5, 0, image="v2")], []),
    (deploy(10), [rs("old", 8), rs("new", 5, 3, image="v2")], [("old", 5)]),
    # 13 pods - 8 min available - 3 new unavailable: 2 of the 3 unhealthy old ones go
    (deploy(10), [rs("old", 10, 7), rs("new", 3, 0, image="v2")], [("old", 8)]),
    (deploy(10), [rs("old", 10, 9), rs("new", 3, 3, image="v2")], [("old", 9), ("old", 5)]),
    (deploy(10), [rs("a", 4, created=0), rs("b", 6, created=1), rs("new", 3, 3, image="v2")],
     [("a", 0), ("b", 5)]),
    (deploy(10), [rs("old", 8, 10), rs("new", 5, 5, image="v2")], []),
], ids=["scale-down-by-max-unavailable", "new-pods-not-available-blocks",
        "new-available-allows-more", "unhealthy-old-go-first", "unhealthy-then-available",
        "oldest-first",
        "stale-status-claims-more-than-wanted"])
def test_plan_old_replica_sets(d: Obj, rss: list[Obj], expected: list[tuple[str, int]]) -> None:
    new = util.find_new_replica_set(d, rss)
    old = [r for r in rss if r is not new]
    actions = rollout.plan_old_replica_sets(d, rss, util.filter_active(old), new)
    assert [(a.name, a.replicas) for a in actions] == expected


@pytest.mark.parametrize("d,new,old,expected", [
    (deploy(5), rs("new", 10, image="v2"), [rs("old", 0)], [("new", 5, "down")]),
    (deploy(15), None, [rs("old", 10)], [("old", 15, "up")]),
    (deploy(10), rs("new", 10, image="v2", desired=10), [rs("old", 2)], [("old", 0, "down")]),
    # 10 -> 20 during a rollout: 13 pods (old 8 + new 5, max 13) become 20 + 5 = 25
    (deploy(20), rs("new", 5, 0, image="v2", max_replicas=13, created=5),
     [rs("old", 8, max_replicas=13)], [("old", 15, "up"), ("new", 10, "up")]),
    (deploy(5), rs("new", 5, 0, image="v2", max_replicas=13, created=5),
     [rs("old", 8, max_replicas=13)], [("old", 4, "down"), ("new", 3, "down")]),
    (deploy(0), rs("new", 5, 0, image="v2", max_replicas=13, created=5),
     [rs("old", 8, max_replicas=13)], [("old", 0, "down"), ("new", 0, "down")]),
], ids=["single-active-takes-all", "only-old", "saturated-retires-old", "proportional-up",
        "proportional-down", "to-zero"])
def test_plan_scale(d: Obj, new: Obj | None, old: list[Obj],
                    expected: list[tuple[str, int, str]]) -> None:
    assert [(a.name, a.replicas, a.operation) for a in rollout.plan_scale(d, new, old)] == expected


def test_is_scaling_event() -> None:
    assert rollout.is_scaling_event(deploy(12), [rs("a", 10, desired=10), None])
    assert not rollout.is_scaling_event(deploy(10), [rs("a", 10, desired=10), rs("b", 0, desired=3)])
    assert not rollout.is_scaling_event(deploy(12), [rs("a", 10)])


def test_plan_cleanup_keeps_history_limit_and_busy_sets() -> None:
    olds = [rs("r1", 0, revision="1"), rs("r2", 0, revision="2"), rs("r3", 1, revision="3"),
            rs("r4", 0, revision="4", actual=1), rs("r5", 0, revision="5")]
    assert [r["metadata"]["name"] for r in rollout.plan_cleanup(deploy(history=1), olds)] == [
        "r1", "r2"]
    assert rollout.plan_cleanup(deploy(history=5), olds) == []
    assert rollout.plan_cleanup(deploy(history=util.MAX_INT32), olds) == []


def test_old_pods_running() -> None:
    new, old = rs("new", 3), rs("old", 0, actual=0)
    running = {"status": {"phase": "Running"}}
    done = {"status": {"phase": "Succeeded"}}
    assert not rollout.old_pods_running(new, [old], {"uid-old": [done], "uid-new": [running]})
    assert rollout.old_pods_running(new, [old], {"uid-old": [running]})
    assert rollout.old_pods_running(new, [rs("old", 0, actual=2)], {})


# ---------------------------------------------------------------------------- status

def conds(status: Obj) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status.get("conditions") or []}


def test_calculate_status_counts_and_availability() -> None:
    d = deploy(10, status={"collisionCount": 2})
    st = ds.calculate_status([rs("old", 4), rs("new", 5, 3, image="v2")],
                             rs("new", 5, 3, image="v2"), d, NOW)
    assert {k: v for k, v in st.items() if k != "conditions"} == {
        "observedGeneration": 1, "replicas": 9, "updatedReplicas": 5, "readyReplicas": 7,
        "availableReplicas": 7, "unavailableReplicas": 2, "collisionCount": 2}
    assert conds(st) == {"Available": ("False", "MinimumReplicasUnavailable")}
    st = ds.calculate_status([rs("new", 10, 8, image="v2")], None, d, NOW)
    assert conds(st) == {"Available": ("True", "MinimumReplicasAvailable")}


def progressing(reason: str, status: str = "True", updated_ago: float = 0) -> Obj:
    stamp = pc.format_time(NOW - timedelta(seconds=updated_ago))
    return {"type": "Progressing", "status": status, "reason": reason, "message": "",
            "lastUpdateTime": stamp, "lastTransitionTime": stamp}


@pytest.mark.parametrize("d,rss,new_idx,reason,message", [
    (deploy(3, status={"conditions": [progressing("NewReplicaSetCreated")]}),
     [rs("new", 3, image="v2")], 0, "NewReplicaSetAvailable",
     'ReplicaSet "new" has successfully progressed.'),
    (deploy(3, status={"updatedReplicas": 1, "conditions": [progressing("ReplicaSetUpdated")]}),
     [rs("old", 2), rs("new", 2, 0, image="v2")], 1, "ReplicaSetUpdated",
     'ReplicaSet "new" is progressing.'),
    (deploy(3, deadline=60, status={"replicas": 4, "updatedReplicas": 2, "readyReplicas": 2,
                                    "availableReplicas": 2,
                                    "conditions": [progressing("ReplicaSetUpdated",
                                                               updated_ago=61)]}),
     [rs("old", 2), rs("new", 2, 0, image="v2")], 1, "ProgressDeadlineExceeded",
     'ReplicaSet "new" has timed out progressing.'),
    (deploy(3, deadline=60, status={"replicas": 4, "updatedReplicas": 2, "readyReplicas": 2,
                                    "availableReplicas": 2,
                                    "conditions": [progressing("ReplicaSetUpdated",
                                                               updated_ago=30)]}),
     [rs("old", 2), rs("new", 2, 0, image="v2")], 1, "ReplicaSetUpdated", ""),
], ids=["complete", "progress", "deadline-exceeded", "within-deadline"])
def test_rollout_status_progressing(d: Obj, rss: list[Obj], new_idx: int, reason: str,
                                    message: str) -> None:
    st = ds.rollout_status(rss, rss[new_idx], d, NOW)
    cond = ds.get_condition(st, "Progressing")
    assert cond is not None and cond["reason"] == reason and cond["message"] == message


def test_progress_requeue_after() -> None:
    d = deploy(3, deadline=60, status={"conditions": [progressing("ReplicaSetUpdated",
                                                                  updated_ago=20)]})
    assert ds.progress_requeue_after(d, {"replicas": 1}, NOW) == 41.0
    d["status"]["conditions"] = [progressing("ProgressDeadlineExceeded", "False")]
    assert ds.progress_requeue_after(d, {"replicas": 1}, NOW) is None


@pytest.mark.parametrize("d,reason", [
    (deploy(paused=True), "DeploymentPaused"),
    (deploy(paused=False, status={"conditions": [progressing("DeploymentPaused", "Unknown")]}),
     "DeploymentResumed"),
    (deploy(paused=False), None),
    (deploy(paused=True, status={"conditions": [progressing("ProgressDeadlineExceeded",
                                                            "False")]}), None),
], ids=["pause", "resume", "running", "timed-out-stays"])
def test_paused_condition(d: Obj, reason: str | None) -> None:
    st = ds.paused_condition_status(d, NOW)
    got = None if st is None else ds.get_condition(st, "Progressing")["reason"]  # type: ignore[index]
    assert got == reason


def test_set_condition_keeps_transition_time_for_same_status() -> None:
    st: Obj = {"conditions": [progressing("ReplicaSetUpdated", updated_ago=100)]}
    before = st["conditions"][0]["lastTransitionTime"]
    ds.set_condition(st, ds.new_condition("Progressing", "True", "NewReplicaSetAvailable", "m", NOW))
    (cond,) = st["conditions"]
    assert cond["reason"] == "NewReplicaSetAvailable" and cond["lastTransitionTime"] == before


# ---------------------------------------------------------------------------- simulation

@pytest.mark.parametrize("replicas,surge,unavailable", [
    (10, "25%", "25%"), (10, 0, 1), (10, 3, 0), (3, 1, 1), (1, 1, 0), (7, "50%", "20%"),
], ids=["defaults", "no-surge", "no-unavailable", "small", "single", "percentages"])
def test_simulated_rolling_update_respects_bounds(replicas: int, surge: Any,
                                                  unavailable: Any) -> None:
    """Drive the planners with ReplicaSets whose pods become available one step after
    creation; at every step available >= replicas - maxUnavailable and pods <= replicas +
    maxSurge, and the rollout ends with every replica on the new template."""
    d = deploy(replicas, surge=surge, unavailable=unavailable)
    max_s, max_u = util.max_surge(d), util.max_unavailable(d)
    old = rs("old", replicas, image="v1", created=0)
    new = rs("new", 0, image="v2", created=1)
    sets = {"old": old, "new": new}
    for _ in range(200):
        # the ReplicaSet controller and kubelet: pods appear, then become available
        for r in sets.values():
            want = r["spec"]["replicas"]
            st = r["status"]
            st["availableReplicas"] = min(st["replicas"], want)
            st["replicas"] = want
        pods = sum(r["status"]["replicas"] for r in sets.values())
        available = sum(r["status"]["availableReplicas"] for r in sets.values())
        assert available >= replicas - max_u
        assert pods <= replicas + max_s
        if new["status"]["availableReplicas"] == replicas and old["spec"]["replicas"] == 0:
            break
        all_rss = [old, new]
        action = rollout.plan_new_replica_set(d, all_rss, new)
        actions = [action] if action else rollout.plan_old_replica_sets(
            d, all_rss, util.filter_active([old]), new)
        for a in actions:
            sets[a.name]["spec"]["replicas"] = a.replicas
    else:
        pytest.fail("rollout did not finish")
