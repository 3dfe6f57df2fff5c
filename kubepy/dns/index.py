"""``ClusterIndex``: the in-memory view the cluster DNS answers from, keyed the way lookups
need it (service by namespace/name, endpoint slices by service, services, endpoints and pods
by IP, the set of namespaces).

Contract: no I/O. ``put_*``/``delete_*`` take the API objects (plain dicts, never mutated,
only read) and keep every map consistent; ``ClusterIndex.build(...)`` makes one from lists
(for tests and a first fill). Only what DNS needs is kept, as small ``Endpoint`` and
``ServiceEntry`` values, so a lookup never walks raw objects. EndpointSlice endpoints whose
``conditions.ready`` is false are left out (nil counts as ready, as in the API), and so are
FQDN slices; a slice without ports gets one unnamed sentinel port -1 (A records only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

Obj = dict[str, Any]
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
NO_PORT = -1


@dataclass(frozen=True)
class Port:
    name: str
    port: int
    protocol: str


@dataclass(frozen=True)
class Endpoint:
    ip: str
    hostname: str  # spec hostname, or "" (then the IP with dashes names it)
    ports: tuple[Port, ...]


@dataclass(frozen=True)
class ServiceEntry:
    namespace: str
    name: str
    type: str
    cluster_ips: tuple[str, ...]  # empty for headless and ExternalName
    headless: bool
    external_name: str
    ports: tuple[Port, ...]


def service_entry(svc: Obj) -> ServiceEntry:
    meta, spec = svc.get("metadata") or {}, svc.get("spec") or {}
    cluster_ip = spec.get("clusterIP") or ""
    ips = tuple(spec.get("clusterIPs") or ([cluster_ip] if cluster_ip else []))
    headless = cluster_ip == "None"
    stype = spec.get("type") or "ClusterIP"
    return ServiceEntry(
        meta.get("namespace") or "default", meta.get("name") or "", stype,
        () if headless or stype == "ExternalName" else tuple(i for i in ips if i != "None"),
        headless, (spec.get("externalName") or "") if stype == "ExternalName" else "",
        tuple(Port(p.get("name") or "", int(p.get("port") or 0), p.get("protocol") or "TCP")
              for p in spec.get("ports") or []))


def slice_endpoints(eps: Obj) -> tuple[Endpoint, ...]:
    if eps.get("addressType") == "FQDN":
        return ()
    ports = tuple(Port(p.get("name") or "", int(p["port"]) if p.get("port") is not None
                       else NO_PORT, p.get("protocol") or "TCP")
                  for p in eps.get("ports") or []) or (Port("", NO_PORT, ""),)
    out = []
    for ep in eps.get("endpoints") or []:
        if (ep.get("conditions") or {}).get("ready") is False:
            continue
        for ip in ep.get("addresses") or []:
            out.append(Endpoint(ip, ep.get("hostname") or "", ports))
    return tuple(out)


def _key(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return meta.get("namespace") or "default", meta.get("name") or ""


def _pod_ips(pod: Obj) -> list[str]:
    status = pod.get("status") or {}
    ips = [p.get("ip") for p in status.get("podIPs") or [] if p.get("ip")]
    if not ips and status.get("podIP"):
        ips = [status["podIP"]]
    return ips


@dataclass
class ClusterIndex:
    services: dict[tuple[str, str], ServiceEntry] = field(default_factory=dict)
    # (namespace, service) -> slice name -> ready endpoints
    slices: dict[tuple[str, str], dict[str, tuple[Endpoint, ...]]] = field(default_factory=dict)
    pods_by_ip: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    namespaces: set[str] = field(default_factory=set)
    generation: int = 0  # bumped on every change: the SOA serial
    _slice_owner: dict[tuple[str, str], str] = field(default_factory=dict)
    _pod_ips: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    @classmethod
    def build(cls, *, services: Iterable[Obj] = (), endpoint_slices: Iterable[Obj] = (),
              pods: Iterable[Obj] = (), namespaces: Iterable[str] | None = None
              ) -> "ClusterIndex":
        """``namespaces`` None: every namespace a given object lives in exists."""
        index = cls()
        for s in services:
            index.put_service(s)
        for e in endpoint_slices:
            index.put_endpoint_slice(e)
        for p in pods:
            index.put_pod(p)
        if namespaces is not None:
            index.namespaces = set(namespaces)
        else:
            index.namespaces |= {ns for ns, _ in index.services} | {ns for ns, _ in index.slices}
            index.namespaces |= {ns for ns, _ in index._pod_ips}
        return index

    # -------------------------------------------------------------- updates

    def put_service(self, svc: Obj) -> None:
        self.services[_key(svc)] = service_entry(svc)
        self.generation += 1

    def delete_service(self, svc: Obj) -> None:
        self.services.pop(_key(svc), None)
        self.generation += 1

    def put_endpoint_slice(self, eps: Obj) -> None:
        ns, name = _key(eps)
        self.delete_endpoint_slice(eps)
        service = ((eps.get("metadata") or {}).get("labels") or {}).get(SERVICE_NAME_LABEL)
        if not service:
            return
        self.slices.setdefault((ns, service), {})[name] = slice_endpoints(eps)
        self._slice_owner[(ns, name)] = service

    def delete_endpoint_slice(self, eps: Obj) -> None:
        ns, name = _key(eps)
        service = self._slice_owner.pop((ns, name), None)
        if service is not None:
            by_name = self.slices.get((ns, service), {})
            by_name.pop(name, None)
            if not by_name:
                self.slices.pop((ns, service), None)
        self.generation += 1

    def put_pod(self, pod: Obj) -> None:
        self.delete_pod(pod)
        key = _key(pod)
        ips = _pod_ips(pod)
        if ips:
            self._pod_ips[key] = ips
            for ip in ips:
                self.pods_by_ip.setdefault(ip, set()).add(key)

    def delete_pod(self, pod: Obj) -> None:
        key = _key(pod)
        for ip in self._pod_ips.pop(key, []):
            holders = self.pods_by_ip.get(ip, set())
            holders.discard(key)
            if not holders:
                self.pods_by_ip.pop(ip, None)

    def put_namespace(self, ns: Obj) -> None:
        self.namespaces.add(_key(ns)[1])

    def delete_namespace(self, ns: Obj) -> None:
        self.namespaces.discard(_key(ns)[1])

    # -------------------------------------------------------------- reads

    def endpoints(self, namespace: str, service: str) -> list[Endpoint]:
        by_name = self.slices.get((namespace, service)) or {}
        return [ep for name in sorted(by_name) for ep in by_name[name]]

    def services_with_ip(self, ip: str) -> list[ServiceEntry]:
        return [s for s in self.services.values() if ip in s.cluster_ips]

    def endpoints_with_ip(self, ip: str) -> list[tuple[str, str, Endpoint]]:
        return [(ns, svc, ep) for (ns, svc), by_name in self.slices.items()
                for eps in by_name.values() for ep in eps if ep.ip == ip]
