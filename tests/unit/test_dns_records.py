"""Cluster DNS answers (CoreDNS kubernetes plugin rules) from plain Services, EndpointSlices
and Pods: one table per record kind, NXDOMAIN versus NODATA, index updates."""

from __future__ import annotations

from typing import Any

import pytest

from kubepy.dns import wire
from kubepy.dns.index import ClusterIndex
from kubepy.dns.records import Answer, answer, reverse_ip
from kubepy.dns.wire import Srv

Obj = dict[str, Any]
Z = "cluster.local."


def svc(name: str, ns: str = "default", *, ip: str | list[str] = "10.43.0.5",
        ports: list[Obj] | None = None, type_: str = "ClusterIP",
        external_name: str | None = None) -> Obj:
    ips = ip if isinstance(ip, list) else [ip]
    spec: Obj = {"type": type_, "clusterIP": ips[0], "clusterIPs": ips,
                 "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]
                 if ports is None else ports}
    if external_name:
        spec = {"type": "ExternalName", "externalName": external_name}
    return {"metadata": {"name": name, "namespace": ns}, "spec": spec}


def eps(service: str, ns: str = "default", *, endpoints: list[Obj],
        ports: list[Obj] | None = None, name: str | None = None) -> Obj:
    return {"metadata": {"name": name or f"{service}-abc", "namespace": ns,
                         "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv4", "endpoints": endpoints,
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]
            if ports is None else ports}


def ep(ip: str, *, hostname: str | None = None, ready: bool | None = True) -> Obj:
    out: Obj = {"addresses": [ip], "conditions": {} if ready is None else {"ready": ready}}
    if hostname:
        out["hostname"] = hostname
    return out


def pod(name: str, ip: str, ns: str = "default") -> Obj:
    return {"metadata": {"name": name, "namespace": ns},
            "status": {"podIP": ip, "podIPs": [{"ip": ip}]}}


INDEX = ClusterIndex.build(
    services=[
        svc("web"),
        svc("dual", ip=["10.43.0.6", "fd00::6"]),
        svc("multi", ip="10.43.0.7", ports=[{"name": "http", "port": 80, "protocol": "TCP"},
                                            {"name": "dns", "port": 53, "protocol": "UDP"},
                                            {"port": 9000, "protocol": "TCP"}]),
        svc("db", ip="None"),
        svc("empty", ip="None"),
        svc("noports", ip="None", ports=[]),
        svc("ext", external_name="example.com"),
        svc("extip", external_name="1.2.3.4"),
        svc("inner", external_name="web.default.svc.cluster.local"),
        svc("web", "other", ip="10.43.1.1"),
    ],
    endpoint_slices=[
        eps("db", endpoints=[ep("10.42.0.10", hostname="db-0"), ep("10.42.0.11", hostname="db-1"),
                             ep("10.42.0.12", ready=False), ep("10.42.0.13", ready=None)]),
        eps("noports", endpoints=[ep("10.42.0.20")], ports=[]),
        eps("web", endpoints=[ep("10.42.0.30")]),
    ],
    pods=[pod("lonely", "10.42.0.99"), pod("db-0", "10.42.0.10")],
    namespaces=["default", "other", "kube-system", "quiet"])


def ask(name: str, qtype: int, index: ClusterIndex = INDEX) -> Answer:
    found = answer(index, name, qtype, zone="cluster.local", dns_ips=("10.43.0.10",))
    assert found is not None
    return found


def data(a: Answer, rtype: int | None = None) -> list[Any]:
    return sorted((r.data for r in a.answers if rtype is None or r.rtype == rtype), key=str)


ADDRESS_CASES = [
    ("clusterip", "web.default.svc.cluster.local", wire.A, ["10.43.0.5"]),
    ("case-insensitive", "WEB.Default.SVC.cluster.LOCAL.", wire.A, ["10.43.0.5"]),
    ("other-namespace", "web.other.svc.cluster.local", wire.A, ["10.43.1.1"]),
    ("dual-stack-a", "dual.default.svc.cluster.local", wire.A, ["10.43.0.6"]),
    ("dual-stack-aaaa", "dual.default.svc.cluster.local", wire.AAAA, ["fd00::6"]),
    ("headless-ready-only", "db.default.svc.cluster.local", wire.A,
     ["10.42.0.10", "10.42.0.11", "10.42.0.13"]),
    ("headless-hostname", "db-0.db.default.svc.cluster.local", wire.A, ["10.42.0.10"]),
    ("headless-ip-dashes", "10-42-0-13.db.default.svc.cluster.local", wire.A, ["10.42.0.13"]),
    ("endpoint-of-clusterip-service", "10-42-0-30.web.default.svc.cluster.local", wire.A,
     ["10.42.0.30"]),
    ("headless-without-ports", "noports.default.svc.cluster.local", wire.A, ["10.42.0.20"]),
    ("srv-form-answers-a", "_http._tcp.web.default.svc.cluster.local", wire.A, ["10.43.0.5"]),
    ("pod-a", "10-42-0-99.default.pod.cluster.local", wire.A, ["10.42.0.99"]),
    ("pod-a-any-ip-insecure", "1-2-3-4.default.pod.cluster.local", wire.A, ["1.2.3.4"]),
    ("pod-aaaa", "fd00--1.default.pod.cluster.local", wire.AAAA, ["fd00::1"]),
    ("ns-dns", "ns.dns.cluster.local", wire.A, ["10.43.0.10"]),
]


@pytest.mark.parametrize("name, qtype, expected", [c[1:] for c in ADDRESS_CASES],
                         ids=[c[0] for c in ADDRESS_CASES])
def test_address_records(name: str, qtype: int, expected: list[str]) -> None:
    a = ask(name, qtype)
    assert (a.rcode, data(a, qtype)) == (wire.NOERROR, expected)
    assert all(r.ttl == 30 and r.name == wire.canonical(name) for r in a.answers)
    assert a.authority == []


SRV_CASES = [
    ("named-port", "_http._tcp.web.default.svc.cluster.local",
     [Srv(0, 100, 80, "web.default.svc.cluster.local.")],
     {("web.default.svc.cluster.local.", "10.43.0.5")}),
    ("udp-port", "_dns._udp.multi.default.svc.cluster.local",
     [Srv(0, 100, 53, "multi.default.svc.cluster.local.")],
     {("multi.default.svc.cluster.local.", "10.43.0.7")}),
    ("plain-service-all-ports", "multi.default.svc.cluster.local",
     [Srv(0, 33, 53, "multi.default.svc.cluster.local."),
      Srv(0, 33, 80, "multi.default.svc.cluster.local."),
      Srv(0, 33, 9000, "multi.default.svc.cluster.local.")],
     {("multi.default.svc.cluster.local.", "10.43.0.7")}),
    ("headless-endpoints", "_http._tcp.db.default.svc.cluster.local",
     [Srv(0, 33, 8080, "10-42-0-13.db.default.svc.cluster.local."),
      Srv(0, 33, 8080, "db-0.db.default.svc.cluster.local."),
      Srv(0, 33, 8080, "db-1.db.default.svc.cluster.local.")],
     {("db-0.db.default.svc.cluster.local.", "10.42.0.10"),
      ("db-1.db.default.svc.cluster.local.", "10.42.0.11"),
      ("10-42-0-13.db.default.svc.cluster.local.", "10.42.0.13")}),
]


@pytest.mark.parametrize("name, expected, extra", [c[1:] for c in SRV_CASES],
                         ids=[c[0] for c in SRV_CASES])
def test_srv_records(name: str, expected: list[Srv], extra: set[tuple[str, str]]) -> None:
    a = ask(name, wire.SRV)
    assert a.rcode == wire.NOERROR
    assert sorted((r.data for r in a.answers), key=lambda s: (s.target, s.port)) == \
        sorted(expected, key=lambda s: (s.target, s.port))
    assert {(r.name, r.data) for r in a.additional} == extra


def test_external_name_is_a_cname_to_chase() -> None:
    a = ask("ext.default.svc.cluster.local", wire.A)
    assert [(r.rtype, r.data) for r in a.answers] == [(wire.CNAME, "example.com.")]
    assert a.chase == "example.com." and a.rcode == wire.NOERROR
    c = ask("ext.default.svc.cluster.local", wire.CNAME)
    assert data(c) == ["example.com."] and c.chase is None


PTR_CASES = [
    ("service-ip", "5.0.43.10.in-addr.arpa", ["web.default.svc.cluster.local."]),
    ("endpoint-hostname", "10.0.42.10.in-addr.arpa", ["db-0.db.default.svc.cluster.local."]),
    ("endpoint-ip-name", "30.0.42.10.in-addr.arpa", ["10-42-0-30.web.default.svc.cluster.local."]),
    ("plain-pod", "99.0.42.10.in-addr.arpa", ["10-42-0-99.default.pod.cluster.local."]),
    ("ipv6-service", "6." + "0." * 28 + "0.d.f.ip6.arpa",
     ["dual.default.svc.cluster.local."]),
]


@pytest.mark.parametrize("name, expected", [c[1:] for c in PTR_CASES],
                         ids=[c[0] for c in PTR_CASES])
def test_ptr_records(name: str, expected: list[str]) -> None:
    a = ask(name, wire.PTR)
    assert (a.rcode, data(a, wire.PTR)) == (wire.NOERROR, expected)


@pytest.mark.parametrize("name", ["8.8.8.8.in-addr.arpa", "1.2.3.in-addr.arpa",
                                  "example.com", "cluster.local.example.com", "local"],
                         ids=["unknown-ip", "partial-reverse", "outside", "suffix-lookalike",
                              "parent-of-zone"])
def test_names_not_ours_are_left_to_the_forwarder(name: str) -> None:
    assert answer(INDEX, name, wire.A, zone="cluster.local") is None


NEGATIVE_CASES = [
    # name, qtype, rcode
    ("no-such-service", "nope.default.svc.cluster.local", wire.A, wire.NXDOMAIN),
    ("no-such-namespace", "web.nope.svc.cluster.local", wire.A, wire.NXDOMAIN),
    ("namespace-only-exists", "quiet.svc.cluster.local", wire.A, wire.NOERROR),
    ("namespace-only-missing", "nope.svc.cluster.local", wire.A, wire.NXDOMAIN),
    ("svc-apex", "svc.cluster.local", wire.A, wire.NOERROR),
    ("pod-apex", "pod.cluster.local", wire.A, wire.NOERROR),
    ("zone-apex-a", "cluster.local", wire.A, wire.NOERROR),
    ("not-svc-or-pod", "web.default.foo.cluster.local", wire.A, wire.NXDOMAIN),
    ("too-long", "a.b._http._tcp.web.default.svc.cluster.local", wire.A, wire.NXDOMAIN),
    ("aaaa-on-ipv4-service", "web.default.svc.cluster.local", wire.AAAA, wire.NOERROR),
    ("txt-on-service", "web.default.svc.cluster.local", wire.TXT, wire.NOERROR),
    ("srv-unknown-port", "_nope._tcp.web.default.svc.cluster.local", wire.SRV, wire.NXDOMAIN),
    ("srv-wrong-proto", "_http._udp.web.default.svc.cluster.local", wire.SRV, wire.NXDOMAIN),
    ("headless-no-ready-endpoints", "empty.default.svc.cluster.local", wire.A, wire.NXDOMAIN),
    ("unknown-endpoint-host", "db-9.db.default.svc.cluster.local", wire.A, wire.NXDOMAIN),
    ("unready-endpoint-host", "10-42-0-12.db.default.svc.cluster.local", wire.A,
     wire.NXDOMAIN),
    ("endpoint-of-external-name", "x.ext.default.svc.cluster.local", wire.A, wire.NXDOMAIN),
    ("external-name-that-is-an-ip", "extip.default.svc.cluster.local", wire.A, wire.NXDOMAIN),
    ("pod-bad-ip", "not-an-ip.default.pod.cluster.local", wire.A, wire.NXDOMAIN),
    ("pod-missing-namespace", "1-2-3-4.nope.pod.cluster.local", wire.A, wire.NXDOMAIN),
    ("pod-srv", "1-2-3-4.default.pod.cluster.local", wire.SRV, wire.NOERROR),
    ("ptr-name-asked-for-a", "5.0.43.10.in-addr.arpa", wire.A, wire.NOERROR),
]


@pytest.mark.parametrize("name, qtype, rcode", [c[1:] for c in NEGATIVE_CASES],
                         ids=[c[0] for c in NEGATIVE_CASES])
def test_nxdomain_versus_nodata(name: str, qtype: int, rcode: int) -> None:
    a = ask(name, qtype)
    assert a.rcode == rcode and a.answers == []
    assert [(r.name, r.rtype) for r in a.authority] == [(Z, wire.SOA)]
    assert a.authority[0].data.mname == "ns.dns.cluster.local."


@pytest.mark.parametrize("qtype, rtype, expected", [
    (wire.SOA, wire.SOA, "ns.dns.cluster.local."),
    (wire.NS, wire.NS, "ns.dns.cluster.local."),
], ids=["soa", "ns"])
def test_zone_apex(qtype: int, rtype: int, expected: str) -> None:
    a = ask("cluster.local", qtype)
    assert [r.rtype for r in a.answers] == [rtype]
    got = a.answers[0].data
    assert (got.mname if rtype == wire.SOA else got) == expected


def test_dns_version_txt() -> None:
    assert data(ask("dns-version.cluster.local", wire.TXT)) == [(b"1.1.0",)]


def test_index_updates_follow_adds_changes_and_deletes() -> None:
    index = ClusterIndex.build(namespaces=["default"])
    name = "web.default.svc.cluster.local"
    assert ask(name, wire.A, index).rcode == wire.NXDOMAIN
    index.put_service(svc("web", ip="None"))
    assert ask(name, wire.A, index).rcode == wire.NXDOMAIN  # headless, no endpoints yet
    slice_ = eps("web", endpoints=[ep("10.42.0.1")])
    index.put_endpoint_slice(slice_)
    assert data(ask(name, wire.A, index)) == ["10.42.0.1"]
    index.put_endpoint_slice(eps("web", endpoints=[ep("10.42.0.1", ready=False),
                                                    ep("10.42.0.2")]))
    assert data(ask(name, wire.A, index)) == ["10.42.0.2"]
    index.put_endpoint_slice(eps("web", endpoints=[ep("10.42.0.3")], name="web-second"))
    assert data(ask(name, wire.A, index)) == ["10.42.0.2", "10.42.0.3"]
    index.delete_endpoint_slice(slice_)
    assert data(ask(name, wire.A, index)) == ["10.42.0.3"]
    serial = index.generation
    index.delete_service(svc("web"))
    assert ask(name, wire.A, index).rcode == wire.NXDOMAIN
    assert ask(name, wire.A, index).authority[0].data.serial > serial


@pytest.mark.parametrize("name, ip", [
    ("4.3.2.1.in-addr.arpa.", "1.2.3.4"),
    ("1." + "0." * 28 + "0.d.f.ip6.arpa", "fd00::1"),
    ("4.3.2.in-addr.arpa", None),
    ("x.3.2.1.in-addr.arpa", None),
], ids=["v4", "v6", "too-short", "not-numeric"])
def test_reverse_ip(name: str, ip: str | None) -> None:
    assert reverse_ip(name) == ip
