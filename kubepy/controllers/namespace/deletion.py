"""The namespace controller's decisions, after kube-controller-manager's
``namespace/deletion`` package: pure functions over plain dicts and the time.

* ``pods_grace_estimate``/``remaining_estimate``: how long graceful pod deletion may still
  take (the largest terminationGracePeriodSeconds of the non-terminal pods, 0 once that
  long has passed since the namespace's deletionTimestamp).
* ``content_outcome``: what is left of one resource after its collection was deleted — the
  count, the finalizers holding it and the estimate; leftovers with neither a finalizer nor
  an estimate are an error (``unexpected items still remain in namespace: ...``).
* ``deletion_conditions`` + ``merge_conditions``: the five status conditions upstream keeps
  (NamespaceDeletionDiscoveryFailure, NamespaceDeletionGVParsingFailure,
  NamespaceDeletionContentFailure, NamespaceContentRemaining,
  NamespaceFinalizersRemaining), True with a reason when something is wrong and False
  with the "ok" reason otherwise; lastTransitionTime moves only when the status flips.
* ``finalizers_after`` (the spec.finalizers sent to ``/finalize``) and ``requeue_after``
  (estimate/2 + 1 seconds, as upstream requeues a namespace whose content remains).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Mapping

from kubepy.api.registry import ResourceType
from kubepy.controllers.podcontrol import format_time, parse_time

Obj = dict[str, Any]

NAMESPACE_FINALIZER = "kubernetes"
FINALIZER_ESTIMATE_SECONDS = 15  # upstream's default wait for objects held by finalizers

DISCOVERY_FAILURE = "NamespaceDeletionDiscoveryFailure"
GV_PARSING_FAILURE = "NamespaceDeletionGVParsingFailure"
CONTENT_FAILURE = "NamespaceDeletionContentFailure"
CONTENT_REMAINING = "NamespaceContentRemaining"
FINALIZERS_REMAINING = "NamespaceFinalizersRemaining"
CONDITION_TYPES = (DISCOVERY_FAILURE, GV_PARSING_FAILURE, CONTENT_FAILURE, CONTENT_REMAINING,
                   FINALIZERS_REMAINING)
OK_REASONS = {
    DISCOVERY_FAILURE: "ResourcesDiscovered",
    GV_PARSING_FAILURE: "ParsedGroupVersions",
    CONTENT_FAILURE: "ContentDeleted",
    CONTENT_REMAINING: "ContentRemoved",
    FINALIZERS_REMAINING: "ContentRemoved",
}
OK_MESSAGES = {
    DISCOVERY_FAILURE: "All resources successfully discovered",
    GV_PARSING_FAILURE: "All legacy kube types successfully parsed",
    CONTENT_FAILURE: "All content successfully deleted, may be waiting on finalization",
    CONTENT_REMAINING: "All content successfully removed",
    FINALIZERS_REMAINING: "All content successfully removed",
}


def gvr_string(rt: ResourceType) -> str:
    """schema.GroupVersionResource's String(): ``apps/v1, Resource=deployments``."""
    return f"{rt.group}/{rt.version}, Resource={rt.plural}"


# ---------------------------------------------------------------------------- estimates

def pods_grace_estimate(pods: Iterable[Mapping[str, Any]]) -> int:
    """The largest terminationGracePeriodSeconds among pods not yet Succeeded/Failed."""
    estimate = 0
    for pod in pods:
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
        if grace is not None and int(grace) > estimate:
            estimate = int(grace)
    return estimate


def remaining_estimate(estimate: int, deleted_at: str | None, now: datetime) -> int:
    """``estimate`` seconds counted from the namespace's deletion: 0 once they passed."""
    since = parse_time(deleted_at)
    if since is None:
        return estimate
    return 0 if (now - since).total_seconds() >= estimate else estimate


@dataclass
class ContentOutcome:
    """gvrDeletionMetadata: what one resource still holds in the namespace."""
    estimate: int = 0
    remaining: int = 0
    finalizers: dict[str, int] = field(default_factory=dict)
    error: str = ""


def content_outcome(rt: ResourceType, namespace: str, items: Iterable[Mapping[str, Any]],
                    estimate: int) -> ContentOutcome:
    """Judge the objects of ``rt`` listed after deleting the collection."""
    items = list(items)
    if not items:
        return ContentOutcome()
    finalizers: dict[str, int] = {}
    for item in items:
        for fin in (item.get("metadata") or {}).get("finalizers") or []:
            finalizers[fin] = finalizers.get(fin, 0) + 1
    if estimate:
        return ContentOutcome(estimate, len(items), finalizers)
    if finalizers:
        return ContentOutcome(FINALIZER_ESTIMATE_SECONDS, len(items), finalizers)
    return ContentOutcome(0, len(items), {}, f"unexpected items still remain in namespace: "
                                             f"{namespace} for gvr: {gvr_string(rt)}")


# ---------------------------------------------------------------------------- conditions

def _condition(type_: str, reason: str, message: str, now: datetime) -> Obj:
    return {"type": type_, "status": "True", "lastTransitionTime": format_time(now),
            "reason": reason, "message": message}


def deletion_conditions(*, discovery_error: str = "", discovery_failed_groups: int = 0,
                        content_errors: Iterable[str] = (),
                        remaining: Mapping[ResourceType, int] | None = None,
                        finalizers: Mapping[str, int] | None = None,
                        now: datetime) -> list[Obj]:
    """The failing (status True) conditions of one deletion pass."""
    out: list[Obj] = []
    if discovery_error:
        message = discovery_error
        if discovery_failed_groups:
            message = (f"Discovery failed for some groups, {discovery_failed_groups} failing: "
                       f"{discovery_error}")
        out.append(_condition(DISCOVERY_FAILURE, "DiscoveryFailed", message, now))
    left = sorted(f"{rt.plural}.{rt.group} has {n} resource instances"
                  for rt, n in (remaining or {}).items() if n)
    if left:
        out.append(_condition(CONTENT_REMAINING, "SomeResourcesRemain",
                              "Some resources are remaining: " + ", ".join(left), now))
    held = sorted(f"{fin} in {n} resource instances"
                  for fin, n in (finalizers or {}).items() if n)
    if held:
        out.append(_condition(FINALIZERS_REMAINING, "SomeFinalizerRemain",
                              "Some finalizers are remaining: " + ", ".join(held), now))
    errs = sorted(content_errors)
    if errs:
        out.append(_condition(CONTENT_FAILURE, "ContentDeletionFailed",
                              f"Failed to delete all resource types, {len(errs)} remaining: "
                              + ", ".join(errs), now))
    return out


def merge_conditions(old: Iterable[Mapping[str, Any]], failing: Iterable[Mapping[str, Any]],
                     now: datetime) -> tuple[list[Obj], bool]:
    """The namespace's new status.conditions and whether they changed: every managed type
    is present, failing ones as given, the others with their "ok" False variant; conditions
    of other types are kept in place."""
    conditions = [dict(c) for c in old]
    by_type = {c.get("type"): c for c in failing}
    changed = False
    for type_ in CONDITION_TYPES:
        new = by_type.get(type_) or {"type": type_, "status": "False",
                                     "lastTransitionTime": format_time(now),
                                     "reason": OK_REASONS[type_], "message": OK_MESSAGES[type_]}
        current = next((c for c in conditions if c.get("type") == type_), None)
        if current is None:
            conditions.append(dict(new))
            changed = True
        elif any(current.get(k) != new.get(k) for k in ("status", "reason", "message")):
            if current.get("status") != new.get("status"):
                current["lastTransitionTime"] = format_time(now)
            current.update(status=new["status"], reason=new["reason"], message=new["message"])
            changed = True
    return conditions, changed


# ---------------------------------------------------------------------------- finalizing

def finalizers_after(finalizers: Iterable[str], token: str = NAMESPACE_FINALIZER) -> list[str]:
    """spec.finalizers without ``token`` (a sorted set, as upstream sends it)."""
    return sorted({f for f in finalizers if f != token})


def requeue_after(estimate: int) -> float:
    return float(estimate // 2 + 1)
