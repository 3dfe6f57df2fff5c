"""WebSocket (RFC 6455) frames: encoding, incremental decoding, masking, the handshake key.

Pure logic, no I/O: ``encode_frame`` turns one frame into bytes; ``FrameDecoder`` is fed
whatever the transport delivered and hands back complete frames; ``MessageAssembler`` joins
fragmented data frames into messages while letting control frames (ping, pong, close)
through between the fragments, as §5.4 allows. The connection (``websocket_conn``) and the
Kubernetes channel protocols (``websocket_channels``) sit on top.

Invariants the decoder enforces (a violation raises ``WebSocketProtocolError`` with the close
code the peer should get): a server only accepts masked frames and a client only unmasked
ones; control frames are final and carry at most 125 bytes; reserved bits are zero (no
extensions are negotiated). Non-minimal length encodings are accepted, as Go's and
Python's peers accept them.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import struct
from dataclasses import dataclass

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_MESSAGE = 64 * 1024 * 1024  # larger messages are refused with close code 1009


class Opcode(enum.IntEnum):
    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA

    @property
    def is_control(self) -> bool:
        return self >= 0x8


class CloseCode(enum.IntEnum):
    NORMAL = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    NO_STATUS = 1005  # never sent: "the close frame had no code"
    ABNORMAL = 1006  # never sent: "the connection dropped without a close frame"
    INVALID_DATA = 1007
    POLICY = 1008
    TOO_BIG = 1009
    INTERNAL_ERROR = 1011


class WebSocketProtocolError(Exception):
    def __init__(self, message: str, code: int = CloseCode.PROTOCOL_ERROR) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Frame:
    opcode: Opcode
    payload: bytes
    fin: bool = True


@dataclass(frozen=True)
class Message:
    opcode: Opcode  # TEXT or BINARY (data), or PING / PONG / CLOSE (control)
    data: bytes


def accept_key(key: str) -> str:
    """Sec-WebSocket-Accept for a client's Sec-WebSocket-Key."""
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def apply_mask(payload: bytes, mask: bytes) -> bytes:
    """XOR with the 4-byte masking key (masking and unmasking are the same operation)."""
    n = len(payload)
    if n == 0:
        return b""
    repeated = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(repeated, "little")).to_bytes(
        n, "little")


def encode_frame(opcode: Opcode, payload: bytes, *, fin: bool = True,
                 mask: bytes | None = None) -> bytes:
    """One frame on the wire; ``mask`` (4 bytes) is required from clients, absent from servers."""
    if opcode.is_control and (len(payload) > 125 or not fin):
        raise ValueError("control frames are final and carry at most 125 bytes")
    head = bytearray([(0x80 if fin else 0) | opcode])
    mask_bit = 0x80 if mask is not None else 0
    n = len(payload)
    if n < 126:
        head.append(mask_bit | n)
    elif n < 1 << 16:
        head.append(mask_bit | 126)
        head += struct.pack("!H", n)
    else:
        head.append(mask_bit | 127)
        head += struct.pack("!Q", n)
    if mask is None:
        return bytes(head) + payload
    if len(mask) != 4:
        raise ValueError("the masking key has 4 bytes")
    return bytes(head) + mask + apply_mask(payload, mask)


def close_payload(code: int, reason: str = "") -> bytes:
    data = struct.pack("!H", code) + reason.encode()
    return data[:125]


def parse_close(payload: bytes) -> tuple[int, str]:
    """(code, reason) of a close frame; 1005 when it has no code."""
    if not payload:
        return CloseCode.NO_STATUS, ""
    if len(payload) == 1:
        raise WebSocketProtocolError("close frame with a 1-byte payload")
    code = struct.unpack("!H", payload[:2])[0]
    if code < 1000 or code in (1004, 1005, 1006) or 1016 <= code < 3000 or code >= 5000:
        raise WebSocketProtocolError(f"invalid close code {code}")
    try:
        return code, payload[2:].decode()
    except UnicodeDecodeError:
        raise WebSocketProtocolError("close reason is not UTF-8",
                                     CloseCode.INVALID_DATA) from None


class FrameDecoder:
    """Incremental frame parser. ``masked`` is what the peer must send (True on a server)."""

    def __init__(self, *, masked: bool, max_frame: int = MAX_MESSAGE) -> None:
        self._masked = masked
        self._max = max_frame
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        frames: list[Frame] = []
        while True:
            frame = self._next()
            if frame is None:
                return frames
            frames.append(frame)

    def _next(self) -> Frame | None:
        buf = self._buf
        if len(buf) < 2:
            return None
        b0, b1 = buf[0], buf[1]
        if b0 & 0x70:
            raise WebSocketProtocolError("reserved bits set without a negotiated extension")
        try:
            opcode = Opcode(b0 & 0x0F)
        except ValueError:
            raise WebSocketProtocolError(f"unknown opcode {b0 & 0x0F:#x}") from None
        fin = bool(b0 & 0x80)
        masked = bool(b1 & 0x80)
        if masked != self._masked:
            raise WebSocketProtocolError(
                "client frames must be masked" if self._masked else
                "server frames must not be masked")
        n = b1 & 0x7F
        pos = 2
        if n == 126:
            if len(buf) < 4:
                return None
            n = struct.unpack_from("!H", buf, 2)[0]
            pos = 4
        elif n == 127:
            if len(buf) < 10:
                return None
            n = struct.unpack_from("!Q", buf, 2)[0]
            if n >> 63:
                raise WebSocketProtocolError("payload length has its top bit set")
            pos = 10
        if opcode.is_control and (n > 125 or not fin):
            raise WebSocketProtocolError("fragmented or oversized control frame")
        if n > self._max:
            raise WebSocketProtocolError(f"frame of {n} bytes is too big", CloseCode.TOO_BIG)
        key = b""
        if masked:
            if len(buf) < pos + 4:
                return None
            key = bytes(buf[pos:pos + 4])
            pos += 4
        if len(buf) < pos + n:
            return None
        payload = bytes(buf[pos:pos + n])
        del buf[:pos + n]
        if masked:
            payload = apply_mask(payload, key)
        return Frame(opcode, payload, fin)


class MessageAssembler:
    """Joins data fragments into messages; control frames come out as they arrive."""

    def __init__(self, *, max_message: int = MAX_MESSAGE) -> None:
        self._max = max_message
        self._opcode: Opcode | None = None
        self._parts: list[bytes] = []
        self._size = 0

    def add(self, frame: Frame) -> Message | None:
        if frame.opcode.is_control:
            return Message(frame.opcode, frame.payload)
        if frame.opcode == Opcode.CONTINUATION:
            if self._opcode is None:
                raise WebSocketProtocolError("continuation frame without a message to continue")
        elif self._opcode is not None:
            raise WebSocketProtocolError("new data frame inside a fragmented message")
        else:
            self._opcode = frame.opcode
        self._size += len(frame.payload)
        if self._size > self._max:
            raise WebSocketProtocolError("message too big", CloseCode.TOO_BIG)
        self._parts.append(frame.payload)
        if not frame.fin:
            return None
        opcode, data = self._opcode, b"".join(self._parts)
        self._opcode, self._parts, self._size = None, [], 0
        if opcode == Opcode.TEXT:
            try:
                data.decode()
            except UnicodeDecodeError:
                raise WebSocketProtocolError("text message is not UTF-8",
                                             CloseCode.INVALID_DATA) from None
        return Message(opcode, data)
