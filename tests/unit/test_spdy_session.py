"""SPDY/3.1 sessions over real loopback TCP: two SpdySessions, and a hand-driven raw peer.

The raw peer speaks frames through the codec only, so it can play moby/spdystream (never a
SETTINGS or WINDOW_UPDATE) or a strict flow-controlled peer, and see exactly what the session
puts on the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from kubepy.streaming.spdy import (SpdySession, SpdyStream, StreamClosedError, negotiate_protocol,
                                   stream_reader_writer)
from kubepy.streaming.spdy_frames import (DataFrame, Frame, FrameParser, GoAway, Ping, RstStream,
                                          Settings, SynReply, SynStream, UnknownControl,
                                          WindowUpdate, encode)
from kubepy.streaming.spdy_handshake import is_spdy_upgrade, upgrade_response_headers
from kubepy.streaming.spdy_headers import HeaderCompressor

MiB = 1 << 20


def run(coro: Awaitable[Any], timeout: float = 15) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def session_pair() -> AsyncIterator[tuple[SpdySession, SpdySession]]:
    """(client, server) sessions over a loopback TCP connection, both frame loops running."""
    accepted: asyncio.Future[SpdySession] = asyncio.get_running_loop().create_future()
    writers: list[asyncio.StreamWriter] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        accepted.set_result(SpdySession(*stream_reader_writer(reader, writer), server=True))

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
    writers.append(writer)
    client = SpdySession(*stream_reader_writer(reader, writer), server=False)
    srv = await accepted
    loops = [asyncio.ensure_future(client.run()), asyncio.ensure_future(srv.run())]
    try:
        yield client, srv
    finally:
        for w in writers:
            w.close()
        await asyncio.wait(loops, timeout=5)
        server.close()


class RawPeer:
    """A peer driven frame by frame (client side unless told)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.compressor = HeaderCompressor()
        self.parser = FrameParser()
        self.pending: list[Frame] = []

    async def send(self, *frames: Frame) -> None:
        self.writer.write(b"".join(encode(f, self.compressor) for f in frames))
        await self.writer.drain()

    async def recv(self, timeout: float = 5) -> Frame | None:
        """The next frame, None at EOF; TimeoutError if none comes."""
        while not self.pending:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                return None
            self.pending += self.parser.feed(data)
        return self.pending.pop(0)

    async def silent(self, seconds: float) -> bool:
        try:
            frame = await self.recv(seconds)
        except asyncio.TimeoutError:
            return True
        self.pending.insert(0, frame)  # type: ignore[arg-type]
        return False


@contextlib.asynccontextmanager
async def raw_client(handler: Callable[[SpdySession], Awaitable[None]]
                     ) -> AsyncIterator[tuple[RawPeer, SpdySession]]:
    """A raw client against a SpdySession server whose application is ``handler``."""
    ready: asyncio.Future[SpdySession] = asyncio.get_running_loop().create_future()
    tasks: list[asyncio.Future[Any]] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = SpdySession(*stream_reader_writer(reader, writer), server=True)
        tasks.append(asyncio.ensure_future(session.run()))
        tasks.append(asyncio.ensure_future(handler(session)))
        ready.set_result(session)
        await tasks[0]
        writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
    session = await ready
    try:
        yield RawPeer(reader, writer), session
    finally:
        writer.close()
        await session.close()
        await asyncio.wait(tasks, timeout=5)
        for t in tasks:
            t.cancel()
        server.close()


async def read_all(stream: SpdyStream) -> bytes:
    out = bytearray()
    while chunk := await stream.read():
        out += chunk
    return bytes(out)


# -- two sessions ---------------------------------------------------------------------------

def test_streams_both_ways_with_headers() -> None:
    async def main() -> None:
        async with session_pair() as (client, server):
            s1 = await client.open({"streamType": "stdin", "requestID": "0"})
            s3 = await client.open({"streamType": "stdout"})
            a1, a3 = await server.accept(), await server.accept()
            assert a1 is not None and a3 is not None
            assert (s1.id, s3.id, a1.id, a3.id) == (1, 3, 1, 3)
            assert a1.headers == {"streamtype": "stdin", "requestid": "0"}
            await a1.reply({"X-Reply": "yes"})
            await a3.reply()
            assert await s1.wait_reply() == {"x-reply": "yes"}
            assert await s3.wait_reply() == {}
            pushed = await server.open({"from": "server"})
            got = await client.accept()
            assert got is not None and (pushed.id, got.id) == (2, 2)
            assert got.headers == {"from": "server"}
            await got.reply()
            await pushed.write(b"down")
            await s1.write(b"up")
            assert await got.read() == b"down"
            assert await a1.read() == b"up"
            assert client.peer_flow_control is True and server.peer_flow_control is True
    run(main())


def test_fin_half_closes_one_direction() -> None:
    async def main() -> None:
        async with session_pair() as (client, server):
            s = await client.open({"t": "1"})
            a = await server.accept()
            assert a is not None
            await s.write(b"abc")
            await s.close()
            assert await read_all(a) == b"abc"
            assert a.peer_closed.is_set() and not s.peer_closed.is_set()
            with pytest.raises(StreamClosedError):
                await s.write(b"late")
            await a.write(b"xyz")            # the other direction is still open (replies first)
            await a.close()
            assert await s.wait_reply() == {}
            assert await read_all(s) == b"xyz"
            assert s.peer_closed.is_set()
            await s.close()                  # idempotent
            finished = await client.open({"t": "2"}, fin=True)
            b = await server.accept()
            assert b is not None and b.id == finished.id
            assert await b.read() == b"" and b.peer_closed.is_set()
    run(main())


def test_reset_ends_both_directions() -> None:
    async def main() -> None:
        async with session_pair() as (client, server):
            s = await client.open({})
            a = await server.accept()
            assert a is not None
            await a.reply()
            await s.wait_reply()
            await s.write(b"unread")
            await a.reset()
            assert await s.read() == b""
            assert s.reset_status == 5 and s.peer_closed.is_set()
            with pytest.raises(StreamClosedError):
                await s.write(b"x")
            with pytest.raises(StreamClosedError):
                await a.write(b"x")
            assert await a.read() == b""
            refused = await client.open({})
            r = await server.accept()
            assert r is not None
            await r.reset(3)
            with pytest.raises(StreamClosedError):
                await refused.wait_reply()
            assert refused.reset_status == 3
    run(main())


def test_one_mib_each_way_at_once() -> None:
    async def main() -> None:
        async with session_pair() as (client, server):
            up, down = os.urandom(MiB), os.urandom(MiB)
            s = await client.open({"streamtype": "data"})
            a = await server.accept()
            assert a is not None
            await a.reply()

            async def send(stream: SpdyStream, data: bytes) -> None:
                await stream.write(data)
                await stream.close()

            _, _, got_down, got_up = await asyncio.gather(
                send(s, up), send(a, down), read_all(s), read_all(a))
            assert hashlib.sha256(got_up).digest() == hashlib.sha256(up).digest()
            assert hashlib.sha256(got_down).digest() == hashlib.sha256(down).digest()
    run(main())


def test_slow_reader_holds_the_writer_to_its_window() -> None:
    async def main() -> None:
        async with session_pair() as (client, server):
            s = await client.open({})
            a = await server.accept()
            assert a is not None
            writer = asyncio.ensure_future(s.write(os.urandom(MiB)))
            for _ in range(500):
                if a._buffered >= 64 * 1024:
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.2)
            assert not writer.done()
            assert a._buffered == 64 * 1024          # exactly the initial window, no more
            total, peak = 0, 0
            while total < MiB:
                peak = max(peak, a._buffered)
                total += len(await a.read())
            await writer
            assert peak <= 64 * 1024
    run(main())


def test_ping_is_echoed_both_ways() -> None:
    async def main() -> None:
        async with session_pair() as (client, server):
            assert 0 <= await client.ping() < 5
            assert 0 <= await server.ping() < 5
            assert 0 <= await client.ping() < 5
    run(main())


def test_goaway_ends_the_peer_and_its_streams() -> None:
    async def main() -> None:
        async with session_pair() as (client, server):
            s = await client.open({})
            a = await server.accept()
            assert a is not None
            await a.reply()
            await a.write(b"before goaway")
            waiter = asyncio.ensure_future(client.wait_closed())
            await asyncio.sleep(0.05)
            assert not waiter.done()
            await server.close()
            await asyncio.wait_for(waiter, 5)
            assert await read_all(s) == b"before goaway"
            assert s.peer_closed.is_set()
            assert await client.accept() is None
            assert client.ended and client.goaway == GoAway(1, 0)
            with pytest.raises(StreamClosedError):
                await client.open({})
            with pytest.raises(StreamClosedError):
                await s.write(b"x")
            assert await server.accept() is None
    run(main())


# -- a raw peer -----------------------------------------------------------------------------

async def echo_app(session: SpdySession) -> None:
    """Reply to each stream and echo what it receives, then half-close."""
    async def one(stream: SpdyStream) -> None:
        await stream.reply()
        while chunk := await stream.read():
            await stream.write(chunk)
        await stream.close()

    while (stream := await session.accept()) is not None:
        asyncio.ensure_future(one(stream))


def test_spdystream_peer_gets_no_flow_control_frames() -> None:
    """A Go client never sends SETTINGS/WINDOW_UPDATE: the server neither waits nor sends any."""
    async def main() -> None:
        async with raw_client(echo_app) as (peer, session):
            assert await peer.silent(0.2)    # nothing after the 101 until the client speaks
            await peer.send(SynStream(1, {"streamtype": "data"}))
            assert await peer.recv() == SynReply(1, {})
            payload = os.urandom(MiB)
            for i in range(0, MiB, 32 * 1024):
                await peer.send(DataFrame(1, payload[i:i + 32 * 1024]))
            await peer.send(DataFrame(1, b"", fin=True))
            echoed, seen = bytearray(), []
            while True:
                frame = await peer.recv()
                seen.append(type(frame).__name__)
                assert isinstance(frame, DataFrame), frame
                echoed += frame.data
                if frame.fin:
                    break
            assert bytes(echoed) == payload
            assert session.peer_flow_control is False
    run(main())


def test_flow_controlled_peer_windows_are_honoured_exactly() -> None:
    async def writer_app(session: SpdySession) -> None:
        stream = await session.accept()
        assert stream is not None
        await stream.write(b"w" * 5000)
        await stream.close()

    async def main() -> None:
        async with raw_client(writer_app) as (peer, _session):
            await peer.send(Settings(((0, 7, 1000),)), SynStream(1, {}))
            assert await peer.recv() == Settings(((0, 7, 65536),))   # it announces its own
            assert await peer.recv() == SynReply(1, {})
            assert await peer.recv() == DataFrame(1, b"w" * 1000)
            assert await peer.silent(0.2)
            await peer.send(WindowUpdate(1, 3000))
            assert await peer.recv() == DataFrame(1, b"w" * 3000)
            assert await peer.silent(0.2)
            await peer.send(WindowUpdate(1, 1000))
            assert await peer.recv() == DataFrame(1, b"w" * 1000)
            assert await peer.recv() == DataFrame(1, b"", fin=True)
    run(main())


def test_session_window_limits_all_streams_together() -> None:
    async def writer_app(session: SpdySession) -> None:
        for _ in range(2):
            stream = await session.accept()
            assert stream is not None
            asyncio.ensure_future(stream.write(b"s" * 40000))

    async def main() -> None:
        async with raw_client(writer_app) as (peer, _session):
            await peer.send(WindowUpdate(0, 0), SynStream(1, {}), SynStream(3, {}))
            total = 0
            while total < 64 * 1024:
                frame = await peer.recv()
                if isinstance(frame, DataFrame):
                    total += len(frame.data)
            assert await peer.silent(0.3)
            assert total == 64 * 1024                  # the SPDY/3.1 session window
            await peer.send(WindowUpdate(0, 80000 - total))
            while total < 80000:
                frame = await peer.recv()
                if isinstance(frame, DataFrame):
                    total += len(frame.data)
            assert await peer.silent(0.2)
    run(main())


def test_reader_reopens_its_window_with_window_updates() -> None:
    async def reader_app(session: SpdySession) -> None:
        stream = await session.accept()
        assert stream is not None
        await stream.reply()
        while await stream.read():
            pass

    async def main() -> None:
        async with raw_client(reader_app) as (peer, _session):
            await peer.send(Settings(()), SynStream(1, {}))
            assert isinstance(await peer.recv(), Settings)
            assert await peer.recv() == SynReply(1, {})
            await peer.send(*[DataFrame(1, b"d" * 16384) for _ in range(4)])
            updates = [await peer.recv() for _ in range(4)]
            assert sorted(updates, key=repr) == sorted(
                [WindowUpdate(0, 32768), WindowUpdate(0, 32768),
                 WindowUpdate(1, 32768), WindowUpdate(1, 32768)], key=repr)
    run(main())


def test_peer_ping_is_echoed_and_stream_ids_are_checked() -> None:
    async def main() -> None:
        async with raw_client(echo_app) as (peer, _session):
            await peer.send(Ping(1))
            assert await peer.recv() == Ping(1)
            await peer.send(SynStream(2, {}))                 # a client must use odd ids
            assert await peer.recv() == RstStream(2, 1)
            await peer.send(SynStream(5, {}), SynStream(3, {}))   # ids must increase
            got = [await peer.recv(), await peer.recv()]
            assert RstStream(3, 1) in got and SynReply(5, {}) in got
            await peer.send(UnknownControl(3, 0x55, 0, b"ignored"), Ping(3))
            assert await peer.recv() == Ping(3)
    run(main())


def test_write_before_reply_sends_the_reply_first() -> None:
    async def eager_app(session: SpdySession) -> None:
        stream = await session.accept()
        assert stream is not None
        await stream.write(b"hello")

    async def main() -> None:
        async with raw_client(eager_app) as (peer, _session):
            await peer.send(SynStream(1, {}))
            assert await peer.recv() == SynReply(1, {})
            assert await peer.recv() == DataFrame(1, b"hello")
    run(main())


def test_protocol_error_answers_goaway() -> None:
    async def main() -> None:
        async with raw_client(echo_app) as (peer, session):
            await peer.send(SynStream(1, {}))
            assert await peer.recv() == SynReply(1, {})
            peer.writer.write(bytes.fromhex("8002000300000008 0000000100000005"))   # SPDY/2
            assert await peer.recv() == GoAway(1, 1)
            assert await peer.recv() is None
            assert session.ended
    run(main())


def test_eof_ends_streams_and_accept() -> None:
    async def main() -> None:
        holder: list[SpdyStream] = []

        async def keep(session: SpdySession) -> None:
            stream = await session.accept()
            assert stream is not None
            holder.append(stream)

        async with raw_client(keep) as (peer, session):
            await peer.send(SynStream(1, {}), DataFrame(1, b"last words"))
            while not holder:
                await asyncio.sleep(0.01)
            peer.writer.close()
            assert await read_all(holder[0]) == b"last words"
            assert await session.accept() is None
            with pytest.raises(StreamClosedError):
                await holder[0].write(b"x")
    run(main())


# -- the upgrade handshake ------------------------------------------------------------------

NEGOTIATE = [
    ("first-client-choice", ["v4.channel.k8s.io", "v3.channel.k8s.io"],
     ["v3.channel.k8s.io", "v4.channel.k8s.io"], "v4.channel.k8s.io"),
    ("comma-list", ["v5.channel.k8s.io, v4.channel.k8s.io"], ["v4.channel.k8s.io"], "v4.channel.k8s.io"),
    ("several-headers-spaces", [" portforward.k8s.io ,", "x"], ["portforward.k8s.io"], "portforward.k8s.io"),
    ("none-common", ["v5.channel.k8s.io"], ["v4.channel.k8s.io"], None),
    ("no-header", [], ["v4.channel.k8s.io"], None),
    ("empty-values", [" , "], ["v4.channel.k8s.io"], None),
    ("case-sensitive", ["V4.channel.k8s.io"], ["v4.channel.k8s.io"], None),
]


@pytest.mark.parametrize("requested,supported,chosen", [c[1:] for c in NEGOTIATE],
                         ids=[c[0] for c in NEGOTIATE])
def test_negotiate_protocol(requested: list[str], supported: list[str], chosen: str | None) -> None:
    assert negotiate_protocol(requested, supported) == chosen


@pytest.mark.parametrize("connection,upgrade,ok", [
    ("Upgrade", "SPDY/3.1", True), ("keep-alive, upgrade", "spdy/3.1", True),
    ("Upgrade", "websocket", False), ("close", "SPDY/3.1", False), (None, None, False)])
def test_is_spdy_upgrade(connection: str | None, upgrade: str | None, ok: bool) -> None:
    assert is_spdy_upgrade(connection, upgrade) is ok


def test_upgrade_response_headers() -> None:
    assert upgrade_response_headers("v4.channel.k8s.io") == [
        ("Connection", "Upgrade"), ("Upgrade", "SPDY/3.1"),
        ("X-Stream-Protocol-Version", "v4.channel.k8s.io")]


# -- any byte transport ---------------------------------------------------------------------

def memory_transport(chunk: int) -> tuple[tuple[Any, Any], tuple[Any, Any], Callable[[], None]]:
    """Two (Read, Write) ends of an in-memory pipe whose reads return at most ``chunk`` bytes."""
    queues: tuple[asyncio.Queue[bytes], asyncio.Queue[bytes]] = (asyncio.Queue(), asyncio.Queue())

    def end(inbox: asyncio.Queue[bytes], outbox: asyncio.Queue[bytes]) -> tuple[Any, Any]:
        buf = bytearray()

        async def read() -> bytes:
            while not buf:
                data = await inbox.get()
                if not data:
                    return b""
                buf.extend(data)
            out = bytes(buf[:chunk])
            del buf[:chunk]
            return out

        async def write(data: bytes) -> None:
            await outbox.put(data)

        return read, write

    def hang_up() -> None:
        for q in queues:
            q.put_nowait(b"")

    return end(queues[0], queues[1]), end(queues[1], queues[0]), hang_up


@pytest.mark.parametrize("chunk", [1, 7, 1000])
def test_session_over_a_transport_with_tiny_reads(chunk: int) -> None:
    async def main() -> None:
        client_end, server_end, hang_up = memory_transport(chunk)
        client = SpdySession(*client_end, server=False)
        server = SpdySession(*server_end, server=True)
        loops = [asyncio.ensure_future(client.run()), asyncio.ensure_future(server.run())]
        size = 48 * 1024 if chunk > 1 else 4096      # past the 32 KiB window-update mark
        up, down = os.urandom(size), os.urandom(size)
        s = await client.open({"streamtype": "data"})
        a = await server.accept()
        assert a is not None and a.headers == {"streamtype": "data"}

        async def send(stream: SpdyStream, data: bytes) -> None:
            await stream.write(data)
            await stream.close()

        results = await asyncio.gather(send(s, up), send(a, down), read_all(s), read_all(a))
        assert results[2:] == [down, up]
        assert 0 <= await client.ping() < 5
        hang_up()
        await asyncio.wait(loops, timeout=5)
        assert client.ended and server.ended
    run(main())
