"""The Pod row: NAME READY STATUS RESTARTS AGE | IP NODE NOMINATED NODE READINESS GATES.

STATUS is the aggregate the kube-apiserver computes, in this order:

1. ``status.reason`` if set, else ``status.phase``; ``SchedulingGated`` when the
   PodScheduled condition says so.
2. Init containers, in status order: a zero-exit terminated one or a started sidecar
   (``restartPolicy: Always``) is passed; the first other one decides ``Init:<reason>``,
   ``Init:Signal:N``, ``Init:ExitCode:N``, ``Init:<waiting reason>`` or ``Init:i/n``.
3. Unless still initializing (and the Initialized condition is not True), the app
   containers, last to first: a waiting or terminated reason wins, a reason-less
   termination gives ``Signal:N`` / ``ExitCode:N``; ``Completed`` with a container still
   running becomes ``Running`` (pod Ready) or ``NotReady``.
4. A deleted pod is ``Unknown`` when its node was lost, else ``Terminating`` unless it
   already reached Succeeded/Failed.

RESTARTS is the restart total, with `` (<age> ago)`` of the latest previous termination.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .common import Cell, Column, Doc, Obj, Printer, age, age_column, dig, human_duration, \
    name, name_column, parse_time

NODE_LOST_REASON = "NodeLost"

COLUMNS = (
    name_column(),
    Column("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
    Column("Status", "string", "The aggregate status of the containers in this pod."),
    Column("Restarts", "string", "The number of times the containers in this pod have been "
           "restarted and when the last container in this pod has restarted."),
    age_column(),
    Column("IP", "string", Doc("core.v1.PodStatus", "podIP"), priority=1),
    Column("Node", "string", Doc("core.v1.PodSpec", "nodeName"), priority=1),
    Column("Nominated Node", "string", Doc("core.v1.PodStatus", "nominatedNodeName"), priority=1),
    Column("Readiness Gates", "string", Doc("core.v1.PodSpec", "readinessGates"), priority=1),
)

_SUCCEEDED = [{"type": "Completed", "status": "True", "reason": "Succeeded",
               "message": "The pod has completed successfully."}]
_FAILED = [{"type": "Completed", "status": "True", "reason": "Failed",
            "message": "The pod failed."}]


def pod_conditions(pod: Obj) -> list[dict[str, str]]:
    """The row conditions (``Completed``) the apiserver attaches to finished pods."""
    phase = dig(pod, "status", "phase")
    if phase == "Succeeded":
        return [dict(c) for c in _SUCCEEDED]
    if phase == "Failed":
        return [dict(c) for c in _FAILED]
    return []


def _condition_true(status: Obj, condition_type: str) -> bool:
    for condition in status.get("conditions") or []:
        if condition.get("type") == condition_type:
            return bool(condition.get("status") == "True")
    return False


class _Restarts:
    """Restart count and the latest ``lastState.terminated.finishedAt`` seen."""

    def __init__(self) -> None:
        self.count = 0
        self.last: datetime | None = None

    def add(self, container_status: Obj) -> None:
        self.count += int(container_status.get("restartCount") or 0)
        finished = parse_time(dig(container_status, "lastState", "terminated", "finishedAt"))
        if dig(container_status, "lastState", "terminated") is not None and finished:
            if self.last is None or finished > self.last:
                self.last = finished


def _terminated_reason(terminated: Obj) -> str:
    if terminated.get("reason"):
        return str(terminated["reason"])
    signal = int(terminated.get("signal") or 0)
    if signal:
        return f"Signal:{signal}"
    return f"ExitCode:{int(terminated.get('exitCode') or 0)}"


def pod_status_and_counts(pod: Obj) -> tuple[str, int, int, _Restarts]:
    """(STATUS, ready containers, total containers, restarts) of a pod."""
    spec: Obj = pod.get("spec") or {}
    status: Obj = pod.get("status") or {}
    phase = str(status.get("phase") or "")
    reason = str(status.get("reason") or phase)
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    init_specs = spec.get("initContainers") or []
    sidecars = {c.get("name") for c in init_specs if c.get("restartPolicy") == "Always"}
    total = len(spec.get("containers") or []) + len(sidecars)
    ready = 0

    restarts, sidecar_restarts = _Restarts(), _Restarts()
    initializing = False
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        restarts.add(cs)
        is_sidecar = cs.get("name") in sidecars
        if is_sidecar:
            sidecar_restarts.add(cs)
        state: Obj = cs.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated is not None and int(terminated.get("exitCode") or 0) == 0:
            continue
        if is_sidecar and cs.get("started") is True:
            if cs.get("ready"):
                ready += 1
            continue
        if terminated is not None:
            reason = "Init:" + _terminated_reason(terminated)
        elif waiting is not None and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + str(waiting["reason"])
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break

    if not initializing or _condition_true(status, "Initialized"):
        restarts = sidecar_restarts
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts.add(cs)
            state = cs.get("state") or {}
            waiting, terminated = state.get("waiting"), state.get("terminated")
            if waiting is not None and waiting.get("reason"):
                reason = str(waiting["reason"])
            elif terminated is not None:
                reason = _terminated_reason(terminated)
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(status, "Ready") else "NotReady"

    if dig(pod, "metadata", "deletionTimestamp"):
        if status.get("reason") == NODE_LOST_REASON:
            reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            reason = "Terminating"
    return reason, ready, total, restarts


def _readiness_gates(spec: Obj, status: Obj) -> str:
    gates = spec.get("readinessGates") or []
    if not gates:
        return "<none>"
    conditions = status.get("conditions") or []
    passed = 0
    for gate in gates:
        for condition in conditions:
            if condition.get("type") == gate.get("conditionType"):
                passed += condition.get("status") == "True"
                break
    return f"{passed}/{len(gates)}"


def _pod_ip(status: Obj) -> str:
    ips: list[Any] = status.get("podIPs") or []
    ip = (ips[0] or {}).get("ip") if ips else status.get("podIP")
    return str(ip) if ip else "<none>"


def pod_cells(pod: Obj, now: datetime) -> list[Cell]:
    spec: Obj = pod.get("spec") or {}
    status: Obj = pod.get("status") or {}
    reason, ready, total, restarts = pod_status_and_counts(pod)
    restarts_text = str(restarts.count)
    if restarts.count and restarts.last is not None:
        restarts_text = f"{restarts.count} ({human_duration(now - restarts.last)} ago)"
    return [
        name(pod), f"{ready}/{total}", reason, restarts_text, age(pod, now),
        _pod_ip(status),
        str(spec.get("nodeName") or "<none>"),
        str(status.get("nominatedNodeName") or "<none>"),
        _readiness_gates(spec, status),
    ]


PRINTERS = {("", "Pod"): Printer(COLUMNS, pod_cells)}
