"""What a pod sync must do next: the kubelet's ``computePodActions`` for one running sandbox.
Pure: pod spec, the container records, the back-offs and the time in; decisions out.

``compute_pod_actions`` decides, level-triggered (any number of calls on the same input give
the same answer, and nothing here changes the back-offs):

* init containers run one at a time in spec order; the first one that has not succeeded is
  started (no record, or waiting after a failed creation) or, when it failed, restarted unless
  ``restartPolicy`` is Never (the pod then fails); app containers wait for all of them;
* an app container without a record, or waiting after a failed creation, is started; an
  exited one is restarted when the policy says so: Always (any exit), OnFailure (exit code
  not 0), Never (no);
* a restart goes through the per-container crash back-off (``backoff.container_key``): while
  ``in_backoff_since(finishedAt)`` holds, the container stays exited with the CrashLoopBackOff
  message "back-off 10s restarting failed container=c pod=p_ns(uid)" and the pod is requeued
  when the back-off ends; otherwise the caller must call ``Backoff.next`` (``StartContainer
  .backoff_key``) and start it;
* a waiting container whose image failed to pull (ErrImagePull/ImagePullBackOff) is not
  retried while the image back-off (since the last failure) holds: it waits with
  ``ImagePullBackOff`` and 'Back-off pulling image "x"';
* a running container named in *unhealthy* (liveness or startup probe failed) is killed; the
  restart policy then applies to its exit.

``active_deadline`` is the kubelet's activeDeadlineSeconds check: once a pod has been active
(since its startTime) for that long it is failed with reason DeadlineExceeded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from kubepy.kubelet.pods.backoff import Backoff, container_key, go_duration, image_key
from kubepy.kubelet.pods.status import ContainerPhase, ContainerRecord

Obj = dict[str, Any]
IMAGE_PULL_REASONS = ("ErrImagePull", "ImagePullBackOff")


@dataclass(frozen=True)
class StartContainer:
    name: str
    init: bool
    backoff_key: str | None = None     # a restart: call Backoff.next(key, event_time, now)
    event_time: float = 0.0            # the exited instance's finishedAt


@dataclass(frozen=True)
class KillContainer:
    name: str
    message: str                       # why (the probe's failure)


@dataclass
class PodActions:
    start: list[StartContainer] = field(default_factory=list)
    kill: list[KillContainer] = field(default_factory=list)
    crash_backoff: dict[str, str] = field(default_factory=dict)   # name -> message
    image_backoff: dict[str, str] = field(default_factory=dict)   # name -> message
    requeue_after: float | None = None

    def _requeue(self, seconds: float) -> None:
        if self.requeue_after is None or seconds < self.requeue_after:
            self.requeue_after = seconds


def format_pod(pod: Obj) -> str:
    """The kubelet's ``format.Pod``: name_namespace(uid)."""
    meta = pod["metadata"]
    return f"{meta['name']}_{meta.get('namespace', 'default')}({meta.get('uid', '')})"


def should_restart(policy: str, record: ContainerRecord) -> bool:
    """Does an exited container restart under the pod's restartPolicy?"""
    if policy == "Never":
        return False
    if policy == "OnFailure":
        return record.exit_code != 0 or record.oom_killed
    return True


def _start_or_wait(actions: PodActions, pod: Obj, container: Obj, record: ContainerRecord | None,
                   *, init: bool, backoff: Backoff, image_backoff: Backoff, now: float) -> None:
    """A container without a record or waiting after a failed creation."""
    uid = pod["metadata"].get("uid", "")
    name = container["name"]
    if record is not None and record.reason in IMAGE_PULL_REASONS:
        ref = container.get("image", "")
        key = image_key(uid, ref)
        if image_backoff.in_backoff_since_update(key, now):
            actions.image_backoff[name] = f'Back-off pulling image "{ref}"'
            actions._requeue(image_backoff.remaining_since_update(key, now))
            return
    actions.start.append(StartContainer(name, init))


def _restart_or_backoff(actions: PodActions, pod: Obj, container: Obj, record: ContainerRecord,
                        *, init: bool, backoff: Backoff, now: float) -> None:
    uid = pod["metadata"].get("uid", "")
    name = container["name"]
    key = container_key(uid, name)
    finished = record.finished_at if record.finished_at is not None else now
    if backoff.in_backoff_since(key, finished, now):
        actions.crash_backoff[name] = (f"back-off {go_duration(backoff.get(key))} restarting "
                                       f"failed container={name} pod={format_pod(pod)}")
        actions._requeue(backoff.remaining_since(key, finished, now))
        return
    actions.start.append(StartContainer(name, init, backoff_key=key, event_time=finished))


def compute_pod_actions(pod: Obj, init_records: Mapping[str, ContainerRecord],
                        records: Mapping[str, ContainerRecord], *, backoff: Backoff,
                        image_backoff: Backoff, now: float,
                        unhealthy: Mapping[str, str] | None = None) -> PodActions:
    """The next steps for *pod* (see the module docstring); *now* in epoch seconds."""
    spec = pod.get("spec") or {}
    policy = spec.get("restartPolicy") or "Always"
    actions = PodActions()
    kw: dict[str, Any] = {"backoff": backoff, "now": now}
    for c in spec.get("initContainers") or []:
        r = init_records.get(c["name"])
        if r is None or r.phase is ContainerPhase.WAITING:
            _start_or_wait(actions, pod, c, r, init=True, image_backoff=image_backoff, **kw)
            return actions
        if r.phase is ContainerPhase.RUNNING:
            return actions
        if r.exit_code == 0:
            continue
        if policy != "Never":      # a failed init container restarts (OnFailure or Always)
            _restart_or_backoff(actions, pod, c, r, init=True, **kw)
        return actions
    for c in spec.get("containers") or []:
        r = records.get(c["name"])
        if r is None or r.phase is ContainerPhase.WAITING:
            _start_or_wait(actions, pod, c, r, init=False, image_backoff=image_backoff, **kw)
        elif r.phase is ContainerPhase.RUNNING:
            if unhealthy and c["name"] in unhealthy:
                actions.kill.append(KillContainer(c["name"], unhealthy[c["name"]]))
        elif should_restart(policy, r):
            _restart_or_backoff(actions, pod, c, r, init=False, **kw)
    return actions


DEADLINE_EXCEEDED = "DeadlineExceeded"
DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"


def active_deadline(pod: Obj, started_at: float, now: float) -> float | None:
    """Seconds left before the pod's ``activeDeadlineSeconds`` (0 once exceeded); None
    without a deadline."""
    deadline = (pod.get("spec") or {}).get("activeDeadlineSeconds")
    if deadline is None:
        return None
    return max(0.0, started_at + float(deadline) - now)


DEFAULT_GRACE = 30.0


def termination_grace(pod: Obj) -> float:
    """The pod's ``terminationGracePeriodSeconds`` (30 when unset)."""
    value = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
    return DEFAULT_GRACE if value is None else float(value)


def probe_kill_grace(pod: Obj, name: str) -> float:
    """The grace period of a kill after a failed liveness/startup probe: the probe's own
    ``terminationGracePeriodSeconds`` when set, else the pod's."""
    for c in (pod.get("spec") or {}).get("containers") or []:
        if c.get("name") == name:
            for field_ in ("livenessProbe", "startupProbe"):
                value = (c.get(field_) or {}).get("terminationGracePeriodSeconds")
                if value is not None:
                    return float(value)
    return termination_grace(pod)


def unhealthy_kill_message(pod: Obj, failure: str) -> str:
    """The Killing message for a probe failure ("Container c failed liveness probe"): the
    kubelet adds ", will be restarted" unless restartPolicy is Never."""
    policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
    return failure + (", will be restarted" if policy != "Never" else "")
