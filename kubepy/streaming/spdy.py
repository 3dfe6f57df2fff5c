"""SPDY/3.1 session and streams (skeleton; filled in by H4a).

The interface is fixed (H4b codes against it):

    Read = Callable[[], Awaitable[bytes]]     # next chunk; b"" at EOF
    Write = Callable[[bytes], Awaitable[None]]
    SpdySession(read, write, *, server) -- run(), accept(), open(), close()
    SpdyStream -- id, headers, reply(), read(), write(), close(), reset(), peer_closed
    negotiate_protocol(requested, supported)
    stream_reader_writer(reader, writer) -> (Read, Write)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

Read = Callable[[], Awaitable[bytes]]
Write = Callable[[bytes], Awaitable[None]]


class SpdyStream:
    """One SPDY stream: a bidirectional byte pipe with headers and half-close."""

    def __init__(self, session: "SpdySession", stream_id: int, headers: dict[str, str]) -> None:
        self.id = stream_id
        self.headers = headers
        self.peer_closed = asyncio.Event()
        self._session = session

    async def reply(self, headers: dict[str, str] | None = None, *, fin: bool = False) -> None:
        raise NotImplementedError

    async def read(self) -> bytes:
        raise NotImplementedError

    async def write(self, data: bytes) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def reset(self, status: int = 5) -> None:
        raise NotImplementedError


class SpdySession:
    """A SPDY/3.1 connection: the frame loop plus the streams multiplexed on it."""

    def __init__(self, read: Read, write: Write, *, server: bool) -> None:
        self._read = read
        self._write = write
        self.server = server

    async def run(self) -> None:
        raise NotImplementedError

    async def accept(self) -> SpdyStream | None:
        raise NotImplementedError

    async def open(self, headers: dict[str, str], *, fin: bool = False) -> SpdyStream:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


def negotiate_protocol(requested: list[str], supported: list[str]) -> str | None:
    raise NotImplementedError


def stream_reader_writer(reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> tuple[Read, Write]:
    raise NotImplementedError
