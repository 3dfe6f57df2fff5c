"""The little HTTP/1.1 the kubelet server needs, over asyncio streams. I/O at the edges.

Why not aiohttp: the streaming endpoints answer with 101 and then own the raw socket
(SPDY frames, WebSocket frames), which is simplest when the server is this small loop.
Requests carry no bodies worth reading (exec/attach POSTs are empty), so a body is read
only when Content-Length says so, up to 1 MiB. Plain responses have a Content-Length and
keep the connection; log streams use chunked transfer encoding as the kubelet does.
"""

from __future__ import annotations

import asyncio
import urllib.parse
from dataclasses import dataclass, field

MAX_HEAD = 64 * 1024
MAX_BODY = 1024 * 1024
REASONS = {101: "Switching Protocols", 200: "OK", 400: "Bad Request", 401: "Unauthorized",
           403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
           422: "Unprocessable Entity", 500: "Internal Server Error"}


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Request:
    method: str
    target: str
    path_segments: list[str]  # percent-decoded, without empty segments
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    version: str = "HTTP/1.1"
    body: bytes = b""
    peer: dict[str, object] = field(default_factory=dict)

    @property
    def keep_alive(self) -> bool:
        connection = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in connection
        return "close" not in connection


def parse_head(head: bytes) -> Request:
    """The request line and headers (without the final blank line)."""
    try:
        text = head.decode("latin-1")
        line, *header_lines = text.split("\r\n")
        method, target, version = line.split(" ")
    except ValueError:
        raise HttpError(400, "malformed request line") from None
    if not version.startswith("HTTP/1."):
        raise HttpError(400, f"unsupported version {version}")
    headers: dict[str, str] = {}
    for raw in header_lines:
        if not raw:
            continue
        name, sep, value = raw.partition(":")
        if not sep or not name or name != name.strip():
            raise HttpError(400, "malformed header line")
        name, value = name.lower(), value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    split = urllib.parse.urlsplit(target)
    segments = [urllib.parse.unquote(s) for s in split.path.split("/") if s]
    query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
    return Request(method, target, segments, query, headers, version)


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """The next request on a connection, or None at a clean end of the connection."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        if not e.partial.strip():
            return None
        raise HttpError(400, "incomplete request head") from None
    except asyncio.LimitOverrunError:
        raise HttpError(400, "request head too large") from None
    request = parse_head(head[:-4])
    if "chunked" in request.headers.get("transfer-encoding", "").lower():
        raise HttpError(400, "chunked request bodies are not supported")
    length = request.headers.get("content-length", "0") or "0"
    if not length.isdigit() or int(length) > MAX_BODY:
        raise HttpError(400, "bad Content-Length")
    if int(length):
        request.body = await reader.readexactly(int(length))
    return request


def response_head(status: int, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def respond(writer: asyncio.StreamWriter, status: int, body: bytes, *,
                  content_type: str = "text/plain; charset=utf-8",
                  headers: list[tuple[str, str]] | None = None, close: bool = False) -> None:
    out = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
    if content_type.startswith("text/plain"):
        out.append(("X-Content-Type-Options", "nosniff"))
    if close:
        out.append(("Connection", "close"))
    writer.write(response_head(status, out + (headers or [])) + body)
    await writer.drain()


async def respond_error(writer: asyncio.StreamWriter, status: int, message: str, *,
                        close: bool = False) -> None:
    """Go's http.Error: the message and a newline as text/plain."""
    await respond(writer, status, (message + "\n").encode(), close=close)


class ChunkedWriter:
    """A streamed 200 response body (Transfer-Encoding: chunked)."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self.started = False

    async def start(self, content_type: str = "text/plain") -> None:
        self.started = True
        self._writer.write(response_head(200, [("Content-Type", content_type),
                                               ("Transfer-Encoding", "chunked")]))
        await self._writer.drain()

    async def write(self, data: bytes) -> None:
        if not self.started:
            await self.start()
        if data:
            self._writer.write(b"%x\r\n%s\r\n" % (len(data), data))
            await self._writer.drain()

    async def end(self) -> None:
        if not self.started:
            await self.start()
        self._writer.write(b"0\r\n\r\n")
        await self._writer.drain()
