"""Service ports and their endpoints, from Service and EndpointSlice objects (pure).

One ``ServicePort`` per (Service, spec.ports[i]) of every Service that has a cluster IP
(ExternalName and headless Services get no rules, as in kube-proxy). Endpoints come from the
EndpointSlices labelled ``kubernetes.io/service-name`` whose port has the service port's name
and protocol: a named targetPort is resolved there (the slice carries the number). Only IPv4
slices are read; an address seen in several slices counts once (the first, by slice name).
Conditions follow the EndpointSlice API: ``ready`` nil means ready, ``serving`` nil means
``ready``, ``terminating`` nil means false.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass, field
from typing import Any, Iterable

Obj = dict[str, Any]
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
DEFAULT_AFFINITY_TIMEOUT = 10800


@dataclass(frozen=True)
class Endpoint:
    ip: str
    port: int
    node_name: str | None = None
    ready: bool = True
    serving: bool = True
    terminating: bool = False

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"


@dataclass(frozen=True)
class ServicePort:
    namespace: str
    name: str
    port_name: str
    protocol: str  # TCP, UDP, SCTP
    cluster_ip: str
    port: int
    node_port: int = 0
    external_ips: tuple[str, ...] = ()
    load_balancer_ips: tuple[str, ...] = ()
    load_balancer_source_ranges: tuple[str, ...] = ()
    affinity_timeout: int | None = None  # seconds when sessionAffinity is ClientIP
    external_policy_local: bool = False  # externalTrafficPolicy: Local (and reachable)
    internal_policy_local: bool = False  # internalTrafficPolicy: Local
    endpoints: tuple[Endpoint, ...] = field(default=())

    @property
    def port_name_string(self) -> str:
        """kube-proxy's ServicePortName: ``ns/name`` plus ``:port`` when the port is named."""
        base = f"{self.namespace}/{self.name}"
        return f"{base}:{self.port_name}" if self.port_name else base

    @property
    def externally_accessible(self) -> bool:
        return bool(self.node_port or self.external_ips or self.load_balancer_ips)


@functools.lru_cache(maxsize=1 << 16)
def _ipv4_key(value: str) -> int | None:
    """The address as a number when ``value`` is an IPv4 address (cached: the same
    addresses come back on every sync), else None."""
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return None
    return int(ip) if ip.version == 4 else None


def _ipv4(value: str) -> bool:
    return _ipv4_key(value) is not None


def _endpoints_for(slices: Iterable[Obj], port_name: str, protocol: str) -> tuple[Endpoint, ...]:
    seen: dict[str, Endpoint] = {}
    for es in sorted(slices, key=lambda s: s.get("metadata", {}).get("name", "")):
        if es.get("addressType", "IPv4") != "IPv4":
            continue
        number = None
        for p in es.get("ports") or []:
            if (p.get("name") or "") == port_name and (p.get("protocol") or "TCP") == protocol:
                number = p.get("port")
        if not number:
            continue
        for ep in es.get("endpoints") or []:
            cond = ep.get("conditions") or {}
            ready = cond.get("ready") is not False
            serving = cond.get("serving") if cond.get("serving") is not None else ready
            terminating = bool(cond.get("terminating"))
            for ip in (ep.get("addresses") or [])[:1]:
                if _ipv4(ip) and f"{ip}:{number}" not in seen:
                    seen[f"{ip}:{number}"] = Endpoint(ip, int(number), ep.get("nodeName"),
                                                      ready, bool(serving), terminating)
    return tuple(sorted(seen.values(), key=lambda e: (_ipv4_key(e.ip), e.port)))


def service_ports(services: Iterable[Obj], endpoint_slices: Iterable[Obj]) -> list[ServicePort]:
    """Every proxied service port, sorted by namespace, name and port name."""
    slices_by_service: dict[tuple[str, str], list[Obj]] = {}
    for es in endpoint_slices:
        meta = es.get("metadata", {})
        svc = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
        if svc:
            slices_by_service.setdefault((meta.get("namespace", ""), svc), []).append(es)
    out: list[ServicePort] = []
    for svc in services:
        meta, spec = svc.get("metadata", {}), svc.get("spec") or {}
        cluster_ip = spec.get("clusterIP") or ""
        if spec.get("type") == "ExternalName" or not _ipv4(cluster_ip):
            continue
        ns, name = meta.get("namespace", ""), meta.get("name", "")
        affinity = None
        if spec.get("sessionAffinity") == "ClientIP":
            cfg = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {})
            affinity = int(cfg.get("timeoutSeconds") or DEFAULT_AFFINITY_TIMEOUT)
        lb_ips: tuple[str, ...] = ()
        if spec.get("type") == "LoadBalancer":
            lb_ips = tuple(i["ip"] for i in (svc.get("status", {}).get("loadBalancer", {})
                                                .get("ingress") or [])
                           if _ipv4(i.get("ip") or "") and i.get("ipMode") != "Proxy")
        external_ips = tuple(ip for ip in spec.get("externalIPs") or [] if _ipv4(ip))
        node_port_type = spec.get("type") in ("NodePort", "LoadBalancer")
        for p in spec.get("ports") or []:
            protocol = p.get("protocol") or "TCP"
            port_name = p.get("name") or ""
            node_port = int(p.get("nodePort") or 0) if node_port_type else 0
            accessible = bool(node_port or external_ips or lb_ips)
            out.append(ServicePort(
                namespace=ns, name=name, port_name=port_name, protocol=protocol,
                cluster_ip=cluster_ip, port=int(p["port"]), node_port=node_port,
                external_ips=external_ips, load_balancer_ips=lb_ips,
                load_balancer_source_ranges=tuple(spec.get("loadBalancerSourceRanges") or []),
                affinity_timeout=affinity,
                external_policy_local=accessible and spec.get("externalTrafficPolicy") == "Local",
                internal_policy_local=spec.get("internalTrafficPolicy") == "Local",
                endpoints=_endpoints_for(slices_by_service.get((ns, name), []), port_name,
                                         protocol)))
    return sorted(out, key=lambda sp: (sp.namespace, sp.name, sp.port_name, sp.protocol))


def split_supported(ports: Iterable[ServicePort], supported_protocols: frozenset[str]
                    ) -> tuple[list[ServicePort], list[ServicePort]]:
    """``(kept, left_out)``: the ports whose protocol the node's iptables can match, and the
    others. One rule iptables-restore cannot load fails the whole restore, so a protocol the
    kernel lacks (SCTP without its netfilter match) must be left out, not written."""
    kept: list[ServicePort] = []
    left_out: list[ServicePort] = []
    for sp in ports:
        (kept if sp.protocol in supported_protocols else left_out).append(sp)
    return kept, left_out
