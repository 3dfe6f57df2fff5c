"""PodDisruptionBudget status: expected pods and desired healthy from minAvailable /
maxUnavailable (ints and percentages, controller scales), disrupted pods, healthy counts,
status and conditions, fail-safe."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from kubepy.controllers.disruption import logic

Obj = dict[str, Any]
NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)


def pdb(*, min_available: Any = None, max_unavailable: Any = None, generation: int = 1,
        status: Obj | None = None, selector: Obj | None = None) -> Obj:
    spec: Obj = {"selector": {"matchLabels": {"app": "web"}} if selector is None else selector}
    if min_available is not None:
        spec["minAvailable"] = min_available
    if max_unavailable is not None:
        spec["maxUnavailable"] = max_unavailable
    out: Obj = {"metadata": {"name": "web-pdb", "namespace": "ns", "generation": generation},
                "spec": spec}
    if status is not None:
        out["status"] = status
    return out


def pod(name: str, *, ready: bool = True, owner: str | None = "rs-1", deleting: bool = False,
        labels: Obj | None = None, ns: str = "ns") -> Obj:
    meta: Obj = {"name": name, "namespace": ns, "labels": {"app": "web"} if labels is None
                 else labels}
    if owner:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                    "name": owner, "uid": owner, "controller": True}]
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T11:59:00Z"
    return {"metadata": meta, "status": {"conditions": [
        {"type": "Ready", "status": "True" if ready else "False"}]}}


PODS3 = [pod("a"), pod("b"), pod("c")]
# two ReplicaSets of one Deployment (a rollout) count once, with the Deployment's scale
SCALES = {"rs-1": ("dep-1", 4), "rs-2": ("dep-1", 4), "rs-3": ("rs-3", 2)}

COUNT_CASES = [
    ("min-int", pdb(min_available=2), PODS3, (3, 2, [])),
    ("min-percent", pdb(min_available="50%"), PODS3, (4, 2, [])),
    ("min-percent-rounds-up", pdb(min_available="30%"), PODS3, (4, 2, [])),
    ("max-int", pdb(max_unavailable=1), PODS3, (4, 3, [])),
    ("max-percent-rounds-up", pdb(max_unavailable="10%"), PODS3, (4, 3, [])),
    ("max-exceeds", pdb(max_unavailable=10), PODS3, (4, 0, [])),
    ("deployment-counted-once", pdb(max_unavailable=0),
     [pod("a"), pod("b", owner="rs-2"), pod("c", owner="rs-3")], (6, 6, [])),
    ("unmanaged-skipped", pdb(max_unavailable=1), [pod("a"), pod("x", owner=None)],
     (4, 3, ["x"])),
    ("min-int-ignores-controllers", pdb(min_available=1), [pod("x", owner=None)], (1, 1, [])),
    ("neither", pdb(), PODS3, (0, 0, [])),
]


@pytest.mark.parametrize("budget, pods, expected", [c[1:] for c in COUNT_CASES],
                         ids=[c[0] for c in COUNT_CASES])
def test_expected_pod_count(budget: Obj, pods: list[Obj],
                            expected: tuple[int, int, list[str]]) -> None:
    assert logic.expected_pod_count(budget, pods, SCALES) == expected


@pytest.mark.parametrize("budget, message", [
    (pdb(max_unavailable=1), 'found no controllers for pod "a"'),
    (pdb(max_unavailable="x"), "not a percentage"),
], ids=["unknown-controller", "bad-intstr"])
def test_expected_pod_count_errors(budget: Obj, message: str) -> None:
    with pytest.raises(logic.ExpectedCountError, match=message):
        logic.expected_pod_count(budget, [pod("a", owner="ghost")]
                                 if "controllers" in message else PODS3, SCALES)


@pytest.mark.parametrize("selector, names", [
    ({"matchLabels": {"app": "web"}}, ["a"]),
    ({}, ["a", "b"]),
    (None, []),
], ids=["match-labels", "empty-selects-all", "missing-selects-none"])
def test_pods_for_pdb(selector: Obj | None, names: list[str]) -> None:
    budget = pdb()
    if selector is None:
        del budget["spec"]["selector"]
    else:
        budget["spec"]["selector"] = selector
    pods = [pod("a"), pod("b", labels={"app": "db"}), pod("c", ns="other")]
    assert [p["metadata"]["name"] for p in logic.pods_for_pdb(budget, pods)] == names


def test_disrupted_pods_and_health() -> None:
    recent = (NOW - timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    old = (NOW - timedelta(seconds=300)).strftime("%Y-%m-%dT%H:%M:%SZ")
    budget = pdb(min_available=1, status={"disruptedPods": {"a": recent, "b": old,
                                                            "c": recent, "gone": recent}})
    pods = [pod("a"), pod("b"), pod("c", deleting=True), pod("d"), pod("e", ready=False)]
    kept, recheck, overdue = logic.disrupted_pod_map(budget, pods, NOW)
    assert kept == {"a": recent}
    assert recheck == NOW + timedelta(seconds=90)
    assert [p["metadata"]["name"] for p in overdue] == ["b"]
    assert logic.count_healthy(pods, kept, NOW) == 2  # b and d


STATUS_CASES = [
    ("sufficient", 3, 2, 3, {"disruptionsAllowed": 1, "status": "True",
                             "reason": "SufficientPods"}),
    ("insufficient", 2, 2, 3, {"disruptionsAllowed": 0, "status": "False",
                               "reason": "InsufficientPods"}),
    ("negative", 1, 2, 3, {"disruptionsAllowed": 0, "status": "False",
                           "reason": "InsufficientPods"}),
    ("no-expected-pods", 3, 0, 0, {"disruptionsAllowed": 0, "status": "False",
                                   "reason": "InsufficientPods"}),
]


@pytest.mark.parametrize("healthy, desired, expected, want", [c[1:] for c in STATUS_CASES],
                         ids=[c[0] for c in STATUS_CASES])
def test_new_status(healthy: int, desired: int, expected: int, want: Obj) -> None:
    budget = pdb(min_available=desired, generation=3)
    status = logic.new_status(budget, healthy, desired, expected, {}, NOW)
    assert status is not None
    assert status["observedGeneration"] == 3
    assert (status["currentHealthy"], status["desiredHealthy"], status["expectedPods"]) == (
        healthy, desired, expected)
    assert status["disruptionsAllowed"] == want["disruptionsAllowed"]
    assert status["conditions"] == [{"type": "DisruptionAllowed", "status": want["status"],
                                     "observedGeneration": 3,
                                     "lastTransitionTime": "2026-01-01T12:00:00Z",
                                     "reason": want["reason"], "message": ""}]
    # written once, then steady
    assert logic.new_status({**budget, "status": status}, healthy, desired, expected, {},
                            NOW + timedelta(seconds=5)) is None


def test_condition_transition_time_moves_only_on_status_change() -> None:
    budget = pdb(min_available=2)
    first = logic.new_status(budget, 3, 2, 3, {}, NOW)
    later = NOW + timedelta(minutes=1)
    same = logic.new_status({**budget, "metadata": {**budget["metadata"], "generation": 2},
                             "status": first}, 4, 2, 4, {}, later)
    assert same["conditions"][0]["lastTransitionTime"] == "2026-01-01T12:00:00Z"
    flipped = logic.new_status({**budget, "status": first}, 2, 2, 3, {}, later)
    assert flipped["conditions"][0]["lastTransitionTime"] == "2026-01-01T12:01:00Z"


def test_fail_safe_status() -> None:
    budget = pdb(max_unavailable=1, status={"disruptionsAllowed": 2, "currentHealthy": 3,
                                            "desiredHealthy": 1, "expectedPods": 3,
                                            "observedGeneration": 1})
    status = logic.fail_safe_status(budget, "jobs.batch does not implement the scale "
                                            "subresource", NOW)
    assert status["disruptionsAllowed"] == 0
    assert status["currentHealthy"] == 3
    assert status["conditions"][0]["reason"] == "SyncFailed"
    assert status["conditions"][0]["status"] == "False"
    assert "scale subresource" in status["conditions"][0]["message"]


@pytest.mark.parametrize("value, total, up, expected", [
    (3, 10, True, 3), ("25%", 10, True, 3), ("25%", 10, False, 2), ("100%", 7, True, 7),
    ("0%", 7, True, 0)], ids=["int", "pct-up", "pct-down", "all", "none"])
def test_scaled_value(value: Any, total: int, up: bool, expected: int) -> None:
    assert logic.scaled_value(value, total, round_up=up) == expected


def test_go_label_selector() -> None:
    assert logic.go_label_selector({"matchLabels": {"b": "2", "a": "1"}, "matchExpressions": [
        {"key": "tier", "operator": "In", "values": ["x", "y"]}]}) == (
        "&LabelSelector{MatchLabels:map[string]string{a: 1,b: 2,},MatchExpressions:"
        "[]LabelSelectorRequirement{LabelSelectorRequirement{Key:tier,Operator:In,"
        "Values:[x y],},},}")
