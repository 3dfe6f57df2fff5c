"""SPDY/3.1 session and streams over any byte transport (an upgraded socket, WebSocket tunnel).

    Read = Callable[[], Awaitable[bytes]]     # next chunk; b"" at EOF
    Write = Callable[[bytes], Awaitable[None]]

``SpdySession.run`` is the frame loop (until EOF, GOAWAY or ``close``); one sender task owns
the transport's writes, so the frame loop never blocks on writing: PING echoes, window
updates and resets are queued, with PING/WINDOW_UPDATE/SETTINGS ahead of stream frames.
Frames carrying compressed headers are encoded when queued, so send order = compression
order (both directions share one zlib stream each).

Stream ids: the client opens odd ids from 1, the server even ids from 2; ping ids likewise.

Flow control. SPDY/3.1 gives each stream and the session a 64 KiB send window that the
receiver widens with WINDOW_UPDATE as it consumes data. Go's moby/spdystream -- the SPDY of
kubectl, client-go, the kubelet and the apiserver proxy -- never sends SETTINGS or
WINDOW_UPDATE and never enforces a window (it ignores both frames). So the peer's *first
frame* classifies it: a peer opening with SETTINGS (as this session does: a client at once,
a server before its first frame if its peer did) takes part in flow control and its windows
are honoured; a peer opening with anything else is spdystream, whose windows are not enforced
and to which no WINDOW_UPDATE is sent. A later SETTINGS/WINDOW_UPDATE switches a peer to
honoured windows. A server never sends anything before its peer has spoken: a Go client
reads the 101 response through a bufio.Reader and drops whatever arrived with it.

Receiving: a stream's window is re-opened as the application *reads* (slow reader = back
pressure on a flow-controlled peer); the session window as data *arrives*, so a stream that
nobody reads cannot starve the others. A peer that ignores windows is held back by TCP: the
frame loop stops reading while one stream has more than RECV_BUFFER_CAP unread bytes.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Awaitable, Callable

from kubepy.streaming.spdy_errors import SpdyProtocolError, StreamClosedError
from kubepy.streaming.spdy_frames import (DEFAULT_INITIAL_WINDOW, MAX_STREAM_ID, DataFrame,
                                          Frame, FrameParser, GoAway, GoAwayStatus,
                                          HeadersFrame, Ping, RstStatus, RstStream, Settings,
                                          SettingId, SynReply, SynStream, WindowUpdate, encode)
from kubepy.streaming.spdy_handshake import negotiate_protocol
from kubepy.streaming.spdy_headers import HeaderCompressor, Headers

__all__ = ["Read", "Write", "SpdySession", "SpdyStream", "StreamClosedError",
           "SpdyProtocolError", "negotiate_protocol", "stream_reader_writer"]

Read = Callable[[], Awaitable[bytes]]
Write = Callable[[bytes], Awaitable[None]]

MAX_DATA_CHUNK = 16 * 1024          # payload of one DATA frame we send
SEND_HIGH_WATER = 256 * 1024        # queued bytes before stream writers wait for the sender
RECV_BUFFER_CAP = 1024 * 1024       # unread bytes of one stream before the frame loop pauses
CLOSE_FLUSH_TIMEOUT = 5.0


class SpdyStream:
    """One stream: headers, a byte pipe each way, half-close (FIN) and reset (RST_STREAM).

    ``peer_closed`` is set when the peer half-closed (FIN), either side reset, or the session
    ended; ``read`` still returns data that arrived before a FIN, then b"".
    """

    def __init__(self, session: SpdySession, stream_id: int, headers: Headers, *,
                 opened_by_peer: bool) -> None:
        self.id = stream_id
        self.headers = headers
        self.reply_headers: Headers | None = None     # SYN_REPLY of a stream we opened
        self.trailers: Headers = {}                   # HEADERS frames received
        self.reset_status: int | None = None          # RST_STREAM status from the peer
        self.peer_closed = asyncio.Event()
        self.opened_by_peer = opened_by_peer
        self._session = session
        self._buf: collections.deque[bytes] = collections.deque()
        self._buffered = 0
        self._readable = asyncio.Event()
        self._space = asyncio.Event()
        self._replied = asyncio.Event()               # SYN_REPLY sent (peer's) / received (ours)
        self._local_closed = False                    # we sent FIN or RST
        self._reset = False
        self.send_window = session.peer_initial_window
        self._recv_unacked = 0

    # -- application side -------------------------------------------------------------------

    async def reply(self, headers: Headers | None = None, *, fin: bool = False) -> None:
        """SYN_REPLY to a stream the peer opened (once; later calls do nothing)."""
        if not self.opened_by_peer:
            raise RuntimeError("only a stream the peer opened can be replied to")
        if self._replied.is_set() or self._reset:
            return
        self._session._check_open()
        self._replied.set()
        self._local_closed = self._local_closed or fin
        self._session._enqueue(SynReply(self.id, dict(headers or {}), fin))
        self._session._forget_if_done(self)

    async def wait_reply(self) -> Headers:
        """The peer's SYN_REPLY headers of a stream we opened (as Go's CreateStream waits)."""
        await self._replied.wait()
        if self.reply_headers is None:
            raise StreamClosedError(f"stream {self.id} reset before its reply "
                                    f"(status {self.reset_status})")
        return self.reply_headers

    async def read(self) -> bytes:
        """The next chunk the peer sent; b"" after its FIN, a reset, or the session's end."""
        while not self._buf:
            if self.peer_closed.is_set():
                return b""
            self._readable.clear()
            await self._readable.wait()
        chunk = self._buf.popleft()
        self._buffered -= len(chunk)
        if self._buffered <= RECV_BUFFER_CAP:
            self._space.set()
        self._session._consumed(self, len(chunk))
        return chunk

    async def write(self, data: bytes) -> None:
        """Send ``data`` in DATA frames within the peer's windows (replies first if needed)."""
        self._check_writable()
        if self.opened_by_peer and not self._replied.is_set():
            await self.reply()      # a Go peer drops DATA that precedes the SYN_REPLY
        view = memoryview(data)
        while view:
            n = await self._session._reserve(self, len(view))
            self._session._enqueue(DataFrame(self.id, bytes(view[:n])))
            view = view[n:]
            await self._session._backpressure()

    async def close(self) -> None:
        """Half-close: an empty DATA frame with FIN (or a SYN_REPLY with FIN if unreplied)."""
        if self._local_closed or self._session.ended:
            self._local_closed = True
            return
        if self.opened_by_peer and not self._replied.is_set():
            await self.reply(fin=True)
            return
        self._local_closed = True
        self._session._enqueue(DataFrame(self.id, b"", fin=True))
        self._session._forget_if_done(self)

    async def reset(self, status: int = RstStatus.CANCEL) -> None:
        """RST_STREAM: both directions end at once; unread data is dropped."""
        if self._reset:
            return
        if not self._session.ended and not (self._local_closed and self.peer_closed.is_set()):
            self._session._enqueue(RstStream(self.id, int(status)))
        self._end_by_reset()
        self._session._forget(self)

    # -- session side -----------------------------------------------------------------------

    def _check_writable(self) -> None:
        if self._reset:
            raise StreamClosedError(f"stream {self.id} was reset")
        if self._local_closed:
            raise StreamClosedError(f"stream {self.id} is closed for writing")
        self._session._check_open()

    def _deliver(self, data: bytes) -> None:
        self._buf.append(data)
        self._buffered += len(data)
        self._readable.set()

    def _peer_fin(self) -> None:
        self.peer_closed.set()
        self._readable.set()

    def _end_by_reset(self) -> None:
        self._reset = True
        self._local_closed = True
        self._buf.clear()
        self._buffered = 0
        self._peer_fin()
        self._space.set()
        self._replied.set()

    @property
    def done(self) -> bool:
        return self._reset or (self._local_closed and self.peer_closed.is_set())


class SpdySession:
    """A SPDY/3.1 connection: the frame loop plus the streams multiplexed on it."""

    def __init__(self, read: Read, write: Write, *, server: bool) -> None:
        self._read = read
        self._write = write
        self.server = server
        self.ended = False
        self.goaway: GoAway | None = None          # the peer's GOAWAY, if it sent one
        self.peer_initial_window = DEFAULT_INITIAL_WINDOW
        self.peer_flow_control: bool | None = None  # None until the peer's first frame
        self.peer_pings = 0                         # PINGs the peer sent (and we echoed)
        self._parser = FrameParser()
        self._compressor = HeaderCompressor()
        self._streams: dict[int, SpdyStream] = {}
        self._next_id = 2 if server else 1
        self._next_ping = 2 if server else 1
        self._last_peer_id = 0
        self._accepted: asyncio.Queue[SpdyStream | None] = asyncio.Queue()
        self._session_send_window = DEFAULT_INITIAL_WINDOW
        self._session_recv_unacked = 0
        self._window_changed = asyncio.Event()
        self._settings_sent = False
        self._going_away = False
        self._urgent: collections.deque[bytes] = collections.deque()
        self._outbox: collections.deque[bytes] = collections.deque()
        self._outbox_bytes = 0
        self._wake_sender = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._sender: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()
        self._pings: dict[int, asyncio.Future[None]] = {}

    # -- public API -------------------------------------------------------------------------

    async def run(self) -> None:
        """Read and dispatch frames until EOF, GOAWAY, a protocol error or ``close``."""
        if not self.server:
            self._ensure_settings()
            self._start_sender()
        stop = asyncio.ensure_future(self._stopped.wait())
        reading: asyncio.Future[bytes] | None = None
        try:
            while not self.ended:
                reading = asyncio.ensure_future(self._read())
                await asyncio.wait({reading, stop}, return_when=asyncio.FIRST_COMPLETED)
                if not reading.done():
                    break                                # close(): stop reading
                data = reading.result()
                if not data:
                    break
                for frame in self._parser.feed(data):
                    if not await self._dispatch(frame):
                        return
        except SpdyProtocolError:
            if not self.ended:
                self._enqueue(GoAway(self._last_peer_id, GoAwayStatus.PROTOCOL_ERROR))
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            pass
        finally:
            stop.cancel()
            if reading is not None and not reading.done():
                reading.cancel()
            self._end()
            await self._flush()

    async def accept(self) -> SpdyStream | None:
        """The next stream the peer opened; None once the session has ended."""
        stream = await self._accepted.get()
        if stream is None:
            self._accepted.put_nowait(None)
        return stream

    async def open(self, headers: Headers, *, fin: bool = False) -> SpdyStream:
        """SYN_STREAM with the next id of our parity (returns without waiting for the reply)."""
        self._check_open()
        if self._going_away:
            raise StreamClosedError("session is going away")
        stream_id = self._next_id
        if stream_id > MAX_STREAM_ID:
            raise StreamClosedError("stream ids exhausted")
        self._next_id += 2
        stream = SpdyStream(self, stream_id, dict(headers), opened_by_peer=False)
        stream._local_closed = fin
        self._streams[stream_id] = stream
        self._enqueue(SynStream(stream_id, {k.lower(): v for k, v in headers.items()}, fin=fin))
        return stream

    async def ping(self) -> float:
        """Round-trip time of a PING the peer echoes."""
        self._check_open()
        ping_id = self._next_ping
        self._next_ping += 2
        if self._next_ping > MAX_STREAM_ID:
            self._next_ping = 2 if self.server else 1
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._pings[ping_id] = waiter
        started = loop.time()
        self._enqueue(Ping(ping_id), urgent=True)
        try:
            await waiter
        finally:
            self._pings.pop(ping_id, None)
        return loop.time() - started

    async def wait_closed(self) -> None:
        """Return once the session has ended (EOF, GOAWAY, protocol error, ``close``)."""
        await self._stopped.wait()

    async def close(self) -> None:
        """GOAWAY (last stream we accepted, OK), flush it, end all streams and the frame loop."""
        if self.ended:
            return
        self._going_away = True
        self._enqueue(GoAway(self._last_peer_id, GoAwayStatus.OK))
        self._end()
        await self._flush()

    # -- frame dispatch ---------------------------------------------------------------------

    async def _dispatch(self, frame: Frame) -> bool:
        """Handle one frame; False ends the frame loop (GOAWAY)."""
        if self.peer_flow_control is None:
            self.peer_flow_control = isinstance(frame, (Settings, WindowUpdate))
            self._wake_writers()
        match frame:
            case DataFrame(stream_id, data, fin):
                await self._on_data(stream_id, data, fin)
            case SynStream():
                self._on_syn_stream(frame)
            case SynReply(stream_id, headers, fin):
                stream = self._streams.get(stream_id)
                if stream is not None and not stream.opened_by_peer and not stream._replied.is_set():
                    stream.reply_headers = headers
                    stream._replied.set()
                    if fin:
                        self._on_peer_fin(stream)
            case HeadersFrame(stream_id, headers, fin):
                stream = self._streams.get(stream_id)
                if stream is not None:
                    stream.trailers.update(headers)
                    if fin:
                        self._on_peer_fin(stream)
            case RstStream(stream_id, status):
                stream = self._streams.pop(stream_id, None)
                if stream is not None:
                    stream.reset_status = status
                    stream._end_by_reset()
                    self._wake_writers()
            case Settings(entries):
                self.peer_flow_control = True
                for _flags, setting, value in entries:
                    if setting == SettingId.INITIAL_WINDOW_SIZE and 0 < value <= MAX_STREAM_ID:
                        delta = value - self.peer_initial_window
                        self.peer_initial_window = value
                        for stream in self._streams.values():
                            stream.send_window += delta
                self._wake_writers()
            case WindowUpdate(stream_id, delta):
                self.peer_flow_control = True
                if stream_id == 0:
                    self._session_send_window += delta
                elif (stream := self._streams.get(stream_id)) is not None:
                    stream.send_window += delta
                self._wake_writers()
            case Ping(ping_id):
                if ping_id % 2 != self._next_ping % 2:
                    self.peer_pings += 1
                    self._enqueue(frame, urgent=True)       # the peer's ping: echo it
                elif (waiter := self._pings.get(ping_id)) is not None and not waiter.done():
                    waiter.set_result(None)
            case GoAway():
                self.goaway = frame
                return False
        return True

    def _on_syn_stream(self, frame: SynStream) -> None:
        sid = frame.stream_id
        if sid % 2 == self._next_id % 2 or sid <= self._last_peer_id:
            self._enqueue(RstStream(sid, RstStatus.PROTOCOL_ERROR))
            return
        self._last_peer_id = sid
        if self._going_away:
            self._enqueue(RstStream(sid, RstStatus.REFUSED_STREAM))
            return
        stream = SpdyStream(self, sid, frame.headers, opened_by_peer=True)
        stream._local_closed = frame.unidirectional
        self._streams[sid] = stream
        if frame.fin:
            stream._peer_fin()
        self._accepted.put_nowait(stream)

    async def _on_data(self, stream_id: int, data: bytes, fin: bool) -> None:
        if data and self.peer_flow_control:
            self._session_recv_unacked += len(data)
            if self._session_recv_unacked >= DEFAULT_INITIAL_WINDOW // 2:
                self._enqueue(WindowUpdate(0, self._session_recv_unacked), urgent=True)
                self._session_recv_unacked = 0
        stream = self._streams.get(stream_id)
        if stream is None or stream.peer_closed.is_set():
            return                                   # gone or finished: ignored, as spdystream
        if data:
            stream._deliver(data)
        if fin:
            self._on_peer_fin(stream)
        while stream._buffered > RECV_BUFFER_CAP and not self.ended:
            stream._space.clear()
            await stream._space.wait()

    def _on_peer_fin(self, stream: SpdyStream) -> None:
        stream._peer_fin()
        self._forget_if_done(stream)

    # -- flow control -----------------------------------------------------------------------

    async def _reserve(self, stream: SpdyStream, wanted: int) -> int:
        """Bytes ``stream`` may send now (>0), waiting for window while the peer enforces one."""
        while True:
            stream._check_writable()
            available = min(stream.send_window, self._session_send_window)
            if self.peer_flow_control is False:
                available = MAX_DATA_CHUNK
            if available > 0:
                n = min(wanted, available, MAX_DATA_CHUNK)
                stream.send_window -= n
                self._session_send_window -= n
                return n
            await self._window_changed.wait()

    def _wake_writers(self) -> None:
        self._window_changed.set()
        self._window_changed = asyncio.Event()

    def _consumed(self, stream: SpdyStream, n: int) -> None:
        if not self.peer_flow_control or stream.peer_closed.is_set() or self.ended:
            return
        stream._recv_unacked += n
        if stream._recv_unacked >= DEFAULT_INITIAL_WINDOW // 2:
            self._enqueue(WindowUpdate(stream.id, stream._recv_unacked), urgent=True)
            stream._recv_unacked = 0

    # -- sending ----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self.ended:
            raise StreamClosedError("SPDY session has ended")

    def _ensure_settings(self) -> None:
        if self._settings_sent:
            return
        self._settings_sent = True
        if self.server and self.peer_flow_control is False:
            return                                   # a spdystream peer: send it nothing extra
        settings = Settings(((0, SettingId.INITIAL_WINDOW_SIZE, DEFAULT_INITIAL_WINDOW),))
        self._urgent.appendleft(encode(settings))

    def _enqueue(self, frame: Frame, *, urgent: bool = False) -> None:
        """Encode now (header compression order = send order) and hand to the sender."""
        if self.ended:
            return
        self._ensure_settings()
        wire = encode(frame, self._compressor)
        if urgent:
            self._urgent.append(wire)
        else:
            self._outbox.append(wire)
            self._outbox_bytes += len(wire)
            if self._outbox_bytes > SEND_HIGH_WATER:
                self._drained.clear()
        self._start_sender()

    def _start_sender(self) -> None:
        self._wake_sender.set()
        if self._sender is None:
            self._sender = asyncio.ensure_future(self._send_loop())

    async def _backpressure(self) -> None:
        await self._drained.wait()          # set by the sender below the high water, and at the end

    async def _send_loop(self) -> None:
        try:
            while True:
                if not self._urgent and not self._outbox:
                    self._drained.set()
                    if self.ended:
                        return
                    self._wake_sender.clear()
                    await self._wake_sender.wait()
                    continue
                chunks = list(self._urgent)
                self._urgent.clear()
                sent = 0
                while self._outbox and sent < SEND_HIGH_WATER:
                    chunk = self._outbox.popleft()
                    sent += len(chunk)
                    chunks.append(chunk)
                self._outbox_bytes -= sent
                await self._write(b"".join(chunks))
                if self._outbox_bytes <= SEND_HIGH_WATER:
                    self._drained.set()
        except Exception:                            # the transport is gone
            self._urgent.clear()
            self._outbox.clear()
            self._drained.set()
            self._end()

    async def _flush(self) -> None:
        sender = self._sender
        if sender is None or sender.done():
            return
        self._wake_sender.set()
        with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(sender), CLOSE_FLUSH_TIMEOUT)
        if not sender.done():
            sender.cancel()

    # -- ending -----------------------------------------------------------------------------

    def _forget_if_done(self, stream: SpdyStream) -> None:
        if stream.done:
            self._forget(stream)

    def _forget(self, stream: SpdyStream) -> None:
        if self._streams.get(stream.id) is stream:
            del self._streams[stream.id]

    def _end(self) -> None:
        """The session is over: every stream ends, accept() returns None, pings fail."""
        if self.ended:
            return
        self.ended = True
        self._stopped.set()
        for stream in list(self._streams.values()):
            stream._peer_fin()
            stream._space.set()
            stream._replied.set()
        self._streams.clear()
        self._accepted.put_nowait(None)
        for waiter in self._pings.values():
            if not waiter.done():
                waiter.set_exception(StreamClosedError("SPDY session has ended"))
        self._wake_writers()
        self._drained.set()
        self._wake_sender.set()


def stream_reader_writer(reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> tuple[Read, Write]:
    """(Read, Write) over a plain asyncio stream pair."""

    async def read() -> bytes:
        return await reader.read(64 * 1024)

    async def write(data: bytes) -> None:
        writer.write(data)
        await writer.drain()

    return read, write
