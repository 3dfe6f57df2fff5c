"""Defaults of batch/v1 kinds (pkg/apis/batch/v1/defaults.go) and the Job selector the
Job strategy generates.

``generate_job_selector`` needs the Job's uid, so the apiserver calls it after it has
assigned one and before validation (upstream runs it from the strategy's Validate).
"""

from __future__ import annotations

from typing import Any

from kubepy.api.defaults.pod import _dict, default_pod_template

Obj = dict[str, Any]

MAX_INT32 = 2**31 - 1
CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
LEGACY_CONTROLLER_UID_LABEL = "controller-uid"
LEGACY_JOB_NAME_LABEL = "job-name"


def default_job(job: Obj) -> None:
    spec = _dict(job, "spec")
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    if spec.get("parallelism") is None:
        spec["parallelism"] = 1
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = MAX_INT32 if spec.get("backoffLimitPerIndex") is not None else 6
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
    meta = _dict(job, "metadata")
    if labels and not meta.get("labels"):
        meta["labels"] = dict(labels)
    if spec.get("completionMode") is None:
        spec["completionMode"] = "NonIndexed"
    if spec.get("suspend") is None:
        spec["suspend"] = False
    for rule in (spec.get("podFailurePolicy") or {}).get("rules") or []:
        for pattern in (rule or {}).get("onPodConditions") or []:
            if isinstance(pattern, dict) and not pattern.get("status"):
                pattern["status"] = "True"
    if spec.get("podReplacementPolicy") is None:  # JobPodReplacementPolicy (beta, on)
        spec["podReplacementPolicy"] = "Failed" if spec.get("podFailurePolicy") \
            else "TerminatingOrFailed"
    if spec.get("manualSelector") is None:
        spec["manualSelector"] = False
    default_pod_template(spec.get("template"))
    _dict(job, "status")


def generate_job_selector(job: Obj) -> None:
    """Unless ``manualSelector`` is true: select the job's uid and label the template
    with uid and name (both the current ``batch.kubernetes.io/`` labels and the legacy
    ones), leaving labels the user set alone so that validation can reject conflicts."""
    spec = _dict(job, "spec")
    if spec.get("manualSelector") is True:
        return
    meta = job.get("metadata") or {}
    uid, name = str(meta.get("uid") or ""), str(meta.get("name") or "")
    template_meta = _dict(_dict(spec, "template"), "metadata")
    labels = _dict(template_meta, "labels")
    for key, value in ((CONTROLLER_UID_LABEL, uid), (LEGACY_CONTROLLER_UID_LABEL, uid),
                       (JOB_NAME_LABEL, name), (LEGACY_JOB_NAME_LABEL, name)):
        labels.setdefault(key, value)
    selector = _dict(spec, "selector")
    _dict(selector, "matchLabels").setdefault(CONTROLLER_UID_LABEL, uid)


def default_cron_job(cj: Obj) -> None:
    spec = _dict(cj, "spec")
    if not spec.get("concurrencyPolicy"):
        spec["concurrencyPolicy"] = "Allow"
    if spec.get("suspend") is None:
        spec["suspend"] = False
    if spec.get("successfulJobsHistoryLimit") is None:
        spec["successfulJobsHistoryLimit"] = 3
    if spec.get("failedJobsHistoryLimit") is None:
        spec["failedJobsHistoryLimit"] = 1
    job_template = _dict(spec, "jobTemplate")
    _dict(job_template, "metadata").setdefault("creationTimestamp", None)
    default_pod_template(_dict(job_template, "spec").get("template"))
    _dict(cj, "status")


DEFAULTERS = {
    "Job": default_job,
    "CronJob": default_cron_job,
}
