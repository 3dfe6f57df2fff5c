"""Endpoints and EndpointSlice decisions: pod membership, port resolution, subsets, slice
planning (minimal churn, 100 per slice, placeholders, labels)."""

from __future__ import annotations

from typing import Any

import pytest

from kubepy.controllers.endpoints import logic as ep
from kubepy.controllers.endpoints.controller import services_for_pod
from kubepy.controllers.endpointslice import logic as es
from kubepy.controllers.endpointslice.controller import SliceTracker

Obj = dict[str, Any]


def svc(name: str = "web", *, selector: Obj | None = None, ports: list[Obj] | None = None,
        cluster_ip: str = "10.43.0.10", publish: bool = False, labels: Obj | None = None,
        families: list[str] | None = None) -> Obj:
    spec: Obj = {"selector": {"app": "web"} if selector is None else selector,
                 "clusterIP": cluster_ip,
                 "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]
                 if ports is None else ports}
    if publish:
        spec["publishNotReadyAddresses"] = True
    if families:
        spec["ipFamilies"] = families
    return {"metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}",
                         "labels": labels or {}}, "spec": spec}


def pod(name: str, ip: str | None = "10.42.0.5", *, ready: bool = True, phase: str = "Running",
        labels: Obj | None = None, node: str | None = "n1", deleting: bool = False,
        ports: list[Obj] | None = None, hostname: str | None = None,
        subdomain: str | None = None, ns: str = "ns") -> Obj:
    meta: Obj = {"name": name, "namespace": ns, "uid": f"uid-{name}",
                 "labels": {"app": "web"} if labels is None else labels}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    spec: Obj = {"containers": [{"name": "c", "ports": ports or []}]}
    if node:
        spec["nodeName"] = node
    if hostname:
        spec["hostname"] = hostname
    if subdomain:
        spec["subdomain"] = subdomain
    status: Obj = {"phase": phase, "conditions": [
        {"type": "Ready", "status": "True" if ready else "False"}]}
    if ip:
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
    return {"metadata": meta, "spec": spec, "status": status}


# ---------------------------------------------------------------------------- membership

@pytest.mark.parametrize("p, include_terminating, expected", [
    (pod("a"), False, True),
    (pod("a", ip=None), False, False),
    (pod("a", phase="Succeeded"), True, False),
    (pod("a", phase="Failed"), True, False),
    (pod("a", deleting=True), False, False),
    (pod("a", deleting=True), True, True),
    (pod("a", ready=False), False, True),
], ids=["running", "no-ip", "succeeded", "failed", "terminating", "terminating-included",
        "unready"])
def test_should_pod_be_in_endpoints(p: Obj, include_terminating: bool, expected: bool) -> None:
    assert ep.should_pod_be_in_endpoints(p, include_terminating) is expected


@pytest.mark.parametrize("target, protocol, ports, expected", [
    (8080, "TCP", [], 8080),
    (None, "TCP", [], 80),
    ("http-alt", "TCP", [{"name": "http-alt", "containerPort": 9090}], 9090),
    ("http-alt", "UDP", [{"name": "http-alt", "containerPort": 9090}], None),
    ("dns", "UDP", [{"name": "dns", "containerPort": 53, "protocol": "UDP"}], 53),
    ("missing", "TCP", [{"name": "http-alt", "containerPort": 9090}], None),
    ("8081", "TCP", [], 8081),
], ids=["number", "unset-is-port", "name", "name-wrong-protocol", "name-udp", "name-missing",
        "numeric-string"])
def test_find_port(target: Any, protocol: str, ports: list[Obj], expected: int | None) -> None:
    sp: Obj = {"port": 80, "protocol": protocol}
    if target is not None:
        sp["targetPort"] = target
    assert ep.find_port(pod("a", ports=ports), sp) == expected


@pytest.mark.parametrize("hostname, subdomain, expected", [
    ("web-0", "web", "web-0"), ("web-0", "other", None), (None, "web", None)],
    ids=["matching-subdomain", "other-subdomain", "no-hostname"])
def test_endpoint_hostname(hostname: str | None, subdomain: str, expected: str | None) -> None:
    assert ep.endpoint_hostname(pod("a", hostname=hostname, subdomain=subdomain), svc()) \
        == expected


def test_services_for_pod_uses_old_and_new_labels() -> None:
    services = [svc("web"), svc("api", selector={"app": "api"}), svc("bare", selector={})]
    old, new = pod("a", labels={"app": "web"}), pod("a", labels={"app": "api"})
    assert services_for_pod(services, [old, new]) == ["ns/api", "ns/web"]
    assert services_for_pod(services, [pod("a", labels={"app": "db"})]) == []


# ---------------------------------------------------------------------------- Endpoints

def addr(name: str, ip: str, node: str = "n1", **extra: Any) -> Obj:
    return {"ip": ip, **extra, "nodeName": node,
            "targetRef": {"kind": "Pod", "namespace": "ns", "name": name, "uid": f"uid-{name}"}}


HTTP = [{"name": "http", "port": 8080, "protocol": "TCP"}]

SUBSET_CASES = [
    ("ready-and-unready", svc(), [pod("b", "10.42.0.10"), pod("a", "10.42.0.9"),
                                  pod("c", "10.42.0.2", ready=False)],
     [{"addresses": [addr("a", "10.42.0.9"), addr("b", "10.42.0.10")],
       "notReadyAddresses": [addr("c", "10.42.0.2")], "ports": HTTP}]),
    ("publish-not-ready", svc(publish=True), [pod("c", "10.42.0.2", ready=False)],
     [{"addresses": [addr("c", "10.42.0.2")], "ports": HTTP}]),
    ("terminating-dropped", svc(), [pod("a", "10.42.0.9", deleting=True)], []),
    ("no-ip-dropped", svc(), [pod("a", None)], []),
    ("named-port-per-pod",
     svc(ports=[{"name": "web", "port": 80, "targetPort": "web", "protocol": "TCP"}]),
     [pod("a", "10.42.0.1", ports=[{"name": "web", "containerPort": 8080}]),
      pod("b", "10.42.0.2", ports=[{"name": "web", "containerPort": 9090}]),
      pod("c", "10.42.0.3", ports=[{"name": "other", "containerPort": 9090}])],
     [{"addresses": [addr("a", "10.42.0.1")],
       "ports": [{"name": "web", "port": 8080, "protocol": "TCP"}]},
      {"addresses": [addr("b", "10.42.0.2")],
       "ports": [{"name": "web", "port": 9090, "protocol": "TCP"}]}]),
    ("headless-without-ports", svc(cluster_ip="None", ports=[]),
     [pod("a", "10.42.0.1", hostname="a", subdomain="web")],
     [{"addresses": [addr("a", "10.42.0.1", hostname="a")]}]),
    ("clusterip-without-ports", svc(ports=[]), [pod("a", "10.42.0.1")], []),
    ("app-protocol",
     svc(ports=[{"name": "h2", "port": 80, "targetPort": 80, "protocol": "TCP",
                 "appProtocol": "kubernetes.io/h2c"}]), [pod("a", "10.42.0.1")],
     [{"addresses": [addr("a", "10.42.0.1")],
       "ports": [{"name": "h2", "port": 80, "protocol": "TCP",
                  "appProtocol": "kubernetes.io/h2c"}]}]),
]


@pytest.mark.parametrize("service, pods, expected", [c[1:] for c in SUBSET_CASES],
                         ids=[c[0] for c in SUBSET_CASES])
def test_desired_subsets(service: Obj, pods: list[Obj], expected: list[Obj]) -> None:
    subsets, truncated = ep.desired_subsets(service, pods)
    assert subsets == expected
    assert truncated is False


def test_truncation_keeps_ready_first_and_marks_over_capacity() -> None:
    pods = [pod(f"p{i}", f"10.42.{i // 250}.{i % 250 + 1}", ready=i % 2 == 0)
            for i in range(1200)]
    out = ep.desired_endpoints(svc(), pods, None)
    subset = out["subsets"][0]
    assert len(subset["addresses"]) == 600
    assert len(subset["notReadyAddresses"]) == 400
    assert out["metadata"]["annotations"][ep.OVER_CAPACITY_ANNOTATION] == "truncated"


def test_desired_endpoints_labels_and_update_check() -> None:
    service = svc(cluster_ip="None", labels={"team": "a", ep.HEADLESS_LABEL: "x"})
    out = ep.desired_endpoints(service, [pod("a", "10.42.0.1")], None)
    assert out["metadata"] == {"name": "web", "namespace": "ns", "labels": {
        "team": "a", ep.SKIP_MIRROR_LABEL: "true", ep.HEADLESS_LABEL: ""}}
    assert not ep.endpoints_need_update(out, ep.desired_endpoints(service,
                                                                  [pod("a", "10.42.0.1")], out))
    assert ep.endpoints_need_update(out, ep.desired_endpoints(
        service, [pod("a", "10.42.0.1", ready=False)], out))


# ---------------------------------------------------------------------------- slices

NODES = {"n1": {"metadata": {"name": "n1", "labels": {es.ZONE_LABEL: "zone-a"}}},
         "n2": {"metadata": {"name": "n2"}}}


def test_pod_to_endpoint_shape() -> None:
    p = pod("a", "10.42.0.1", hostname="a", subdomain="web")
    assert es.pod_to_endpoint(p, svc(), NODES["n1"], "IPv4") == {
        "addresses": ["10.42.0.1"],
        "conditions": {"ready": True, "serving": True, "terminating": False},
        "hostname": "a",
        "targetRef": {"kind": "Pod", "namespace": "ns", "name": "a", "uid": "uid-a"},
        "nodeName": "n1", "zone": "zone-a"}
    assert es.pod_to_endpoint(p, svc(), None, "IPv6") is None


@pytest.mark.parametrize("ready, deleting, publish, expected", [
    (True, False, False, {"ready": True, "serving": True, "terminating": False}),
    (False, False, False, {"ready": False, "serving": False, "terminating": False}),
    (True, True, False, {"ready": False, "serving": True, "terminating": True}),
    (False, True, True, {"ready": True, "serving": True, "terminating": True}),
], ids=["ready", "unready", "terminating", "publish-not-ready"])
def test_endpoint_conditions(ready: bool, deleting: bool, publish: bool, expected: Obj) -> None:
    p = pod("a", ready=ready, deleting=deleting)
    assert es.pod_to_endpoint(p, svc(publish=publish), None, "IPv4")["conditions"] == expected


def pods_n(n: int, start: int = 0) -> list[Obj]:
    return [pod(f"p{i}", f"10.42.{i // 200}.{i % 200 + 1}") for i in range(start, start + n)]


def apply(plan: es.SlicePlan, existing: list[Obj], counter: list[int]) -> list[Obj]:
    """What the store holds after the plan (names given to created slices)."""
    gone = {s["metadata"]["name"] for s in plan.delete}
    updated = {s["metadata"]["name"]: s for s in plan.update}
    out = [updated.get(s["metadata"]["name"], s) for s in existing
           if s["metadata"]["name"] not in gone]
    for s in plan.create:
        counter[0] += 1
        out.append({**s, "metadata": {**s["metadata"], "name": f"web-{counter[0]}"}})
    return out


def plan(service: Obj, pods: list[Obj], existing: list[Obj]) -> es.SlicePlan:
    result, skipped = es.plan_service(service, pods, NODES, existing)
    assert skipped == []
    return result


def test_slices_are_labelled_owned_and_chunked_by_100() -> None:
    service = svc(labels={"team": "a"})
    p = plan(service, pods_n(250), [])
    assert [len(s["endpoints"]) for s in p.create] == [100, 100, 50]
    sl = p.create[0]
    assert sl["metadata"]["generateName"] == "web-"
    assert sl["metadata"]["labels"] == {"team": "a", es.SERVICE_NAME_LABEL: "web",
                                        es.MANAGED_BY_LABEL: es.CONTROLLER_NAME}
    assert sl["metadata"]["ownerReferences"] == [{
        "apiVersion": "v1", "kind": "Service", "name": "web", "uid": "uid-web",
        "controller": True, "blockOwnerDeletion": True}]
    assert sl["addressType"] == "IPv4"
    assert sl["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]


CHURN_CASES = [
    # (id, initial pod count, change, expected (creates, updates, deletes))
    ("steady-state", 150, lambda ps: ps, (0, 0, 0)),
    ("one-removed", 150, lambda ps: ps[1:], (0, 1, 0)),
    ("one-added-fills-unchanged", 150, lambda ps: ps + pods_n(1, 500), (0, 1, 0)),
    ("one-readiness-change", 150,
     lambda ps: [pod("p3", "10.42.0.4", ready=False)] + [p for p in ps
                                                         if p["metadata"]["name"] != "p3"],
     (0, 1, 0)),
    ("all-gone-leaves-placeholder", 150, lambda ps: [], (1, 0, 2)),
    ("many-added", 100, lambda ps: ps + pods_n(150, 500), (2, 0, 0)),
]


@pytest.mark.parametrize("initial, change, expected", [c[1:] for c in CHURN_CASES],
                         ids=[c[0] for c in CHURN_CASES])
def test_slice_churn(initial: int, change: Any, expected: tuple[int, int, int]) -> None:
    service = svc()
    counter = [0]
    first = pods_n(initial)
    store = apply(plan(service, first, []), [], counter)
    p = plan(service, change(first), store)
    assert (len(p.create), len(p.update), len(p.delete)) == expected
    store = apply(p, store, counter)
    assert plan(service, change(first), store).empty  # converged
    wanted = {x["status"]["podIP"] for x in change(first)}
    have = [e["addresses"][0] for s in store for e in s["endpoints"]]
    assert sorted(have) == sorted(wanted)
    assert all(len(s["endpoints"]) <= 100 for s in store)


def test_placeholder_for_service_without_pods_is_stable() -> None:
    p = plan(svc(), [], [])
    assert len(p.create) == 1 and p.create[0]["endpoints"] == [] and p.create[0]["ports"] == []
    store = apply(p, [], [0])
    assert plan(svc(), [], store).empty
    filled = plan(svc(), pods_n(2), store)
    assert (len(filled.create), len(filled.delete)) == (1, 1)


def test_label_change_updates_slice() -> None:
    store = apply(plan(svc(), pods_n(3), []), [], [0])
    p = plan(svc(labels={"tier": "front"}), pods_n(3), store)
    assert len(p.update) == 1 and p.update[0]["metadata"]["labels"]["tier"] == "front"


def test_port_change_replaces_slice() -> None:
    store = apply(plan(svc(), pods_n(3), []), [], [0])
    other = svc(ports=[{"name": "http", "port": 80, "targetPort": 9000, "protocol": "TCP"}])
    p = plan(other, pods_n(3), store)
    assert (len(p.create), len(p.update), len(p.delete)) == (1, 0, 1)
    assert p.create[0]["ports"][0]["port"] == 9000


def test_pods_on_unknown_nodes_are_skipped_and_reported() -> None:
    result, skipped = es.plan_service(svc(), [pod("a", node="ghost"), pod("b", "10.42.0.6")],
                                      NODES, [])
    assert skipped == ["a"]
    assert [e["targetRef"]["name"] for e in result.create[0]["endpoints"]] == ["b"]


def test_dual_stack_and_unsupported_types() -> None:
    p6 = pod("a", "fd00::5")
    p6["status"]["podIPs"] = [{"ip": "10.42.0.5"}, {"ip": "fd00::5"}]
    result = plan(svc(families=["IPv4", "IPv6"]), [p6], [])
    assert sorted((s["addressType"], s["endpoints"][0]["addresses"][0]) for s in result.create) \
        == [("IPv4", "10.42.0.5"), ("IPv6", "fd00::5")]
    stale = {**result.create[1], "metadata": {**result.create[1]["metadata"], "name": "old"}}
    again = plan(svc(families=["IPv4"]), [p6], [stale])
    assert [s["metadata"]["name"] for s in again.delete] == ["old"]


@pytest.mark.parametrize("cached_rv, deleted, stale", [
    (None, False, True), (4, False, True), (5, False, False), (7, False, False),
    (5, True, True), (None, True, False)],
    ids=["created-not-seen", "older-seen", "same-seen", "newer-seen", "delete-not-seen",
         "delete-seen"])
def test_slice_tracker(cached_rv: int | None, deleted: bool, stale: bool) -> None:
    now = [0.0]
    tracker = SliceTracker(lambda: now[0])
    tracker.wrote("ns/web", {"metadata": {"name": "web-x", "resourceVersion": "5"}},
                  deleted=deleted)
    cached = {} if cached_rv is None else {
        "web-x": {"metadata": {"name": "web-x", "resourceVersion": str(cached_rv)}}}
    assert tracker.stale("ns/web", cached) is stale
    now[0] = 1000.0
    assert tracker.stale("ns/web", cached) is False  # expired
