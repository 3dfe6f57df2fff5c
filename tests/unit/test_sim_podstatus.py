"""A simulated pod's status as the kubelet reports it (kubepy.kubelet.simulated.podstatus)."""

from __future__ import annotations

from typing import Any

import pytest

from kubepy.kubelet.simulated.lifecycle import advance, start_pod
from kubepy.kubelet.simulated.podstatus import normalize_image, pod_status, rfc3339

T0 = 1_800_000_000.0


def pod(annotations: dict[str, str] | None = None, status: dict[str, Any] | None = None,
        **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "web", "namespace": "ns", "uid": "u1",
                         "annotations": annotations or {}},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}], **spec},
            "status": status or {"phase": "Pending", "qosClass": "BestEffort",
                                 "conditions": [{"type": "PodScheduled", "status": "True",
                                                 "lastProbeTime": None,
                                                 "lastTransitionTime": rfc3339(T0 - 5)}]}}


def status_at(manifest: dict[str, Any], at: float) -> dict[str, Any]:
    rt = advance(start_pod(manifest, T0, "10.42.3.7"), T0 + at)
    return pod_status(manifest, rt, "10.250.0.4", T0 + at)


def conditions(status: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return [(c["type"], c["status"], c.get("reason")) for c in status["conditions"]]


CRASH = {"sim.kubepy.io/run-seconds": "1", "sim.kubepy.io/exit-code": "1"}
DONE = {"sim.kubepy.io/run-seconds": "1"}


@pytest.mark.parametrize(
    "manifest,at,phase,conds",
    [(pod(), 0, "Running",
      [("PodReadyToStartContainers", "True", None), ("Initialized", "True", None),
       ("Ready", "True", None), ("ContainersReady", "True", None),
       ("PodScheduled", "True", None)]),
     (pod(CRASH), 3, "Running",
      [("PodReadyToStartContainers", "True", None), ("Initialized", "True", None),
       ("Ready", "False", "ContainersNotReady"), ("ContainersReady", "False", "ContainersNotReady"),
       ("PodScheduled", "True", None)]),
     (pod(DONE, restartPolicy="Never"), 3, "Succeeded",
      [("PodReadyToStartContainers", "False", None), ("Initialized", "True", "PodCompleted"),
       ("Ready", "False", "PodCompleted"), ("ContainersReady", "False", "PodCompleted"),
       ("PodScheduled", "True", None)]),
     (pod(CRASH, restartPolicy="Never"), 3, "Failed",
      [("PodReadyToStartContainers", "False", None), ("Initialized", "True", "PodCompleted"),
       ("Ready", "False", "PodCompleted"), ("ContainersReady", "False", "PodCompleted"),
       ("PodScheduled", "True", None)]),
     (pod(readinessGates=[{"conditionType": "example.com/lb"}]), 0, "Running",
      [("PodReadyToStartContainers", "True", None), ("Initialized", "True", None),
       ("Ready", "False", "ReadinessGatesNotReady"), ("ContainersReady", "True", None),
       ("PodScheduled", "True", None)])],
    ids=["running", "crash-loop", "succeeded", "failed", "readiness-gate-missing"])
def test_phase_and_conditions(manifest: dict[str, Any], at: float, phase: str,
                              conds: list[tuple[str, str, str | None]]) -> None:
    status = status_at(manifest, at)
    assert status["phase"] == phase
    assert conditions(status) == conds
    assert status["podIP"] == "10.42.3.7" and status["podIPs"] == [{"ip": "10.42.3.7"}]
    assert status["hostIP"] == "10.250.0.4" and status["hostIPs"] == [{"ip": "10.250.0.4"}]
    assert status["startTime"] == rfc3339(T0) and status["qosClass"] == "BestEffort"


def test_crash_loop_container_status() -> None:
    cs = status_at(pod(CRASH), 3)["containerStatuses"][0]
    assert cs["state"] == {"waiting": {
        "reason": "CrashLoopBackOff",
        "message": "back-off 10s restarting failed container=app pod=web_ns(u1)"}}
    assert cs["lastState"]["terminated"]["exitCode"] == 1
    assert cs["lastState"]["terminated"]["reason"] == "Error"
    assert cs["lastState"]["terminated"]["finishedAt"] == rfc3339(T0 + 2)
    assert (cs["restartCount"], cs["ready"], cs["started"]) == (1, False, False)
    assert cs["containerID"] == cs["lastState"]["terminated"]["containerID"]


def test_running_container_status() -> None:
    cs = status_at(pod(), 0)["containerStatuses"][0]
    assert cs["state"] == {"running": {"startedAt": rfc3339(T0)}}
    assert (cs["ready"], cs["started"], cs["restartCount"], cs["lastState"]) == (True, True, 0, {})
    assert cs["image"] == "docker.io/library/nginx:1.25"
    assert cs["containerID"].startswith("sim://") and cs["imageID"].startswith("sim://sha256:")


def test_rewriting_an_unchanged_runtime_changes_nothing() -> None:
    manifest = pod(CRASH)
    rt = advance(start_pod(manifest, T0, "10.42.3.7"), T0 + 3)
    first = pod_status(manifest, rt, "10.250.0.4", T0 + 3)
    again = pod_status({**manifest, "status": first}, rt, "10.250.0.4", T0 + 9)
    assert again == first


def test_transition_times_move_only_when_a_condition_changes() -> None:
    manifest = pod(CRASH)
    start = start_pod(manifest, T0, "10.42.3.7")
    ready = pod_status(manifest, advance(start, T0), "h", T0)
    crashed = pod_status({**manifest, "status": ready}, advance(start, T0 + 3), "h", T0 + 3)
    times = {c["type"]: c["lastTransitionTime"] for c in crashed["conditions"]}
    assert times["Ready"] == rfc3339(T0 + 3)
    assert times["Initialized"] == rfc3339(T0)
    assert times["PodScheduled"] == rfc3339(T0 - 5)


def test_conditions_of_other_writers_are_kept() -> None:
    target = {"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI"}
    manifest = pod(status={"phase": "Running", "conditions": [target]})
    status = status_at(manifest, 0)
    assert status["conditions"][-1] == target
    assert [c["type"] for c in status["conditions"]].count("DisruptionTarget") == 1


@pytest.mark.parametrize("image,normalized", [
    ("nginx", "docker.io/library/nginx:latest"),
    ("nginx:1.25", "docker.io/library/nginx:1.25"),
    ("bitnami/redis", "docker.io/bitnami/redis:latest"),
    ("registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.9"),
    ("localhost:5000/app", "localhost:5000/app:latest"),
    ("localhost/app:v1", "localhost/app:v1"),
    ("busybox@sha256:abc", "docker.io/library/busybox@sha256:abc"),
], ids=["bare", "tag", "user-repo", "registry", "registry-port", "localhost", "digest"])
def test_normalize_image(image: str, normalized: str) -> None:
    assert normalize_image(image) == normalized
