"""The service load balancer (k3s's servicelb, "Klipper", in its status part): a Service of
type LoadBalancer is reachable on the nodes themselves — the service proxy programs the
ingress IPs and node ports — so its ``status.loadBalancer.ingress`` lists the node
addresses, as k3s reports them.

Pure decisions: ``node_addresses`` (the InternalIP of every Ready node, sorted, without
duplicates) and ``desired_ingress`` (those for a LoadBalancer Service this controller owns —
one without ``spec.loadBalancerClass``, as k3s leaves classed ones to their controller —
and nothing for any other type, which clears an ingress left from an earlier type).
``ServiceLBController`` is keyed by service ``namespace/name``; a node change re-queues every
LoadBalancer Service and every Service that still shows an ingress. It writes
``services/status`` only when the ingress differs.
"""

from __future__ import annotations

import copy
import ipaddress
from typing import Any, Iterable, Mapping

from kubepy import errors
from kubepy.api.registry import Registry, ResourceType
from kubepy.client.controller import Controller
from kubepy.controllers.context import ControllerContext

Obj = dict[str, Any]
_REG = Registry()
SERVICES: ResourceType = _REG.get("", "v1", "services")  # type: ignore[assignment]
NODES: ResourceType = _REG.get("", "v1", "nodes")  # type: ignore[assignment]
NAME = "service-lb-controller"


# ---------------------------------------------------------------------------- pure

def node_ready(node: Mapping[str, Any]) -> bool:
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False


def node_addresses(nodes: Iterable[Mapping[str, Any]]) -> list[str]:
    """The InternalIPs of the Ready nodes, in address order, each once."""
    found: set[str] = set()
    for node in nodes:
        if not node_ready(node) or (node.get("metadata") or {}).get("deletionTimestamp"):
            continue
        for address in (node.get("status") or {}).get("addresses") or []:
            if address.get("type") == "InternalIP" and address.get("address"):
                found.add(address["address"])
    return sorted(found, key=lambda ip: (ipaddress.ip_address(ip).version,
                                         ipaddress.ip_address(ip)))


def owned(service: Mapping[str, Any]) -> bool:
    spec = service.get("spec") or {}
    return spec.get("type") == "LoadBalancer" and not spec.get("loadBalancerClass")


def desired_ingress(service: Mapping[str, Any], addresses: list[str]) -> list[Obj] | None:
    """The ingress list the Service should show; None: not ours to touch (another class)."""
    spec = service.get("spec") or {}
    if spec.get("type") == "LoadBalancer":
        if spec.get("loadBalancerClass"):
            return None
        return [{"ip": ip, "ipMode": "VIP"} for ip in addresses]
    return []


def _comparable(ingress: Iterable[Mapping[str, Any]]) -> list[tuple[str, str, str]]:
    return [(i.get("ip") or "", i.get("hostname") or "", i.get("ipMode") or "VIP")
            for i in ingress]


def status_update(service: Mapping[str, Any], addresses: list[str]) -> Obj | None:
    """The Service to send to ``services/status`` (a copy), or None when it is right."""
    want = desired_ingress(service, addresses)
    if want is None:
        return None
    have = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    if _comparable(have) == _comparable(want):
        return None
    new = copy.deepcopy(dict(service))
    new["status"] = {**(new.get("status") or {}),
                     "loadBalancer": {"ingress": want} if want else {}}
    return new


# ---------------------------------------------------------------------------- controller

def _address_inputs(node: Obj) -> tuple[Any, Any, Any]:
    """What ``node_addresses`` reads of a node: addresses, Ready, deletionTimestamp."""
    status = node.get("status") or {}
    ready = next((c.get("status") for c in status.get("conditions") or []
                  if c.get("type") == "Ready"), None)
    return (status.get("addresses"), ready,
            (node.get("metadata") or {}).get("deletionTimestamp"))


class ServiceLBController(Controller):
    name = NAME

    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        self.services = ctx.informers.informer(SERVICES)
        self.nodes = ctx.informers.informer(NODES)
        super().__init__(name=self.name, workers=ctx.workers(self.name, 1), clock=ctx.clock,
                         informers=[self.services, self.nodes])
        self.services.add_event_handler(self._on_service, lambda _old, new:
                                        self._on_service(new))
        self.nodes.add_event_handler(lambda _n: self._requeue_all(),
                                     lambda old, new: self._on_node_update(old, new),
                                     lambda _n: self._requeue_all())

    def _on_service(self, service: Obj) -> None:
        if owned(service) or ((service.get("status") or {}).get("loadBalancer") or {}).get(
                "ingress"):
            self.enqueue(service)

    def _on_node_update(self, old: Obj, new: Obj) -> None:
        # most node updates (status heartbeats, podCIDR) change neither the addresses nor
        # readiness: compare those raw fields before parsing any address
        if _address_inputs(old) == _address_inputs(new):
            return
        if node_addresses([old]) != node_addresses([new]):
            self._requeue_all()

    def _requeue_all(self) -> None:
        for service in self.services.store.list():
            self._on_service(service)

    async def reconcile(self, key: str) -> float | None:
        service = self.services.store.get(key)
        if service is None:
            return None
        new = status_update(service, node_addresses(self.nodes.store.list()))
        if new is None:
            return None
        try:
            await self.client.update_status(SERVICES, new)
        except errors.NotFound:
            pass  # deleted meanwhile
        # a Conflict is retried with back-off by the base class, from the fresher cache
        return None


def new_controllers(ctx: ControllerContext) -> list[Controller]:
    return [ServiceLBController(ctx)]
