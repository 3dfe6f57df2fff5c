"""Job pods, pure: the pod a Job creates (tracking finalizer, completion index), reading a
pod's index and finish time, completed-index strings (``"0-2,5"``), the pod failure policy,
and the exponential back-off before replacing failed pods.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any, Iterable

from kubepy.controllers.podcontrol import controller_ref, parse_time, pod_condition

Obj = dict[str, Any]

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"  # annotation and label
COMPLETION_INDEX_ENV = "JOB_COMPLETION_INDEX"
BACKOFF_BASE = 10.0  # seconds; doubles per consecutive failure
BACKOFF_MAX = 360.0


def is_indexed(job: Obj) -> bool:
    return (job.get("spec") or {}).get("completionMode") == "Indexed"


def new_pod(job: Obj, index: int | None) -> Obj:
    """A pod from the Job's template: owned by the Job, with the tracking finalizer; Indexed
    pods also carry the completion index (annotation, label, env var, hostname)."""
    name = job["metadata"]["name"]
    template = (job.get("spec") or {}).get("template") or {}
    tmeta = template.get("metadata") or {}
    meta: Obj = {"generateName": f"{name}-" if index is None else f"{name}-{index}-",
                 "namespace": job["metadata"].get("namespace"),
                 "labels": dict(tmeta.get("labels") or {}),
                 "annotations": dict(tmeta.get("annotations") or {}),
                 "finalizers": [*(tmeta.get("finalizers") or []), TRACKING_FINALIZER],
                 "ownerReferences": [controller_ref(job, api_version="batch/v1", kind="Job")]}
    spec = copy.deepcopy(template.get("spec") or {})
    if index is not None:
        meta["annotations"][COMPLETION_INDEX] = str(index)
        meta["labels"][COMPLETION_INDEX] = str(index)
        spec.setdefault("hostname", f"{name}-{index}")
        env_var = {"name": COMPLETION_INDEX_ENV, "valueFrom": {"fieldRef": {
            "fieldPath": f"metadata.annotations['{COMPLETION_INDEX}']"}}}
        for key in ("initContainers", "containers"):
            for container in spec.get(key) or []:
                env = container.setdefault("env", [])
                if not any(e.get("name") == COMPLETION_INDEX_ENV for e in env):
                    env.append(copy.deepcopy(env_var))
    if not meta["annotations"]:
        del meta["annotations"]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def pod_index(pod: Obj, completions: int) -> int | None:
    """The pod's completion index when valid (annotation, else label), else None."""
    meta = pod.get("metadata") or {}
    text = (meta.get("annotations") or {}).get(COMPLETION_INDEX) or \
        (meta.get("labels") or {}).get(COMPLETION_INDEX)
    if text is None or not text.isdigit():
        return None
    index = int(text)
    return index if index < completions else None


def has_tracking_finalizer(pod: Obj) -> bool:
    return TRACKING_FINALIZER in ((pod.get("metadata") or {}).get("finalizers") or [])


def finish_time(pod: Obj, now: datetime) -> datetime:
    """When a finished pod ended: its containers' latest finishedAt, else the Ready
    condition's last transition, else ``now``."""
    latest: datetime | None = None
    for key in ("containerStatuses", "initContainerStatuses"):
        for cs in (pod.get("status") or {}).get(key) or []:
            t = parse_time(((cs.get("state") or {}).get("terminated") or {}).get("finishedAt"))
            if t is not None and (latest is None or t > latest):
                latest = t
    if latest is None:
        latest = parse_time((pod_condition(pod, "Ready") or {}).get("lastTransitionTime"))
    return latest or now


# ------------------------------------------------------------------ completed indexes

def parse_indexes(text: str | None) -> set[int]:
    out: set[int] = set()
    for part in (text or "").split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


def format_indexes(indexes: Iterable[int]) -> str:
    """Ascending, consecutive runs compressed: {0,1,2,5} -> "0-2,5"."""
    ordered = sorted(set(indexes))
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


# ------------------------------------------------------------------ pod failure policy

def _exit_code_match(rule: Obj, pod: Obj) -> tuple[str, int] | None:
    req = rule.get("onExitCodes") or {}
    values = set(req.get("values") or [])
    for key in ("initContainerStatuses", "containerStatuses"):
        for cs in (pod.get("status") or {}).get(key) or []:
            if req.get("containerName") and cs.get("name") != req["containerName"]:
                continue
            terminated = (cs.get("state") or {}).get("terminated")
            if not terminated or not terminated.get("exitCode"):
                continue
            code = int(terminated["exitCode"])
            if (req.get("operator") == "In") == (code in values):
                return cs.get("name", ""), code
    return None


def match_pod_failure_policy(job: Obj, pod: Obj) -> tuple[str, str] | None:
    """(action, message) of the first rule matching a failed pod, or None. Actions:
    FailJob, Ignore, Count, FailIndex."""
    rules = ((job.get("spec") or {}).get("podFailurePolicy") or {}).get("rules") or []
    ns, name = pod["metadata"].get("namespace"), pod["metadata"]["name"]
    for i, rule in enumerate(rules):
        action = rule.get("action", "")
        if rule.get("onExitCodes") is not None:
            hit = _exit_code_match(rule, pod)
            if hit is not None:
                return action, (f"Container {hit[0]} for pod {ns}/{name} failed with exit code "
                                f"{hit[1]} matching {action} rule at index {i}")
            continue
        for pattern in rule.get("onPodConditions") or []:
            cond = pod_condition(pod, pattern.get("type", ""))
            if cond is not None and cond.get("status") == (pattern.get("status") or "True"):
                return action, (f"Pod {ns}/{name} has condition {pattern['type']} matching "
                                 f"{action} rule at index {i}")
    return None


# ------------------------------------------------------------------ back-off

def backoff_delay(consecutive_failures: int) -> float:
    """10 s, 20 s, 40 s ... at most 6 min; none before the first failure."""
    if consecutive_failures <= 0:
        return 0.0
    return min(BACKOFF_BASE * 2.0 ** (consecutive_failures - 1), BACKOFF_MAX)


def backoff_remaining(failed_times: list[datetime], last_success: datetime | None,
                      now: datetime) -> float:
    """Seconds to wait before creating a replacement pod: the back-off of the failures since
    the last success, counted from the latest of them."""
    since = [t for t in failed_times if last_success is None or t > last_success]
    if not since:
        return 0.0
    left = (max(since) - now).total_seconds() + backoff_delay(len(since))
    return max(0.0, left)
