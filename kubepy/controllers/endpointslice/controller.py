"""The EndpointSlice controller: for every Service with a selector, keeps the
discovery.k8s.io/v1 EndpointSlices labelled ``kubernetes.io/service-name: <service>`` and
``endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io`` equal to what
``logic.plan_service`` wants, as kube-controller-manager's endpointslice controller does.

Keys are Service keys. Pods (old and new labels), Nodes (zone labels, late-registered
nodes) and this controller's own slices enqueue the Services they concern. Writes go in
upstream's order: creates, then updates, then deletes. Because the slice cache lags behind
those writes, ``SliceTracker`` remembers what was written and a reconcile that would read a
stale cache is retried instead (upstream's EndpointSliceTracker).
"""

from __future__ import annotations

import logging
from typing import Any

from kubepy import errors
from kubepy.api.registry import Registry, ResourceType
from kubepy.client.controller import Controller
from kubepy.client.events import WARNING
from kubepy.client.store import NAMESPACE_INDEX, meta_key, split_key
from kubepy.controllers.context import ControllerContext
from kubepy.controllers.endpoints import logic as eplogic
from kubepy.controllers.endpointslice import logic

log = logging.getLogger("kubepy.controllers.endpointslice")
Obj = dict[str, Any]
_REG = Registry()
PODS: ResourceType = _REG.get("", "v1", "pods")  # type: ignore[assignment]
NODES: ResourceType = _REG.get("", "v1", "nodes")  # type: ignore[assignment]
SERVICES: ResourceType = _REG.get("", "v1", "services")  # type: ignore[assignment]
ENDPOINTSLICES: ResourceType = _REG.get(  # type: ignore[assignment]
    "discovery.k8s.io", "v1", "endpointslices")
COMPONENT = "endpointslice-controller"
SERVICE_INDEX = "endpointslice-service"
POD_NODE_INDEX = "pod-node-name"
TRACKER_TTL = 60.0
SKIPPED_RETRY = 5.0


class StaleCache(Exception):
    """The slice cache has not yet seen this controller's last writes."""


def service_index(sl: Obj) -> list[str]:
    meta = sl.get("metadata") or {}
    name = (meta.get("labels") or {}).get(logic.SERVICE_NAME_LABEL)
    return [f"{meta.get('namespace')}/{name}"] if name else []


def pod_node_index(pod: Obj) -> list[str]:
    node = (pod.get("spec") or {}).get("nodeName")
    return [node] if node else []


def _rv(obj: Obj) -> int:
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


class SliceTracker:
    """Per Service: slice name -> (resourceVersion written, deleted?, when)."""

    def __init__(self, monotonic: Any) -> None:
        self._monotonic = monotonic
        self._by_service: dict[str, dict[str, tuple[int, bool, float]]] = {}

    def wrote(self, service_key: str, sl: Obj, *, deleted: bool = False) -> None:
        self._by_service.setdefault(service_key, {})[sl["metadata"]["name"]] = (
            _rv(sl), deleted, self._monotonic())

    def forget(self, service_key: str) -> None:
        self._by_service.pop(service_key, None)

    def stale(self, service_key: str, cached: dict[str, Obj]) -> bool:
        """True while a tracked write is not yet reflected in ``cached`` (name -> slice);
        entries seen (or older than TRACKER_TTL) are dropped."""
        entries = self._by_service.get(service_key)
        if not entries:
            return False
        now = self._monotonic()
        for name, (rv, deleted, when) in list(entries.items()):
            have = cached.get(name)
            if deleted:
                seen = have is None or _rv(have) > rv
            else:
                seen = have is not None and _rv(have) >= rv
            if seen or now - when > TRACKER_TTL:
                del entries[name]
        if not entries:
            del self._by_service[service_key]
            return False
        return True


class EndpointSliceController(Controller):
    name = COMPONENT

    def __init__(self, ctx: ControllerContext, *,
                 max_endpoints_per_slice: int = logic.MAX_ENDPOINTS_PER_SLICE) -> None:
        self.client = ctx.client
        self.max_per_slice = max_endpoints_per_slice
        self.services = ctx.informers.informer(SERVICES)
        self.pods = ctx.informers.informer(PODS)
        self.nodes = ctx.informers.informer(NODES)
        self.slices = ctx.informers.informer(ENDPOINTSLICES)
        self.slices.add_indexer(SERVICE_INDEX, service_index)
        self.pods.add_indexer(POD_NODE_INDEX, pod_node_index)
        super().__init__(name=COMPONENT, workers=ctx.workers(COMPONENT, 5), clock=ctx.clock,
                         informers=[self.services, self.pods, self.nodes, self.slices])
        self.recorder = ctx.recorder_for(COMPONENT)
        self.tracker = SliceTracker(self.clock.monotonic)
        self.services.add_event_handler(*self.handlers())
        self.pods.add_event_handler(lambda pod: self._on_pods(pod),
                                    lambda old, new: self._on_pods(old, new),
                                    lambda pod: self._on_pods(pod))
        self.nodes.add_event_handler(self._on_node, self._on_node_update, None)
        self.slices.add_event_handler(self._on_slice, lambda old, new: self._on_slice(new),
                                      self._on_slice)

    # -- handlers
    def _on_pods(self, *pods: Obj) -> None:
        ns = (pods[-1].get("metadata") or {}).get("namespace", "")
        keys = {meta_key(svc) for svc in self.services.store.by_index(NAMESPACE_INDEX, ns)
                for pod in pods if eplogic.selects(svc, pod)}
        for key in sorted(keys):
            self.enqueue_key(key)

    def _on_node(self, node: Obj) -> None:
        for pod in self.pods.store.by_index(POD_NODE_INDEX, node["metadata"]["name"]):
            self._on_pods(pod)

    def _on_node_update(self, old: Obj, new: Obj) -> None:
        old_zone = ((old.get("metadata") or {}).get("labels") or {}).get(logic.ZONE_LABEL)
        new_zone = ((new.get("metadata") or {}).get("labels") or {}).get(logic.ZONE_LABEL)
        if old_zone != new_zone:
            self._on_node(new)

    def _on_slice(self, sl: Obj) -> None:
        labels = (sl.get("metadata") or {}).get("labels") or {}
        if labels.get(logic.MANAGED_BY_LABEL) != logic.CONTROLLER_NAME:
            return
        for key in service_index(sl):
            self.enqueue_key(key)

    # -- reconcile
    def _managed_slices(self, key: str) -> list[Obj]:
        return [s for s in self.slices.store.by_index(SERVICE_INDEX, key)
                if ((s.get("metadata") or {}).get("labels") or {}).get(logic.MANAGED_BY_LABEL)
                == logic.CONTROLLER_NAME]

    async def reconcile(self, key: str) -> float | None:
        namespace, _ = split_key(key)
        service = self.services.store.get(key)
        if service is None or eplogic.service_selector(service) is None:
            # A deleted Service's slices go with it (ownerReferences, garbage collector).
            self.tracker.forget(key)
            return None
        existing = self._managed_slices(key)
        if self.tracker.stale(key, {s["metadata"]["name"]: s for s in existing}):
            raise StaleCache(f"EndpointSlice informer cache is out of date for {key}")
        pods = [p for p in self.pods.store.by_index(NAMESPACE_INDEX, namespace or "")
                if eplogic.selects(service, p)]
        nodes = {n["metadata"]["name"]: n for n in self.nodes.store.list()}
        plan, skipped = logic.plan_service(service, pods, nodes, existing, self.max_per_slice)
        try:
            for sl in plan.create:
                created = await self.client.create(ENDPOINTSLICES, sl, namespace)
                self.tracker.wrote(key, created)
            for sl in plan.update:
                updated = await self.client.update(ENDPOINTSLICES, sl)
                self.tracker.wrote(key, updated)
            for sl in plan.delete:
                try:
                    await self.client.delete(ENDPOINTSLICES, sl["metadata"]["name"], namespace)
                except errors.NotFound:
                    pass
                self.tracker.wrote(key, sl, deleted=True)
        except errors.StatusError as e:
            if "being terminated" in e.message:
                return None
            if not isinstance(e, (errors.Conflict, errors.NotFound, errors.AlreadyExists)):
                self.recorder.event(service, WARNING, "FailedToUpdateEndpointSlices",
                                    f"Error updating Endpoint Slices for Service {key}: "
                                    f"{e.message}")
            raise
        return SKIPPED_RETRY if skipped else None


def new_controllers(ctx: ControllerContext) -> list[Controller]:
    return [EndpointSliceController(ctx)]
