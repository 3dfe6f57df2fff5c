"""A real pod's ``status`` as the kubelet posts it: the runtime's part (``PodState.status()``:
phase, IPs, startTime, container statuses) plus the pod conditions. Pure.

``pod_status(pod, runtime, now, sandbox_ready=...)`` starts from the pod's current status, so
fields other writers own (``qosClass``, ``nominatedNodeName``, conditions such as
DisruptionTarget) are kept, and sets the kubelet's conditions in the kubelet's order:
PodReadyToStartContainers, Initialized, Ready, ContainersReady, PodScheduled. A condition keeps
its ``lastTransitionTime`` while its status is unchanged, so an unchanged runtime yields the
status it was built from (write only when it differs: never twice).

Conditions follow the kubelet (``pkg/kubelet/status/generate.go``): Initialized is False with
``ContainersNotInitialized`` while init containers have not all completed; ContainersReady and
Ready are False with ``ContainersNotReady`` and "containers with unready status: [a b]" while
a container is not ready; once the pod has finished (Succeeded/Failed) the three carry reason
``PodCompleted`` (Initialized True, the others False); PodReadyToStartContainers is True while
the sandbox and its network are up.
"""

from __future__ import annotations

from typing import Any

from kubepy.kubelet.podconditions import condition, readiness_gates_message

Obj = dict[str, Any]

KUBELET_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady",
                      "PodScheduled")
TERMINAL = ("Succeeded", "Failed")


def _not_done(statuses: list[Obj], *, init: bool) -> list[str]:
    if init:
        return [s["name"] for s in statuses
                if (s.get("state") or {}).get("terminated", {}).get("exitCode") != 0]
    return [s["name"] for s in statuses if not s.get("ready")]


def pod_conditions(pod: Obj, runtime: Obj, now: str, *, sandbox_ready: bool) -> list[Obj]:
    old_list = (pod.get("status") or {}).get("conditions") or []
    old = {c.get("type", ""): c for c in old_list}
    if runtime.get("phase") in TERMINAL:
        initialized = condition(old, "Initialized", True, now, "PodCompleted")
        ready = condition(old, "Ready", False, now, "PodCompleted")
        containers_ready = condition(old, "ContainersReady", False, now, "PodCompleted")
    else:
        pending_inits = _not_done(runtime.get("initContainerStatuses") or [], init=True)
        if pending_inits:
            initialized = condition(old, "Initialized", False, now, "ContainersNotInitialized",
                                    f"containers with incomplete status: "
                                    f"[{' '.join(pending_inits)}]")
        else:
            initialized = condition(old, "Initialized", True, now)
        unready = _not_done(runtime.get("containerStatuses") or [], init=False)
        reason = "ContainersNotReady" if unready else None
        message = f"containers with unready status: [{' '.join(unready)}]" if unready else None
        containers_ready = condition(old, "ContainersReady", not unready, now, reason, message)
        gates = None if unready else readiness_gates_message(pod, old)
        if gates is None:
            ready = condition(old, "Ready", not unready, now, reason, message)
        else:
            ready = condition(old, "Ready", False, now, "ReadinessGatesNotReady", gates)
    ours = [condition(old, "PodReadyToStartContainers", sandbox_ready, now), initialized,
            ready, containers_ready, condition(old, "PodScheduled", True, now)]
    return ours + [c for c in old_list if c.get("type") not in KUBELET_CONDITIONS]


def pod_status(pod: Obj, runtime: Obj, now: str, *, sandbox_ready: bool) -> Obj:
    """The status to post for *pod* whose runtime part is *runtime* (see the module
    docstring); *now* is an RFC 3339 timestamp."""
    status: Obj = dict(pod.get("status") or {})
    for key in ("podIP", "podIPs", "initContainerStatuses", "message", "reason"):
        status.pop(key, None)
    status.update(runtime)
    status["conditions"] = pod_conditions(pod, runtime, now, sandbox_ready=sandbox_ready)
    return status


def waiting_status(pod: Obj, host_ip: str, start_time: str, reason: str, message: str) -> Obj:
    """The runtime part for a pod whose sandbox could not be created: Pending, every
    container waiting with *reason* (ContainerCreating while retrying)."""
    spec = pod.get("spec") or {}

    def waiting(c: Obj) -> Obj:
        return {"name": c["name"], "state": {"waiting": {"reason": reason}}, "lastState": {},
                "ready": False, "restartCount": 0, "image": c.get("image", ""), "imageID": "",
                "started": False}

    out: Obj = {"phase": "Pending", "startTime": start_time, "message": message,
                "containerStatuses": [waiting(c) for c in spec.get("containers") or []]}
    if host_ip:
        out["hostIP"], out["hostIPs"] = host_ip, [{"ip": host_ip}]
    if spec.get("initContainers"):
        out["initContainerStatuses"] = [waiting(c) for c in spec["initContainers"]]
    return out
