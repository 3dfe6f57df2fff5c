"""Job decisions, pure: one ``sync(job, pods, now)`` returns everything a reconcile should
do (the contract of upstream's job controller, written anew).

Pod accounting (the ``batch.kubernetes.io/job-tracking`` finalizer):

* A pod carrying the finalizer that has finished — phase Succeeded/Failed, or (with
  podReplacementPolicy TerminatingOrFailed) deleted before finishing, which counts as failed
  — is *newly finished*. The controller first records its uid in
  ``status.uncountedTerminatedPods``, then removes the finalizer, then writes
  ``status.succeeded``/``failed`` with the uid moved into the count. A uid still listed as
  uncounted whose pod has lost its finalizer (or is gone) is counted from the list.
* A pod without the finalizer has been counted already (``counted_uids`` lists pods whose
  finalizer this controller removed but whose update the cache has not shown yet).

Decisions, in order: a finished Job (Complete/Failed) does nothing more. Failure — a
FailJob rule of the podFailurePolicy, more failures than ``backoffLimit`` (for
restartPolicy OnFailure, container restarts count too), or ``activeDeadlineSeconds``
passed — adds FailureTarget and deletes the active pods; success (completions reached, or
for a Job without completions a success and nothing active) adds SuccessCriteriaMet. Once
no pod is active or terminating the terminal Failed/Complete condition follows (with
``completionTime`` on success). Otherwise a suspended Job deletes its active pods; a
running one creates pods up to parallelism (Indexed: for the lowest missing indexes) after
the back-off of recent failures, or deletes the excess.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from kubepy.controllers.job import pods as jp
from kubepy.controllers.podcontrol import (creation_key, format_time, is_pod_ready,
                                           is_terminating, parse_time, pod_phase)

Obj = dict[str, Any]

BACKOFF_LIMIT_MSG = "Job has reached the specified backoff limit"
DEADLINE_MSG = "Job was active longer than specified deadline"
COMPLETIONS_MSG = "Reached expected number of succeeded pods"


@dataclass
class JobSync:
    finalize: list[Obj] = field(default_factory=list)  # pods to remove the finalizer from
    uncounted: Obj = field(default_factory=dict)  # status.uncountedTerminatedPods to record first
    create: list[int | None] = field(default_factory=list)  # completion indexes (None: NonIndexed)
    delete: list[Obj] = field(default_factory=list)  # pods to delete, finalizer kept (counted)
    remove: list[Obj] = field(default_factory=list)  # pods to delete uncounted (finalizer off)
    status: Obj = field(default_factory=dict)  # the status once everything above is done
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (type, reason, message)
    requeue_after: float | None = None


def condition(job: Obj, type_: str) -> Obj | None:
    conditions: list[Obj] = (job.get("status") or {}).get("conditions") or []
    for cond in conditions:
        if cond.get("type") == type_:
            return cond
    return None


def is_true(job: Obj, type_: str) -> bool:
    cond = condition(job, type_)
    return cond is not None and cond.get("status") == "True"


def is_finished(job: Obj) -> bool:
    return is_true(job, "Complete") or is_true(job, "Failed")


def ttl_expiry(job: Obj) -> datetime | None:
    """When the TTL-after-finished controller deletes ``job``: its finish time (the true
    Complete/Failed condition's lastTransitionTime, else ``status.completionTime``) plus
    ``spec.ttlSecondsAfterFinished``. None when it has no TTL, has not finished, has no
    finish time or is being deleted already."""
    ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
    if ttl is None or not is_finished(job) or (job.get("metadata") or {}).get("deletionTimestamp"):
        return None
    finished = None
    for type_ in ("Complete", "Failed"):
        cond = condition(job, type_)
        if cond is not None and cond.get("status") == "True":
            finished = parse_time(cond.get("lastTransitionTime"))
    finished = finished or parse_time((job.get("status") or {}).get("completionTime"))
    return None if finished is None else finished + timedelta(seconds=int(ttl))


def set_condition(status: Obj, type_: str, value: str, reason: str, message: str,
                  now: datetime) -> bool:
    """Set a condition; True if it changed. The transition time moves only when the status
    does."""
    conds = status.setdefault("conditions", [])
    stamp = format_time(now)
    for cond in conds:
        if cond.get("type") == type_:
            if cond.get("status") == value and cond.get("reason") == reason and \
                    cond.get("message") == message:
                return False
            if cond.get("status") != value:
                cond["lastTransitionTime"] = stamp
            cond.update(status=value, reason=reason, message=message, lastProbeTime=stamp)
            return True
    conds.append({"type": type_, "status": value, "lastProbeTime": stamp,
                  "lastTransitionTime": stamp, "reason": reason, "message": message})
    return True


def _only_replace_failed(job: Obj) -> bool:
    spec = job.get("spec") or {}
    return spec.get("podReplacementPolicy") == "Failed" or bool(spec.get("podFailurePolicy"))


def counts_as_failed(job: Obj, pod: Obj) -> bool:
    if pod_phase(pod) == "Failed":
        return True
    if _only_replace_failed(job):
        return False
    return is_terminating(pod) and pod_phase(pod) != "Succeeded"


def _active_order(pod: Obj) -> tuple[Any, ...]:
    """Deletion preference for excess pods: unscheduled, pending, not ready, newest first."""
    meta = pod.get("metadata") or {}
    return (bool((pod.get("spec") or {}).get("nodeName")),
            {"Pending": 0, "Unknown": 1, "Running": 2}.get(pod_phase(pod), 1),
            is_pod_ready(pod), tuple(-ord(c) for c in meta.get("creationTimestamp") or ""))


def _int_field(spec: Obj, name: str, default: int) -> int:
    """``spec[name]`` as an int; ``default`` when absent or null (0 stays 0)."""
    value = spec.get(name)
    return default if value is None else int(value)


def sync(job: Obj, pods: list[Obj], now: datetime, counted_uids: frozenset[str] = frozenset()
         ) -> JobSync:
    out = JobSync()
    spec: Obj = job.get("spec") or {}
    old: Obj = job.get("status") or {}
    status = copy.deepcopy(old)
    indexed = jp.is_indexed(job)
    completions = spec.get("completions")
    parallelism = _int_field(spec, "parallelism", 1)
    backoff_limit = _int_field(spec, "backoffLimit", 6)

    # -- accounting
    uncounted = old.get("uncountedTerminatedPods") or {}
    unc_succeeded = set(uncounted.get("succeeded") or [])
    unc_failed = set(uncounted.get("failed") or [])
    by_uid = {p["metadata"]["uid"]: p for p in pods}
    active: list[Obj] = []
    terminating = 0
    terminating_pods: list[Obj] = []
    new_succeeded: set[str] = set()
    new_failed: set[str] = set()
    ignored: set[str] = set()
    fail_job_message: str | None = None
    failed_times: list[datetime] = []
    success_times: list[datetime] = []
    completed = jp.parse_indexes(old.get("completedIndexes")) if indexed else set()
    for pod in sorted(pods, key=creation_key):
        uid = pod["metadata"]["uid"]
        tracked = jp.has_tracking_finalizer(pod) and uid not in counted_uids
        phase = pod_phase(pod)
        if phase == "Succeeded":
            success_times.append(jp.finish_time(pod, now))
            if tracked:
                new_succeeded.add(uid)
                out.finalize.append(pod)
        elif counts_as_failed(job, pod):
            failed_times.append(jp.finish_time(pod, now) if phase == "Failed" else
                                parse_time(pod["metadata"].get("deletionTimestamp")) or now)
            if tracked:
                if phase == "Failed" and spec.get("podFailurePolicy"):
                    match = jp.match_pod_failure_policy(job, pod)
                    if match and match[0] == "Ignore":
                        ignored.add(uid)
                    elif match and match[0] == "FailJob" and fail_job_message is None:
                        fail_job_message = match[1]
                if uid not in ignored:
                    new_failed.add(uid)
                out.finalize.append(pod)
        elif is_terminating(pod):
            terminating += 1
            terminating_pods.append(pod)
        else:
            active.append(pod)
    unc_succeeded |= new_succeeded
    unc_failed |= new_failed
    if out.finalize:
        out.uncounted = {"succeeded": sorted(unc_succeeded), "failed": sorted(unc_failed)}
    # everything uncounted is counted once the finalizers are off
    if indexed:
        for uid in unc_succeeded:
            succeeded_pod = by_uid.get(uid)
            index = jp.pod_index(succeeded_pod, int(completions or 0)) if succeeded_pod else None
            if index is not None:
                completed.add(index)
        succeeded = len(completed)
        status["completedIndexes"] = jp.format_indexes(completed)
    else:
        succeeded = int(old.get("succeeded") or 0) + len(unc_succeeded)
    failed = int(old.get("failed") or 0) + len(unc_failed)
    status["succeeded"], status["failed"] = succeeded, failed
    status["uncountedTerminatedPods"] = {}
    status["terminating"] = terminating
    status["active"] = len(active)
    status["ready"] = sum(1 for p in active if is_pod_ready(p))

    if is_finished(job):
        status["active"] = 0
        out.status = status
        return out

    suspended = bool(spec.get("suspend"))
    # -- suspend / resume
    if suspended:
        if set_condition(status, "Suspended", "True", "JobSuspended", "Job suspended", now):
            out.events.append(("Normal", "Suspended", "Job suspended"))
        out.remove.extend(active)
        status["active"] = status["ready"] = 0
        status["terminating"] = terminating + len(active)
        out.status = status
        return out
    if is_true(job, "Suspended"):
        set_condition(status, "Suspended", "False", "JobResumed", "Job resumed", now)
        out.events.append(("Normal", "Resumed", "Job resumed"))
        status["startTime"] = format_time(now)
    if not status.get("startTime"):
        status["startTime"] = format_time(now)
    start = parse_time(status["startTime"]) or now

    # -- failure and success criteria
    target = condition(job, "FailureTarget")
    failure: tuple[str, str] | None = None
    if target is not None and target.get("status") == "True":
        failure = (target.get("reason", ""), target.get("message", ""))
    elif fail_job_message is not None:
        failure = ("PodFailurePolicy", fail_job_message)
    elif failed > backoff_limit or _restarts_exceed(job, active, backoff_limit):
        failure = ("BackoffLimitExceeded", BACKOFF_LIMIT_MSG)
    elif spec.get("activeDeadlineSeconds") is not None and \
            (now - start).total_seconds() >= int(spec["activeDeadlineSeconds"]):
        failure = ("DeadlineExceeded", DEADLINE_MSG)
    if failure is not None:
        set_condition(status, "FailureTarget", "True", failure[0], failure[1], now)
        out.delete.extend(active)
        status["active"] = status["ready"] = 0
        if not active and not terminating:
            set_condition(status, "Failed", "True", failure[0], failure[1], now)
            out.events.append(("Warning", failure[0], failure[1]))
        out.status = status
        return out

    met = is_true(job, "SuccessCriteriaMet")
    if completions is None:
        met = met or (succeeded > 0 and not active)
    else:
        met = met or succeeded >= int(completions)
    if met:
        set_condition(status, "SuccessCriteriaMet", "True", "CompletionsReached",
                      COMPLETIONS_MSG, now)
        out.delete.extend(active)
        status["active"] = status["ready"] = 0
        if not active and not terminating:
            set_condition(status, "Complete", "True", "CompletionsReached", COMPLETIONS_MSG, now)
            status["completionTime"] = format_time(now)
            out.events.append(("Normal", "Completed", "Job completed"))
        out.status = status
        return out

    # -- managing the active pods
    if spec.get("activeDeadlineSeconds") is not None:
        out.requeue_after = max(0.0, int(spec["activeDeadlineSeconds"])
                                - (now - start).total_seconds())
    # podReplacementPolicy Failed: a terminating pod is replaced only once it has failed
    waiting = terminating_pods if _only_replace_failed(job) else []
    if indexed:
        want = _plan_indexed(int(completions or 0), parallelism, completed, active, out,
                             waiting)
    else:
        if completions is None:
            # after a success no new pods start; the running ones finish
            want = len(active) if succeeded > 0 else parallelism
        else:
            want = min(int(completions) - succeeded, parallelism)
        excess = len(active) - want
        if excess > 0:
            out.remove.extend(sorted(active, key=_active_order)[:excess])
        out.create = [None] * max(0, want - len(active) - len(waiting))
    if out.create:
        wait = jp.backoff_remaining(failed_times, max(success_times, default=None), now)
        if wait > 0:
            out.create = []
            out.requeue_after = wait if out.requeue_after is None else \
                min(out.requeue_after, wait)
    removed = {p["metadata"]["uid"] for p in out.remove}
    status["active"] = len(active) - len(removed)
    status["ready"] = sum(1 for p in active
                          if is_pod_ready(p) and p["metadata"]["uid"] not in removed)
    out.status = status
    return out


def _plan_indexed(completions: int, parallelism: int, completed: set[int],
                  active: list[Obj], out: JobSync, waiting: list[Obj]) -> int:
    """Indexed: one active pod per index not yet completed; invalid, duplicate and
    already-completed indexes' pods go; missing indexes are created lowest first."""
    seen: set[int] = set()
    keep: list[Obj] = []
    for pod in sorted(active, key=lambda p: (not is_pod_ready(p), creation_key(p))):
        index = jp.pod_index(pod, completions)
        if index is None or index in seen or index in completed:
            out.remove.append(pod)
            continue
        seen.add(index)
        keep.append(pod)
    want = min(parallelism, completions - len(completed))
    excess = len(keep) - want
    if excess > 0:
        out.remove.extend(sorted(keep, key=_active_order)[:excess])
        return want
    held = {jp.pod_index(p, completions) for p in waiting}
    missing = [i for i in range(completions)
               if i not in completed and i not in seen and i not in held]
    out.create = list(missing[:max(0, want - len(keep) - len(held - {None}))])
    return want


def _restarts_exceed(job: Obj, active: list[Obj], backoff_limit: int) -> bool:
    """restartPolicy OnFailure: container restarts of the active pods count as failures."""
    template_spec = ((job.get("spec") or {}).get("template") or {}).get("spec") or {}
    if template_spec.get("restartPolicy") != "OnFailure":
        return False
    restarts = sum(int(cs.get("restartCount") or 0) for p in active
                   for key in ("containerStatuses", "initContainerStatuses")
                   for cs in (p.get("status") or {}).get(key) or [])
    if backoff_limit == 0:
        return restarts > 0
    return restarts >= backoff_limit
