"""Rows of the ``batch`` kinds: Job (STATUS COMPLETIONS DURATION) and CronJob
(SCHEDULE TIMEZONE SUSPEND ACTIVE LAST SCHEDULE).

Job STATUS is the first that applies of Complete, Failed, Terminating, Suspended,
FailureTarget, Running. COMPLETIONS is ``succeeded/completions``, or ``succeeded/1`` for a
work-queue job (``of P`` added when parallelism exceeds 1). DURATION runs from startTime to
completionTime (or now), empty before the job starts.
"""

from __future__ import annotations

from datetime import datetime

from .common import Cell, Column, Doc, Obj, Printer, age, age_column, as_int, container_cells, \
    containers_columns, dig, format_label_selector, go_bool, human_duration, name, name_column, \
    parse_time, since

JOB = (
    name_column(),
    Column("Status", "string", "Status of the job."),
    Column("Completions", "string", Doc("batch.v1.JobStatus", "succeeded")),
    Column("Duration", "string", "Time required to complete the job."),
    age_column(),
    *containers_columns(),
    Column("Selector", "string", Doc("batch.v1.JobSpec", "selector"), priority=1),
)


def _condition(obj: Obj, condition_type: str) -> bool:
    for condition in dig(obj, "status", "conditions") or []:
        if condition.get("type") == condition_type:
            return bool(condition.get("status") == "True")
    return False


def job_status(job: Obj) -> str:
    if _condition(job, "Complete"):
        return "Complete"
    if _condition(job, "Failed"):
        return "Failed"
    if dig(job, "metadata", "deletionTimestamp"):
        return "Terminating"
    if _condition(job, "Suspended"):
        return "Suspended"
    if _condition(job, "FailureTarget"):
        return "FailureTarget"
    return "Running"


def job_completions(job: Obj) -> str:
    succeeded = as_int(dig(job, "status", "succeeded"))
    completions = dig(job, "spec", "completions")
    if completions is not None:
        return f"{succeeded}/{as_int(completions)}"
    parallelism = as_int(dig(job, "spec", "parallelism"))
    if parallelism > 1:
        return f"{succeeded}/1 of {parallelism}"
    return f"{succeeded}/1"


def job_duration(job: Obj, now: datetime) -> str:
    start = parse_time(dig(job, "status", "startTime"))
    if start is None:
        return ""
    end = parse_time(dig(job, "status", "completionTime")) or now
    return human_duration(end - start)


def job_cells(obj: Obj, now: datetime) -> list[Cell]:
    names, images = container_cells(dig(obj, "spec", "template", "spec"))
    return [
        name(obj), job_status(obj), job_completions(obj), job_duration(obj, now), age(obj, now),
        names, images, format_label_selector(dig(obj, "spec", "selector")),
    ]


CRON_JOB = (
    name_column(),
    Column("Schedule", "string", Doc("batch.v1.CronJobSpec", "schedule")),
    Column("Timezone", "string", Doc("batch.v1.CronJobSpec", "timeZone")),
    Column("Suspend", "boolean", Doc("batch.v1.CronJobSpec", "suspend")),
    Column("Active", "integer", Doc("batch.v1.CronJobStatus", "active")),
    Column("Last Schedule", "string", Doc("batch.v1.CronJobStatus", "lastScheduleTime")),
    age_column(),
    *containers_columns(),
    Column("Selector", "string", Doc("batch.v1.JobSpec", "selector"), priority=1),
)


def _or_none(value: object) -> str:
    return "<none>" if value is None else str(value)


def cron_job_cells(obj: Obj, now: datetime) -> list[Cell]:
    spec: Obj = obj.get("spec") or {}
    last = dig(obj, "status", "lastScheduleTime")
    job_spec = dig(spec, "jobTemplate", "spec") or {}
    names, images = container_cells(dig(job_spec, "template", "spec"))
    return [
        name(obj), str(spec.get("schedule") or ""), _or_none(spec.get("timeZone")),
        go_bool(bool(spec.get("suspend"))),  # a string cell, as upstream prints it
        len(dig(obj, "status", "active") or []),
        "<none>" if last is None else since(last, now), age(obj, now),
        names, images, format_label_selector(job_spec.get("selector")),
    ]


PRINTERS = {
    ("batch", "Job"): Printer(JOB, job_cells),
    ("batch", "CronJob"): Printer(CRON_JOB, cron_job_cells),
}
