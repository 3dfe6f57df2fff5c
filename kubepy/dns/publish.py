"""Where the cluster DNS Service points: kube-system/kube-dns has no selector (the DNS server
is a process of ``kubepy server``, not a pod), so the server publishes its own address as the
Service's Endpoints and EndpointSlice, and the service proxy routes the cluster DNS IP to it.

Contract: ``endpoints(ip, port)`` and ``endpoint_slice(ip, port)`` are pure (the objects as
applied); ``publish(client, ip, port)`` server-side-applies both (idempotent; call it again
to repair). The Endpoints carry ``endpointslice.kubernetes.io/skip-mirror`` (the slice is
written here, not mirrored); the slice is managed by ``MANAGER``, so the EndpointSlice
controller (which only handles selector Services) leaves it alone. The metrics port is not
published: nothing serves it.
"""

from __future__ import annotations

from typing import Any

from kubepy.api.registry import Registry, ResourceType

Obj = dict[str, Any]
NAMESPACE, SERVICE = "kube-system", "kube-dns"
MANAGER = "kubepy-dns"
_REG = Registry()
ENDPOINTS: ResourceType = _REG.get("", "v1", "endpoints")  # type: ignore[assignment]
ENDPOINT_SLICES: ResourceType = _REG.get("discovery.k8s.io", "v1", "endpointslices")  # type: ignore[assignment]


def _ports(port: int) -> list[Obj]:
    return [{"name": "dns", "port": port, "protocol": "UDP"},
            {"name": "dns-tcp", "port": port, "protocol": "TCP"}]


def endpoints(ip: str, port: int, *, node_name: str = "") -> Obj:
    address: Obj = {"ip": ip}
    if node_name:
        address["nodeName"] = node_name
    return {"apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": SERVICE, "namespace": NAMESPACE,
                         "labels": {"k8s-app": "kube-dns",
                                    "endpointslice.kubernetes.io/skip-mirror": "true"}},
            "subsets": [{"addresses": [address], "ports": _ports(port)}]}


def endpoint_slice(ip: str, port: int, *, node_name: str = "") -> Obj:
    endpoint: Obj = {"addresses": [ip],
                     "conditions": {"ready": True, "serving": True, "terminating": False}}
    if node_name:
        endpoint["nodeName"] = node_name
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": SERVICE, "namespace": NAMESPACE,
                         "labels": {"kubernetes.io/service-name": SERVICE,
                                    "k8s-app": "kube-dns",
                                    "endpointslice.kubernetes.io/managed-by": MANAGER}},
            "addressType": "IPv4", "endpoints": [endpoint], "ports": _ports(port)}


async def publish(client: Any, ip: str, port: int, *, node_name: str = "") -> None:
    """Point kube-dns at ``ip:port`` (server-side apply, forced: we own these objects)."""
    await client.apply(ENDPOINTS, endpoints(ip, port, node_name=node_name),
                       field_manager=MANAGER, force=True)
    await client.apply(ENDPOINT_SLICES, endpoint_slice(ip, port, node_name=node_name),
                       field_manager=MANAGER, force=True)
