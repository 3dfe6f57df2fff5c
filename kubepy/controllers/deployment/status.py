"""Pure Deployment status: counts from its ReplicaSets, the Available and Progressing
conditions, progress-deadline checks and the paused/resumed conditions, after upstream's
``sync.go``/``progress.go``. Time comes in as ``now``; nothing here writes anything.

Conditions (type, status, reason, message as kube-controller-manager writes them):

* Available: True MinimumReplicasAvailable "Deployment has minimum availability." /
  False MinimumReplicasUnavailable "Deployment does not have minimum availability.";
* Progressing: True NewReplicaSetCreated ``Created new replica set "x"``, True
  FoundNewReplicaSet ``Found new replica set "x"``, True ReplicaSetUpdated
  ``ReplicaSet "x" is progressing.``, True NewReplicaSetAvailable
  ``ReplicaSet "x" has successfully progressed.``, False ProgressDeadlineExceeded
  ``ReplicaSet "x" has timed out progressing.``, Unknown DeploymentPaused "Deployment is
  paused" / DeploymentResumed "Deployment is resumed", False ReplicaSetCreateError;
* ReplicaFailure: copied from the new (else any) ReplicaSet.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any, Iterable, Sequence

from kubepy.controllers import podcontrol as pc
from kubepy.controllers.deployment import util

Obj = dict[str, Any]

AVAILABLE, PROGRESSING, REPLICA_FAILURE = "Available", "Progressing", "ReplicaFailure"
REPLICA_SET_UPDATED = "ReplicaSetUpdated"
FAILED_RS_CREATE = "ReplicaSetCreateError"
NEW_REPLICA_SET = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"


# ---------------------------------------------------------------------------- conditions

def new_condition(type_: str, status: str, reason: str, message: str, now: datetime) -> Obj:
    stamp = pc.format_time(now)
    return {"type": type_, "status": status, "lastUpdateTime": stamp,
            "lastTransitionTime": stamp, "reason": reason, "message": message}


def get_condition(status: Obj, type_: str) -> Obj | None:
    conditions: list[Obj] = status.get("conditions") or []
    for cond in conditions:
        if cond.get("type") == type_:
            return cond
    return None


def set_condition(status: Obj, cond: Obj) -> None:
    """Replace the condition of this type unless status and reason are unchanged; keep
    lastTransitionTime while the status stays the same."""
    current = get_condition(status, cond["type"])
    if current is not None and current.get("status") == cond["status"] \
            and current.get("reason") == cond["reason"]:
        return
    cond = dict(cond)
    if current is not None and current.get("status") == cond["status"]:
        cond["lastTransitionTime"] = current.get("lastTransitionTime")
    status["conditions"] = [c for c in status.get("conditions") or []
                            if c.get("type") != cond["type"]] + [cond]


def remove_condition(status: Obj, type_: str) -> None:
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != type_]
    if conditions:
        status["conditions"] = conditions
    else:
        status.pop("conditions", None)


# ---------------------------------------------------------------------------- status

def calculate_status(all_rss: Sequence[Obj | None], new_rs: Obj | None, d: Obj,
                     now: datetime) -> Obj:
    available = util.status_count(all_rss, "availableReplicas")
    unavailable = max(util.replica_count(all_rss) - available, 0)
    old = d.get("status") or {}
    status: Obj = {
        "observedGeneration": int((d.get("metadata") or {}).get("generation") or 0),
        "replicas": util.status_count(all_rss, "replicas"),
        "updatedReplicas": util.status_count([new_rs], "replicas"),
        "readyReplicas": util.status_count(all_rss, "readyReplicas"),
        "availableReplicas": available,
        "unavailableReplicas": unavailable,
    }
    if old.get("collisionCount") is not None:
        status["collisionCount"] = old["collisionCount"]
    if old.get("conditions"):
        status["conditions"] = copy.deepcopy(old["conditions"])
    if available >= util.replicas(d) - util.max_unavailable(d):
        set_condition(status, new_condition(AVAILABLE, "True", MIN_AVAILABLE,
                                            "Deployment has minimum availability.", now))
    else:
        set_condition(status, new_condition(AVAILABLE, "False", MIN_UNAVAILABLE,
                                            "Deployment does not have minimum availability.",
                                            now))
    return status


def deployment_complete(d: Obj, status: Obj) -> bool:
    want = util.replicas(d)
    return (int(status.get("updatedReplicas") or 0) == want
            and int(status.get("replicas") or 0) == want
            and int(status.get("availableReplicas") or 0) == want
            and int(status.get("observedGeneration") or 0)
            >= int((d.get("metadata") or {}).get("generation") or 0))


def deployment_progressing(d: Obj, status: Obj) -> bool:
    old = d.get("status") or {}

    def n(s: Obj, f: str) -> int:
        return int(s.get(f) or 0)
    old_old = n(old, "replicas") - n(old, "updatedReplicas")
    new_old = n(status, "replicas") - n(status, "updatedReplicas")
    return (n(status, "updatedReplicas") > n(old, "updatedReplicas") or new_old < old_old
            or n(status, "readyReplicas") > n(old, "readyReplicas")
            or n(status, "availableReplicas") > n(old, "availableReplicas"))


def deployment_timed_out(d: Obj, status: Obj, now: datetime) -> bool:
    if not util.has_progress_deadline(d):
        return False
    cond = get_condition(status, PROGRESSING)
    if cond is None or cond.get("reason") == NEW_RS_AVAILABLE:
        return False
    if cond.get("reason") == TIMED_OUT:
        return True
    since = pc.parse_time(cond.get("lastUpdateTime"))
    if since is None:
        return False
    deadline = int((d.get("spec") or {}).get("progressDeadlineSeconds") or 0)
    return since.timestamp() + deadline < now.timestamp()


def _rs_failures(all_rss: Iterable[Obj | None], new_rs: Obj | None) -> list[Obj]:
    def failures(rs: Obj) -> list[Obj]:
        return [{"type": c["type"], "status": c.get("status"),
                 "lastTransitionTime": c.get("lastTransitionTime"),
                 "lastUpdateTime": c.get("lastTransitionTime"),
                 "reason": c.get("reason"), "message": c.get("message")}
                for c in (rs.get("status") or {}).get("conditions") or []
                if c.get("type") == REPLICA_FAILURE]
    if new_rs is not None and failures(new_rs):
        return failures(new_rs)
    found: list[Obj] = []
    for rs in all_rss:
        if rs is not None:
            found.extend(failures(rs))
    return found


def rollout_status(all_rss: Sequence[Obj | None], new_rs: Obj | None, d: Obj,
                   now: datetime) -> Obj:
    """syncRolloutStatus's new status: counts, Available, and Progressing estimated from
    the change since the stored status (complete / progressing / timed out)."""
    status = calculate_status(all_rss, new_rs, d, now)
    if not util.has_progress_deadline(d):
        remove_condition(status, PROGRESSING)
    current = get_condition(d.get("status") or {}, PROGRESSING)
    is_complete = (status["replicas"] == status["updatedReplicas"] and current is not None
                   and current.get("reason") == NEW_RS_AVAILABLE)
    name = (d.get("metadata") or {}).get("name", "")
    rs_name = (new_rs.get("metadata") or {}).get("name", "") if new_rs is not None else None
    if util.has_progress_deadline(d) and not is_complete:
        if deployment_complete(d, status):
            msg = (f'ReplicaSet "{rs_name}" has successfully progressed.' if rs_name is not None
                   else f'Deployment "{name}" has successfully progressed.')
            set_condition(status, new_condition(PROGRESSING, "True", NEW_RS_AVAILABLE, msg, now))
        elif deployment_progressing(d, status):
            msg = (f'ReplicaSet "{rs_name}" is progressing.' if rs_name is not None
                   else f'Deployment "{name}" is progressing.')
            cond = new_condition(PROGRESSING, "True", REPLICA_SET_UPDATED, msg, now)
            if current is not None:
                if current.get("status") == "True":
                    cond["lastTransitionTime"] = current.get("lastTransitionTime")
                remove_condition(status, PROGRESSING)
            set_condition(status, cond)
        elif deployment_timed_out(d, status, now):
            msg = (f'ReplicaSet "{rs_name}" has timed out progressing.' if rs_name is not None
                   else f'Deployment "{name}" has timed out progressing.')
            set_condition(status, new_condition(PROGRESSING, "False", TIMED_OUT, msg, now))
    failures = _rs_failures(all_rss, new_rs)
    if failures:
        set_condition(status, failures[0])
    else:
        remove_condition(status, REPLICA_FAILURE)
    return status


def progress_requeue_after(d: Obj, status: Obj, now: datetime) -> float | None:
    """requeueStuckDeployment: seconds until the progress deadline should be checked
    (0 = now), or None when no check is needed."""
    current = get_condition(d.get("status") or {}, PROGRESSING)
    if not util.has_progress_deadline(d) or current is None:
        return None
    if deployment_complete(d, status) or current.get("reason") == TIMED_OUT:
        return None
    since = pc.parse_time(current.get("lastUpdateTime"))
    if since is None:
        return None
    deadline = int((d.get("spec") or {}).get("progressDeadlineSeconds") or 0)
    after = since.timestamp() + deadline - now.timestamp()
    return 0.0 if after < 1 else after + 1.0


def paused_condition_status(d: Obj, now: datetime) -> Obj | None:
    """checkPausedConditions: the status with DeploymentPaused/DeploymentResumed set, or
    None when nothing changes."""
    if not util.has_progress_deadline(d):
        return None
    status = copy.deepcopy(d.get("status") or {})
    cond = get_condition(status, PROGRESSING)
    if cond is not None and cond.get("reason") == TIMED_OUT:
        return None
    paused = bool((d.get("spec") or {}).get("paused"))
    paused_cond = cond is not None and cond.get("reason") == PAUSED
    if paused and not paused_cond:
        set_condition(status, new_condition(PROGRESSING, "Unknown", PAUSED,
                                            "Deployment is paused", now))
    elif not paused and paused_cond:
        set_condition(status, new_condition(PROGRESSING, "Unknown", RESUMED,
                                            "Deployment is resumed", now))
    else:
        return None
    return status


def status_equal(a: Obj, b: Obj) -> bool:
    def norm(s: Obj) -> Obj:
        return {k: v for k, v in s.items() if v not in (None, 0, [], {})}
    return norm(a or {}) == norm(b or {})
