"""Builders shared by the scheduler's unit tests (tests/unit/test_sched_*.py): nodes, pods,
a cache holding them, the default framework, and one-shot decisions with preemption."""

from __future__ import annotations

import random
from typing import Any

from kubepy.scheduler.algorithm import Algorithm
from kubepy.scheduler.cache import Cache
from kubepy.scheduler.framework import CycleState, Framework
from kubepy.scheduler.messages import FitError
from kubepy.scheduler.nodeinfo import PodInfo
from kubepy.scheduler.plugins import DEFAULT_WEIGHTS, VolumeListers, default_plugins
from kubepy.scheduler.preemption import preempt

Obj = dict[str, Any]
_uid = iter(range(10**9))


def node(name: str, cpu: str = "4", memory: str = "32Gi", pods: str = "110", *,
         labels: dict[str, str] | None = None, taints: list[Obj] | None = None,
         unschedulable: bool = False, images: list[Obj] | None = None,
         extra: dict[str, str] | None = None) -> Obj:
    alloc = {"cpu": cpu, "memory": memory, "pods": pods, **(extra or {})}
    spec: Obj = {}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name,
                                                  **(labels or {})}},
            "spec": spec,
            "status": {"allocatable": alloc, "capacity": alloc, "images": images or [],
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def pod(name: str, cpu: str | None = None, memory: str | None = None, *,
        namespace: str = "default", labels: dict[str, str] | None = None,
        node_name: str = "", priority: int = 0, uid: str | None = None,
        extra_requests: dict[str, str] | None = None, start: str = "",
        **spec: Any) -> Obj:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    requests.update(extra_requests or {})
    container: Obj = {"name": "c", "image": spec.pop("image", "busybox")}
    if requests:
        container["resources"] = {"requests": requests}
    if "ports" in spec:
        container["ports"] = spec.pop("ports")
    s: Obj = {"containers": [container], "priority": priority, **spec}
    if node_name:
        s["nodeName"] = node_name
    p: Obj = {"apiVersion": "v1", "kind": "Pod",
              "metadata": {"name": name, "namespace": namespace,
                           "uid": uid or f"uid-{name}-{next(_uid)}",
                           "labels": labels or {}},
              "spec": s, "status": {"phase": "Running" if node_name else "Pending"}}
    if start:
        p["status"]["startTime"] = start
    return p


def cluster(nodes: list[Obj], pods: list[Obj] = (), *,  # type: ignore[assignment]
            namespaces: dict[str, dict[str, str]] | None = None) -> Cache:
    c = Cache()
    for n in nodes:
        c.add_node(n)
    for p in pods:
        c.add_pod(p)
    c.namespaces.update(namespaces or {"default": {"kubernetes.io/metadata.name": "default"}})
    return c


def framework(cache: Cache | None = None, listers: VolumeListers | None = None,
              nominated: dict[str, list[PodInfo]] | None = None) -> Framework:
    if listers is None:
        listers = VolumeListers(pvc_users=cache.pvc_users if cache else (lambda k: 0))
    noms = nominated or {}
    return Framework(default_plugins(volume_listers=listers), DEFAULT_WEIGHTS,
                     nominated_pods=lambda name: noms.get(name, []))


def decide(p: Obj, cache: Cache, *, fw: Framework | None = None, seed: int = 0,
           pdbs: list[Obj] | None = None) -> str:
    """The chosen node's name, or the FailedScheduling message (with preemption's part),
    or ``nominate:<node>:<victim,...>`` when preemption chose victims."""
    fw = fw or framework(cache)
    alg = Algorithm(fw, rng=random.Random(seed))
    pi = PodInfo(p)
    state = CycleState()
    try:
        return alg.schedule(pi, cache, state).node
    except FitError as fe:
        res = preempt(fw, state, pi, cache, fe, pdbs or [], rng=random.Random(seed))
        if res.candidate is not None:
            return (f"nominate:{res.candidate.node}:"
                    + ",".join(v.name for v in res.candidate.victims))
        if res.message:
            fe.post_filter_msg = "preemption: " + res.message
        return fe.message()
