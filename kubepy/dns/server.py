"""The cluster DNS server (the CoreDNS role): UDP and TCP listeners on one address and
port, answering cluster names from a ``ClusterIndex`` that informers on Services,
EndpointSlices (discovery.k8s.io/v1), Pods and Namespaces keep current, and forwarding
everything else to upstream resolvers.

Contract:

* ``new_dns_server(client, informers, *, listen, cluster_domain, upstreams)`` builds a
  ``DnsServer`` and registers its handlers on the shared factory's informers (the handlers
  update the index in place: a change is visible to the next query, no queue between).
  ``await server.start()`` starts the informers, waits for their first list, then binds;
  ``server.port`` is the bound port (``listen`` port 0 picks a free one, the same for UDP
  and TCP); ``await server.stop()`` closes the sockets (the factory belongs to the caller).
* ``await server.handle(query_bytes, max_size)`` is the whole request path: a response that
  does not fit ``max_size`` (UDP: 512 or the client's EDNS0 size, at most 4096) comes back
  truncated with TC set; TCP answers are never truncated below 65535 bytes. Undecodable
  queries with a readable header get FORMERR, others are dropped; opcodes other than QUERY
  get NOTIMP.
* Cluster answers are authoritative (AA); an ExternalName CNAME to a name outside the zone is
  followed through the forwarder, as CoreDNS does. Upstream failure is SERVFAIL.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from typing import Any

from kubepy.api.registry import Registry, ResourceType
from kubepy.client.factory import SharedInformerFactory
from kubepy.client.informer import Informer
from kubepy.dns import records, wire
from kubepy.dns.forward import Forwarder, Upstream, read_resolv_conf
from kubepy.dns.index import ClusterIndex
from kubepy.dns.wire import Message

log = logging.getLogger(__name__)
Obj = dict[str, Any]
_REG = Registry()
SERVICES: ResourceType = _REG.get("", "v1", "services")  # type: ignore[assignment]
ENDPOINT_SLICES: ResourceType = _REG.get("discovery.k8s.io", "v1", "endpointslices")  # type: ignore[assignment]
PODS: ResourceType = _REG.get("", "v1", "pods")  # type: ignore[assignment]
NAMESPACES: ResourceType = _REG.get("", "v1", "namespaces")  # type: ignore[assignment]
UDP_MAX_PAYLOAD = 4096
NEEDS_UPSTREAM = object()  # handle_local: the answer needs the forwarder
TCP_IDLE_TIMEOUT = 10.0


def _watch(inf: Informer, put: Any, delete: Any) -> None:
    inf.add_event_handler(on_add=put, on_update=lambda _old, new: put(new), on_delete=delete)


class _UdpServer(asyncio.DatagramProtocol):
    def __init__(self, server: "DnsServer") -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: set[asyncio.Future[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        out = self.server.handle_local(data, None)
        if out is not NEEDS_UPSTREAM:
            if out is not None and self.transport is not None:
                self.transport.sendto(out, addr)  # type: ignore[arg-type]
            return
        task = asyncio.ensure_future(self._reply(data, addr))
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def _reply(self, data: bytes, addr: Any) -> None:
        out = await self.server.handle(data, None)
        if out is not None and self.transport is not None:
            self.transport.sendto(out, addr)


class DnsServer:
    def __init__(self, informers: SharedInformerFactory, *, listen: tuple[str, int],
                 cluster_domain: str = "cluster.local", upstreams: list[Upstream],
                 ttl: int = records.DEFAULT_TTL, dns_ips: tuple[str, ...] = ()) -> None:
        self.informers = informers
        self.listen = listen
        self.zone = wire.canonical(cluster_domain)
        self.ttl = ttl
        self.dns_ips = dns_ips
        self.index = ClusterIndex()
        self.forwarder = Forwarder(upstreams, clock=informers.clock)
        self.port = listen[1]
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.base_events.Server | None = None
        self._tcp_conns: set[asyncio.Task[None]] = set()
        ix = self.index
        self._informers = [informers.informer(rt) for rt in
                           (SERVICES, ENDPOINT_SLICES, PODS, NAMESPACES)]
        svc, eps, pods, nss = self._informers
        _watch(svc, ix.put_service, ix.delete_service)
        _watch(eps, ix.put_endpoint_slice, ix.delete_endpoint_slice)
        _watch(pods, ix.put_pod, ix.delete_pod)
        _watch(nss, ix.put_namespace, ix.delete_namespace)

    # ------------------------------------------------------------------ lifecycle

    async def start(self, *, sync_timeout: float = 30.0) -> None:
        self.informers.start()
        if not await self.informers.wait_for_cache_sync(sync_timeout):
            log.warning("cluster DNS starting before its caches synced")
        loop = asyncio.get_running_loop()
        host, port = self.listen
        for _attempt in range(20):
            self._tcp = await asyncio.start_server(self._serve_tcp, host, port)
            bound = self._tcp.sockets[0].getsockname()[1]
            try:
                self._udp, _ = await loop.create_datagram_endpoint(
                    lambda: _UdpServer(self), local_addr=(host, bound))
            except OSError:
                self._tcp.close()
                await self._tcp.wait_closed()
                if port:
                    raise
                continue
            self.port = bound
            return
        raise OSError(f"no port free for both UDP and TCP on {host}")

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            for task in list(self._tcp_conns):
                task.cancel()
            await self._tcp.wait_closed()
            self._tcp = None

    # ------------------------------------------------------------------ transports

    async def _serve_tcp(self, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tcp_conns.add(task)
        try:
            while True:
                head = await asyncio.wait_for(reader.readexactly(2), TCP_IDLE_TIMEOUT)
                data = await reader.readexactly(struct.unpack("!H", head)[0])
                out = await self.handle(data, 65535)
                if out is None:
                    break
                writer.write(struct.pack("!H", len(out)) + out)
                await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError,
                asyncio.CancelledError):
            pass
        finally:
            if task is not None:
                self._tcp_conns.discard(task)
            writer.close()

    # ------------------------------------------------------------------ requests

    def handle_local(self, data: bytes, max_size: int | None) -> bytes | None | object:
        """The synchronous part of ``handle``: the response bytes (None: drop), or
        ``NEEDS_UPSTREAM`` when the answer needs the forwarder. Cluster names never wait
        for a task switch (the UDP listener answers them inside ``datagram_received``)."""
        try:
            query = wire.decode(data)
        except wire.WireError:
            mid = wire.decode_header_id(data)
            if mid is None or len(data) < 12:
                return None
            flags = wire.QR | wire.FORMERR | (struct.unpack_from("!H", data, 2)[0] & wire.RD)
            return wire.encode(Message(mid, flags))
        if query.has(wire.QR):
            return None
        try:
            response = self.respond_local(query)
        except Exception:  # a bug must not kill the listener: answer SERVFAIL
            log.exception("cluster DNS failed on %s", query.questions)
            response = wire.reply_to(query, wire.SERVFAIL)
        if response is None:
            return NEEDS_UPSTREAM
        return wire.encode(response, _max_size(query, max_size))

    async def handle(self, data: bytes, max_size: int | None) -> bytes | None:
        """One query in, one response out (None: drop). ``max_size`` None: UDP rules."""
        out = self.handle_local(data, max_size)
        if out is not NEEDS_UPSTREAM:
            return out  # type: ignore[return-value]
        query = wire.decode(data)
        try:
            response = await self.respond(query)
        except Exception:  # a bug must not kill the listener: answer SERVFAIL
            log.exception("cluster DNS failed on %s", query.questions)
            response = wire.reply_to(query, wire.SERVFAIL)
        return wire.encode(response, _max_size(query, max_size))

    def _cluster_answer(self, query: Message) -> tuple[Message, records.Answer] | None:
        q = query.questions[0]
        found = records.answer(self.index, q.name, q.qtype, zone=self.zone, ttl=self.ttl,
                               dns_ips=self.dns_ips) if q.qclass == wire.CLASS_IN else None
        if found is None:
            return None
        resp = wire.reply_to(query, found.rcode, authoritative=True)
        resp.answers = list(found.answers)
        resp.authority = list(found.authority)
        resp.additional = [*found.additional, *resp.additional]
        if found.chase and found.chase.endswith("." + self.zone):
            inner = records.answer(self.index, found.chase, q.qtype, zone=self.zone,
                                   ttl=self.ttl, dns_ips=self.dns_ips)
            if inner is not None and not inner.chase:
                resp.answers += inner.answers
        return resp, found

    def respond_local(self, query: Message) -> Message | None:
        """The response when no upstream is involved, else None."""
        if query.opcode != 0:
            return wire.reply_to(query, wire.NOTIMP)
        if len(query.questions) != 1:
            return wire.reply_to(query, wire.FORMERR)
        local = self._cluster_answer(query)
        if local is None:
            return None
        resp, found = local
        if found.chase and not found.chase.endswith("." + self.zone):
            return None  # an ExternalName outside the zone: followed upstream
        return resp

    async def respond(self, query: Message) -> Message:
        local = self.respond_local(query)
        if local is not None:
            return local
        q = query.questions[0]
        cluster = self._cluster_answer(query)
        if cluster is not None:
            resp, found = cluster
            assert found.chase
            chased = await self.forwarder.resolve(wire.Question(found.chase, q.qtype))
            if chased is not None:
                resp.answers += chased.answers
                if chased.rcode == wire.NXDOMAIN:
                    resp.flags = (resp.flags & ~0xF) | wire.NXDOMAIN
            return resp
        upstream = await self.forwarder.resolve(q, recursion_desired=query.has(wire.RD))
        if upstream is None:
            return wire.reply_to(query, wire.SERVFAIL)
        resp = wire.reply_to(query, upstream.rcode)
        resp.flags |= upstream.flags & (wire.AA | 0x0020)  # keep AA and AD from upstream
        resp.answers, resp.authority = upstream.answers, upstream.authority
        resp.additional = [*upstream.additional, *resp.additional]
        return resp


def _max_size(query: Message, max_size: int | None) -> int:
    return min(query.udp_payload_size, UDP_MAX_PAYLOAD) if max_size is None else max_size


def _listen_address(listen: str | tuple[str, int]) -> tuple[str, int]:
    if isinstance(listen, tuple):
        return listen
    host, _, port = listen.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port or 53)


def new_dns_server(client: Any, informers: SharedInformerFactory, *,
                   listen: str | tuple[str, int] = ("0.0.0.0", 53),
                   cluster_domain: str = "cluster.local",
                   upstreams: list[Upstream] | None = None, ttl: int = records.DEFAULT_TTL,
                   dns_ips: tuple[str, ...] = ()) -> DnsServer:
    """``client`` is the API client the informers use (kept for symmetry with the other
    components; all reads go through ``informers``). ``upstreams`` None: the nameservers of
    /etc/resolv.conf, minus the address we listen on."""
    address = _listen_address(listen)
    if upstreams is None:
        upstreams = [u for u in read_resolv_conf() if u != address]
    return DnsServer(informers, listen=address, cluster_domain=cluster_domain,
                     upstreams=upstreams, ttl=ttl, dns_ips=dns_ips)
