"""``new_scheduler``: the default-scheduler wired to shared informers — the entry point the
``kubepy server`` process (behind leader election) calls.

Informers used: pods, nodes, namespaces (namespaceSelector in affinity terms),
PersistentVolumeClaims, PersistentVolumes, StorageClasses (volume plugins),
PodDisruptionBudgets (preemption), and Services, ReplicationControllers, ReplicaSets and
StatefulSets (the selector behind default topology spreading).
"""

from __future__ import annotations

from typing import Any, Callable

from kubepy.api.labels import (LabelSelector, Operator, Requirement,
                               selector_from_label_selector)
from kubepy.api.registry import Registry, ResourceType
from kubepy.client.clock import Clock
from kubepy.client.factory import SharedInformerFactory
from kubepy.client.informer import Informer
from kubepy.client.rest import ApiClient
from kubepy.client.store import NAMESPACE_INDEX
from kubepy.errors import BadRequest
from kubepy.scheduler.binder import ClientWriter
from kubepy.scheduler.cache import Cache
from kubepy.scheduler.framework import Framework
from kubepy.scheduler.nodeinfo import PodInfo
from kubepy.scheduler.plugins import DEFAULT_WEIGHTS, VolumeListers, default_plugins
from kubepy.scheduler.queue import ClusterEvent, SchedulingQueue
from kubepy.scheduler.scheduler import SCHEDULER_NAME, Recorder, Scheduler

Obj = dict[str, Any]


def _rt(group: str, version: str, plural: str) -> ResourceType:
    rt = Registry().get(group, version, plural)
    assert rt is not None, plural
    return rt


def default_selector_from(services: Informer, rcs: Informer, rss: Informer,
                          sets: Informer) -> Callable[[PodInfo], LabelSelector | None]:
    """DefaultSelector: the union of the selectors of the Services, ReplicationControllers,
    ReplicaSets and StatefulSets that select the pod (None if none does)."""

    def by_ns(inf: Informer, ns: str) -> list[Obj]:
        try:
            return inf.store.by_index(NAMESPACE_INDEX, ns)
        except KeyError:
            return [o for o in inf.store.list() if o["metadata"].get("namespace") == ns]

    def select(pod: PodInfo) -> LabelSelector | None:
        labels = pod.labels
        if not labels:
            return None
        matched: dict[str, str] = {}
        reqs: list[Requirement] = []
        for inf in (services, rcs):
            for obj in by_ns(inf, pod.namespace):
                sel = (obj.get("spec") or {}).get("selector") or {}
                if sel and all(labels.get(k) == v for k, v in sel.items()):
                    matched.update(sel)
        for inf in (rss, sets):
            for obj in by_ns(inf, pod.namespace):
                try:
                    sel = selector_from_label_selector((obj.get("spec") or {}).get("selector"))
                except BadRequest:
                    continue
                if not sel.empty and not sel.nothing and sel.matches(labels):
                    reqs.extend(sel.requirements)
        reqs.extend(Requirement(k, Operator.EQUALS, (v,)) for k, v in matched.items())
        if not reqs:
            return None
        return LabelSelector(tuple(sorted(set(reqs), key=lambda r: (r.key, str(r)))))

    return select


def new_scheduler(client: ApiClient, informers: SharedInformerFactory, clock: Clock,
                  recorder_for: Callable[[str], Recorder], *,
                  percentage_of_nodes_to_score: int = 0) -> Scheduler:
    """The default scheduler on ``informers`` (not started: ``await scheduler.run()``)."""
    pods = informers.informer(_rt("", "v1", "pods"))
    nodes = informers.informer(_rt("", "v1", "nodes"))
    namespaces = informers.informer(_rt("", "v1", "namespaces"))
    pvcs = informers.informer(_rt("", "v1", "persistentvolumeclaims"))
    pvs = informers.informer(_rt("", "v1", "persistentvolumes"))
    classes = informers.informer(_rt("storage.k8s.io", "v1", "storageclasses"))
    pdbs = informers.informer(_rt("policy", "v1", "poddisruptionbudgets"))
    services = informers.informer(_rt("", "v1", "services"))
    rcs = informers.informer(_rt("", "v1", "replicationcontrollers"))
    rss = informers.informer(_rt("apps", "v1", "replicasets"))
    sets = informers.informer(_rt("apps", "v1", "statefulsets"))

    cache = Cache()
    queue = SchedulingQueue(clock=clock)
    listers = VolumeListers(
        pvc=lambda ns, name: pvcs.store.get_by_name(ns, name),
        pv=lambda name: pvs.store.get_by_name(None, name),
        storage_class=lambda name: classes.store.get_by_name(None, name),
        pvc_users=cache.pvc_users)
    framework = Framework(default_plugins(volume_listers=listers,
                                          default_selector=default_selector_from(
                                              services, rcs, rss, sets)),
                          DEFAULT_WEIGHTS, SCHEDULER_NAME, queue.nominated_pods)
    sched = Scheduler(cache=cache, queue=queue, framework=framework,
                      writer=ClientWriter(client), recorder=recorder_for(SCHEDULER_NAME),
                      clock=clock, pdbs=pdbs.store.list,
                      percentage_of_nodes_to_score=percentage_of_nodes_to_score)
    sched.watch(nodes, sched.on_node_add, sched.on_node_update, sched.on_node_delete)
    sched.watch(namespaces, sched.on_namespace, lambda old, new: sched.on_namespace(new),
                lambda ns: sched.on_namespace(ns, deleted=True))
    sched.watch(pods, sched.on_pod_add, sched.on_pod_update, sched.on_pod_delete)
    for inf, event in ((pvcs, ClusterEvent.PVC_CHANGE), (pvs, ClusterEvent.PV_CHANGE),
                       (classes, ClusterEvent.STORAGE_CLASS_CHANGE)):
        h = sched.on_event(event)
        sched.watch(inf, h, h, None)
    for inf in (pdbs, services, rcs, rss, sets):
        sched.watch(inf, None, None, None)  # only their caches are read
    return sched
