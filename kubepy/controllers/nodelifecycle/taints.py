"""Taints the node lifecycle controller owns, and what NoExecute taints mean for pods.
Pure: plain dicts in, plain data out.

* ``condition_taints(node)``: the NoSchedule taints a node's conditions and
  ``spec.unschedulable`` call for (TaintNodesByCondition): Ready False -> ``not-ready``,
  Ready Unknown -> ``unreachable``, MemoryPressure/DiskPressure/PIDPressure/NetworkUnavailable
  True -> ``memory-pressure``/``disk-pressure``/``pid-pressure``/``network-unavailable``,
  unschedulable -> ``unschedulable``;
* ``no_execute_taint_for(ready_status)``: ``not-ready`` (False) or ``unreachable``
  (Unknown/absent) NoExecute, or None when Ready;
* ``with_taints(current, managed, desired)``: the node's taint list with the ``managed``
  (key, effect) pairs replaced by ``desired``, others untouched, or None when unchanged;
* ``matching_tolerations`` / ``min_toleration_seconds`` /
  ``eviction_delay(pod_tolerations, taints)``: when a pod must leave a node with NoExecute
  taints: 0 (untolerated: now), seconds (the smallest tolerationSeconds of the tolerations
  used), or None (tolerated forever). Whether a toleration tolerates a taint is
  ``kubepy.api.taints.tolerates``.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from kubepy.api.taints import NO_EXECUTE, NO_SCHEDULE, tolerates

Obj = dict[str, Any]

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
MEMORY_PRESSURE = "node.kubernetes.io/memory-pressure"
DISK_PRESSURE = "node.kubernetes.io/disk-pressure"
PID_PRESSURE = "node.kubernetes.io/pid-pressure"
NETWORK_UNAVAILABLE = "node.kubernetes.io/network-unavailable"

# condition type -> (status that taints, taint key)
_CONDITION_TAINTS: tuple[tuple[str, str, str], ...] = (
    ("Ready", "False", NOT_READY),
    ("Ready", "Unknown", UNREACHABLE),
    ("MemoryPressure", "True", MEMORY_PRESSURE),
    ("DiskPressure", "True", DISK_PRESSURE),
    ("NetworkUnavailable", "True", NETWORK_UNAVAILABLE),
    ("PIDPressure", "True", PID_PRESSURE),
)
NO_SCHEDULE_MANAGED: frozenset[tuple[str, str]] = frozenset(
    {(key, NO_SCHEDULE) for _, _, key in _CONDITION_TAINTS} | {(UNSCHEDULABLE, NO_SCHEDULE)})
NO_EXECUTE_MANAGED: frozenset[tuple[str, str]] = frozenset(
    {(NOT_READY, NO_EXECUTE), (UNREACHABLE, NO_EXECUTE)})


def condition_status(node: Mapping[str, Any], type_: str) -> str | None:
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_:
            status: str | None = cond.get("status")
            return status
    return None


def condition_taints(node: Mapping[str, Any]) -> list[Obj]:
    taints: list[Obj] = []
    for type_, status, key in _CONDITION_TAINTS:
        if condition_status(node, type_) == status:
            taints.append({"key": key, "effect": NO_SCHEDULE})
    if (node.get("spec") or {}).get("unschedulable"):
        taints.append({"key": UNSCHEDULABLE, "effect": NO_SCHEDULE})
    return taints


def no_execute_taint_for(ready_status: str | None) -> str | None:
    """The NoExecute taint key a node with this Ready status should carry."""
    if ready_status == "True":
        return None
    return NOT_READY if ready_status == "False" else UNREACHABLE


def taint_ids(taints: Iterable[Mapping[str, Any]] | None) -> set[tuple[str, str]]:
    return {(t.get("key", ""), t.get("effect", "")) for t in taints or []}


def with_taints(current: list[Obj] | None, managed: frozenset[tuple[str, str]],
                desired: list[Obj]) -> list[Obj] | None:
    """``current`` with its ``managed`` taints made equal to ``desired`` (existing ones are
    kept as they are, so timeAdded does not move); None when nothing changes."""
    current = list(current or [])
    want = {(t["key"], t["effect"]): t for t in desired}
    out: list[Obj] = []
    changed = False
    for t in current:
        tid = (t.get("key", ""), t.get("effect", ""))
        if tid in managed and tid not in want:
            changed = True
            continue
        out.append(t)
        want.pop(tid, None)
    for t in want.values():
        out.append(dict(t))
        changed = True
    return out if changed else None


# ---------------------------------------------------------------------------- tolerations

def matching_tolerations(tolerations: Sequence[Mapping[str, Any]],
                         taints: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]] | None:
    """The first toleration that tolerates each taint, or None if one is not tolerated."""
    used = []
    for taint in taints:
        match = next((t for t in tolerations if tolerates(t, taint)), None)
        if match is None:
            return None
        used.append(match)
    return used


def min_toleration_seconds(tolerations: Sequence[Mapping[str, Any]]) -> float | None:
    """The smallest tolerationSeconds (negative counts as 0); None when none is bounded."""
    bounded = [max(0, int(t["tolerationSeconds"])) for t in tolerations
               if t.get("tolerationSeconds") is not None]
    return float(min(bounded)) if bounded else None


def no_execute_taints(node: Mapping[str, Any]) -> list[Obj]:
    return [t for t in (node.get("spec") or {}).get("taints") or []
            if t.get("effect") == NO_EXECUTE]


def eviction_delay(pod: Mapping[str, Any], taints: Sequence[Mapping[str, Any]]) -> float | None:
    """Seconds until ``pod`` must be evicted from a node with these NoExecute ``taints``:
    0 when one is not tolerated, None when it may stay forever."""
    if not taints:
        return None
    tolerations = [t for t in (pod.get("spec") or {}).get("tolerations") or []
                   if (t.get("effect") or NO_EXECUTE) == NO_EXECUTE]
    used = matching_tolerations(tolerations, list(taints))
    if used is None:
        return 0.0
    return min_toleration_seconds(used)
