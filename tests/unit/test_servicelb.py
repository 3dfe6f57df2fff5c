"""servicelb's decisions as tables: which node addresses a LoadBalancer Service reports, and
when its status is written (and cleared)."""

from __future__ import annotations

from typing import Any

import pytest

from kubepy.controllers.servicelb import (desired_ingress, node_addresses, owned,
                                          status_update)

Obj = dict[str, Any]


def node(name: str, *addresses: tuple[str, str], ready: str | None = "True",
         deleting: bool = False) -> Obj:
    n: Obj = {"metadata": {"name": name},
              "status": {"addresses": [{"type": t, "address": a} for t, a in addresses],
                         "conditions": [] if ready is None else
                         [{"type": "MemoryPressure", "status": "False"},
                          {"type": "Ready", "status": ready}]}}
    if deleting:
        n["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    return n


def svc(type_: str = "LoadBalancer", ingress: list[Obj] | None = None, **spec: Any) -> Obj:
    s: Obj = {"metadata": {"name": "web", "namespace": "default", "resourceVersion": "7"},
              "spec": {"type": type_, "ports": [{"port": 80, "nodePort": 30080}], **spec},
              "status": {"loadBalancer": {}}}
    if ingress is not None:
        s["status"]["loadBalancer"]["ingress"] = ingress
    return s


@pytest.mark.parametrize("nodes, want", [
    ([], []),
    ([node("a", ("InternalIP", "10.0.0.2"), ("Hostname", "a"))], ["10.0.0.2"]),
    ([node("b", ("InternalIP", "10.0.0.10")), node("a", ("InternalIP", "10.0.0.9"))],
     ["10.0.0.9", "10.0.0.10"]),
    ([node("a", ("InternalIP", "10.0.0.2"), ready="False"),
      node("b", ("InternalIP", "10.0.0.3"), ready="Unknown"),
      node("c", ("InternalIP", "10.0.0.4"), ready=None)], []),
    ([node("a", ("InternalIP", "10.0.0.2"), deleting=True)], []),
    ([node("a", ("ExternalIP", "203.0.113.5"), ("InternalIP", "10.0.0.2"))], ["10.0.0.2"]),
    ([node("a", ("InternalIP", "10.0.0.2")), node("b", ("InternalIP", "10.0.0.2"))],
     ["10.0.0.2"]),
    ([node("a", ("InternalIP", "fd00::2"), ("InternalIP", "10.0.0.2"))],
     ["10.0.0.2", "fd00::2"]),
], ids=["none", "one", "numeric-order", "not-ready", "deleting", "internal-only",
        "duplicate", "ipv4-first"])
def test_node_addresses(nodes: list[Obj], want: list[str]) -> None:
    assert node_addresses(nodes) == want


@pytest.mark.parametrize("service, want", [
    (svc(), [{"ip": "10.0.0.2", "ipMode": "VIP"}]),
    (svc(loadBalancerClass="example.com/lb"), None),
    (svc("NodePort"), []),
    (svc("ClusterIP"), []),
    (svc("ExternalName"), []),
], ids=["loadbalancer", "other-class", "nodeport", "clusterip", "externalname"])
def test_desired_ingress(service: Obj, want: list[Obj] | None) -> None:
    assert desired_ingress(service, ["10.0.0.2"]) == want


@pytest.mark.parametrize("service, addresses, want", [
    (svc(), ["10.0.0.2"], {"ingress": [{"ip": "10.0.0.2", "ipMode": "VIP"}]}),
    (svc(ingress=[{"ip": "10.0.0.2", "ipMode": "VIP"}]), ["10.0.0.2"], None),
    (svc(ingress=[{"ip": "10.0.0.2"}]), ["10.0.0.2"], None),  # ipMode nil means VIP
    (svc(ingress=[{"ip": "10.0.0.2"}]), ["10.0.0.3"],
     {"ingress": [{"ip": "10.0.0.3", "ipMode": "VIP"}]}),
    (svc(ingress=[{"ip": "10.0.0.2"}]), [], {}),
    (svc(), [], None),
    (svc("ClusterIP", ingress=[{"ip": "10.0.0.2"}]), ["10.0.0.2"], {}),
    (svc("ClusterIP"), ["10.0.0.2"], None),
    (svc(ingress=[{"ip": "192.0.2.9"}], loadBalancerClass="x/y"), ["10.0.0.2"], None),
], ids=["set", "unchanged", "unchanged-nil-mode", "node-moved", "no-ready-node",
        "nothing-to-do", "type-changed-clears", "clusterip-untouched", "other-class-kept"])
def test_status_update(service: Obj, addresses: list[str], want: Obj | None) -> None:
    before = repr(service)
    new = status_update(service, addresses)
    assert repr(service) == before  # the cached object is never mutated
    if want is None:
        assert new is None
    else:
        assert new is not None and new["status"]["loadBalancer"] == want
        assert new["metadata"]["resourceVersion"] == "7"  # the update's precondition


@pytest.mark.parametrize("service, want", [
    (svc(), True), (svc(loadBalancerClass="x/y"), False), (svc("NodePort"), False)])
def test_owned(service: Obj, want: bool) -> None:
    assert owned(service) is want
