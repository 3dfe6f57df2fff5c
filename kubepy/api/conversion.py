"""Conversion between API versions that share one stored form.

Two resources are served in two versions over one storage:
- Events: stored as core/v1 Event, also served as events.k8s.io/v1 (regarding <->
  involvedObject, note <-> message, deprecatedSource <-> source, ...);
- HorizontalPodAutoscalers: stored as autoscaling/v2, also served as autoscaling/v1
  (targetCPUUtilizationPercentage <-> a cpu Resource metric with Utilization target).

``storage_version(group, plural)`` names the stored (group, version); ``convert`` moves an
object between two (group, version)s and is the identity when they are equal. Inputs are
never mutated.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

Obj = dict[str, Any]
GV = tuple[str, str]

_STORAGE: dict[tuple[str, str], GV] = {
    ("events.k8s.io", "events"): ("", "v1"),
    ("autoscaling", "horizontalpodautoscalers"): ("autoscaling", "v2"),
}

# core Event field <-> events.k8s.io/v1 Event field
_EVENT_RENAMES = (
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("reportingComponent", "reportingController"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
)


def storage_version(group: str, plural: str, version: str) -> GV:
    return _STORAGE.get((group, plural), (group, version))


def _api_version(gv: GV) -> str:
    return f"{gv[0]}/{gv[1]}" if gv[0] else gv[1]


def _rename(obj: Obj, pairs: tuple[tuple[str, str], ...], *, reverse: bool) -> Obj:
    out = copy.deepcopy(obj)
    for a, b in pairs:
        src, dst = (b, a) if reverse else (a, b)
        if src in out:
            out[dst] = out.pop(src)
    return out


def _event_core_to_v1(obj: Obj) -> Obj:
    out = _rename(obj, _EVENT_RENAMES, reverse=False)
    out["apiVersion"] = "events.k8s.io/v1"
    if out.get("deprecatedCount") == 0:
        out.pop("deprecatedCount")
    return out


def _event_v1_to_core(obj: Obj) -> Obj:
    out = _rename(obj, _EVENT_RENAMES, reverse=True)
    out["apiVersion"] = "v1"
    return out


def _cpu_metric(target: int) -> Obj:
    return {"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": target}}}


def _hpa_v1_to_v2(obj: Obj) -> Obj:
    out = copy.deepcopy(obj)
    out["apiVersion"] = "autoscaling/v2"
    spec = out.get("spec")
    if isinstance(spec, dict):
        target = spec.pop("targetCPUUtilizationPercentage", None)
        if target is not None:
            spec["metrics"] = [_cpu_metric(target)]
    status = out.get("status")
    if isinstance(status, dict):
        current = status.pop("currentCPUUtilizationPercentage", None)
        if current is not None:
            status["currentMetrics"] = [{"type": "Resource", "resource": {
                "name": "cpu", "current": {"averageUtilization": current}}}]
    return out


def _hpa_v2_to_v1(obj: Obj) -> Obj:
    out = copy.deepcopy(obj)
    out["apiVersion"] = "autoscaling/v1"
    spec = out.get("spec")
    if isinstance(spec, dict):
        metrics = spec.pop("metrics", None) or []
        spec.pop("behavior", None)
        for m in metrics:
            res = m.get("resource") or {}
            target = res.get("target") or {}
            if m.get("type") == "Resource" and res.get("name") == "cpu" and \
                    target.get("type") == "Utilization":
                spec["targetCPUUtilizationPercentage"] = target.get("averageUtilization")
    status = out.get("status")
    if isinstance(status, dict):
        metrics = status.pop("currentMetrics", None) or []
        status.pop("conditions", None)
        for m in metrics:
            res = m.get("resource") or {}
            if m.get("type") == "Resource" and res.get("name") == "cpu":
                current = (res.get("current") or {}).get("averageUtilization")
                if current is not None:
                    status["currentCPUUtilizationPercentage"] = current
    return out


_CONVERTERS: dict[tuple[GV, GV], Callable[[Obj], Obj]] = {
    (("", "v1"), ("events.k8s.io", "v1")): _event_core_to_v1,
    (("events.k8s.io", "v1"), ("", "v1")): _event_v1_to_core,
    (("autoscaling", "v1"), ("autoscaling", "v2")): _hpa_v1_to_v2,
    (("autoscaling", "v2"), ("autoscaling", "v1")): _hpa_v2_to_v1,
}


def convert(obj: Obj, src: GV, dst: GV) -> Obj:
    if src == dst:
        return obj
    fn = _CONVERTERS.get((src, dst))
    if fn is None:
        raise ValueError(f"no conversion from {_api_version(src)} to {_api_version(dst)}")
    return fn(obj)
