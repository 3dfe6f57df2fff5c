"""CronJob decisions, pure: ``sync(cronjob, jobs, now)`` says which Job to create for which
scheduled time, which Jobs to delete (Replace, history limits), the new status and the
Events (the contract of upstream's CronJob controller v2, written anew).

Order of a sync: reconcile ``status.active`` with the child Jobs (finished ones leave with
SawCompletedJob, vanished ones with MissingJob, unknown running ones give UnexpectedJob;
``lastSuccessfulTime`` follows the newest completion); stop if the CronJob is being deleted,
has a bad time zone or schedule, or is suspended; find the most recent unmet scheduled time
since ``lastScheduleTime`` (or creation), no earlier than ``now - startingDeadlineSeconds``
(more than 100 missed: TooManyMissedTimes); past the starting deadline: MissSchedule; already
run: nothing; Forbid with a Job active: JobAlreadyActive; Replace: delete the active Jobs;
then create ``<cronjob>-<scheduled time in minutes since the epoch>``. Finished Jobs beyond
``successfulJobsHistoryLimit``/``failedJobsHistoryLimit`` are deleted oldest first.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from kubepy.api.validation.cron import Schedule, parse_schedule
from kubepy.controllers.cronjob import schedule as cron
from kubepy.controllers.podcontrol import controller_ref, format_time, parse_time

Obj = dict[str, Any]

SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"
NEXT_SCHEDULE_DELTA = 0.1  # seconds past the activation the controller wakes up
TOO_MANY_MISSED = ("too many missed start times. Set or decrease "
                   ".spec.startingDeadlineSeconds or check clock skew")


@dataclass
class CronSync:
    status: Obj = field(default_factory=dict)
    events: list[tuple[str, str, str]] = field(default_factory=list)
    create: Obj | None = None  # the Job to create
    scheduled_time: datetime | None = None  # its scheduled time (lastScheduleTime once created)
    delete: list[str] = field(default_factory=list)  # Job names, background propagation
    requeue_after: float | None = None


def finished_condition(job: Obj) -> str | None:
    conditions: list[Obj] = (job.get("status") or {}).get("conditions") or []
    for cond in conditions:
        if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
            type_: str = cond["type"]
            return type_
    return None


def job_name(cronjob: Obj, scheduled: datetime) -> str:
    return f"{cronjob['metadata']['name']}-{int(scheduled.timestamp()) // 60}"


def job_from_template(cronjob: Obj, scheduled: datetime, tz: Any) -> Obj:
    template = (cronjob.get("spec") or {}).get("jobTemplate") or {}
    tmeta = template.get("metadata") or {}
    annotations = dict(tmeta.get("annotations") or {})
    annotations[SCHEDULED_TIMESTAMP] = scheduled.astimezone(tz).isoformat().replace(
        "+00:00", "Z")
    meta: Obj = {"name": job_name(cronjob, scheduled),
                 "namespace": cronjob["metadata"].get("namespace"),
                 "annotations": annotations,
                 "ownerReferences": [controller_ref(cronjob, api_version="batch/v1",
                                                    kind="CronJob")]}
    if tmeta.get("labels"):
        meta["labels"] = dict(tmeta["labels"])
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
            "spec": copy.deepcopy(template.get("spec") or {})}


def job_reference(job: Obj) -> Obj:
    meta = job["metadata"]
    return {"kind": "Job", "namespace": meta.get("namespace"), "name": meta["name"],
            "uid": meta.get("uid"), "apiVersion": "batch/v1",
            "resourceVersion": meta.get("resourceVersion")}


def _schedule_of(cronjob: Obj) -> tuple[Schedule, Any]:
    spec = cronjob.get("spec") or {}
    parsed = parse_schedule(spec.get("schedule") or "")
    return parsed, cron.location(spec.get("timeZone") or parsed.timezone or None)


def _requeue(parsed: Schedule, tz: Any, now: datetime) -> float | None:
    nxt = cron.next_time(parsed, now, tz)
    return None if nxt is None else (nxt - now).total_seconds() + NEXT_SCHEDULE_DELTA


def sync(cronjob: Obj, jobs: list[Obj], now: datetime) -> CronSync:
    out = CronSync()
    spec = cronjob.get("spec") or {}
    status = copy.deepcopy(cronjob.get("status") or {})
    active: list[Obj] = list(status.get("active") or [])
    active_uids = {ref.get("uid") for ref in active}
    children = {j["metadata"].get("uid"): j for j in jobs}

    for job in sorted(jobs, key=lambda j: j["metadata"]["name"]):
        uid, name = job["metadata"].get("uid"), job["metadata"]["name"]
        done = finished_condition(job)
        if uid not in active_uids and done is None:
            out.events.append(("Warning", "UnexpectedJob",
                               f"Saw a job that the controller did not create or forgot: {name}"))
        elif uid in active_uids and done is not None:
            active = [r for r in active if r.get("uid") != uid]
            out.events.append(("Normal", "SawCompletedJob",
                               f"Saw completed job: {name}, condition: {done}"))
        if done == "Complete":
            completed = parse_time((job.get("status") or {}).get("completionTime"))
            last = parse_time(status.get("lastSuccessfulTime"))
            if completed is not None and (last is None or completed > last):
                status["lastSuccessfulTime"] = format_time(completed)
    for ref in list(active):
        if ref.get("uid") not in children:
            out.events.append(("Normal", "MissingJob", f"Active job went missing: {ref.get('name')}"))
            active = [r for r in active if r.get("uid") != ref.get("uid")]
    status["active"] = active
    out.status = status
    out.delete = _history_to_delete(cronjob, jobs)
    if out.delete:
        gone = set(out.delete)
        status["active"] = active = [r for r in active if r.get("name") not in gone]

    if cronjob["metadata"].get("deletionTimestamp"):
        return out
    try:
        parsed, tz = _schedule_of(cronjob)
    except ValueError as e:
        text = str(e)
        if text.startswith("unknown time zone"):
            out.events.append(("Warning", "UnknownTimeZone",
                               f'invalid timeZone: "{spec.get("timeZone")}": {text}'))
        else:
            out.events.append(("Warning", "UnparseableSchedule",
                               f'unparseable schedule: "{spec.get("schedule")}" : {text}'))
        return out
    if spec.get("suspend"):
        return out

    earliest = parse_time(status.get("lastScheduleTime")) or \
        parse_time(cronjob["metadata"].get("creationTimestamp")) or now
    deadline = spec.get("startingDeadlineSeconds")
    if deadline is not None:
        earliest = max(earliest, now - timedelta(seconds=int(deadline)))
    try:
        scheduled, missed = cron.most_recent(parsed, earliest, now, tz)
    except ValueError as e:
        out.events.append(("Warning", "InvalidSchedule",
                           f"invalid schedule: {spec.get('schedule')} : {e}"))
        return out
    out.requeue_after = _requeue(parsed, tz, now)
    if scheduled is None:
        return out
    if missed > cron.MANY_MISSED:
        out.events.append(("Warning", "TooManyMissedTimes", TOO_MANY_MISSED))
    if deadline is not None and scheduled + timedelta(seconds=int(deadline)) < now:
        out.events.append(("Warning", "MissSchedule", "Missed scheduled time to start a job: "
                           + scheduled.strftime("%a, %d %b %Y %H:%M:%S +0000")))
        return out
    name = job_name(cronjob, scheduled)
    if any(r.get("name") == name for r in active) or \
            parse_time(status.get("lastScheduleTime")) == scheduled:
        return out
    policy = spec.get("concurrencyPolicy") or "Allow"
    if policy == "Forbid" and active:
        out.events.append(("Normal", "JobAlreadyActive", "Not starting job because prior "
                           "execution is running and concurrency policy is Forbid"))
        return out
    if policy == "Replace":
        out.delete.extend(r["name"] for r in active if r.get("name") not in out.delete)
        status["active"] = []
    out.create = job_from_template(cronjob, scheduled, tz)
    out.scheduled_time = scheduled
    return out


def _start_key(job: Obj) -> tuple[int, str, str]:
    start = (job.get("status") or {}).get("startTime")
    return (0 if start else 1, start or "", job["metadata"]["name"])


def _history_to_delete(cronjob: Obj, jobs: list[Obj]) -> list[str]:
    spec = cronjob.get("spec") or {}
    out: list[str] = []
    for kind, limit_key in (("Complete", "successfulJobsHistoryLimit"),
                            ("Failed", "failedJobsHistoryLimit")):
        limit = spec.get(limit_key)
        if limit is None:
            continue
        done = sorted((j for j in jobs if finished_condition(j) == kind and
                       not j["metadata"].get("deletionTimestamp")), key=_start_key)
        excess = len(done) - int(limit)
        if excess > 0:
            out.extend(j["metadata"]["name"] for j in done[:excess])
    return out
