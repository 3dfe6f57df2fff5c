"""The Endpoints controller: keeps one core/v1 Endpoints per Service that has a selector,
listing the Service's pods (``logic.desired_endpoints``), as kube-controller-manager's
endpoint controller does.

Keys are Service keys (``namespace/name``). A pod change enqueues every Service in its
namespace whose selector matches the pod before or after the change; a deleted Endpoints
of a live Service is recreated. A Service without a selector is left alone (its Endpoints
are someone else's: the ``kubernetes`` Service's belong to the apiserver); a deleted Service
takes its Endpoints with it, but only ones this controller wrote (labelled
``endpointslice.kubernetes.io/skip-mirror``): a hand-made Endpoints without a Service is
kept.
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
from kubepy.controllers.endpoints import logic

log = logging.getLogger("kubepy.controllers.endpoints")
Obj = dict[str, Any]
_REG = Registry()
PODS: ResourceType = _REG.get("", "v1", "pods")  # type: ignore[assignment]
SERVICES: ResourceType = _REG.get("", "v1", "services")  # type: ignore[assignment]
ENDPOINTS: ResourceType = _REG.get("", "v1", "endpoints")  # type: ignore[assignment]
COMPONENT = "endpoint-controller"


def services_for_pod(services: list[Obj], pods: list[Obj]) -> list[str]:
    """Keys of the Services (of one namespace) selecting any of ``pods`` (old and new)."""
    return sorted({meta_key(svc) for svc in services for pod in pods
                   if logic.selects(svc, pod)})


class EndpointsController(Controller):
    name = COMPONENT

    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        self.services = ctx.informers.informer(SERVICES)
        self.pods = ctx.informers.informer(PODS)
        self.endpoints = ctx.informers.informer(ENDPOINTS)
        super().__init__(name=COMPONENT, workers=ctx.workers(COMPONENT, 5), clock=ctx.clock,
                         informers=[self.services, self.pods, self.endpoints])
        self.recorder = ctx.recorder_for(COMPONENT)
        self.services.add_event_handler(*self.handlers())
        self.pods.add_event_handler(lambda pod: self._on_pods(pod),
                                    lambda old, new: self._on_pods(old, new),
                                    lambda pod: self._on_pods(pod))
        self.endpoints.add_event_handler(self._on_endpoints, None, self._on_endpoints)

    def _on_pods(self, *pods: Obj) -> None:
        ns = (pods[-1].get("metadata") or {}).get("namespace", "")
        for key in services_for_pod(self.services.store.by_index(NAMESPACE_INDEX, ns),
                                    list(pods)):
            self.enqueue_key(key)

    def _on_endpoints(self, ep: Obj) -> None:
        key = getattr(ep, "key", None) or meta_key(ep)
        labels = (ep.get("metadata") or {}).get("labels") or {}
        if key in self.services.store or labels.get(logic.SKIP_MIRROR_LABEL) == "true":
            self.enqueue_key(key)

    def _selected_pods(self, service: Obj) -> list[Obj]:
        ns = service["metadata"].get("namespace", "")
        return [p for p in self.pods.store.by_index(NAMESPACE_INDEX, ns)
                if logic.selects(service, p)]

    async def reconcile(self, key: str) -> float | None:
        namespace, name = split_key(key)
        service = self.services.store.get(key)
        existing = self.endpoints.store.get(key)
        if service is None:
            labels = ((existing or {}).get("metadata") or {}).get("labels") or {}
            if existing is not None and labels.get(logic.SKIP_MIRROR_LABEL) == "true":
                try:
                    await self.client.delete(ENDPOINTS, name, namespace)
                except errors.NotFound:
                    pass
            return None
        if logic.service_selector(service) is None:
            return None
        if existing is not None and (existing["metadata"].get("annotations") or {}).get(
                logic.LEADER_ANNOTATION):
            return None
        desired = logic.desired_endpoints(service, self._selected_pods(service), existing)
        if existing is not None and not logic.endpoints_need_update(existing, desired):
            return None
        try:
            if existing is None:
                await self.client.create(ENDPOINTS, desired, namespace)
            else:
                await self.client.update(ENDPOINTS, desired)
        except errors.AlreadyExists:
            raise  # the cache lags: retried with back-off once it has the object
        except errors.StatusError as e:
            if isinstance(e, (errors.Conflict, errors.NotFound)):
                raise
            if "being terminated" in e.message:
                return None  # the namespace is going away
            self.recorder.event(service, WARNING, "FailedToUpdateEndpoint",
                                f"Failed to update endpoint {key}: {e.message}")
            raise
        return None


def new_controllers(ctx: ControllerContext) -> list[Controller]:
    return [EndpointsController(ctx)]
