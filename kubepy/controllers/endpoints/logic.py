"""What a Service's endpoints are, from its pods: the pure part of the Endpoints controller
(and the pod/port rules the EndpointSlice controller shares), after upstream's
``pkg/controller/endpoint`` and ``k8s.io/endpointslice/util``.

* ``should_pod_be_in_endpoints(pod, include_terminating)``: the pod has an IP, is not
  terminal (Succeeded/Failed), and is not being deleted unless ``include_terminating``;
* ``find_port(pod, service_port)``: the container port a Service port's ``targetPort``
  names (a name is looked up in the pod's containers with the same protocol; a number is
  used as is; unset means ``port``) or None;
* ``endpoint_hostname(pod, service)``: ``spec.hostname`` when the pod's subdomain is the
  Service's name (StatefulSet network identity), else None;
* ``desired_subsets(service, pods)``: ``Endpoints.subsets`` repacked as upstream does (one
  subset per distinct resolved port set, ready pods in ``addresses``, unready ones in
  ``notReadyAddresses``, every pod ready when ``publishNotReadyAddresses``), truncated to
  ``MAX_ENDPOINTS_CAPACITY`` addresses;
* ``desired_endpoints(service, pods, existing)``: the whole Endpoints object, and
  ``endpoints_need_update(existing, desired)``.

Inputs are plain API dicts; nothing is mutated.
"""

from __future__ import annotations

import copy
import ipaddress
from typing import Any, Iterable, Mapping

Obj = dict[str, Any]

HEADLESS_LABEL = "service.kubernetes.io/headless"
SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"
OVER_CAPACITY_ANNOTATION = "endpoints.kubernetes.io/over-capacity"
LAST_CHANGE_TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"
TOLERATE_UNREADY_ANNOTATION = "service.alpha.kubernetes.io/tolerate-unready-endpoints"
MAX_ENDPOINTS_CAPACITY = 1000


# ---------------------------------------------------------------------------- services

def service_selector(service: Mapping[str, Any]) -> dict[str, str] | None:
    """The Service's selector, or None for a Service without one (left alone)."""
    sel = (service.get("spec") or {}).get("selector")
    return dict(sel) if sel else None


def is_headless(service: Mapping[str, Any]) -> bool:
    return (service.get("spec") or {}).get("clusterIP") == "None"


def publishes_not_ready(service: Mapping[str, Any]) -> bool:
    if (service.get("spec") or {}).get("publishNotReadyAddresses"):
        return True
    annotations = (service.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get(TOLERATE_UNREADY_ANNOTATION, "")).lower() == "true"


def selects(service: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    """The Service has a selector and the pod (in its namespace) matches it."""
    sel = service_selector(service)
    if sel is None:
        return False
    if (pod.get("metadata") or {}).get("namespace") != (service.get("metadata") or {}).get("namespace"):
        return False
    labels = (pod.get("metadata") or {}).get("labels") or {}
    return all(labels.get(k) == v for k, v in sel.items())


# ---------------------------------------------------------------------------- pods

def is_pod_ready(pod: Mapping[str, Any]) -> bool:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False


def is_terminating(pod: Mapping[str, Any]) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def pod_ips(pod: Mapping[str, Any]) -> list[str]:
    status = pod.get("status") or {}
    ips = [p.get("ip") for p in status.get("podIPs") or [] if p.get("ip")]
    if not ips and status.get("podIP"):
        ips = [status["podIP"]]
    return ips


def ip_family(ip: str) -> str | None:
    try:
        return "IPv6" if ipaddress.ip_address(ip).version == 6 else "IPv4"
    except ValueError:
        return None


def pod_ip_for_family(pod: Mapping[str, Any], family: str) -> str | None:
    return next((ip for ip in pod_ips(pod) if ip_family(ip) == family), None)


def service_address_family(service: Mapping[str, Any]) -> str | None:
    """The family of the Endpoints' addresses: the ClusterIP's, else the first of
    ipFamilies, else None (any: the pod's first IP)."""
    spec = service.get("spec") or {}
    cluster_ip = spec.get("clusterIP")
    if cluster_ip and cluster_ip != "None":
        family = ip_family(cluster_ip)
        if family:
            return family
    families = spec.get("ipFamilies") or []
    return families[0] if families else None


def should_pod_be_in_endpoints(pod: Mapping[str, Any], include_terminating: bool) -> bool:
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return False
    if not pod_ips(pod):
        return False
    return include_terminating or not is_terminating(pod)


def find_port(pod: Mapping[str, Any], service_port: Mapping[str, Any]) -> int | None:
    """The pod's port for ``service_port`` (podutil.FindPort), or None."""
    target = service_port.get("targetPort")
    if target is None or target == "" or target == 0:
        target = service_port.get("port")
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol") or "TCP"
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
                return int(port["containerPort"])
    return None


def endpoint_hostname(pod: Mapping[str, Any], service: Mapping[str, Any]) -> str | None:
    spec = pod.get("spec") or {}
    smeta = service.get("metadata") or {}
    if (spec.get("hostname") and spec.get("subdomain") == smeta.get("name")
            and (pod.get("metadata") or {}).get("namespace") == smeta.get("namespace")):
        return str(spec["hostname"])
    return None


def pod_reference(pod: Mapping[str, Any]) -> Obj:
    meta = pod.get("metadata") or {}
    return {"kind": "Pod", "namespace": meta.get("namespace"), "name": meta.get("name"),
            "uid": meta.get("uid")}


def endpoint_port(service_port: Mapping[str, Any], port: int) -> Obj:
    out: Obj = {}
    if service_port.get("name"):
        out["name"] = service_port["name"]
    out["port"] = port
    out["protocol"] = service_port.get("protocol") or "TCP"
    if service_port.get("appProtocol"):
        out["appProtocol"] = service_port["appProtocol"]
    return out


def resolved_ports(service: Mapping[str, Any], pod: Mapping[str, Any]) -> list[Obj]:
    """The EndpointPorts of ``pod`` for each Service port whose target it has."""
    ports = []
    for sp in (service.get("spec") or {}).get("ports") or []:
        port = find_port(pod, sp)
        if port is not None:
            ports.append(endpoint_port(sp, port))
    return ports


# ---------------------------------------------------------------------------- Endpoints

def endpoint_address(pod: Mapping[str, Any], service: Mapping[str, Any], ip: str) -> Obj:
    addr: Obj = {"ip": ip}
    hostname = endpoint_hostname(pod, service)
    if hostname:
        addr["hostname"] = hostname
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        addr["nodeName"] = node
    addr["targetRef"] = pod_reference(pod)
    return addr


def _port_key(ports: list[Obj]) -> tuple[tuple[str, int, str, str], ...]:
    return tuple(sorted((p.get("name", ""), p["port"], p["protocol"], p.get("appProtocol", ""))
                        for p in ports))


def _address_order(addr: Obj) -> tuple[Any, ...]:
    ip = addr.get("ip", "")
    try:
        parsed: Any = (ipaddress.ip_address(ip).version, int(ipaddress.ip_address(ip)))
    except ValueError:
        parsed = (0, 0)
    return (parsed, ip, (addr.get("targetRef") or {}).get("uid", ""))


def desired_subsets(service: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]
                    ) -> tuple[list[Obj], bool]:
    """(subsets, truncated). Pods are those the selector matches, in the namespace."""
    tolerate_unready = publishes_not_ready(service)
    spec = service.get("spec") or {}
    family = service_address_family(service)
    service_ports = spec.get("ports") or []
    groups: dict[tuple[Any, ...], tuple[list[Obj], list[Obj], list[Obj]]] = {}
    for pod in pods:
        if not should_pod_be_in_endpoints(pod, tolerate_unready):
            continue
        ip = pod_ip_for_family(pod, family) if family else pod_ips(pod)[0]
        if ip is None:
            continue
        addr = endpoint_address(pod, service, ip)
        ready = tolerate_unready or is_pod_ready(pod)
        if not service_ports:
            if not is_headless(service):
                continue
            ports: list[Obj] = []
        else:
            ports = resolved_ports(service, pod)
            if not ports:
                continue
        key = _port_key(ports)
        entry = groups.setdefault(key, ([], [], ports))
        (entry[0] if ready else entry[1]).append(addr)
    subsets: list[Obj] = []
    for key in sorted(groups):
        ready_addrs, unready_addrs, ports = groups[key]
        subset: Obj = {}
        if ready_addrs:
            subset["addresses"] = sorted(ready_addrs, key=_address_order)
        if unready_addrs:
            subset["notReadyAddresses"] = sorted(unready_addrs, key=_address_order)
        if ports:
            subset["ports"] = sorted(ports, key=lambda p: (p.get("name", ""), p["port"]))
        subsets.append(subset)
    return truncate_subsets(subsets)


def truncate_subsets(subsets: list[Obj], capacity: int = MAX_ENDPOINTS_CAPACITY
                     ) -> tuple[list[Obj], bool]:
    """At most ``capacity`` addresses (ready ones kept first, spread over the subsets in
    proportion to their size, as upstream's truncateEndpoints)."""
    total = sum(len(s.get("addresses") or []) + len(s.get("notReadyAddresses") or [])
                for s in subsets)
    if total <= capacity:
        return subsets, False
    out = copy.deepcopy(subsets)
    ready_total = sum(len(s.get("addresses") or []) for s in out)
    budget_ready = min(capacity, ready_total)
    budget_unready = capacity - budget_ready
    unready_total = total - ready_total
    for field, budget, size in (("addresses", budget_ready, ready_total),
                                ("notReadyAddresses", budget_unready, unready_total)):
        remaining = budget
        for i, subset in enumerate(out):
            addrs = subset.get(field) or []
            if not addrs:
                continue
            share = remaining if i == len(out) - 1 else min(
                remaining, round(budget * len(addrs) / size) if size else 0)
            keep = addrs[:max(0, share)]
            remaining -= len(keep)
            if keep:
                subset[field] = keep
            else:
                subset.pop(field, None)
    return out, True


def endpoints_labels(service: Mapping[str, Any]) -> dict[str, str]:
    labels = {k: v for k, v in ((service.get("metadata") or {}).get("labels") or {}).items()
              if k != HEADLESS_LABEL}
    labels[SKIP_MIRROR_LABEL] = "true"
    if is_headless(service):
        labels[HEADLESS_LABEL] = ""
    return labels


def desired_endpoints(service: Mapping[str, Any], pods: Iterable[Mapping[str, Any]],
                      existing: Mapping[str, Any] | None) -> Obj:
    """The Endpoints object the Service should have (existing metadata kept, subsets,
    labels and the over-capacity annotation replaced)."""
    smeta = service.get("metadata") or {}
    subsets, truncated = desired_subsets(service, pods)
    if existing is not None:
        out = copy.deepcopy(dict(existing))
    else:
        out = {"apiVersion": "v1", "kind": "Endpoints",
               "metadata": {"name": smeta.get("name"), "namespace": smeta.get("namespace")}}
    meta = out.setdefault("metadata", {})
    meta["labels"] = endpoints_labels(service)
    annotations = dict(meta.get("annotations") or {})
    if truncated:
        annotations[OVER_CAPACITY_ANNOTATION] = "truncated"
    else:
        annotations.pop(OVER_CAPACITY_ANNOTATION, None)
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    if subsets:
        out["subsets"] = subsets
    else:
        out.pop("subsets", None)
    return out


def endpoints_need_update(existing: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    em, dm = existing.get("metadata") or {}, desired.get("metadata") or {}
    return ((existing.get("subsets") or []) != (desired.get("subsets") or [])
            or (em.get("labels") or {}) != (dm.get("labels") or {})
            or (em.get("annotations") or {}).get(OVER_CAPACITY_ANNOTATION)
            != (dm.get("annotations") or {}).get(OVER_CAPACITY_ANNOTATION))
