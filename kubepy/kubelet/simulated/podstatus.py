"""A simulated pod's ``status`` as a kubelet reports it, from its ``PodRuntime``. Pure.

``pod_status(pod, rt, host_ip, now)`` starts from the pod's current status (so fields other
writers own — ``qosClass``, ``nominatedNodeName``, conditions such as DisruptionTarget —
are kept) and sets what the kubelet owns: ``phase``, ``hostIP(s)``, ``podIP(s)``,
``startTime``, ``initContainerStatuses``, ``containerStatuses`` and the conditions
PodReadyToStartContainers, Initialized, Ready, ContainersReady and PodScheduled, in that
order. A condition keeps its ``lastTransitionTime`` while its status stays the same, so the
result for an unchanged runtime equals the status it was built from: writing only when
``pod_status(...) != pod["status"]`` never writes twice.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any

from kubepy.kubelet.podconditions import condition, readiness_gates_message
from kubepy.kubelet.simulated.lifecycle import ContainerRuntime, PodRuntime, State, Terminated

Obj = dict[str, Any]

KUBELET_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady",
                      "PodScheduled")


def rfc3339(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def normalize_image(image: str) -> str:
    """``nginx`` -> ``docker.io/library/nginx:latest``, as container runtimes report it."""
    name, digest = (image.split("@", 1) + [""])[:2]
    first, _, rest = name.partition("/")
    if not rest:
        name = f"docker.io/library/{name}"
    elif "." not in first and ":" not in first and first != "localhost":
        name = f"docker.io/{name}"
    if digest:
        return f"{name}@{digest}"
    if ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    return name


def image_id(image: str) -> str:
    """A fake, stable image id (``sim://sha256:<hex>``): no image was ever pulled."""
    return "sim://sha256:" + hashlib.sha256(normalize_image(image).encode()).hexdigest()


def _terminated(t: Terminated) -> Obj:
    return {"terminated": {"exitCode": t.exit_code, "reason": t.reason,
                           "startedAt": rfc3339(t.started_at),
                           "finishedAt": rfc3339(t.finished_at),
                           "containerID": t.container_id}}


def container_status(c: ContainerRuntime, pod_name: str, namespace: str, uid: str) -> Obj:
    if c.state is State.RUNNING:
        state: Obj = {"running": {"startedAt": rfc3339(c.started_at)}}
    elif c.state is State.WAITING:
        message = (f"back-off {int(c.backoff)}s restarting failed container={c.name} "
                   f"pod={pod_name}_{namespace}({uid})")
        state = {"waiting": {"reason": "CrashLoopBackOff", "message": message}}
    else:
        assert c.terminated is not None
        state = _terminated(c.terminated)
    running = c.state is State.RUNNING
    # waiting to restart, the instance that just exited is the last state
    last = c.terminated if c.state is State.WAITING else c.last_terminated
    status: Obj = {
        "name": c.name,
        "state": state,
        "lastState": _terminated(last) if last else {},
        "ready": running or (c.init and c.state is State.TERMINATED),
        "restartCount": c.restart_count,
        "image": normalize_image(c.image),
        "imageID": image_id(c.image),
        "started": running,
    }
    status["containerID"] = last.container_id if c.state is State.WAITING and last \
        else c.container_id
    return status


def pod_conditions(pod: Obj, rt: PodRuntime, statuses: list[Obj], now: str) -> list[Obj]:
    old_list = (pod.get("status") or {}).get("conditions") or []
    old = {c.get("type", ""): c for c in old_list}
    finished = rt.finished_at is not None
    unready = [s["name"] for s in statuses if not s["ready"]]
    if finished:
        containers_ready = condition(old, "ContainersReady", False, now, "PodCompleted")
        ready = condition(old, "Ready", False, now, "PodCompleted")
        initialized = condition(old, "Initialized", True, now, "PodCompleted")
    else:
        message = f"containers with unready status: [{' '.join(unready)}]" if unready else None
        reason = "ContainersNotReady" if unready else None
        containers_ready = condition(old, "ContainersReady", not unready, now, reason, message)
        gates = readiness_gates_message(pod, old)
        if unready or gates is None:
            ready = condition(old, "Ready", not unready, now, reason, message)
        else:
            ready = condition(old, "Ready", False, now, "ReadinessGatesNotReady", gates)
        initialized = condition(old, "Initialized", True, now)
    ours = [condition(old, "PodReadyToStartContainers", not finished, now), initialized,
            ready, containers_ready, condition(old, "PodScheduled", True, now)]
    others = [c for c in old_list if c.get("type") not in KUBELET_CONDITIONS]
    return ours + others


def pod_status(pod: Obj, rt: PodRuntime, host_ip: str, now: float) -> Obj:
    """The status the simulated kubelet reports for ``pod`` running as ``rt``."""
    meta = pod.get("metadata") or {}
    name, namespace, uid = meta.get("name", ""), meta.get("namespace", ""), meta.get("uid", "")
    status: Obj = dict(pod.get("status") or {})
    statuses = [container_status(c, name, namespace, uid) for c in rt.containers]
    inits = [container_status(c, name, namespace, uid) for c in rt.init_containers]
    status["phase"] = rt.phase
    status["conditions"] = pod_conditions(pod, rt, statuses, rfc3339(now))
    status["hostIP"] = host_ip
    status["hostIPs"] = [{"ip": host_ip}]
    status["podIP"] = rt.pod_ip
    status["podIPs"] = [{"ip": rt.pod_ip}]
    status["startTime"] = rfc3339(rt.started)
    if inits:
        status["initContainerStatuses"] = inits
    status["containerStatuses"] = statuses
    status.pop("message", None)
    status.pop("reason", None)
    return status
