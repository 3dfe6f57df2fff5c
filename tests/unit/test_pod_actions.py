"""``compute_pod_actions``: which containers a sync starts, restarts, kills or leaves in
back-off, and the phase/status those records give (tables)."""

from __future__ import annotations

from typing import Any

import pytest

from kubepy.kubelet.pods.actions import active_deadline, compute_pod_actions, format_pod, \
    probe_kill_grace, should_restart, termination_grace, unhealthy_kill_message
from kubepy.kubelet.pods.backoff import Backoff, container_key, image_key
from kubepy.kubelet.pods.status import ContainerPhase, ContainerRecord, container_status, \
    pod_phase

Obj = dict[str, Any]
NOW = 1000.0
UID = "u-1"


def pod(policy: str = "Always", inits: tuple[str, ...] = (),
        apps: tuple[str, ...] = ("a",)) -> Obj:
    return {"metadata": {"name": "p", "namespace": "ns", "uid": UID},
            "spec": {"restartPolicy": policy,
                     "initContainers": [{"name": n, "image": f"img-{n}"} for n in inits],
                     "containers": [{"name": n, "image": f"img-{n}"} for n in apps]}}


def running(name: str) -> ContainerRecord:
    return ContainerRecord(name, phase=ContainerPhase.RUNNING, started_at=NOW - 30)


def exited(name: str, code: int, finished: float = NOW - 1, restarts: int = 0,
           oom: bool = False) -> ContainerRecord:
    return ContainerRecord(name, phase=ContainerPhase.EXITED, exit_code=code,
                           started_at=finished - 1, finished_at=finished,
                           restart_count=restarts, oom_killed=oom)


def waiting(name: str, reason: str) -> ContainerRecord:
    return ContainerRecord(name, reason=reason, message="x")


# (id, pod, init records, app records, backoff restarts so far, image failures,
#  want start [(name, init, restart?)], want crash back-off names, want image back-off, requeue)
CASES = [
    ("new-pod-starts-apps", pod(apps=("a", "b")), {}, {}, 0, 0,
     [("a", False, False), ("b", False, False)], [], [], None),
    ("first-init-first", pod(inits=("i1", "i2")), {}, {}, 0, 0, [("i1", True, False)], [], [],
     None),
    ("init-running-waits", pod(inits=("i1", "i2")), {"i1": running("i1")}, {}, 0, 0, [], [], [],
     None),
    ("second-init-after-first", pod(inits=("i1", "i2")), {"i1": exited("i1", 0)}, {}, 0, 0,
     [("i2", True, False)], [], [], None),
    ("apps-after-inits", pod(inits=("i1",)), {"i1": exited("i1", 0)}, {}, 0, 0,
     [("a", False, False)], [], [], None),
    ("failed-init-never-stops", pod("Never", inits=("i1",)), {"i1": exited("i1", 1)}, {}, 0, 0,
     [], [], [], None),
    ("failed-init-onfailure-restarts", pod("OnFailure", inits=("i1",)),
     {"i1": exited("i1", 1)}, {}, 0, 0, [("i1", True, True)], [], [], None),
    ("failed-init-always-backs-off", pod("Always", inits=("i1",)),
     {"i1": exited("i1", 1)}, {}, 1, 0, [], ["i1"], [], 9.0),
    ("always-restarts-completed", pod("Always"), {}, {"a": exited("a", 0)}, 0, 0,
     [("a", False, True)], [], [], None),
    ("onfailure-keeps-completed", pod("OnFailure"), {}, {"a": exited("a", 0)}, 0, 0,
     [], [], [], None),
    ("onfailure-restarts-failed", pod("OnFailure"), {}, {"a": exited("a", 2)}, 0, 0,
     [("a", False, True)], [], [], None),
    ("onfailure-restarts-oomkilled", pod("OnFailure"), {}, {"a": exited("a", 0, oom=True)}, 0, 0,
     [("a", False, True)], [], [], None),
    ("never-keeps-failed", pod("Never"), {}, {"a": exited("a", 2)}, 0, 0, [], [], [], None),
    ("second-exit-within-10s", pod(), {}, {"a": exited("a", 1, NOW - 4)}, 1, 0,
     [], ["a"], [], 6.0),
    ("second-exit-after-10s", pod(), {}, {"a": exited("a", 1, NOW - 10)}, 1, 0,
     [("a", False, True)], [], [], None),
    ("third-exit-20s", pod(), {}, {"a": exited("a", 1, NOW - 15)}, 2, 0, [], ["a"], [], 5.0),
    ("running-left-alone", pod(apps=("a", "b")), {}, {"a": running("a")}, 0, 0,
     [("b", False, False)], [], [], None),
    ("config-error-retried", pod(), {}, {"a": waiting("a", "CreateContainerConfigError")}, 0, 0,
     [("a", False, False)], [], [], None),
    ("image-backoff", pod(), {}, {"a": waiting("a", "ErrImagePull")}, 0, 1,
     [], [], ["a"], 10.0),
    ("image-backoff-over", pod(), {}, {"a": waiting("a", "ImagePullBackOff")}, 0, -1,
     [("a", False, False)], [], [], None),
]


@pytest.mark.parametrize("p,inits,apps,restarts,pulls,want_start,want_crash,want_image,requeue",
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_compute_pod_actions(p: Obj, inits: dict[str, ContainerRecord],
                             apps: dict[str, ContainerRecord], restarts: int, pulls: int,
                             want_start: list[tuple[str, bool, bool]], want_crash: list[str],
                             want_image: list[str], requeue: float | None) -> None:
    backoff, images = Backoff(), Backoff()
    for name in [*inits, *apps]:
        for _ in range(restarts):
            backoff.next(container_key(UID, name), NOW - 100, NOW - 100)
    for c in p["spec"]["containers"]:
        if pulls > 0:
            images.next(image_key(UID, c["image"]), NOW, NOW)
        elif pulls < 0:
            images.next(image_key(UID, c["image"]), NOW - 11, NOW - 11)
    actions = compute_pod_actions(p, inits, apps, backoff=backoff, image_backoff=images, now=NOW)
    assert [(s.name, s.init, s.backoff_key is not None) for s in actions.start] == want_start
    assert sorted(actions.crash_backoff) == want_crash
    assert sorted(actions.image_backoff) == want_image
    assert actions.requeue_after == requeue


def test_crash_loop_message_and_image_message() -> None:
    backoff, images = Backoff(), Backoff()
    backoff.next(container_key(UID, "a"), NOW, NOW)
    backoff.next(container_key(UID, "a"), NOW, NOW)
    images.next(image_key(UID, "img-b"), NOW, NOW)
    actions = compute_pod_actions(pod(apps=("a", "b")), {}, {
        "a": exited("a", 1, NOW - 1), "b": waiting("b", "ErrImagePull")},
        backoff=backoff, image_backoff=images, now=NOW)
    assert actions.crash_backoff == {
        "a": "back-off 20s restarting failed container=a pod=p_ns(u-1)"}
    assert actions.image_backoff == {"b": 'Back-off pulling image "img-b"'}


def test_unhealthy_running_container_is_killed() -> None:
    actions = compute_pod_actions(pod(apps=("a", "b")), {}, {"a": running("a"),
                                                             "b": running("b")},
                                  backoff=Backoff(), image_backoff=Backoff(), now=NOW,
                                  unhealthy={"b": "Liveness probe failed: x"})
    assert [(k.name, k.message) for k in actions.kill] == [("b", "Liveness probe failed: x")]
    assert actions.start == []


@pytest.mark.parametrize("policy,code,oom,want", [
    ("Always", 0, False, True), ("Always", 1, False, True), ("OnFailure", 0, False, False),
    ("OnFailure", 137, False, True), ("OnFailure", 0, True, True), ("Never", 1, False, False)],
    ids=["always-0", "always-1", "onfailure-0", "onfailure-137", "onfailure-oom", "never"])
def test_should_restart(policy: str, code: int, oom: bool, want: bool) -> None:
    assert should_restart(policy, exited("a", code, oom=oom)) is want


def test_format_pod() -> None:
    assert format_pod(pod()) == "p_ns(u-1)"


def _restarted(code: int) -> ContainerRecord:
    r = ContainerRecord("a", reason="ContainerCreating", restart_count=1)
    r.last = exited("a", code)
    return r


# status of a record: (state key, reason), lastState reason, restartCount; pod phase
STATUS_CASES = [
    ("crash-loop", "Always", exited("a", 1, restarts=3), "CrashLoopBackOff",
     ("waiting", "CrashLoopBackOff"), "Error", 3, "Running"),
    ("restarted-running", "Always", None, "", ("running", None), "Error", 1, "Running"),
    ("never-failed", "Never", exited("a", 1), "", ("terminated", "Error"), None, 0, "Failed"),
    ("onfailure-completed", "OnFailure", exited("a", 0, restarts=2), "",
     ("terminated", "Completed"), None, 2, "Succeeded"),
    ("restarting-after-oom", "OnFailure", _restarted(137), "", ("waiting", "ContainerCreating"),
     "Error", 1, "Running"),
]


@pytest.mark.parametrize("policy,record,backoff,state,last_reason,restarts,phase",
                         [c[1:] for c in STATUS_CASES], ids=[c[0] for c in STATUS_CASES])
def test_status_of_restarting_containers(policy: str, record: ContainerRecord | None,
                                         backoff: str, state: tuple[str, str | None],
                                         last_reason: str | None, restarts: int,
                                         phase: str) -> None:
    if record is None:
        record = running("a")
        record.restart_count, record.last = 1, exited("a", 1)
    if backoff:
        record.backoff_message = "back-off 40s restarting failed container=a pod=p_ns(u-1)"
    st = container_status({"name": "a", "image": "img"}, record, init=False, initializing=False)
    key, reason = state
    assert list(st["state"]) == [key]
    assert st["state"][key].get("reason") == reason
    if last_reason is None:
        assert st["lastState"] == {}
    else:
        assert st["lastState"]["terminated"]["reason"] == last_reason
    assert st["restartCount"] == restarts
    assert st["ready"] is (key == "running")
    assert pod_phase(pod(policy), {}, {"a": record}) == phase


@pytest.mark.parametrize("deadline,started,now,want", [
    (None, 0.0, 100.0, None), (30, 100.0, 110.0, 20.0), (30, 100.0, 130.0, 0.0),
    (30, 100.0, 200.0, 0.0), (0, 100.0, 100.0, 0.0)],
    ids=["none", "left", "exactly", "past", "zero"])
def test_active_deadline(deadline: int | None, started: float, now: float,
                         want: float | None) -> None:
    p = pod()
    if deadline is not None:
        p["spec"]["activeDeadlineSeconds"] = deadline
    assert active_deadline(p, started, now) == want


@pytest.mark.parametrize("pod_grace,liveness,startup,want_pod,want_kill", [
    (None, None, None, 30.0, 30.0), (5, None, None, 5.0, 5.0), (60, 1, None, 60.0, 1.0),
    (60, None, 2, 60.0, 2.0), (0, None, None, 0.0, 0.0)],
    ids=["defaults", "pod", "liveness-own", "startup-own", "zero"])
def test_grace_periods(pod_grace: int | None, liveness: int | None, startup: int | None,
                       want_pod: float, want_kill: float) -> None:
    p = pod()
    if pod_grace is not None:
        p["spec"]["terminationGracePeriodSeconds"] = pod_grace
    c = p["spec"]["containers"][0]
    if liveness is not None:
        c["livenessProbe"] = {"exec": {"command": ["true"]},
                              "terminationGracePeriodSeconds": liveness}
    if startup is not None:
        c["startupProbe"] = {"exec": {"command": ["true"]},
                             "terminationGracePeriodSeconds": startup}
    assert termination_grace(p) == want_pod
    assert probe_kill_grace(p, "a") == want_kill


@pytest.mark.parametrize("policy,want", [
    ("Always", "Container a failed liveness probe, will be restarted"),
    ("OnFailure", "Container a failed liveness probe, will be restarted"),
    ("Never", "Container a failed liveness probe")], ids=["always", "onfailure", "never"])
def test_unhealthy_kill_message(policy: str, want: str) -> None:
    assert unhealthy_kill_message(pod(policy), "Container a failed liveness probe") == want
