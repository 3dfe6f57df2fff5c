"""A WebSocket connection over an abstract byte transport (``Read``/``Write`` coroutines).

``WebSocket.recv`` returns whole data messages (fragments joined), answers pings, and
completes the closing handshake: when the peer's close frame arrives it echoes it (unless it
sent one first) and returns None from then on. Protocol violations close the connection
with the matching close code and also end ``recv`` with None; ``close_code`` tells why.
Sends are serialised by a lock, so several tasks may write one connection (one per channel).

``connect`` performs the client handshake on an already open stream (plain or TLS) and is
what the tests and any in-process client use.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import os
from collections.abc import Awaitable, Callable, Mapping

from kubepy.streaming.websocket import (CloseCode, FrameDecoder, Message, MessageAssembler,
                                        Opcode, WebSocketProtocolError, close_payload,
                                        encode_frame, parse_close)
from kubepy.streaming.websocket_handshake import check_server_response, client_request

Read = Callable[[], Awaitable[bytes]]  # next chunk; b"" at EOF
Write = Callable[[bytes], Awaitable[None]]


class WebSocket:
    def __init__(self, read: Read, write: Write, *, client: bool, protocol: str = "",
                 random: Callable[[int], bytes] = os.urandom) -> None:
        self.protocol = protocol
        self.close_code: int | None = None  # the peer's (or our protocol error's) code
        self.close_reason = ""
        self._read, self._write = read, write
        self._client = client
        self._random = random
        self._decoder = FrameDecoder(masked=not client)
        self._assembler = MessageAssembler()
        self._pending: collections.deque[Message] = collections.deque()
        self._lock = asyncio.Lock()
        self._close_sent = False
        self._finished = False  # no more messages will be delivered

    @property
    def closed(self) -> bool:
        return self._finished

    async def recv(self) -> Message | None:
        """The next TEXT or BINARY message, or None once the connection is closing/closed."""
        while not self._pending:
            if self._finished:
                return None
            try:
                chunk = await self._read()
            except (ConnectionError, OSError):
                chunk = b""
            if not chunk:
                self._finished = True
                if self.close_code is None:
                    self.close_code = CloseCode.ABNORMAL
                return None
            try:
                for frame in self._decoder.feed(chunk):
                    message = self._assembler.add(frame)
                    if message is not None and await self._control(message):
                        self._pending.append(message)
            except WebSocketProtocolError as e:
                self.close_code, self.close_reason = e.code, str(e)
                self._finished = True
                await self._send_close(e.code, str(e)[:100])
                return None
        return self._pending.popleft()

    async def _control(self, message: Message) -> bool:
        """Handle a control message; True if it is a data message for the caller."""
        if message.opcode == Opcode.PING:
            await self._send_frame(Opcode.PONG, message.data)
            return False
        if message.opcode == Opcode.PONG:
            return False
        if message.opcode == Opcode.CLOSE:
            self.close_code, self.close_reason = parse_close(message.data)
            self._finished = True
            code = self.close_code if self.close_code != CloseCode.NO_STATUS else None
            if code is None:
                await self._send_raw_close(b"")
            else:
                await self._send_close(code)
            return False
        return not self._finished

    async def send(self, data: bytes | str) -> None:
        if isinstance(data, str):
            await self._send_frame(Opcode.TEXT, data.encode())
        else:
            await self._send_frame(Opcode.BINARY, data)

    async def ping(self, data: bytes = b"") -> None:
        await self._send_frame(Opcode.PING, data)

    async def close(self, code: int = CloseCode.NORMAL, reason: str = "") -> None:
        """Send our close frame (once). The caller may keep reading until recv returns None."""
        await self._send_close(code, reason)

    async def _send_close(self, code: int, reason: str = "") -> None:
        await self._send_raw_close(close_payload(code, reason))

    async def _send_raw_close(self, payload: bytes) -> None:
        if self._close_sent:
            return
        self._close_sent = True
        try:
            await self._send_frame(Opcode.CLOSE, payload, force=True)
        except (ConnectionError, OSError):
            pass

    async def _send_frame(self, opcode: Opcode, payload: bytes, *, force: bool = False) -> None:
        if self._close_sent and not force:
            raise ConnectionResetError("websocket is closed")
        mask = self._random(4) if self._client else None
        async with self._lock:
            await self._write(encode_frame(opcode, payload, mask=mask))


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            name = name.strip().lower()
            headers[name] = f"{headers[name]}, {value.strip()}" if name in headers \
                else value.strip()
    return status, headers


class UpgradeRefused(Exception):
    """The server answered the upgrade request with something other than 101."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        super().__init__(f"upgrade refused: HTTP {status}: {body[:200]!r}")
        self.status, self.headers, self.body = status, headers, body


async def connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, host: str,
                  target: str, protocols: list[str], method: str = "GET",
                  headers: Mapping[str, str] | None = None) -> WebSocket:
    """Client handshake on an open stream; the WebSocket's ``protocol`` is the chosen one."""
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(client_request(method, host, target, key, protocols, headers))
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status, response_headers = _parse_head(head[:-4])
    if status != 101:
        length = int(response_headers.get("content-length", "0") or 0)
        body = await reader.read(length) if length else b""
        raise UpgradeRefused(status, response_headers, body)
    protocol = check_server_response(status, response_headers, key, protocols)

    async def read() -> bytes:
        return await reader.read(65536)

    async def write(data: bytes) -> None:
        writer.write(data)
        await writer.drain()

    return WebSocket(read, write, client=True, protocol=protocol)
