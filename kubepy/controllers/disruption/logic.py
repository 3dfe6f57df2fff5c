"""PodDisruptionBudget status: the pure part of the disruption controller (upstream's
``pkg/controller/disruption``).

For a PDB and the pods its selector matches in its namespace (``pods_for_pdb``; a missing
selector matches nothing, an empty one every pod):

* ``expected_pod_count(pdb, pods, scales)`` -> (expectedPods, desiredHealthy, unmanaged pod
  names). With an integer ``minAvailable`` the expected count is the number of pods and
  desiredHealthy the integer; with a percentage ``minAvailable`` or any ``maxUnavailable``
  the expected count is the sum of the scales of the pods' controllers (``scales``: the
  controller uid -> replicas the caller looked up; a Deployment counts for the ReplicaSets
  it owns), and percentages are rounded up (``scaled_value``); desiredHealthy is
  ``expected - maxUnavailable`` (at least 0) or the scaled ``minAvailable``. Pods without a
  controller are skipped and named; a controller with no known scale is an error
  (``ExpectedCountError``: ``found no controllers for pod "web-1"``).
* ``disrupted_pod_map`` keeps the entries of ``status.disruptedPods`` (pods the eviction
  API just let go) for pods not yet being deleted and younger than ``DELETION_TIMEOUT``
  (2 min), and says when to look again; ``count_healthy`` counts Ready pods that are
  neither being deleted nor in that map.
* ``new_status`` -> the status to write (disruptionsAllowed = currentHealthy -
  desiredHealthy, 0 when negative or when no pods are expected; the DisruptionAllowed
  condition True/SufficientPods or False/InsufficientPods), or None when the stored one is
  current. ``fail_safe_status`` is what a failed sync writes: disruptionsAllowed 0 and
  DisruptionAllowed False/SyncFailed with the error as message.
"""

from __future__ import annotations

import copy
import math
from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping, Sequence, TypeVar

from kubepy.api.labels import LabelSelector, selector_from_label_selector

Obj = dict[str, Any]

DELETION_TIMEOUT = 120.0
CONDITION = "DisruptionAllowed"
SUFFICIENT_PODS = "SufficientPods"
INSUFFICIENT_PODS = "InsufficientPods"
SYNC_FAILED = "SyncFailed"


class ExpectedCountError(Exception):
    """The expected pod count cannot be computed (the message is upstream's)."""


def format_time(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def pdb_selector(pdb: Mapping[str, Any]) -> LabelSelector:
    return selector_from_label_selector((pdb.get("spec") or {}).get("selector"))


Pod = TypeVar("Pod", bound=Mapping[str, Any])  # a pod as the caller holds it, handed back as is


def pods_for_pdb(pdb: Mapping[str, Any], pods: Iterable[Pod]) -> list[Pod]:
    sel = pdb_selector(pdb)
    ns = (pdb.get("metadata") or {}).get("namespace")
    return [p for p in pods if (p.get("metadata") or {}).get("namespace") == ns
            and sel.matches((p.get("metadata") or {}).get("labels") or {})]


def go_label_selector(selector: Mapping[str, Any] | None) -> str:
    """A *metav1.LabelSelector as Go's %v prints it (in upstream's UnmanagedPods message)."""
    if selector is None:
        return "nil"
    labels = selector.get("matchLabels") or {}
    exprs = selector.get("matchExpressions") or []
    match_labels = "map[string]string{" + "".join(
        f"{k}: {labels[k]}," for k in sorted(labels)) + "}"
    match_exprs = "[]LabelSelectorRequirement{" + "".join(
        f"LabelSelectorRequirement{{Key:{e.get('key', '')},Operator:{e.get('operator', '')},"
        f"Values:[{' '.join(e.get('values') or [])}],}},"
        for e in exprs) + "}"
    return f"&LabelSelector{{MatchLabels:{match_labels},MatchExpressions:{match_exprs},}}"


def scaled_value(value: int | str, total: int, *, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent."""
    if isinstance(value, int):
        return value
    text = str(value)
    if not text.endswith("%"):
        raise ExpectedCountError(f"invalid value for IntOrString: invalid type: string is "
                                 f"not a percentage")
    try:
        percent = int(text[:-1])
    except ValueError:
        raise ExpectedCountError(f"invalid value {text!r}: strconv.Atoi: parsing "
                                 f"\"{text[:-1]}\": invalid syntax") from None
    exact = percent * total / 100
    return math.ceil(exact) if round_up else math.floor(exact)


def controller_ref(pod: Mapping[str, Any]) -> Obj | None:
    refs: list[Obj] = (pod.get("metadata") or {}).get("ownerReferences") or []
    for ref in refs:
        if ref.get("controller"):
            return ref
    return None


Scales = Mapping[str, "tuple[str, int]"]


def expected_scale(pods: Sequence[Mapping[str, Any]], scales: Scales) -> tuple[int, list[str]]:
    """(sum of the scales of the pods' controllers, names of pods without a controller).
    ``scales`` maps a pod's controllerRef uid to (uid, replicas) of the workload in charge
    (the ReplicaSet, or the Deployment owning it), so each workload counts once."""
    seen: dict[str, int] = {}
    unmanaged: list[str] = []
    for pod in pods:
        ref = controller_ref(pod)
        name = (pod.get("metadata") or {}).get("name", "")
        if ref is None:
            unmanaged.append(name)
            continue
        found = scales.get(ref.get("uid", ""))
        if found is None:
            raise ExpectedCountError(f'found no controllers for pod "{name}"')
        seen[found[0]] = found[1]
    return sum(seen.values()), unmanaged


def expected_pod_count(pdb: Mapping[str, Any], pods: Sequence[Mapping[str, Any]],
                       scales: Scales) -> tuple[int, int, list[str]]:
    spec = pdb.get("spec") or {}
    max_unavailable = spec.get("maxUnavailable")
    min_available = spec.get("minAvailable")
    if max_unavailable is not None:
        expected, unmanaged = expected_scale(pods, scales)
        desired = max(0, expected - scaled_value(max_unavailable, expected, round_up=True))
        return expected, desired, unmanaged
    if min_available is not None:
        if isinstance(min_available, int):
            return len(pods), min_available, []
        expected, unmanaged = expected_scale(pods, scales)
        return expected, scaled_value(min_available, expected, round_up=True), unmanaged
    return 0, 0, []


# ---------------------------------------------------------------------------- health

def is_pod_ready(pod: Mapping[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def disrupted_pod_map(pdb: Mapping[str, Any], pods: Sequence[Pod], now: datetime
                      ) -> tuple[dict[str, str], datetime | None, list[Pod]]:
    """(entries kept, when to recheck, pods that outlived their entry: NotDeleted)."""
    disrupted = (pdb.get("status") or {}).get("disruptedPods") or {}
    kept: dict[str, str] = {}
    recheck: datetime | None = None
    overdue: list[Pod] = []
    for pod in pods:
        meta = pod.get("metadata") or {}
        if meta.get("deletionTimestamp") or meta.get("name") not in disrupted:
            continue
        stamp = disrupted[meta["name"]]
        at = parse_time(stamp)
        if at is None:
            continue
        expected_deletion = at + timedelta(seconds=DELETION_TIMEOUT)
        if expected_deletion < now:
            overdue.append(pod)
        else:
            kept[meta["name"]] = stamp
            if recheck is None or expected_deletion < recheck:
                recheck = expected_deletion
    return kept, recheck, overdue


def count_healthy(pods: Sequence[Mapping[str, Any]], disrupted: Mapping[str, str],
                  now: datetime) -> int:
    healthy = 0
    for pod in pods:
        meta = pod.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            continue
        at = parse_time(disrupted.get(meta.get("name", "")))
        if at is not None and at + timedelta(seconds=DELETION_TIMEOUT) > now:
            continue
        if is_pod_ready(pod):
            healthy += 1
    return healthy


# ---------------------------------------------------------------------------- status

def _set_condition(conditions: list[Obj], status: str, reason: str, message: str,
                   generation: int, now: datetime) -> list[Obj]:
    """meta.SetStatusCondition for DisruptionAllowed (transition time kept unless the
    status changes)."""
    out = [copy.deepcopy(c) for c in conditions]
    cond = next((c for c in out if c.get("type") == CONDITION), None)
    if cond is None:
        out.append({"type": CONDITION, "status": status, "observedGeneration": generation,
                    "lastTransitionTime": format_time(now), "reason": reason,
                    "message": message})
        return out
    if cond.get("status") != status:
        cond["status"] = status
        cond["lastTransitionTime"] = format_time(now)
    cond.update({"reason": reason, "message": message, "observedGeneration": generation})
    return out


def conditions_up_to_date(pdb: Mapping[str, Any]) -> bool:
    status = pdb.get("status") or {}
    cond = next((c for c in status.get("conditions") or [] if c.get("type") == CONDITION),
                None)
    if cond is None:
        return False
    if int(status.get("observedGeneration") or 0) != int(
            (pdb.get("metadata") or {}).get("generation") or 0):
        return False
    if int(status.get("disruptionsAllowed") or 0) > 0:
        return bool(cond.get("status") == "True" and cond.get("reason") == SUFFICIENT_PODS)
    return bool(cond.get("status") == "False" and cond.get("reason") == INSUFFICIENT_PODS)


def new_status(pdb: Mapping[str, Any], current_healthy: int, desired_healthy: int,
               expected: int, disrupted: Mapping[str, str], now: datetime) -> Obj | None:
    allowed = current_healthy - desired_healthy
    if expected <= 0 or allowed <= 0:
        allowed = 0
    old = pdb.get("status") or {}
    generation = int((pdb.get("metadata") or {}).get("generation") or 0)
    if (int(old.get("currentHealthy") or 0) == current_healthy
            and int(old.get("desiredHealthy") or 0) == desired_healthy
            and int(old.get("expectedPods") or 0) == expected
            and int(old.get("disruptionsAllowed") or 0) == allowed
            and (old.get("disruptedPods") or {}) == dict(disrupted)
            and int(old.get("observedGeneration") or 0) == generation
            and conditions_up_to_date(pdb)):
        return None
    status: Obj = {"observedGeneration": generation}
    if disrupted:
        status["disruptedPods"] = dict(disrupted)
    status.update({"disruptionsAllowed": allowed, "currentHealthy": current_healthy,
                   "desiredHealthy": desired_healthy, "expectedPods": expected})
    if allowed > 0:
        status["conditions"] = _set_condition(old.get("conditions") or [], "True",
                                              SUFFICIENT_PODS, "", generation, now)
    else:
        status["conditions"] = _set_condition(old.get("conditions") or [], "False",
                                              INSUFFICIENT_PODS, "", generation, now)
    return status


def fail_safe_status(pdb: Mapping[str, Any], message: str, now: datetime) -> Obj:
    status = copy.deepcopy(dict(pdb.get("status") or {}))
    status["disruptionsAllowed"] = 0
    for f in ("currentHealthy", "desiredHealthy", "expectedPods"):
        status.setdefault(f, 0)
    status["conditions"] = _set_condition(status.get("conditions") or [], "False", SYNC_FAILED,
                                          message, int(status.get("observedGeneration") or 0),
                                          now)
    return status
