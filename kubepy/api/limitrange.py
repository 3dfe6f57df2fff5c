"""LimitRange admission (the LimitRanger plugin) as pure functions over plain dicts.

Mutating (pods, on CREATE): ``apply_limit_ranges`` fills each container's and init
container's missing requests from ``defaultRequest`` and missing limits from ``default``
of every ``type: Container`` item, in LimitRange order (the first range that sets a value
wins), and records what it set in the ``kubernetes.io/limit-ranger`` annotation
(``LimitRanger plugin set: cpu, memory request for container app; cpu limit for ...``).

Validating (pods on CREATE; PersistentVolumeClaims on CREATE and UPDATE):
``validate_limit_ranges`` checks every container and init container against the
``Container`` items' ``min``, ``max`` and ``maxLimitRequestRatio``, the pod's effective
requests/limits against ``Pod`` items, and a claim's storage request against
``PersistentVolumeClaim`` items. It returns the messages of the first LimitRange that
fails (as the plugin stops there), in upstream's wording
(``maximum cpu usage per Container is 1, but limit is 2``). ``admit_limit_ranges`` does
both steps and raises ``errors.Forbidden`` with the aggregated message.

Quantities compare as apimachinery's limit ranger does: rounded up to thousandths
(or to units when a value is too large for that).
"""

from __future__ import annotations

import copy
from typing import Any

from kubepy.api.quantity import Quantity, quantity_to_int, quantity_to_millis
from kubepy.api.quota import forbidden, pod_limits, pod_requests, to_resource_list

Obj = dict[str, Any]
ResourceList = dict[str, Quantity]

ANNOTATION = "kubernetes.io/limit-ranger"
MAX_MILLI_VALUE = (2**63 - 1) // 1000


def _items(limit_ranges: list[Obj], kind: str) -> list[tuple[Obj, Obj]]:
    """(limit range, item) for every item of ``type: kind``, in order."""
    out = []
    for lr in limit_ranges:
        for item in ((lr.get("spec") or {}).get("limits")) or []:
            if isinstance(item, dict) and item.get("type") == kind:
                out.append((lr, item))
    return out


# ------------------------------------------------------------------------------ defaults

def _defaults(limit_range: Obj) -> tuple[dict[str, Any], dict[str, Any]]:
    """(default requests, default limits) of one LimitRange's Container items."""
    requests: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    for _, item in _items([limit_range], "Container"):
        requests.update(item.get("defaultRequest") or {})
        limits.update(item.get("default") or {})
    return requests, limits


def _merge_container(c: Obj, requests: dict[str, Any], limits: dict[str, Any],
                     label: str, notes: list[str]) -> None:
    resources = c.get("resources")
    if not isinstance(resources, dict):
        resources = c["resources"] = {}
    own_limits = resources.get("limits")
    own_requests = resources.get("requests")
    set_limits = sorted(k for k in limits if k not in (own_limits or {}))
    set_requests = sorted(k for k in requests if k not in (own_requests or {}))
    if set_limits:
        resources["limits"] = {**(own_limits or {}), **{k: limits[k] for k in set_limits}}
    if set_requests:
        resources["requests"] = {**(own_requests or {}),
                                 **{k: requests[k] for k in set_requests}}
    if set_requests:
        notes.append(f"{', '.join(set_requests)} request for {label} {c.get('name', '')}")
    if set_limits:
        notes.append(f"{', '.join(set_limits)} limit for {label} {c.get('name', '')}")


def apply_limit_ranges(pod: Obj, limit_ranges: list[Obj]) -> Obj:
    """A copy of ``pod`` with the namespace's LimitRange defaults applied (see module
    docstring); ``pod`` itself is not changed."""
    out = copy.deepcopy(pod)
    spec = out.get("spec") or {}
    for lr in limit_ranges:
        requests, limits = _defaults(lr)
        if not requests and not limits:
            continue
        notes: list[str] = []
        for c in spec.get("containers") or []:
            _merge_container(c, requests, limits, "container", notes)
        for c in spec.get("initContainers") or []:
            _merge_container(c, requests, limits, "init container", notes)
        if notes:
            meta = out.setdefault("metadata", {})
            annotations = meta.get("annotations")
            if not isinstance(annotations, dict):
                annotations = meta["annotations"] = {}
            annotations[ANNOTATION] = "LimitRanger plugin set: " + "; ".join(notes)
    return out


# ---------------------------------------------------------------------------- constraints

def _comparable(*qs: Quantity | None) -> list[int]:
    """Values at a common precision: thousandths when all fit, else units (absent = 0)."""
    units = [quantity_to_int(q) if q is not None else 0 for q in qs]
    if all(u <= MAX_MILLI_VALUE for u in units):
        return [quantity_to_millis(q) if q is not None else 0 for q in qs]
    return units


def _min(kind: str, name: str, enforced: Quantity, requests: ResourceList,
         limits: ResourceList) -> str | None:
    req, lim = requests.get(name), limits.get(name)
    r, li, e = _comparable(req, lim, enforced)
    if req is None:
        return f"minimum {name} usage per {kind} is {enforced}.  No request is specified"
    if r < e:
        return f"minimum {name} usage per {kind} is {enforced}, but request is {req}"
    if lim is not None and li < e:
        return f"minimum {name} usage per {kind} is {enforced}, but limit is {lim}"
    return None


def _max(kind: str, name: str, enforced: Quantity, requests: ResourceList,
         limits: ResourceList) -> str | None:
    req, lim = requests.get(name), limits.get(name)
    r, li, e = _comparable(req, lim, enforced)
    if lim is None:
        return f"maximum {name} usage per {kind} is {enforced}.  No limit is specified"
    if li > e:
        return f"maximum {name} usage per {kind} is {enforced}, but limit is {lim}"
    if req is not None and r > e:
        return f"maximum {name} usage per {kind} is {enforced}, but request is {req}"
    return None


def _max_request(kind: str, name: str, enforced: Quantity,
                 requests: ResourceList) -> str | None:
    req = requests.get(name)
    r, _, e = _comparable(req, None, enforced)
    if req is None:
        return f"maximum {name} usage per {kind} is {enforced}.  No request is specified"
    if r > e:
        return f"maximum {name} usage per {kind} is {enforced}, but request is {req}"
    return None


def _ratio(kind: str, name: str, enforced: Quantity, requests: ResourceList,
           limits: ResourceList) -> str | None:
    req, lim = requests.get(name), limits.get(name)
    r, li, _ = _comparable(req, lim, enforced)
    prefix = f"{name} max limit to request ratio per {kind} is {enforced}"
    if req is None or r == 0:
        return f"{prefix}, but no request is specified or request is 0"
    if lim is None or li == 0:
        return f"{prefix}, but no limit is specified or limit is 0"
    observed = li / r
    allowed_units = quantity_to_int(enforced)
    if allowed_units <= MAX_MILLI_VALUE:
        exceeds = observed * 1000 > quantity_to_millis(enforced)
    else:
        exceeds = observed > allowed_units
    if exceeds:
        return f"{prefix}, but provided ratio is {observed:f}"
    return None


def _check(kind: str, item: Obj, requests: ResourceList, limits: ResourceList) -> list[str]:
    found: list[str | None] = []
    for name, value in to_resource_list(item.get("min")).items():
        found.append(_min(kind, name, value, requests, limits))
    for name, value in to_resource_list(item.get("max")).items():
        found.append(_max(kind, name, value, requests, limits))
    for name, value in to_resource_list(item.get("maxLimitRequestRatio")).items():
        found.append(_ratio(kind, name, value, requests, limits))
    return [m for m in found if m]


def _validate_pod(pod: Obj, lr: Obj) -> list[str]:
    messages: list[str] = []
    spec = pod.get("spec") or {}
    for item in ((lr.get("spec") or {}).get("limits")) or []:
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "Container":
            for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
                res = c.get("resources") or {}
                messages += _check(kind, item, to_resource_list(res.get("requests")),
                                   to_resource_list(res.get("limits")))
        elif kind == "Pod":
            messages += _check(kind, item, pod_requests(pod, overhead=False),
                               pod_limits(pod, overhead=False))
    return messages


def _validate_claim(pvc: Obj, lr: Obj) -> list[str]:
    messages: list[str] = []
    requests = to_resource_list((((pvc.get("spec") or {}).get("resources") or {})
                                 .get("requests")))
    for item in ((lr.get("spec") or {}).get("limits")) or []:
        kind = item.get("type") if isinstance(item, dict) else None
        if kind != "PersistentVolumeClaim":
            continue
        for name, value in to_resource_list(item.get("min")).items():
            messages.append(_min(kind, name, value, requests, {}) or "")
        for name, value in to_resource_list(item.get("max")).items():
            messages.append(_max_request(kind, name, value, requests) or "")
    return [m for m in messages if m]


def validate_limit_ranges(obj: Obj, limit_ranges: list[Obj], *,
                          resource: str = "pods") -> list[str]:
    """Violations of the first LimitRange that ``obj`` (a pod, or a claim with
    ``resource="persistentvolumeclaims"``) breaks; [] when it fits them all."""
    for lr in limit_ranges:
        if resource == "pods":
            messages = _validate_pod(obj, lr)
        elif resource == "persistentvolumeclaims":
            messages = _validate_claim(obj, lr)
        else:
            return []
        if messages:
            return messages
    return []


def aggregate(messages: list[str]) -> str:
    """utilerrors.NewAggregate's text: one message alone, several in brackets."""
    return messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"


def admit_limit_ranges(obj: Obj, old_obj: Obj | None, limit_ranges: list[Obj], *,
                       resource: str) -> Obj:
    """The LimitRanger plugin for one request: ``obj`` with defaults applied (pods on
    CREATE), or ``errors.Forbidden`` (``pods "x" is forbidden: [...]``). Pod UPDATEs,
    other resources and objects already being deleted pass through unchanged."""
    if resource not in ("pods", "persistentvolumeclaims") or not limit_ranges:
        return obj
    if old_obj is not None:
        if resource == "pods" or ((old_obj.get("metadata") or {}).get("deletionTimestamp")):
            return obj
    if resource == "pods":
        obj = apply_limit_ranges(obj, limit_ranges)
    messages = validate_limit_ranges(obj, limit_ranges, resource=resource)
    if messages:
        raise forbidden(obj, "", resource, aggregate(messages))
    return obj

