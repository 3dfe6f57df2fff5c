"""Which EndpointSlices a Service should have, and the fewest writes that get there: the
pure part of the EndpointSlice controller (upstream's ``k8s.io/endpointslice`` reconciler).

``pod_to_endpoint`` turns a pod into a discovery/v1 Endpoint (address of the slice's family,
conditions ready/serving/terminating, hostname, targetRef, nodeName, zone from the node's
``topology.kubernetes.io/zone``). ``desired_endpoints`` groups a Service's endpoints by
their resolved port set (a named ``targetPort`` may resolve differently per pod).
``plan_slices`` compares that with the existing slices of one address type and returns a
``SlicePlan``: slices to create (``generateName: <service>-``), update, and delete, such
that

* an existing slice keeps the endpoints it has that are still wanted (updated in place),
  loses the rest, and is written only if its endpoints or labels changed;
* new endpoints first fill slices already being updated, then (when fewer than
  ``max_per_slice`` remain) the unchanged slice they fit best, then new slices of at most
  ``max_per_slice`` endpoints;
* slices left empty are deleted, except that a Service with no endpoints keeps exactly one
  empty placeholder slice (no ports, no endpoints).

``plan_service`` does this for every address type the Service supports and deletes slices
of other types. Nothing given is mutated.
"""

from __future__ import annotations

import copy
import ipaddress
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from kubepy.controllers.endpoints import logic as eplogic

Obj = dict[str, Any]
PortKey = tuple[tuple[str, int, str, str], ...]
EndpointKey = tuple[tuple[str, ...], str]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
HEADLESS_LABEL = eplogic.HEADLESS_LABEL
ZONE_LABEL = "topology.kubernetes.io/zone"
MAX_ENDPOINTS_PER_SLICE = 100
RESERVED_LABELS = frozenset({SERVICE_NAME_LABEL, MANAGED_BY_LABEL, HEADLESS_LABEL})


@dataclass
class SlicePlan:
    create: list[Obj] = field(default_factory=list)
    update: list[Obj] = field(default_factory=list)
    delete: list[Obj] = field(default_factory=list)

    def extend(self, other: "SlicePlan") -> None:
        self.create += other.create
        self.update += other.update
        self.delete += other.delete

    @property
    def empty(self) -> bool:
        return not (self.create or self.update or self.delete)


# ---------------------------------------------------------------------------- endpoints

def supported_address_types(service: Mapping[str, Any]) -> list[str]:
    spec = service.get("spec") or {}
    families = [f for f in spec.get("ipFamilies") or [] if f in ("IPv4", "IPv6")]
    if families:
        return families
    family = eplogic.service_address_family(service)
    return [family] if family else ["IPv4"]


def pod_to_endpoint(pod: Mapping[str, Any], service: Mapping[str, Any],
                    node: Mapping[str, Any] | None, address_type: str) -> Obj | None:
    """The Endpoint for ``pod`` in a slice of ``address_type``, or None (no such IP)."""
    ip = eplogic.pod_ip_for_family(pod, address_type)
    if ip is None:
        return None
    publish = eplogic.publishes_not_ready(service)
    serving = publish or eplogic.is_pod_ready(pod)
    terminating = eplogic.is_terminating(pod)
    ep: Obj = {"addresses": [ip],
               "conditions": {"ready": publish or (serving and not terminating),
                              "serving": serving, "terminating": terminating}}
    hostname = eplogic.endpoint_hostname(pod, service)
    if hostname:
        ep["hostname"] = hostname
    ep["targetRef"] = eplogic.pod_reference(pod)
    node_name = (pod.get("spec") or {}).get("nodeName")
    if node_name:
        ep["nodeName"] = node_name
    zone = ((node or {}).get("metadata") or {}).get("labels", {}).get(ZONE_LABEL)
    if zone:
        ep["zone"] = zone
    return ep


def slice_port(service_port: Mapping[str, Any], port: int) -> Obj:
    out: Obj = {"name": service_port.get("name") or "", "port": port,
                "protocol": service_port.get("protocol") or "TCP"}
    if service_port.get("appProtocol"):
        out["appProtocol"] = service_port["appProtocol"]
    return out


def endpoint_ports(service: Mapping[str, Any], pod: Mapping[str, Any]) -> list[Obj]:
    ports = []
    for sp in (service.get("spec") or {}).get("ports") or []:
        port = eplogic.find_port(pod, sp)
        if port is not None:
            ports.append(slice_port(sp, port))
    return ports


def port_key(ports: Iterable[Mapping[str, Any]] | None) -> PortKey:
    return tuple(sorted((p.get("name") or "", int(p.get("port") or 0),
                         p.get("protocol") or "TCP", p.get("appProtocol") or "")
                        for p in ports or []))


def endpoint_key(ep: Mapping[str, Any]) -> EndpointKey:
    return (tuple(ep.get("addresses") or ()), (ep.get("targetRef") or {}).get("uid") or "")


@dataclass
class PortGroup:
    ports: list[Obj]
    endpoints: dict[EndpointKey, Obj]


def desired_endpoints(service: Mapping[str, Any], pods: Iterable[Mapping[str, Any]],
                      nodes: Mapping[str, Mapping[str, Any]], address_type: str
                      ) -> tuple[dict[PortKey, PortGroup], list[str]]:
    """(endpoints grouped by port set, names of pods skipped because their node is
    unknown: the caller retries them later)."""
    groups: dict[PortKey, PortGroup] = {}
    skipped: list[str] = []
    for pod in pods:
        if not eplogic.should_pod_be_in_endpoints(pod, True):
            continue
        node_name = (pod.get("spec") or {}).get("nodeName")
        node = nodes.get(node_name) if node_name else None
        if node_name and node is None:
            skipped.append((pod.get("metadata") or {}).get("name", ""))
            continue
        ep = pod_to_endpoint(pod, service, node, address_type)
        if ep is None:
            continue
        ports = endpoint_ports(service, pod)
        group = groups.setdefault(port_key(ports), PortGroup(ports, {}))
        group.endpoints[endpoint_key(ep)] = ep
    return groups, skipped


# ---------------------------------------------------------------------------- slices

def slice_labels(service: Mapping[str, Any]) -> dict[str, str]:
    meta = service.get("metadata") or {}
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k not in RESERVED_LABELS}
    labels[SERVICE_NAME_LABEL] = meta.get("name", "")
    labels[MANAGED_BY_LABEL] = CONTROLLER_NAME
    if eplogic.is_headless(service):
        labels[HEADLESS_LABEL] = ""
    return labels


def owner_reference(service: Mapping[str, Any]) -> Obj:
    meta = service.get("metadata") or {}
    return {"apiVersion": "v1", "kind": "Service", "name": meta.get("name"),
            "uid": meta.get("uid"), "controller": True, "blockOwnerDeletion": True}


def new_slice(service: Mapping[str, Any], ports: list[Obj], address_type: str,
              endpoints: list[Obj]) -> Obj:
    meta = service.get("metadata") or {}
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"generateName": f"{meta.get('name')}-",
                         "namespace": meta.get("namespace"),
                         "labels": slice_labels(service),
                         "ownerReferences": [owner_reference(service)]},
            "addressType": address_type, "endpoints": endpoints,
            "ports": copy.deepcopy(ports)}


def _ip_order(ep: Mapping[str, Any]) -> tuple[Any, ...]:
    addr = (ep.get("addresses") or [""])[0]
    try:
        ip = ipaddress.ip_address(addr)
        return (ip.version, int(ip), addr)
    except ValueError:
        return (0, 0, addr)


def _is_placeholder(sl: Mapping[str, Any]) -> bool:
    return not sl.get("endpoints") and not sl.get("ports")


def plan_slices(service: Mapping[str, Any], desired: Mapping[PortKey, PortGroup],
                existing: Iterable[Mapping[str, Any]], address_type: str,
                max_per_slice: int = MAX_ENDPOINTS_PER_SLICE) -> SlicePlan:
    """The writes that make ``existing`` (slices of ``address_type``) hold ``desired``."""
    plan = SlicePlan()
    labels = slice_labels(service)
    remaining = {pk: dict(group.endpoints) for pk, group in desired.items()}
    updated: dict[PortKey, list[Obj]] = {}
    unchanged: dict[PortKey, list[Mapping[str, Any]]] = {}
    existing = list(existing)
    for sl in existing:
        pk = port_key(sl.get("ports"))
        wanted = remaining.get(pk)
        if wanted is None:
            plan.delete.append(dict(sl))
            continue
        new_eps: list[Obj] = []
        changed = False
        for ep in sl.get("endpoints") or []:
            got = wanted.pop(endpoint_key(ep), None)
            if got is None:
                changed = True
                continue
            new_eps.append(got)
            changed = changed or got != ep
        labels_changed = ((sl.get("metadata") or {}).get("labels") or {}) != labels
        if changed and not new_eps:
            plan.delete.append(dict(sl))
        elif changed or labels_changed:
            copy_ = copy.deepcopy(dict(sl))
            copy_["metadata"]["labels"] = dict(labels)
            copy_["endpoints"] = new_eps
            updated.setdefault(pk, []).append(copy_)
        else:
            unchanged.setdefault(pk, []).append(sl)
    for pk, wanted in remaining.items():
        if not wanted:
            continue
        todo = sorted(wanted.values(), key=_ip_order)
        for sl in sorted(updated.get(pk, []), key=lambda s: -len(s["endpoints"])):
            room = max_per_slice - len(sl["endpoints"])
            if room > 0 and todo:
                sl["endpoints"] = sl["endpoints"] + todo[:room]
                todo = todo[room:]
        if todo and len(todo) < max_per_slice:
            fits = [s for s in unchanged.get(pk, [])
                    if len(s.get("endpoints") or []) + len(todo) <= max_per_slice]
            if fits:
                best = max(fits, key=lambda s: len(s.get("endpoints") or []))
                unchanged[pk].remove(best)
                filled = copy.deepcopy(dict(best))
                filled["endpoints"] = list(filled.get("endpoints") or []) + todo
                updated.setdefault(pk, []).append(filled)
                todo = []
        while todo:
            plan.create.append(new_slice(service, desired[pk].ports, address_type,
                                         todo[:max_per_slice]))
            todo = todo[max_per_slice:]
    for slices in updated.values():
        plan.update.extend(slices)
    if len(plan.delete) == len(existing) and not plan.create:
        placeholders = [s for s in plan.delete if _is_placeholder(s)
                        and ((s.get("metadata") or {}).get("labels") or {}) == labels]
        if placeholders:
            plan.delete = [s for s in plan.delete if s is not placeholders[0]]
        else:
            plan.create.append(new_slice(service, [], address_type, []))
    return plan


def plan_service(service: Mapping[str, Any], pods: Iterable[Mapping[str, Any]],
                 nodes: Mapping[str, Mapping[str, Any]], existing: Iterable[Mapping[str, Any]],
                 max_per_slice: int = MAX_ENDPOINTS_PER_SLICE) -> tuple[SlicePlan, list[str]]:
    """All writes for the Service's slices, and the pods skipped for an unknown node."""
    pods = list(pods)
    existing = list(existing)
    plan = SlicePlan()
    skipped: list[str] = []
    types = supported_address_types(service)
    for address_type in types:
        desired, missing = desired_endpoints(service, pods, nodes, address_type)
        skipped += [m for m in missing if m not in skipped]
        plan.extend(plan_slices(service, desired,
                                [s for s in existing if s.get("addressType") == address_type],
                                address_type, max_per_slice))
    plan.delete += [dict(s) for s in existing if s.get("addressType") not in types]
    return plan, skipped
