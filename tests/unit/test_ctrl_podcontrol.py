"""Tables for the pod helpers in kubepy.controllers.podcontrol that the StatefulSet,
DaemonSet, Job and CronJob controllers use besides the ReplicaSet family (the ReplicaSet
side is covered in test_ctrl_replicaset.py): availability at the minReadySeconds
boundary, when to look again, owner keys, and expectations that are raised and lowered."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from kubepy.client.clock import FakeClock
from kubepy.controllers import podcontrol as pc

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
Obj = dict[str, Any]


def pod(*, phase: str | None = "Running", ready: str | None = "True",
        ready_for: float | None = 30) -> Obj:
    status: Obj = {}
    if phase is not None:
        status["phase"] = phase
    if ready is not None:
        cond: Obj = {"type": "Ready", "status": ready}
        if ready_for is not None:
            cond["lastTransitionTime"] = pc.format_time(NOW - timedelta(seconds=ready_for))
        status["conditions"] = [cond]
    return {"metadata": {"name": "p", "namespace": "ns"}, "status": status}


@pytest.mark.parametrize("p,min_ready,available,wait", [
    (pod(ready_for=30), 0, True, None),
    (pod(ready_for=30), 10, True, None),
    (pod(ready_for=10), 10, False, pc.AVAILABILITY_RECHECK),
    (pod(ready_for=4), 10, False, 6 + pc.AVAILABILITY_RECHECK),
    (pod(ready="False"), 10, False, None),
    (pod(ready_for=None), 10, False, None),
], ids=["no-min-ready", "ready-long-enough", "exactly-min-ready-is-not-enough",
        "ready-too-recently", "not-ready", "no-transition-time"])
def test_availability_and_wait(p: Obj, min_ready: int, available: bool,
                               wait: float | None) -> None:
    assert pc.is_pod_available(p, min_ready, NOW) is available
    got = pc.seconds_until_available(p, min_ready, NOW)
    assert got == pytest.approx(wait) if wait is not None else got is None
    if got is not None:  # waiting that long is enough
        assert pc.is_pod_available(p, min_ready, NOW + timedelta(seconds=got))


@pytest.mark.parametrize("p,phase,running_and_ready", [
    (pod(), "Running", True),
    (pod(phase="Pending"), "Pending", False),
    (pod(phase=None, ready=None), "Pending", False),
    (pod(ready="False"), "Running", False),
], ids=["running-ready", "pending", "no-status", "running-not-ready"])
def test_phase_and_running_and_ready(p: Obj, phase: str, running_and_ready: bool) -> None:
    assert pc.pod_phase(p) == phase
    assert pc.is_pod_running_and_ready(p) is running_and_ready


def owned(kind: str, namespace: str | None = "ns", controller: bool = True) -> Obj:
    meta: Obj = {"name": "x", "ownerReferences": [
        {"apiVersion": "apps/v1", "kind": kind, "name": "web", "uid": "u",
         "controller": controller}]}
    if namespace:
        meta["namespace"] = namespace
    return {"metadata": meta}


@pytest.mark.parametrize("obj,kind,key", [
    (owned("DaemonSet"), "DaemonSet", "ns/web"),
    (owned("DaemonSet"), "Job", None),
    (owned("DaemonSet", controller=False), "DaemonSet", None),
    (owned("Node", namespace=None), "Node", "web"),
    ({"metadata": {"name": "x"}}, "Job", None),
], ids=["namespaced", "other-kind", "not-controller", "cluster-scoped", "no-owner"])
def test_owner_key(obj: Obj, kind: str, key: str | None) -> None:
    assert pc.owner_key(obj, kind) == key


@pytest.mark.parametrize("steps,pending,satisfied", [
    ([("raise", 2, [])], (2, 0), False),
    ([("raise", 2, []), ("raise", 0, ["a", "b"])], (2, 2), False),
    ([("raise", 1, ["a"]), ("created",), ("deleted", "a")], (0, 0), True),
    ([("raise", 2, ["a"]), ("lower", 1, ["a"]), ("created",)], (0, 0), True),
    ([("raise", 1, []), ("created",), ("created",), ("raise", 1, [])], (1, 0), False),
    ([("raise", 0, ["a"]), ("deleted", "b")], (0, 1), False),
    ([("raise", 3, []), ("tick", pc.EXPECTATIONS_TIMEOUT + 1)], (3, 0), True),
    ([("raise", 3, []), ("tick", pc.EXPECTATIONS_TIMEOUT + 1), ("raise", 1, [])],
     (1, 0), False),
    ([("expect_creations", 2), ("raise", 1, [])], (3, 0), False),
], ids=["adds", "adds-then-deletes-accumulate", "observed", "failed-writes-lowered",
        "extra-creations-do-not-go-negative", "unrelated-deletion-ignored",
        "expired-is-satisfied", "expired-record-starts-afresh", "set-then-raise"])
def test_expectations_raise_and_lower(steps: list[tuple[Any, ...]],
                                      pending: tuple[int, int], satisfied: bool) -> None:
    clock = FakeClock()
    exp = pc.ControllerExpectations(clock.monotonic)
    for step in steps:
        if step[0] == "raise":
            exp.raise_expectations("ns/d", adds=step[1], deletes=step[2])
        elif step[0] == "lower":
            exp.lower_expectations("ns/d", adds=step[1], deletes=step[2])
        elif step[0] == "created":
            exp.creation_observed("ns/d")
        elif step[0] == "deleted":
            exp.deletion_observed("ns/d", step[1])
        elif step[0] == "expect_creations":
            exp.expect_creations("ns/d", step[1])
        elif step[0] == "tick":
            clock.advance(step[1])
    assert exp.pending("ns/d") == pending
    assert exp.satisfied("ns/d") is satisfied
