"""The cluster DNS server in-process against a real ``kubepy server`` (controllers on, so
EndpointSlices of selector services come from the EndpointSlice controller): queries over
UDP and TCP to 127.0.0.1, upstream forwarding to a fake resolver on 127.0.0.1 (never the
real network), and a new/deleted Service showing up/going away within 1 s."""

from __future__ import annotations

import asyncio
import random
import uuid
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator

import pytest

from kubepy.api.registry import Registry
from kubepy.client.factory import SharedInformerFactory
from kubepy.client.rest import ApiClient
from kubepy.dns import wire
from kubepy.dns.forward import exchange_tcp, exchange_udp
from kubepy.dns.server import DnsServer, new_dns_server
from kubepy.dns.wire import Message, Question
from tests.conftest import ServerProcess, start_server

REG = Registry()
NS = REG.get("", "v1", "namespaces")
SVC = REG.get("", "v1", "services")
PODS = REG.get("", "v1", "pods")
EPS = REG.get("discovery.k8s.io", "v1", "endpointslices")
Obj = dict[str, Any]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = start_server(tmp_path_factory.mktemp("dns-live"), extra=["--disable-scheduler"])
    try:
        yield srv
    finally:
        srv.stop()


class FakeUpstream(asyncio.DatagramProtocol):
    """A resolver on 127.0.0.1 that knows only ``example.com`` (A 192.0.2.7, TTL 60) and
    answers NXDOMAIN for everything else; counts the queries it gets."""

    def __init__(self) -> None:
        self.queries: list[str] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        q = wire.decode(data)
        name = wire.canonical(q.questions[0].name)
        self.queries.append(name)
        known = name == "example.com."
        resp = wire.reply_to(q, wire.NOERROR if known else wire.NXDOMAIN)
        if known and q.questions[0].qtype == wire.A:
            resp.answers = [wire.Record("example.com.", wire.A, 60, "192.0.2.7")]
        assert self.transport is not None
        self.transport.sendto(wire.encode(resp), addr)


async def query(dns: DnsServer, name: str, qtype: int, *, tcp: bool = False,
                edns: int | None = None) -> Message:
    msg = Message(random.getrandbits(16), wire.RD, [Question(name, qtype)],
                  additional=[] if edns is None else [wire.make_opt(edns)])
    exchange = exchange_tcp if tcp else exchange_udp
    return wire.decode(await exchange(("127.0.0.1", dns.port), wire.encode(msg), 2.0))


def addresses(msg: Message) -> list[str]:
    return sorted(str(r.data) for r in msg.answers if r.rtype in (wire.A, wire.AAAA))


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float) -> float:
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not await check():
        if loop.time() - start > timeout:
            raise AssertionError(f"not within {timeout}s")
        await asyncio.sleep(0.02)
    return loop.time() - start


def ready_pod(name: str, labels: dict[str, str]) -> Obj:
    return {"metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "busybox",
                                     "ports": [{"name": "http", "containerPort": 8080}]}]}}


async def make_ready(client: ApiClient, ns: str, pod: Obj, ip: str) -> None:
    pod = await client.get(PODS, pod["metadata"]["name"], ns)
    now = "2024-01-01T00:00:00Z"
    pod["status"] = {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                     "hostIP": "10.250.0.1", "conditions": [
                         {"type": t, "status": "True", "lastTransitionTime": now}
                         for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")]}
    await client.update_status(PODS, pod)


def test_cluster_dns_live(server: ServerProcess) -> None:
    asyncio.run(asyncio.wait_for(_scenario(server.kubeconfig), 90))


async def _scenario(kubeconfig: Path) -> None:
    loop = asyncio.get_running_loop()
    upstream = FakeUpstream()
    up_transport, _ = await loop.create_datagram_endpoint(lambda: upstream,
                                                          local_addr=("127.0.0.1", 0))
    up_port = up_transport.get_extra_info("sockname")[1]
    ns = f"dns-{uuid.uuid4().hex[:6]}"
    client = ApiClient.from_kubeconfig(kubeconfig)
    informers = SharedInformerFactory(client)
    dns = new_dns_server(client, informers, listen=("127.0.0.1", 0),
                         cluster_domain="cluster.local", upstreams=[("127.0.0.1", up_port)])
    try:
        await client.create(NS, {"metadata": {"name": ns}})
        web = await client.create(SVC, {"metadata": {"name": "web"}, "spec": {
            "selector": {"app": "web"},
            "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}, ns)
        cluster_ip = web["spec"]["clusterIP"]
        await client.create(SVC, {"metadata": {"name": "db"}, "spec": {
            "clusterIP": "None", "ports": [{"name": "pg", "port": 5432}]}}, ns)
        await client.create(EPS, {
            "metadata": {"name": "db-manual", "labels": {
                "kubernetes.io/service-name": "db",
                "endpointslice.kubernetes.io/managed-by": "test"}},
            "addressType": "IPv4",
            "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
            "endpoints": [
                {"addresses": ["10.42.0.10"], "hostname": "db-0",
                 "conditions": {"ready": True}},
                {"addresses": ["10.42.0.11"], "hostname": "db-1",
                 "conditions": {"ready": True}},
                {"addresses": ["10.42.0.12"], "hostname": "db-2",
                 "conditions": {"ready": False}}]}, ns)
        await client.create(SVC, {"metadata": {"name": "ext"}, "spec": {
            "type": "ExternalName", "externalName": "example.com"}}, ns)
        for i in range(2):
            pod = await client.create(PODS, ready_pod(f"web-{i}", {"app": "web"}), ns)
            await make_ready(client, ns, pod, f"10.42.1.{i + 1}")
        await dns.start(sync_timeout=10)
        zone = f"{ns}.svc.cluster.local"

        # A for a ClusterIP service, over UDP and TCP; authoritative
        for tcp in (False, True):
            r = await query(dns, f"web.{zone}", wire.A, tcp=tcp)
            assert (r.rcode, addresses(r), r.has(wire.AA)) == (wire.NOERROR, [cluster_ip], True)

        # headless: the ready endpoint IPs; StatefulSet-style hostnames
        r = await query(dns, f"db.{zone}", wire.A)
        assert addresses(r) == ["10.42.0.10", "10.42.0.11"]
        r = await query(dns, f"db-1.db.{zone}", wire.A, tcp=True)
        assert addresses(r) == ["10.42.0.11"]

        # the EndpointSlice controller's slice of the selector service: the pods by IP name
        async def web_endpoints() -> bool:
            r = await query(dns, f"_http._tcp.web.{zone}", wire.SRV)
            return r.rcode == wire.NOERROR and len(r.answers) == 1
        await eventually(web_endpoints, 10)
        r = await query(dns, f"_http._tcp.web.{zone}", wire.SRV)
        assert [(s.data.port, s.data.target) for s in r.answers] == [(80, f"web.{zone}.")]
        assert addresses(Message(answers=r.additional)) == [cluster_ip]
        r = await query(dns, f"_pg._tcp.db.{zone}", wire.SRV, tcp=True)
        assert sorted((s.data.port, s.data.target) for s in r.answers) == [
            (5432, f"db-0.db.{zone}."), (5432, f"db-1.db.{zone}.")]

        async def pod_endpoint() -> bool:
            r = await query(dns, f"10-42-1-1.web.{zone}", wire.A)
            return addresses(r) == ["10.42.1.1"]
        await eventually(pod_endpoint, 10)

        # ExternalName: CNAME, followed upstream
        r = await query(dns, f"ext.{zone}", wire.A)
        assert [(x.rtype, x.data) for x in r.answers] == [
            (wire.CNAME, "example.com."), (wire.A, "192.0.2.7")]

        # PTR for the service IP and a headless endpoint
        rev = ".".join(reversed(cluster_ip.split("."))) + ".in-addr.arpa"
        r = await query(dns, rev, wire.PTR)
        assert [x.data for x in r.answers] == [f"web.{zone}."]
        r = await query(dns, "11.0.42.10.in-addr.arpa", wire.PTR)
        assert [x.data for x in r.answers] == [f"db-1.db.{zone}."]

        # NXDOMAIN versus NODATA, both with the SOA
        r = await query(dns, f"nope.{zone}", wire.A)
        assert (r.rcode, r.answers, [x.rtype for x in r.authority]) == (
            wire.NXDOMAIN, [], [wire.SOA])
        r = await query(dns, f"web.{zone}", wire.AAAA)
        assert (r.rcode, r.answers, [x.rtype for x in r.authority]) == (
            wire.NOERROR, [], [wire.SOA])

        # forwarding with a cache: example.com reached the upstream once (for the CNAME)
        for _ in range(2):
            r = await query(dns, "example.com", wire.A)
            assert addresses(r) == ["192.0.2.7"]
        r = await query(dns, "nothing.invalid", wire.A)
        assert r.rcode == wire.NXDOMAIN
        assert upstream.queries == ["example.com.", "nothing.invalid."]

        # truncation over UDP, full answer over TCP
        await client.create(EPS, {
            "metadata": {"name": "db-many", "labels": {
                "kubernetes.io/service-name": "db",
                "endpointslice.kubernetes.io/managed-by": "test"}},
            "addressType": "IPv4", "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
            "endpoints": [{"addresses": [f"10.42.2.{i}"], "conditions": {"ready": True}}
                          for i in range(1, 61)]}, ns)

        async def many() -> bool:
            return len((await query(dns, f"db.{zone}", wire.A, tcp=True)).answers) == 62
        await eventually(many, 5)
        r = await query(dns, f"db.{zone}", wire.A)
        assert r.has(wire.TC) and len(r.answers) < 62
        r = await query(dns, f"db.{zone}", wire.A, edns=4096)
        assert not r.has(wire.TC) and len(r.answers) == 62

        # a new service resolves, and a deleted one stops resolving, within 1 s
        new = await client.create(SVC, {"metadata": {"name": "fresh"}, "spec": {
            "ports": [{"port": 8080}]}}, ns)

        async def resolves() -> bool:
            return addresses(await query(dns, f"fresh.{zone}", wire.A)) == \
                [new["spec"]["clusterIP"]]
        assert await eventually(resolves, 1.0) < 1.0
        await client.delete(SVC, "fresh", ns)

        async def gone() -> bool:
            return (await query(dns, f"fresh.{zone}", wire.A)).rcode == wire.NXDOMAIN
        assert await eventually(gone, 1.0) < 1.0
    finally:
        await dns.stop()
        await informers.stop()
        try:
            await client.delete(NS, ns)
        finally:
            await client.close()
            up_transport.close()
