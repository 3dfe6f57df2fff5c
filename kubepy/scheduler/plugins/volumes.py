"""Volume plugins for PersistentVolumeClaims.

VolumeRestrictions: a claim with the ReadWriteOncePod access mode already used by another
pod makes every node unschedulable for the new pod (preemption may free it).

VolumeBinding (the parts that need no provisioning): every claim must exist and not be
terminating; an unbound claim whose StorageClass binds Immediately blocks the pod ("pod has
unbound immediate PersistentVolumeClaims"); an unbound WaitForFirstConsumer claim is left
to bind after scheduling; a bound claim's PersistentVolume ``spec.nodeAffinity.required``
must select the node ("node(s) had volume node affinity conflict").

Lookups come in through ``VolumeListers`` (informer caches in the scheduler, dicts in
tests); the plugins do no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from kubepy.scheduler.framework import (SKIP, CycleState, Snapshot, Status, unresolvable,
                                        unschedulable)
from kubepy.scheduler.nodeinfo import NodeInfo, PodInfo
from kubepy.scheduler.plugins.helpers import node_selector_matches

RESTRICTIONS = "VolumeRestrictions"
BINDING = "VolumeBinding"
ERR_RWOP_CONFLICT = ("node has pod using PersistentVolumeClaim with the same name and "
                     "ReadWriteOncePod access mode")
ERR_UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"
ERR_NODE_CONFLICT = "node(s) had volume node affinity conflict"
ERR_PV_NOT_EXIST = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
_RESTRICTIONS_STATE = "PreFilter" + RESTRICTIONS
_BINDING_STATE = "PreFilter" + BINDING

Obj = dict[str, Any]


@dataclass
class VolumeListers:
    pvc: Callable[[str, str], Obj | None] = lambda namespace, name: None
    pv: Callable[[str], Obj | None] = lambda name: None
    storage_class: Callable[[str], Obj | None] = lambda name: None
    pvc_users: Callable[[str], int] = lambda key: 0  # "ns/claim" -> pods using it


def _not_found(name: str) -> Status:
    return unresolvable(f'persistentvolumeclaim "{name}" not found')


class VolumeRestrictions:
    name = RESTRICTIONS

    def __init__(self, listers: VolumeListers | None = None) -> None:
        self.listers = listers or VolumeListers()

    def pre_filter(self, state: CycleState, pod: PodInfo, snapshot: Snapshot) -> Status | None:
        if not pod.pvc_names:
            return SKIP
        conflicts = 0
        for claim in pod.pvc_names:
            pvc = self.listers.pvc(pod.namespace, claim)
            if pvc is None:
                return _not_found(claim)
            modes = (pvc.get("spec") or {}).get("accessModes") or []
            if "ReadWriteOncePod" in modes:
                conflicts += self.listers.pvc_users(f"{pod.namespace}/{claim}")
        state.write(_RESTRICTIONS_STATE, conflicts)
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if state.read(_RESTRICTIONS_STATE):
            return unschedulable(ERR_RWOP_CONFLICT)
        return None

    def remove_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        n = state.read(_RESTRICTIONS_STATE)
        if n and set(other.pvc_names) & set(pod.pvc_names) and other.namespace == pod.namespace:
            state.write(_RESTRICTIONS_STATE, n - 1)

    def add_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo) -> None:
        n = state.read(_RESTRICTIONS_STATE)
        if n is not None and set(other.pvc_names) & set(pod.pvc_names) \
                and other.namespace == pod.namespace:
            state.write(_RESTRICTIONS_STATE, n + 1)


class VolumeBinding:
    name = BINDING

    def __init__(self, listers: VolumeListers | None = None) -> None:
        self.listers = listers or VolumeListers()

    def pre_filter(self, state: CycleState, pod: PodInfo, snapshot: Snapshot) -> Status | None:
        if not pod.pvc_names:
            return SKIP
        bound_pvs: list[Obj | None] = []
        unbound_immediate = False
        for claim in pod.pvc_names:
            pvc = self.listers.pvc(pod.namespace, claim)
            if pvc is None:
                return _not_found(claim)
            if (pvc.get("metadata") or {}).get("deletionTimestamp"):
                return unresolvable(f'persistentvolumeclaim "{claim}" is being deleted')
            volume_name = (pvc.get("spec") or {}).get("volumeName")
            if volume_name:
                bound_pvs.append(self.listers.pv(volume_name))
                continue
            class_name = (pvc.get("spec") or {}).get("storageClassName") or ""
            sc = self.listers.storage_class(class_name) if class_name else None
            if (sc or {}).get("volumeBindingMode") != "WaitForFirstConsumer":
                unbound_immediate = True
        if unbound_immediate:
            return unresolvable(ERR_UNBOUND_IMMEDIATE)
        state.write(_BINDING_STATE, bound_pvs)
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        for pv in state.read(_BINDING_STATE) or []:
            if pv is None:
                return unresolvable(ERR_PV_NOT_EXIST)
            required = (((pv.get("spec") or {}).get("nodeAffinity")) or {}).get("required")
            if required is not None and not node_selector_matches(required, node.name, node.labels):
                return unresolvable(ERR_NODE_CONFLICT)
        return None
