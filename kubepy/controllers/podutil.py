"""Small pure helpers the workload controllers (StatefulSet, DaemonSet, Job) share: controller
references, pod state (ready, available, terminating, finished), RFC 3339 times, and
``Expectations`` (client-go's ControllerExpectations) so a controller does not create or
delete twice while its informer cache lags behind its own writes.

Everything takes plain API dicts and never mutates them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

Obj = dict[str, Any]

EXPECTATIONS_TIMEOUT = 300.0  # client-go's ExpectationsTimeout: 5 minutes


# ------------------------------------------------------------------ ownership

def controller_ref(owner: Obj, api_version: str, kind: str) -> Obj:
    """The ownerReference a controller puts on what it creates (controller and
    blockOwnerDeletion true), as metav1.NewControllerRef does."""
    meta = owner["metadata"]
    return {"apiVersion": api_version, "kind": kind, "name": meta["name"],
            "uid": meta["uid"], "controller": True, "blockOwnerDeletion": True}


def controller_of(obj: Obj) -> Obj | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def is_controlled_by(obj: Obj, uid: str) -> bool:
    ref = controller_of(obj)
    return ref is not None and ref.get("uid") == uid


# ------------------------------------------------------------------ time

def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def format_time(dt: datetime) -> str:
    """RFC 3339 in UTC with second precision, as metav1.Time marshals."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------ pod state

def is_terminating(obj: Obj) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def pod_phase(pod: Obj) -> str:
    return (pod.get("status") or {}).get("phase") or "Pending"


def is_finished(pod: Obj) -> bool:
    return pod_phase(pod) in ("Succeeded", "Failed")


def pod_condition(pod: Obj, type_: str) -> Obj | None:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_:
            return cond
    return None


def pod_ready(pod: Obj) -> bool:
    cond = pod_condition(pod, "Ready")
    return cond is not None and cond.get("status") == "True"


def pod_running_and_ready(pod: Obj) -> bool:
    return pod_phase(pod) == "Running" and pod_ready(pod)


def pod_available(pod: Obj, min_ready_seconds: int, now: datetime) -> bool:
    """Ready for at least ``min_ready_seconds`` (podutil.IsPodAvailable)."""
    if not pod_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = parse_time((pod_condition(pod, "Ready") or {}).get("lastTransitionTime"))
    return since is not None and (now - since).total_seconds() >= min_ready_seconds


def seconds_until_available(pod: Obj, min_ready_seconds: int, now: datetime) -> float | None:
    """When a ready pod becomes available, seconds from ``now`` (None if not ready or
    already available): the controller requeues then."""
    if not pod_ready(pod) or min_ready_seconds <= 0:
        return None
    since = parse_time((pod_condition(pod, "Ready") or {}).get("lastTransitionTime"))
    if since is None:
        return None
    left = min_ready_seconds - (now - since).total_seconds()
    return left if left > 0 else None


def creation_key(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return (meta.get("creationTimestamp") or "", meta.get("name") or "")


# ------------------------------------------------------------------ expectations

@dataclass
class _Expected:
    adds: int
    deletes: set[str]
    at: float


class Expectations:
    """Per controller key: how many creations and which deletions the controller has asked
    for but not yet seen in its cache. ``satisfied`` is true once both are observed, or
    when ``EXPECTATIONS_TIMEOUT`` has passed since they were set (a lost watch event must
    not block the controller forever)."""

    def __init__(self, monotonic: Any) -> None:
        self._now = monotonic  # a Clock.monotonic
        self._by_key: dict[str, _Expected] = {}

    def expect(self, key: str, *, adds: int = 0, deletes: list[str] | None = None) -> None:
        cur = self._by_key.get(key)
        if cur is None or self._expired(cur):
            cur = self._by_key[key] = _Expected(0, set(), self._now())
        cur.adds += adds
        cur.deletes |= set(deletes or ())
        cur.at = self._now()

    def creation_observed(self, key: str) -> None:
        cur = self._by_key.get(key)
        if cur is not None and cur.adds > 0:
            cur.adds -= 1

    def deletion_observed(self, key: str, name: str) -> None:
        cur = self._by_key.get(key)
        if cur is not None:
            cur.deletes.discard(name)

    def lower(self, key: str, *, adds: int = 0, deletes: list[str] | None = None) -> None:
        """A write failed: stop expecting what it would have caused."""
        cur = self._by_key.get(key)
        if cur is not None:
            cur.adds = max(0, cur.adds - adds)
            cur.deletes -= set(deletes or ())

    def satisfied(self, key: str) -> bool:
        cur = self._by_key.get(key)
        if cur is None:
            return True
        return (cur.adds <= 0 and not cur.deletes) or self._expired(cur)

    def forget(self, key: str) -> None:
        self._by_key.pop(key, None)

    def _expired(self, cur: _Expected) -> bool:
        return self._now() - cur.at > EXPECTATIONS_TIMEOUT


# ------------------------------------------------------------------ informer plumbing

CONTROLLER_UID_INDEX = "controller-uid"


def controller_uid_index(obj: Obj) -> list[str]:
    ref = controller_of(obj)
    return [ref["uid"]] if ref is not None and ref.get("uid") else []


def owner_key(obj: Obj, kind: str) -> str | None:
    """``namespace/name`` of the object's controller when it is a ``kind``."""
    ref = controller_of(obj)
    if ref is None or ref.get("kind") != kind:
        return None
    ns = (obj.get("metadata") or {}).get("namespace")
    return f"{ns}/{ref['name']}" if ns else ref["name"]
