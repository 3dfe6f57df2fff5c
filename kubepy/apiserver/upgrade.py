"""Upgrade-aware proxying to a kubelet: one raw HTTP/1.1 exchange, then a byte splice.

As kube-apiserver's UpgradeAwareHandler (apimachinery/pkg/util/proxy): the client's request
goes to the kubelet on a connection of its own, with the client's headers minus its
credentials (Authorization, Impersonate-*) and with X-Forwarded-For added. When the kubelet
answers ``101 Switching Protocols``, the client gets that 101 with the kubelet's headers and
from then on the two connections are spliced byte for byte (SPDY/3.1 or WebSocket: the
apiserver reads neither) until either side closes. Any other answer is handed back, its
body read up to 50000 bytes, for the caller to turn into a Status.

aiohttp owns the client connection. Before the 101 is written, the request's protocol gets
a payload parser (the hook aiohttp's own WebSocketResponse uses) that forwards every later
byte to the kubelet, so nothing of the upgraded protocol reaches aiohttp's HTTP parser,
which does not take ``Upgrade: SPDY/3.1`` for an upgrade at all. The handler stays in the
splice until it ends and then returns the (already sent) 101 response, closing the client
connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass

from aiohttp import web

MAX_ERROR_BODY = 50000
_HEAD_LIMIT = 64 * 1024
_HIGH_WATER = 1 << 20
_DROPPED_REQUEST = frozenset({"authorization", "proxy-authorization", "host", "content-length",
                              "transfer-encoding"})
_DROPPED_RESPONSE = frozenset({"content-length", "transfer-encoding"})


class DialError(Exception):
    """The kubelet could not be reached or answered no HTTP (message as Go words it)."""


@dataclass(frozen=True)
class BackendHead:
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]

    def header(self, name: str) -> str | None:
        lname = name.lower()
        return next((v for k, v in self.headers if k.lower() == lname), None)


def is_upgrade_request(headers: list[tuple[str, str]]) -> bool:
    """httpstream.IsUpgradeRequest: some Connection header names the ``upgrade`` token."""
    return any(k.lower() == "connection" and
               "upgrade" in (t.strip().lower() for t in v.split(","))
               for k, v in headers)


def forwarded_headers(headers: list[tuple[str, str]], peer: str | None) -> list[tuple[str, str]]:
    """The client's headers as the kubelet gets them: credentials and framing dropped,
    repeated names (X-Stream-Protocol-Version) kept in order, X-Forwarded-For appended."""
    out = [(k, v) for k, v in headers
           if k.lower() not in _DROPPED_REQUEST and not k.lower().startswith("impersonate-")]
    if peer:
        prior = [v for k, v in out if k.lower() == "x-forwarded-for"]
        out = [(k, v) for k, v in out if k.lower() != "x-forwarded-for"]
        out.append(("X-Forwarded-For", ", ".join([*prior, peer])))
    return out


def request_head(method: str, target: str, host: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def parse_head(raw: bytes) -> BackendHead:
    """A response head (status line and headers, ending in CRLF CRLF)."""
    text = raw.decode("latin-1")
    lines = text.split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise DialError(f"malformed HTTP response {lines[0][:100]!r}")
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if sep:
            headers.append((name.strip(), value.strip()))
    return BackendHead(int(parts[1]), parts[2] if len(parts) > 2 else "", tuple(headers))


@dataclass
class Backend:
    """An open kubelet connection whose response head has been read."""

    head: BackendHead
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    def close(self) -> None:
        self.writer.close()

    async def read_body(self, limit: int = MAX_ERROR_BODY, timeout: float = 10) -> bytes:
        """The body of a non-101 answer (Content-Length, chunked, or up to EOF)."""
        try:
            async with asyncio.timeout(timeout):
                length = self.head.header("Content-Length")
                if length is not None and length.isdigit():
                    return await self.reader.readexactly(min(int(length), limit))
                if (self.head.header("Transfer-Encoding") or "").lower() == "chunked":
                    return await self._read_chunked(limit)
                return await self.reader.read(limit)
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError, ValueError) as e:
            partial = getattr(e, "partial", b"")
            return partial if isinstance(partial, bytes) else b""

    async def _read_chunked(self, limit: int) -> bytes:
        body = bytearray()
        while len(body) < limit:
            size_line = await self.reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                break
            body += await self.reader.readexactly(size)
            await self.reader.readexactly(2)
        return bytes(body[:limit])


async def open_backend(host: str, port: int, ssl_context: ssl.SSLContext | None, method: str,
                       target: str, headers: list[tuple[str, str]], *,
                       timeout: float = 30) -> Backend:
    """Dial the kubelet, send the request head (no body) and read the response head."""
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(
                host, port, ssl=ssl_context, limit=_HEAD_LIMIT,
                server_hostname="" if ssl_context is not None else None)
    except TimeoutError:
        raise DialError(f"error dialing backend: dial tcp {netloc}: i/o timeout") from None
    except ConnectionRefusedError:
        raise DialError(f"error dialing backend: dial tcp {netloc}: connect: "
                        f"connection refused") from None
    except (OSError, ssl.SSLError) as e:
        raise DialError(f"error dialing backend: {e}") from None
    try:
        writer.write(request_head(method, target, netloc, headers))
        async with asyncio.timeout(timeout):
            await writer.drain()
            raw = await reader.readuntil(b"\r\n\r\n")
        return Backend(parse_head(raw), reader, writer)
    except BaseException as e:
        writer.close()
        if isinstance(e, (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError,
                          ConnectionError, ssl.SSLError)):
            raise DialError(f"error reading the backend response: {str(e) or type(e).__name__}"
                            ) from None
        raise


class _ToBackend:
    """The payload parser put on the client connection: every byte goes to the kubelet.

    Writes past the high-water mark pause reading the client until the kubelet drains.
    """

    def __init__(self, backend: asyncio.StreamWriter, client: asyncio.BaseTransport) -> None:
        self.backend = backend
        self.client = client
        self._drainer: asyncio.Task[None] | None = None

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        if self.backend.is_closing():
            return False, b""
        self.backend.write(data)
        transport = self.backend.transport
        if self._drainer is None and transport.get_write_buffer_size() > _HIGH_WATER:
            pause = getattr(self.client, "pause_reading", None)
            if pause is not None:
                pause()
            self._drainer = asyncio.ensure_future(self._drain())
        return False, b""

    async def _drain(self) -> None:
        try:
            await self.backend.drain()
        except (ConnectionError, RuntimeError):
            pass
        finally:
            self._drainer = None
            if not self.client.is_closing():
                resume = getattr(self.client, "resume_reading", None)
                if resume is not None:
                    resume()

    def feed_eof(self) -> None:
        # the client went away: closing the kubelet side ends the splice
        self.backend.close()


async def splice(request: web.Request, backend: Backend) -> web.StreamResponse:
    """Send the kubelet's 101 to the client and copy bytes both ways until one side ends."""
    response = web.StreamResponse(status=backend.head.status, reason=backend.head.reason or None)
    for name, value in backend.head.headers:
        if name.lower() not in _DROPPED_RESPONSE:
            response.headers.add(name, value)
    response.force_close()
    transport = request.transport
    if transport is None or transport.is_closing():
        backend.close()
        raise ConnectionResetError("the client went away before the upgrade")
    request.protocol.set_parser(_ToBackend(backend.writer, transport))  # type: ignore[arg-type]
    try:
        await response.prepare(request)
        while True:
            data = await backend.reader.read(65536)
            if not data:
                break
            await response.write(data)
    except (ConnectionError, RuntimeError):
        pass  # the client is gone
    finally:
        backend.close()
        with contextlib.suppress(Exception):
            transport.close()
    return response
