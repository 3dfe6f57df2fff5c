"""The simulated container runtime's pod lifecycle: a pure state machine, no I/O.

A simulated pod starts when its node's simulator first sees it bound: every init container
(``restartPolicy`` unset) completes at once with exit code 0; sidecar init containers
(``restartPolicy: Always``) and regular containers start running. A container runs until the
pod is deleted, unless the pod's annotation ``sim.kubepy.io/run-seconds`` says how long it
runs; it then exits with ``sim.kubepy.io/exit-code`` (default 0), and the pod's
restartPolicy decides:

* ``Always`` restarts it; ``OnFailure`` restarts it if the exit code is not 0; ``Never``
  leaves it terminated. The pod is Succeeded once every regular container is terminated for
  good with exit code 0, Failed once every one is terminated for good and one failed.
* Restarts follow the kubelet's crash back-off (client-go's flowcontrol.Backoff, 10 s
  doubling to 300 s): the first exit restarts at once and arms a 10 s back-off; each later
  exit waits the current back-off (the container is ``waiting`` with reason
  ``CrashLoopBackOff``) and doubles it. A back-off last armed more than 600 s before
  (2 x the cap) is expired: the container restarts at once and the back-off starts at 10 s
  again.

Times are seconds on the simulator's clock (``Clock.now().timestamp()``, wall seconds), so
a ``FakeClock`` drives it in tests. ``advance(rt, now)`` applies every transition due by
``now`` (each at the time it was due, not at ``now``), ``next_transition(rt)`` says when to
call it again. Turning a runtime into ``status`` is ``kubepy.kubelet.simulated.podstatus``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

Obj = dict[str, Any]

RUN_SECONDS_ANNOTATION = "sim.kubepy.io/run-seconds"
EXIT_CODE_ANNOTATION = "sim.kubepy.io/exit-code"

INITIAL_BACKOFF = 10.0
MAX_BACKOFF = 300.0
BACKOFF_RESET = 2 * MAX_BACKOFF  # an entry untouched this long is expired


class State(Enum):
    RUNNING = "running"
    WAITING = "waiting"        # CrashLoopBackOff, until restart_at
    TERMINATED = "terminated"  # for good (restartPolicy says no restart, or pod finished)


@dataclass(frozen=True)
class Terminated:
    exit_code: int
    started_at: float
    finished_at: float
    container_id: str

    @property
    def reason(self) -> str:
        return "Completed" if self.exit_code == 0 else "Error"


@dataclass(frozen=True)
class ContainerRuntime:
    name: str
    image: str
    state: State
    container_id: str
    started_at: float                      # current instance's start (RUNNING)
    run_seconds: float | None = None       # None: runs until the pod is deleted
    exit_code: int = 0                     # what the container exits with
    restart_count: int = 0
    terminated: Terminated | None = None   # current instance, once it exited
    last_terminated: Terminated | None = None  # the instance before a restart
    backoff: float = 0.0                   # 0: no back-off armed yet
    backoff_updated: float = 0.0
    restart_at: float | None = None        # WAITING until then
    init: bool = False                     # a completed (non-sidecar) init container
    sidecar: bool = False


@dataclass(frozen=True)
class PodRuntime:
    uid: str
    started: float                         # status.startTime
    pod_ip: str
    restart_policy: str = "Always"
    init_containers: tuple[ContainerRuntime, ...] = ()
    containers: tuple[ContainerRuntime, ...] = ()
    finished_at: float | None = None       # set once the pod reached Succeeded/Failed
    annotations: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def phase(self) -> str:
        if self.finished_at is None:
            return "Running"
        if all(c.terminated is not None and c.terminated.exit_code == 0
               for c in self.containers):
            return "Succeeded"
        return "Failed"


def container_id(pod_uid: str, name: str, restart_count: int) -> str:
    """A stable fake runtime id: ``sim://`` + 64 hex digits, like ``containerd://<id>``."""
    digest = hashlib.sha256(f"{pod_uid}/{name}/{restart_count}".encode()).hexdigest()
    return f"sim://{digest}"


def _float_annotation(annotations: dict[str, str], key: str) -> float | None:
    value = annotations.get(key)
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def _int_annotation(annotations: dict[str, str], key: str, default: int) -> int:
    try:
        return int(annotations.get(key, default))
    except ValueError:
        return default


def start_pod(pod: Obj, now: float, pod_ip: str) -> PodRuntime:
    """The runtime of ``pod`` as the simulated kubelet starts it at ``now``."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    uid = meta.get("uid") or ""
    annotations = dict(meta.get("annotations") or {})
    run_seconds = _float_annotation(annotations, RUN_SECONDS_ANNOTATION)
    exit_code = _int_annotation(annotations, EXIT_CODE_ANNOTATION, 0)
    inits: list[ContainerRuntime] = []
    for c in spec.get("initContainers") or []:
        name = c.get("name", "")
        cid = container_id(uid, name, 0)
        if c.get("restartPolicy") == "Always":
            inits.append(ContainerRuntime(name, c.get("image", ""), State.RUNNING, cid, now,
                                          sidecar=True))
        else:
            inits.append(ContainerRuntime(name, c.get("image", ""), State.TERMINATED, cid, now,
                                          terminated=Terminated(0, now, now, cid), init=True))
    containers = tuple(
        ContainerRuntime(c.get("name", ""), c.get("image", ""), State.RUNNING,
                         container_id(uid, c.get("name", ""), 0), now,
                         run_seconds=run_seconds, exit_code=exit_code)
        for c in spec.get("containers") or [])
    return PodRuntime(uid, now, pod_ip, spec.get("restartPolicy") or "Always", tuple(inits),
                      containers, annotations=annotations)


def _restarts(policy: str, exit_code: int) -> bool:
    return policy == "Always" or (policy == "OnFailure" and exit_code != 0)


def _start_again(c: ContainerRuntime, at: float, uid: str) -> ContainerRuntime:
    """A back-off's ``Next``: arm or double it, then run a new instance from ``at``."""
    expired = c.backoff == 0 or at - c.backoff_updated > BACKOFF_RESET
    backoff = INITIAL_BACKOFF if expired else min(2 * c.backoff, MAX_BACKOFF)
    count = c.restart_count + 1
    return replace(c, state=State.RUNNING, container_id=container_id(uid, c.name, count),
                   started_at=at, restart_count=count, terminated=None,
                   last_terminated=c.terminated, backoff=backoff, backoff_updated=at,
                   restart_at=None)


def _exit(c: ContainerRuntime, policy: str, uid: str) -> ContainerRuntime:
    """The container exits at the end of its run; restart, back off, or stay down."""
    assert c.run_seconds is not None
    finished = c.started_at + c.run_seconds
    done = replace(c, terminated=Terminated(c.exit_code, c.started_at, finished,
                                            c.container_id))
    if not _restarts(policy, c.exit_code):
        return replace(done, state=State.TERMINATED)
    in_backoff = c.backoff > 0 and finished - c.backoff_updated <= BACKOFF_RESET
    if not in_backoff:
        return _start_again(done, finished, uid)
    return replace(done, state=State.WAITING, restart_at=finished + c.backoff)


def _container_next(c: ContainerRuntime) -> float | None:
    if c.state is State.RUNNING and c.run_seconds is not None:
        return c.started_at + c.run_seconds
    if c.state is State.WAITING:
        return c.restart_at
    return None


def _step_container(c: ContainerRuntime, now: float, policy: str,
                    uid: str) -> ContainerRuntime:
    while True:
        due = _container_next(c)
        if due is None or due > now:
            return c
        if c.state is State.RUNNING:
            c = _exit(c, policy, uid)
        else:
            assert c.restart_at is not None
            c = _start_again(c, c.restart_at, uid)


def advance(rt: PodRuntime, now: float) -> PodRuntime:
    """Apply every transition due by ``now``; a finished pod no longer changes."""
    if rt.finished_at is not None:
        return rt
    containers = tuple(_step_container(c, now, rt.restart_policy, rt.uid)
                       for c in rt.containers)
    rt = replace(rt, containers=containers)
    if containers and all(c.state is State.TERMINATED for c in containers):
        assert all(c.terminated is not None for c in containers)
        finished = max(c.terminated.finished_at for c in containers)  # type: ignore[union-attr]
        sidecars = tuple(
            replace(c, state=State.TERMINATED,
                    terminated=Terminated(0, c.started_at, finished, c.container_id))
            if c.sidecar else c for c in rt.init_containers)
        rt = replace(rt, init_containers=sidecars, finished_at=finished)
    return rt


def next_transition(rt: PodRuntime) -> float | None:
    """When ``advance`` next has something to do (None: nothing will change by itself)."""
    if rt.finished_at is not None:
        return None
    times = [t for t in (_container_next(c) for c in rt.containers) if t is not None]
    return min(times) if times else None


def deletion_deadline(grace_seconds: int | None, observed_at: float,
                      previous: float | None, *, terminal: bool) -> float:
    """When the simulated kubelet removes a pod that is being deleted: its containers get
    ``deletionGracePeriodSeconds`` from when the deletion was first seen (at once for a
    grace of 0 or a pod already finished); a later, shorter grace period can only bring
    the deadline closer."""
    if terminal:
        return observed_at
    deadline = observed_at + max(0, grace_seconds or 0)
    return deadline if previous is None else min(previous, deadline)
