"""Forwarding of names outside the cluster zone to upstream resolvers, with a small TTL
cache (CoreDNS's *forward* and *cache* plugins in miniature).

Contract: ``Forwarder.resolve(question) -> Message | None`` asks each upstream in turn
over UDP (retrying over TCP when the answer comes back truncated) and returns the first
answer, or None when none replied within ``timeout``. Answers are cached per (name, type,
class) for the smallest TTL in them (negative answers: the SOA minimum), at most
``max_ttl`` seconds, and served with TTLs counted down. ``parse_resolv_conf`` reads
nameservers from resolv.conf text (port 53).
"""

from __future__ import annotations

import asyncio
import random
import struct
from dataclasses import replace

from kubepy.client.clock import REAL_CLOCK, Clock
from kubepy.dns import wire
from kubepy.dns.wire import Message, Question

Upstream = tuple[str, int]
CACHE_MAX_TTL = 30
CACHE_MAX_ENTRIES = 10000


def parse_resolv_conf(text: str) -> list[Upstream]:
    out: list[Upstream] = []
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split(";", 1)[0].split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            out.append((fields[1].split("%", 1)[0], 53))
    return out


def read_resolv_conf(path: str = "/etc/resolv.conf") -> list[Upstream]:
    try:
        with open(path) as f:
            return parse_resolv_conf(f.read())
    except OSError:
        return []


class _UdpQuery(asyncio.DatagramProtocol):
    def __init__(self, want_id: int) -> None:
        self.want_id = want_id
        self.reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: object) -> None:
        if wire.decode_header_id(data) == self.want_id and not self.reply.done():
            self.reply.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.reply.done():
            self.reply.set_exception(exc)


async def exchange_udp(server: Upstream, query: bytes, timeout: float) -> bytes:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(
        lambda: _UdpQuery(wire.decode_header_id(query) or 0), remote_addr=server)
    try:
        transport.sendto(query)
        return await asyncio.wait_for(proto.reply, timeout)
    finally:
        transport.close()


async def exchange_tcp(server: Upstream, query: bytes, timeout: float) -> bytes:
    async def go() -> bytes:
        reader, writer = await asyncio.open_connection(*server)
        try:
            writer.write(struct.pack("!H", len(query)) + query)
            await writer.drain()
            (n,) = struct.unpack("!H", await reader.readexactly(2))
            return await reader.readexactly(n)
        finally:
            writer.close()
    return await asyncio.wait_for(go(), timeout)


def _cache_ttl(msg: Message) -> int:
    if msg.rcode not in (wire.NOERROR, wire.NXDOMAIN):
        return 0
    ttls = [r.ttl for r in msg.answers if r.rtype != wire.OPT]
    if not ttls:
        ttls = [min(r.ttl, r.data.minimum) for r in msg.authority
                if r.rtype == wire.SOA and isinstance(r.data, wire.Soa)]
    return min([CACHE_MAX_TTL, *ttls]) if ttls else 0


class Forwarder:
    def __init__(self, upstreams: list[Upstream], *, timeout: float = 2.0,
                 clock: Clock | None = None) -> None:
        self.upstreams = list(upstreams)
        self.timeout = timeout
        self.clock = clock or REAL_CLOCK
        self._cache: dict[tuple[str, int, int], tuple[float, float, Message]] = {}

    async def resolve(self, q: Question, *, recursion_desired: bool = True) -> Message | None:
        key = (wire.canonical(q.name), q.qtype, q.qclass)
        now = self.clock.monotonic()
        hit = self._cache.get(key)
        if hit is not None:
            stored, expires, msg = hit
            if now < expires:
                age = int(now - stored)
                return replace(msg, answers=[replace(r, ttl=max(r.ttl - age, 0))
                                             for r in msg.answers],
                               authority=[replace(r, ttl=max(r.ttl - age, 0))
                                          for r in msg.authority])
            del self._cache[key]
        query = Message(random.getrandbits(16), wire.RD if recursion_desired else 0, [q],
                        additional=[wire.make_opt()])
        data = wire.encode(query)
        for server in self.upstreams:
            try:
                raw = await exchange_udp(server, data, self.timeout)
                reply = wire.decode(raw)
                if reply.has(wire.TC):
                    reply = wire.decode(await exchange_tcp(server, data, self.timeout))
            except (OSError, TimeoutError, wire.WireError):
                continue
            if reply.rcode in (wire.SERVFAIL, wire.REFUSED):
                continue
            reply.additional = [r for r in reply.additional if r.rtype != wire.OPT]
            ttl = _cache_ttl(reply)
            if ttl > 0:
                if len(self._cache) >= CACHE_MAX_ENTRIES:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[key] = (now, now + ttl, reply)
            return reply
        return None
