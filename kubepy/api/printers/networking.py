"""Rows of Ingress, IngressClass, NetworkPolicy (``networking.k8s.io``) and
EndpointSlice (``discovery.k8s.io``).

Long lists are cut to three entries with `` + N more...``: ingress hosts (``*`` when no
rule names a host), slice ports (``*`` for a port with neither number nor name) and slice
addresses (``<unset>`` when there are none).
"""

from __future__ import annotations

from datetime import datetime

from .common import Cell, Column, Doc, Obj, Printer, age, age_column, dig, \
    format_label_selector, list_with_more, name, name_column
from .core import load_balancer_addresses

INGRESS = (
    name_column(),
    Column("Class", "string", "The name of the IngressClass resource that should be used for "
           "additional configuration"),
    Column("Hosts", "string", "Hosts that incoming requests are matched against before the "
           "ingress rule"),
    Column("Address", "string", "Address is a list containing ingress points for the "
           "load-balancer"),
    Column("Ports", "string", "Ports of TLS configurations that open"),
    age_column(),
)


def ingress_hosts(rules: list[Obj] | None, limit: int = 3) -> str:
    rules = rules or []
    hosts: list[str] = []
    more = False
    for rule in rules:
        if len(hosts) == limit:
            more = True
        if not more and rule.get("host"):
            hosts.append(str(rule["host"]))
    if not hosts:
        return "*"
    text = ",".join(hosts)
    return f"{text} + {len(rules) - limit} more..." if more else text


def ingress_cells(obj: Obj, now: datetime) -> list[Cell]:
    spec: Obj = obj.get("spec") or {}
    class_name = spec.get("ingressClassName")
    return [
        name(obj), "<none>" if class_name is None else str(class_name),
        ingress_hosts(spec.get("rules")),
        load_balancer_addresses(dig(obj, "status", "loadBalancer")),
        "80, 443" if spec.get("tls") else "80", age(obj, now),
    ]


INGRESS_CLASS = (
    name_column(),
    Column("Controller", "string", "Controller that is responsible for handling this class"),
    Column("Parameters", "string", "A reference to a resource with additional parameters"),
    age_column(),
)


def ingress_class_cells(obj: Obj, now: datetime) -> list[Cell]:
    spec: Obj = obj.get("spec") or {}
    params = spec.get("parameters")
    text = "<none>"
    if params is not None:
        text = str(params.get("kind") or "")
        if params.get("apiGroup") is not None:
            text += "." + str(params["apiGroup"])
        text += "/" + str(params.get("name") or "")
    return [name(obj), str(spec.get("controller") or ""), text, age(obj, now)]


NETWORK_POLICY = (
    name_column(),
    Column("Pod-Selector", "string", Doc("networking.v1.NetworkPolicySpec", "podSelector")),
    age_column(),
)


def network_policy_cells(obj: Obj, now: datetime) -> list[Cell]:
    return [name(obj), format_label_selector(dig(obj, "spec", "podSelector")), age(obj, now)]


ENDPOINT_SLICE = (
    name_column(),
    Column("AddressType", "string", Doc("discovery.v1.EndpointSlice", "addressType")),
    Column("Ports", "string", Doc("discovery.v1.EndpointSlice", "ports")),
    Column("Endpoints", "string", Doc("discovery.v1.EndpointSlice", "endpoints")),
    age_column(),
)


def _slice_port(port: Obj) -> str:
    if port.get("port") is not None:
        return str(port["port"])
    if port.get("name") is not None:
        return str(port["name"])
    return "*"


def endpoint_slice_cells(obj: Obj, now: datetime) -> list[Cell]:
    ports = [_slice_port(p) for p in obj.get("ports") or []]
    addresses = [str(a) for e in obj.get("endpoints") or [] for a in e.get("addresses") or []]
    return [name(obj), str(obj.get("addressType") or ""), list_with_more(ports, len(ports)),
            list_with_more(addresses, len(addresses)), age(obj, now)]


PRINTERS = {
    ("networking.k8s.io", "Ingress"): Printer(INGRESS, ingress_cells),
    ("networking.k8s.io", "IngressClass"): Printer(INGRESS_CLASS, ingress_class_cells),
    ("networking.k8s.io", "NetworkPolicy"): Printer(NETWORK_POLICY, network_policy_cells),
    ("discovery.k8s.io", "EndpointSlice"): Printer(ENDPOINT_SLICE, endpoint_slice_cells),
}
