"""The size of a memory-backed emptyDir (the kubelet's ``calculateEmptyDirMemorySize``). Pure.

The tmpfs is as large as the node's allocatable memory, or the pod's memory limit when that
is smaller, or the volume's ``sizeLimit`` when that is smaller still (values of zero or
less are ignored). The pod has a memory limit only when every container has one: the sum
of the containers' (and restartable init containers') limits, or the largest init
container limit when that is larger. None: no bound known (the kernel's default size).
"""

from __future__ import annotations

from typing import Any, Mapping

from kubepy.api.quantity import QuantityError, quantity_to_int

Obj = dict[str, Any]


def _limit(container: Obj) -> int | None:
    value = ((container.get("resources") or {}).get("limits") or {}).get("memory")
    if value is None:
        return None
    try:
        return quantity_to_int(value)
    except QuantityError:
        return None


def pod_memory_limit(pod: Obj) -> int | None:
    """The pod's memory limit, or None when a container has none."""
    spec = pod.get("spec") or {}
    init = spec.get("initContainers") or []
    long_running = [c for c in init if c.get("restartPolicy") == "Always"]
    regular = [*(spec.get("containers") or []), *long_running]
    limits = [_limit(c) for c in regular]
    init_limits = [_limit(c) for c in init if c.get("restartPolicy") != "Always"]
    if not regular or any(v is None for v in limits + init_limits):
        return None
    total = sum(v for v in limits if v is not None)
    return max([total, *(v for v in init_limits if v is not None)])


def memory_size(pod: Obj, size_limit: Any, allocatable: Mapping[str, Any] | None) -> int | None:
    """The tmpfs size in bytes for a ``medium: Memory`` emptyDir of *pod*."""
    size: int | None = None
    if allocatable and allocatable.get("memory") is not None:
        size = quantity_to_int(allocatable["memory"])
    for bound in (pod_memory_limit(pod),
                  quantity_to_int(size_limit) if size_limit is not None else None):
        if bound is not None and bound > 0 and (size is None or bound <= size):
            size = bound
    return size
