"""Kubernetes-shaped container statuses and the pod phase, from what the runtime recorded.
Pure.

A ``ContainerRecord`` is the runtime's view of one container instance: waiting (not created
yet, or failed to be created, with a reason such as CreateContainerConfigError), running, or
exited with an exit code (and whether the OOM killer fired). ``container_statuses`` turns the
records of a pod into ``status.containerStatuses`` (or ``initContainerStatuses``) in the
order of the spec; a container without a record is waiting with reason ``PodInitializing``
while init containers run (for init containers themselves too) and ``ContainerCreating``
otherwise. A terminated container's reason is ``OOMKilled`` when the OOM killer killed a
process of it, else ``Completed`` for exit code 0 and ``Error`` for any other.

A restarted container's record keeps the instance before in ``last`` (``lastState``); an
exited container waiting out its crash back-off (``backoff_message``) shows as waiting with
reason ``CrashLoopBackOff`` and itself as ``lastState``. A running container is started once
its startup probe passed (``probe_started``) and ready while its readiness probe passes
(``probe_ready``; both True without probes); an init container is ready once it has
completed successfully.

``pod_phase`` follows the kubelet's rules: Pending until every init container succeeded and
every app container has been started; Failed when an init container failed and the pod does
not restart (restartPolicy Never); Running while a container runs (or would be restarted);
Succeeded when every app container exited 0; Failed when all exited and one did not succeed
under restartPolicy Never.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping, Sequence

Obj = dict[str, Any]

CONTAINER_ID_SCHEME = "runc"


class ContainerPhase(enum.Enum):
    WAITING = "waiting"
    RUNNING = "running"
    EXITED = "exited"


@dataclass
class ContainerRecord:
    name: str
    image: str = ""           # the image as the runtime resolved it (name:tag)
    image_id: str = ""        # repo digest or image ID
    container_id: str = ""    # the runc container id ("" before creation)
    phase: ContainerPhase = ContainerPhase.WAITING
    reason: str = ""          # waiting reason (ContainerCreating, CreateContainerConfigError...)
    message: str = ""         # waiting message, or the termination message once exited
    started_at: float | None = None
    finished_at: float | None = None
    exit_code: int | None = None
    oom_killed: bool = False
    restart_count: int = 0
    last: "ContainerRecord | None" = None   # the instance before (lastState.terminated)
    backoff_message: str = ""  # exited and waiting to restart: CrashLoopBackOff's message
    probe_ready: bool = True   # readiness probe result (True without a probe)
    probe_started: bool = True  # startup probe passed (True without a probe)


def rfc3339(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def terminated_reason(exit_code: int | None, oom_killed: bool) -> str:
    if oom_killed:
        return "OOMKilled"
    return "Completed" if exit_code == 0 else "Error"


def container_state(record: ContainerRecord) -> Obj:
    """The ``state`` object (one of waiting, running, terminated) of a record."""
    if record.phase is ContainerPhase.EXITED and record.backoff_message:
        return {"waiting": {"reason": "CrashLoopBackOff", "message": record.backoff_message}}
    return terminated_or_current(record)


def last_state(record: ContainerRecord) -> Obj:
    """``lastState``: the instance before, or (in CrashLoopBackOff) the exited one itself."""
    if record.phase is ContainerPhase.EXITED and record.backoff_message:
        return terminated_or_current(record)
    return terminated_or_current(record.last) if record.last is not None else {}


def terminated_or_current(record: ContainerRecord) -> Obj:
    if record.phase is ContainerPhase.RUNNING:
        return {"running": {"startedAt": rfc3339(record.started_at or 0)}}
    if record.phase is ContainerPhase.EXITED:
        term: Obj = {"exitCode": record.exit_code if record.exit_code is not None else -1,
                     "reason": terminated_reason(record.exit_code, record.oom_killed),
                     "startedAt": rfc3339(record.started_at or 0),
                     "finishedAt": rfc3339(record.finished_at or record.started_at or 0),
                     "containerID": full_container_id(record.container_id)}
        if record.exit_code is None:
            term["reason"] = "Unknown"
            term["message"] = "The container could not be located when the pod was terminated"
        elif record.message:
            term["message"] = record.message
        return {"terminated": term}
    waiting: Obj = {"reason": record.reason or "ContainerCreating"}
    if record.message:
        waiting["message"] = record.message
    return {"waiting": waiting}


def full_container_id(container_id: str) -> str:
    return f"{CONTAINER_ID_SCHEME}://{container_id}" if container_id else ""


def container_status(container: Obj, record: ContainerRecord | None, *, init: bool,
                     initializing: bool) -> Obj:
    """One entry of containerStatuses for the spec's *container*."""
    if record is None:
        record = ContainerRecord(name=container["name"],
                                 reason="PodInitializing" if initializing or init
                                 else "ContainerCreating")
    running = record.phase is ContainerPhase.RUNNING
    succeeded = _succeeded(record)
    started = running and record.probe_started
    status: Obj = {
        "name": container["name"],
        "state": container_state(record),
        "lastState": last_state(record),
        "ready": succeeded if init else started and record.probe_ready,
        "restartCount": record.restart_count,
        "image": record.image or container.get("image", ""),
        "imageID": record.image_id,
        "started": started,
    }
    if record.container_id:
        status["containerID"] = full_container_id(record.container_id)
    return status


def container_statuses(containers: Sequence[Obj], records: Mapping[str, ContainerRecord], *,
                       init: bool = False, initializing: bool = False) -> list[Obj]:
    """``containerStatuses`` (``init=False``) or ``initContainerStatuses`` (``init=True``) in
    spec order; *initializing* says init containers have not all succeeded yet."""
    return [container_status(c, records.get(c["name"]), init=init, initializing=initializing)
            for c in containers]


def _succeeded(r: ContainerRecord | None) -> bool:
    """Exited with code 0 (the phase goes by the exit code, as in the kubelet)."""
    return r is not None and r.phase is ContainerPhase.EXITED and r.exit_code == 0


def initialized(pod: Obj, init_records: Mapping[str, ContainerRecord]) -> bool:
    inits = (pod.get("spec") or {}).get("initContainers") or []
    return all(_succeeded(init_records.get(c["name"])) for c in inits)


def pod_phase(pod: Obj, init_records: Mapping[str, ContainerRecord],
              records: Mapping[str, ContainerRecord]) -> str:
    """Pending, Running, Succeeded or Failed (see the module docstring)."""
    spec = pod.get("spec") or {}
    policy = spec.get("restartPolicy") or "Always"
    for c in spec.get("initContainers") or []:
        r = init_records.get(c["name"])
        if r is not None and r.phase is ContainerPhase.EXITED and not _succeeded(r) \
                and policy == "Never":
            return "Failed"
    if not initialized(pod, init_records):
        return "Pending"
    running = waiting = succeeded = failed = 0
    for c in spec.get("containers") or []:
        r = records.get(c["name"])
        if r is not None and r.phase is ContainerPhase.WAITING and r.last is not None:
            r = r.last   # restarting: counts as the instance that stopped (kubelet getPhase)
        if r is None or r.phase is ContainerPhase.WAITING:
            waiting += 1
        elif r.phase is ContainerPhase.RUNNING:
            running += 1
        elif _succeeded(r):
            succeeded += 1
        else:
            failed += 1
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if policy == "Always":
        return "Running"
    if failed == 0:
        return "Succeeded"
    return "Failed" if policy == "Never" else "Running"
