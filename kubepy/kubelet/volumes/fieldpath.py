"""The downward API: pod fields and container resources as strings. Pure.

- ``extract_field_path(pod, path)``: ``pkg/fieldpath.ExtractFieldPathAsString`` —
  ``metadata.name|namespace|uid``, ``metadata.labels|annotations`` (the whole map as sorted
  ``key="value"`` lines, values quoted as Go's ``%q``), ``metadata.labels['k']`` and
  ``metadata.annotations['k']`` (missing key: ``""``). Used by downwardAPI volume files.
- ``pod_field_value(pod, path, host_ips=..., pod_ips=...)``: the kubelet's
  ``podFieldSelectorRuntimeValue`` for env variables: the above plus ``spec.nodeName``,
  ``spec.serviceAccountName``, ``status.hostIP(s)``, ``status.podIP(s)`` (lists joined
  with ``,``).
- ``resource_value(selector, pod, container, allocatable)``: ``resourceFieldRef`` —
  ``limits.*`` / ``requests.*`` of cpu, memory, ephemeral-storage and hugepages-*, divided by
  ``divisor`` (default ``1``) and rounded up (cpu in milli-units); an unset or zero cpu,
  memory or ephemeral-storage limit is the node's allocatable (``MergeContainerResourceLimits``).
  With ``containerName`` the container is looked up in the pod (containers, then init
  containers).

Errors raise ``FieldPathError`` with the kubelet's message.
"""

from __future__ import annotations

from typing import Any, Mapping

from kubepy.api.gotext import go_quote
from kubepy.api.quantity import QuantityError, quantity_to_int, quantity_to_millis

Obj = dict[str, Any]

SUPPORTED_ENV_FIELDS = frozenset({
    "metadata.name", "metadata.namespace", "metadata.uid", "metadata.labels",
    "metadata.annotations", "spec.nodeName", "spec.restartPolicy", "spec.serviceAccountName",
    "spec.schedulerName", "status.phase", "status.hostIP", "status.hostIPs", "status.podIP",
    "status.podIPs"})
DEFAULTED_LIMITS = ("cpu", "memory", "ephemeral-storage")


class FieldPathError(ValueError):
    """A fieldRef or resourceFieldRef that cannot be resolved."""




def format_map(m: Mapping[str, str] | None) -> str:
    """``fieldpath.FormatMap``: ``key="value"`` lines in key order, no trailing newline."""
    return "\n".join(f"{k}={go_quote(v)}" for k, v in sorted((m or {}).items()))


def split_subscript(path: str) -> tuple[str, str] | None:
    """``metadata.labels['k']`` -> ``("metadata.labels", "k")``; None when not subscripted."""
    if not path.endswith("']"):
        return None
    head, sep, key = path[:-2].partition("['")
    if not sep or not head:
        return None
    return head, key


def extract_field_path(pod: Obj, path: str) -> str:
    meta = pod.get("metadata") or {}
    sub = split_subscript(path)
    if sub is not None:
        head, key = sub
        if head in ("metadata.annotations", "metadata.labels"):
            values: dict[str, str] = meta.get(head.removeprefix("metadata.")) or {}
            return values.get(key, "")
        raise FieldPathError(f'fieldPath "{path}" does not support subscript')
    if path == "metadata.annotations":
        return format_map(meta.get("annotations"))
    if path == "metadata.labels":
        return format_map(meta.get("labels"))
    if path in ("metadata.name", "metadata.namespace", "metadata.uid"):
        return str(meta.get(path.split(".", 1)[1]) or "")
    raise FieldPathError(f"unsupported fieldPath: {path}")


def pod_field_value(pod: Obj, path: str, *, host_ips: list[str] | tuple[str, ...] = (),
                    pod_ips: list[str] | tuple[str, ...] = ()) -> str:
    sub = split_subscript(path)   # podshelper.ConvertDownwardAPIFieldLabel first
    if sub is not None and sub[0] not in ("metadata.labels", "metadata.annotations"):
        raise FieldPathError(f"field label does not support subscript: {path}")
    if sub is None and path not in SUPPORTED_ENV_FIELDS:
        raise FieldPathError(f"field label not supported: {path}")
    spec = pod.get("spec") or {}
    if path == "spec.nodeName":
        return spec.get("nodeName") or ""
    if path == "spec.serviceAccountName":
        return spec.get("serviceAccountName") or ""
    if path == "status.hostIP":
        return host_ips[0] if host_ips else ""
    if path == "status.hostIPs":
        return ",".join(host_ips)
    if path == "status.podIP":
        return pod_ips[0] if pod_ips else ""
    if path == "status.podIPs":
        return ",".join(pod_ips)
    return extract_field_path(pod, path)


def find_container(pod: Obj, name: str) -> Obj:
    spec = pod.get("spec") or {}
    containers: list[Obj] = (spec.get("containers") or []) + (spec.get("initContainers") or [])
    for c in containers:
        if c.get("name") == name:
            return c
    raise FieldPathError(f"container {name} not found")


def merge_limits(container: Obj, allocatable: Mapping[str, Any] | None) -> Obj:
    """A copy of *container* whose unset or zero cpu/memory/ephemeral-storage limits are
    the node's allocatable."""
    resources = dict(container.get("resources") or {})
    limits = dict(resources.get("limits") or {})
    for name in DEFAULTED_LIMITS:
        current = limits.get(name)
        if (current is None or _is_zero(current)) and allocatable and name in allocatable:
            limits[name] = allocatable[name]
    resources["limits"] = limits
    return {**container, "resources": resources}


def _is_zero(q: Any) -> bool:
    try:
        return quantity_to_millis(q) == 0
    except QuantityError:
        return False


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def resource_value(selector: Obj, pod: Obj, container: Obj | None,
                   allocatable: Mapping[str, Any] | None = None) -> str:
    """The value of a ``resourceFieldRef`` (see the module docstring). *container* is the
    env's own container; a ``containerName`` in *selector* takes precedence."""
    if selector.get("containerName"):
        container = find_container(pod, selector["containerName"])
    if container is None:
        raise FieldPathError("resourceFieldRef has no containerName")
    resource = selector.get("resource") or ""
    kind, _, name = resource.partition(".")
    if kind not in ("limits", "requests") or not (
            name in DEFAULTED_LIMITS or name.startswith("hugepages-")):
        raise FieldPathError(f"unsupported container resource : {resource}")
    merged = merge_limits(container, allocatable)
    amount = ((merged.get("resources") or {}).get(kind) or {}).get(name, "0")
    divisor = selector.get("divisor") or "1"
    try:
        if _is_zero(divisor):   # an unset (zero) divisor means 1
            divisor = "1"
        if name == "cpu":
            value = _ceil_div(quantity_to_millis(amount), quantity_to_millis(divisor))
        else:
            value = _ceil_div(quantity_to_int(amount), quantity_to_int(divisor))
    except QuantityError as e:
        raise FieldPathError(f"invalid quantity in resourceFieldRef {resource}: {e}") from e
    return str(value)
