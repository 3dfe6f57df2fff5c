"""Rows of HorizontalPodAutoscaler (REFERENCE TARGETS MINPODS MAXPODS REPLICAS) and of the
``autoscaling/v1`` Scale subresource (``kubectl get --subresource=scale``).

TARGETS pairs each metric spec with the current metric at the same index:
``cpu: 45%/80%``, ``memory: 100Mi/200Mi``, ``1k/500 (avg)``; ``<unknown>`` when no current
value has been observed, ``<auto>`` for a utilization target without a number; at most two
are shown, then `` + N more...``. ``autoscaling/v1`` objects are read through their
``targetCPUUtilizationPercentage`` / ``currentCPUUtilizationPercentage`` fields.
"""

from __future__ import annotations

from datetime import datetime

from .common import Cell, Column, Doc, Obj, Printer, age, age_column, as_int, dig, name
from .common import META, name_column
from .quantity import canonical_quantity as q

HPA = (
    name_column(),
    Column("Reference", "string", Doc("autoscaling.v2.HorizontalPodAutoscalerSpec", "scaleTargetRef")),
    Column("Targets", "string", Doc("autoscaling.v2.HorizontalPodAutoscalerSpec", "metrics")),
    Column("MinPods", "string", Doc("autoscaling.v2.HorizontalPodAutoscalerSpec", "minReplicas")),
    Column("MaxPods", "string", Doc("autoscaling.v2.HorizontalPodAutoscalerSpec", "maxReplicas")),
    Column("Replicas", "string", Doc("autoscaling.v2.HorizontalPodAutoscalerStatus",
                                     "currentReplicas")),
    age_column(),
)


def hpa_metrics(hpa: Obj) -> tuple[list[Obj], list[Obj]]:
    """(metric specs, current metrics) in ``autoscaling/v2`` shape."""
    spec: Obj = hpa.get("spec") or {}
    status: Obj = hpa.get("status") or {}
    if "metrics" in spec or "targetCPUUtilizationPercentage" not in spec:
        return spec.get("metrics") or [], status.get("currentMetrics") or []
    specs = [{"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": spec["targetCPUUtilizationPercentage"]}}}]
    current = []
    if status.get("currentCPUUtilizationPercentage") is not None:
        current = [{"type": "Resource", "resource": {"name": "cpu", "current": {
            "averageUtilization": status["currentCPUUtilizationPercentage"]}}}]
    return specs, current


def _value_or_average(source: Obj, current_status: Obj | None) -> str:
    """External and Object metrics: average value when targeted, else plain value."""
    target: Obj = source.get("target") or {}
    current: Obj = (current_status or {}).get("current") or {}
    if target.get("averageValue") is not None:
        now = "<unknown>"
        if current_status is not None and current.get("averageValue") is not None:
            now = q(current["averageValue"])
        return f"{now}/{q(target['averageValue'])} (avg)"
    now = "<unknown>" if current_status is None else q(current.get("value"))
    return f"{now}/{q(target.get('value'))}"


def _resource(source: Obj, current_status: Obj | None) -> str:
    target: Obj = source.get("target") or {}
    current: Obj = (current_status or {}).get("current") or {}
    resource = source.get("name", "")
    if target.get("averageValue") is not None:
        now = "<unknown>" if current_status is None else q(current.get("averageValue"))
        return f"{resource}: {now}/{q(target['averageValue'])}"
    now = "<unknown>"
    if current_status is not None and current.get("averageUtilization") is not None:
        now = f"{as_int(current['averageUtilization'])}%"
    goal = "<auto>"
    if target.get("averageUtilization") is not None:
        goal = f"{as_int(target['averageUtilization'])}%"
    return f"{resource}: {now}/{goal}"


_FIELD = {"External": "external", "Pods": "pods", "Object": "object", "Resource": "resource",
          "ContainerResource": "containerResource"}


def format_hpa_metrics(specs: list[Obj], statuses: list[Obj], limit: int = 2) -> str:
    if not specs:
        return "<none>"
    shown: list[str] = []
    for i, metric in enumerate(specs):
        kind = metric.get("type")
        field = _FIELD.get(str(kind))
        if field is None or metric.get(field) is None:
            shown.append("<unknown type>")
            continue
        source: Obj = metric[field]
        current = statuses[i].get(field) if i < len(statuses) else None
        if kind in ("External", "Object"):
            shown.append(_value_or_average(source, current))
        elif kind == "Pods":
            now = "<unknown>" if current is None else q(dig(current, "current", "averageValue"))
            shown.append(f"{now}/{q(dig(source, 'target', 'averageValue'))}")
        else:
            shown.append(_resource(source, current))
    if len(shown) > limit:
        return f"{', '.join(shown[:limit])} + {len(shown) - limit} more..."
    return ", ".join(shown)


def hpa_cells(obj: Obj, now: datetime) -> list[Cell]:
    spec: Obj = obj.get("spec") or {}
    ref: Obj = spec.get("scaleTargetRef") or {}
    min_replicas = spec.get("minReplicas")
    return [
        name(obj), f"{ref.get('kind', '')}/{ref.get('name', '')}", format_hpa_metrics(*hpa_metrics(obj)),
        "<unset>" if min_replicas is None else str(as_int(min_replicas)),
        as_int(spec.get("maxReplicas")), as_int(dig(obj, "status", "currentReplicas")), age(obj, now),
    ]


SCALE = (
    Column("Name", "string", Doc(META, "name")),  # no "name" format upstream
    Column("Desired", "integer", Doc("autoscaling.v1.ScaleSpec", "replicas")),
    Column("Available", "integer", Doc("autoscaling.v1.ScaleStatus", "replicas")),
    age_column(),
)


def scale_cells(obj: Obj, now: datetime) -> list[Cell]:
    return [name(obj), as_int(dig(obj, "spec", "replicas")), as_int(dig(obj, "status", "replicas")),
            age(obj, now)]


PRINTERS = {
    ("autoscaling", "HorizontalPodAutoscaler"): Printer(HPA, hpa_cells),
    ("autoscaling", "Scale"): Printer(SCALE, scale_cells),
}
