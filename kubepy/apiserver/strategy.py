"""Per-kind REST strategies: what create, update and delete do beyond the generic flow.

Mirrors the apiserver's ``rest.RESTCreateStrategy``/``RESTUpdateStrategy`` hooks:
- ``tracks_generation``: metadata.generation starts at 1 and is bumped whenever anything
  outside metadata and status changes (and when deletion starts);
- ``prepare_for_create``: reset status to what a new object reports;
- ``reset_status_on_update`` (kinds with a status subresource): a main-resource write keeps
  the stored status, a status write keeps everything but status;
- ``return_deleted_object``: DELETE answers with the object instead of a Status.
"""

from __future__ import annotations

import copy
from typing import Any

from kubepy.api.registry import ResourceType

Obj = dict[str, Any]

# (group, kind) of the kinds whose strategies set metadata.generation.
_GENERATION_KINDS = {
    ("apps", "Deployment"), ("apps", "ReplicaSet"), ("apps", "StatefulSet"),
    ("apps", "DaemonSet"), ("batch", "Job"), ("batch", "CronJob"),
    ("", "ReplicationController"), ("networking.k8s.io", "Ingress"),
    ("networking.k8s.io", "NetworkPolicy"), ("policy", "PodDisruptionBudget"),
    ("autoscaling", "HorizontalPodAutoscaler"), ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("scheduling.k8s.io", "PriorityClass"),
}

_RETURN_DELETED = {("", "Pod"), ("", "Service"), ("", "Namespace"), ("", "Node")}

# What status a freshly created object reports (the strategies' PrepareForCreate).
_INITIAL_STATUS: dict[tuple[str, str], Obj] = {
    ("", "Namespace"): {"phase": "Active"},
    ("", "PersistentVolumeClaim"): {"phase": "Pending"},
    ("", "PersistentVolume"): {"phase": "Pending"},
    ("", "Service"): {"loadBalancer": {}},
    ("apps", "Deployment"): {},
    ("apps", "ReplicaSet"): {"replicas": 0},
    ("apps", "StatefulSet"): {"replicas": 0, "availableReplicas": 0},
    ("apps", "DaemonSet"): {"currentNumberScheduled": 0, "numberMisscheduled": 0,
                            "desiredNumberScheduled": 0, "numberReady": 0},
    ("", "ReplicationController"): {"replicas": 0},
    ("batch", "Job"): {},
    ("batch", "CronJob"): {},
    ("networking.k8s.io", "Ingress"): {"loadBalancer": {}},
    ("policy", "PodDisruptionBudget"): {"disruptionsAllowed": 0, "currentHealthy": 0,
                                        "desiredHealthy": 0, "expectedPods": 0},
    ("autoscaling", "HorizontalPodAutoscaler"): {"currentReplicas": 0, "desiredReplicas": 0},
}


def tracks_generation(rt: ResourceType) -> bool:
    return (rt.group, rt.kind) in _GENERATION_KINDS or _is_custom(rt)


def _is_custom(rt: ResourceType) -> bool:
    return getattr(rt, "custom", False)


def has_status_subresource(rt: ResourceType) -> bool:
    return rt.subresource("status") is not None


def return_deleted_object(rt: ResourceType) -> bool:
    return (rt.group, rt.kind) in _RETURN_DELETED


def prepare_for_create(rt: ResourceType, obj: Obj) -> None:
    key = (rt.group, rt.kind)
    if key == ("", "Pod"):
        status = obj.get("status") or {}
        obj["status"] = {"phase": "Pending", "qosClass": pod_qos_class(obj.get("spec") or {})}
        if status.get("conditions"):
            obj["status"]["conditions"] = status["conditions"]
    elif key in _INITIAL_STATUS:
        obj["status"] = copy.deepcopy(_INITIAL_STATUS[key])
    elif key == ("", "Node"):
        pass  # the kubelet posts node status with the create
    elif has_status_subresource(rt) and "status" in obj and not _is_custom(rt):
        obj["status"] = {}
    elif _is_custom(rt) and has_status_subresource(rt):
        obj.pop("status", None)


def prepare_for_update(rt: ResourceType, new: Obj, old: Obj, subresource: str) -> None:
    """Keep what this kind of write may not change."""
    if not has_status_subresource(rt):
        return
    if subresource == "finalize":
        # namespaces/finalize: only spec.finalizers changes
        finalizers = (new.get("spec") or {}).get("finalizers") or []
        meta = new.get("metadata", {})
        kept = copy.deepcopy(old)
        kept.setdefault("spec", {})["finalizers"] = finalizers
        for field in ("resourceVersion", "managedFields"):
            if field in meta:
                kept["metadata"][field] = meta[field]
        new.clear()
        new.update(kept)
        return
    if subresource == "status":
        status = new.get("status")
        meta = new.get("metadata", {})
        kept = copy.deepcopy(old)
        if status is None:
            kept.pop("status", None)
        else:
            kept["status"] = status
        # status writes may change labels/annotations? No: the apiserver keeps old metadata
        # except managedFields and resourceVersion (used for the precondition).
        kept_meta = kept.setdefault("metadata", {})
        for field in ("resourceVersion", "managedFields"):
            if field in meta:
                kept_meta[field] = meta[field]
        new.clear()
        new.update(kept)
    elif subresource == "":
        if "status" in old:
            new["status"] = copy.deepcopy(old["status"])
        else:
            new.pop("status", None)


def spec_finalizers(rt: ResourceType, obj: Obj) -> list[str]:
    """A Namespace's spec.finalizers: while any remain, deleting it only marks it
    Terminating (the namespace controller empties them through /finalize)."""
    if (rt.group, rt.kind) != ("", "Namespace"):
        return []
    return list((obj.get("spec") or {}).get("finalizers") or [])


def spec_changed(new: Obj, old: Obj) -> bool:
    """Anything outside metadata/status/apiVersion/kind differs (the generation rule)."""
    skip = {"metadata", "status", "apiVersion", "kind"}
    keys = (set(new) | set(old)) - skip
    return any(new.get(k) != old.get(k) for k in keys)


def pod_qos_class(spec: Obj) -> str:
    """Guaranteed, Burstable or BestEffort, as the kubelet's qos.GetPodQOS decides."""
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    requests_seen = limits_seen = False
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        req = res.get("requests") or {}
        lim = res.get("limits") or {}
        if req:
            requests_seen = True
        if lim:
            limits_seen = True
        for name in ("cpu", "memory"):
            if name not in lim:
                guaranteed = False
            elif name in req and str(req[name]) != str(lim[name]):
                guaranteed = False
    if not requests_seen and not limits_seen:
        return "BestEffort"
    if guaranteed and limits_seen:
        return "Guaranteed"
    return "Burstable"
