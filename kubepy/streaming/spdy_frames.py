"""SPDY/3.1 frames: plain values, their wire encoding and an incremental parser.

Wire layout (draft 3.1, section 2.2): every frame has an 8-byte head. A control frame starts
with the bit C=1, a 15-bit version (3) and a 16-bit type; a data frame with C=0 and a 31-bit
stream id. Both then carry 8 bits of flags and a 24-bit payload length, all big-endian.

Header blocks (SYN_STREAM, SYN_REPLY, HEADERS) are compressed with the session's stateful
zlib contexts, so ``encode`` takes the sender's ``HeaderCompressor`` and ``FrameParser`` owns
the receiver's ``HeaderDecompressor``; everything else here is pure. Unknown control frame
types are returned as ``UnknownControl`` (the spec says: ignore them).
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field

from kubepy.streaming.spdy_errors import SpdyProtocolError
from kubepy.streaming.spdy_headers import HeaderCompressor, HeaderDecompressor, Headers

VERSION = 3
MAX_LENGTH = (1 << 24) - 1
MAX_STREAM_ID = (1 << 31) - 1
DEFAULT_INITIAL_WINDOW = 64 * 1024   # per stream and (SPDY/3.1) per session

FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02
FLAG_SETTINGS_CLEAR = 0x01


class FrameType(enum.IntEnum):
    SYN_STREAM = 1
    SYN_REPLY = 2
    RST_STREAM = 3
    SETTINGS = 4
    PING = 6
    GOAWAY = 7
    HEADERS = 8
    WINDOW_UPDATE = 9


class RstStatus(enum.IntEnum):
    PROTOCOL_ERROR = 1
    INVALID_STREAM = 2
    REFUSED_STREAM = 3
    UNSUPPORTED_VERSION = 4
    CANCEL = 5
    INTERNAL_ERROR = 6
    FLOW_CONTROL_ERROR = 7
    STREAM_IN_USE = 8
    STREAM_ALREADY_CLOSED = 9
    INVALID_CREDENTIALS = 10
    FRAME_TOO_LARGE = 11


class GoAwayStatus(enum.IntEnum):
    OK = 0
    PROTOCOL_ERROR = 1
    INTERNAL_ERROR = 2


class SettingId(enum.IntEnum):
    UPLOAD_BANDWIDTH = 1
    DOWNLOAD_BANDWIDTH = 2
    ROUND_TRIP_TIME = 3
    MAX_CONCURRENT_STREAMS = 4
    CURRENT_CWND = 5
    DOWNLOAD_RETRANS_RATE = 6
    INITIAL_WINDOW_SIZE = 7
    CLIENT_CERTIFICATE_VECTOR_SIZE = 8


@dataclass(frozen=True)
class DataFrame:
    stream_id: int
    data: bytes = b""
    fin: bool = False


@dataclass(frozen=True)
class SynStream:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    associated_to: int = 0
    priority: int = 0        # 3 bits, 0 is highest
    slot: int = 0
    fin: bool = False
    unidirectional: bool = False


@dataclass(frozen=True)
class SynReply:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    fin: bool = False


@dataclass(frozen=True)
class HeadersFrame:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    fin: bool = False


@dataclass(frozen=True)
class RstStream:
    stream_id: int
    status: int


@dataclass(frozen=True)
class Settings:
    # (flags, id, value) triples
    entries: tuple[tuple[int, int, int], ...] = ()
    clear: bool = False


@dataclass(frozen=True)
class Ping:
    ping_id: int


@dataclass(frozen=True)
class GoAway:
    last_good_stream_id: int
    status: int = GoAwayStatus.OK


@dataclass(frozen=True)
class WindowUpdate:
    stream_id: int           # 0: the session window (SPDY/3.1)
    delta: int


@dataclass(frozen=True)
class UnknownControl:
    version: int
    type: int
    flags: int
    payload: bytes


Frame = (DataFrame | SynStream | SynReply | HeadersFrame | RstStream | Settings | Ping | GoAway
         | WindowUpdate | UnknownControl)


def _control(kind: FrameType, flags: int, payload: bytes) -> bytes:
    if len(payload) > MAX_LENGTH:
        raise ValueError("control frame too large")
    return struct.pack(">HHI", 0x8000 | VERSION, kind, (flags << 24) | len(payload)) + payload


def _stream_id(stream_id: int) -> int:
    if not 0 < stream_id <= MAX_STREAM_ID:
        raise ValueError(f"invalid stream id {stream_id}")
    return stream_id


def encode(frame: Frame, compressor: HeaderCompressor | None = None) -> bytes:
    """The wire bytes of ``frame``; header frames need the sender's compressor."""
    match frame:
        case DataFrame(stream_id, data, fin):
            if len(data) > MAX_LENGTH:
                raise ValueError("data frame too large")
            return struct.pack(">II", _stream_id(stream_id),
                               ((FLAG_FIN if fin else 0) << 24) | len(data)) + data
        case SynStream():
            assert compressor is not None
            flags = (FLAG_FIN if frame.fin else 0) | (FLAG_UNIDIRECTIONAL if frame.unidirectional else 0)
            head = struct.pack(">IIBB", _stream_id(frame.stream_id), frame.associated_to,
                               (frame.priority & 7) << 5, frame.slot)
            return _control(FrameType.SYN_STREAM, flags, head + compressor.compress(frame.headers))
        case SynReply(stream_id, headers, fin) | HeadersFrame(stream_id, headers, fin):
            assert compressor is not None
            kind = FrameType.SYN_REPLY if isinstance(frame, SynReply) else FrameType.HEADERS
            return _control(kind, FLAG_FIN if fin else 0,
                            struct.pack(">I", _stream_id(stream_id)) + compressor.compress(headers))
        case RstStream(stream_id, status):
            return _control(FrameType.RST_STREAM, 0, struct.pack(">II", _stream_id(stream_id), status))
        case Settings(entries, clear):
            body = struct.pack(">I", len(entries)) + b"".join(
                struct.pack(">II", (flags << 24) | sid, value) for flags, sid, value in entries)
            return _control(FrameType.SETTINGS, FLAG_SETTINGS_CLEAR if clear else 0, body)
        case Ping(ping_id):
            return _control(FrameType.PING, 0, struct.pack(">I", ping_id))
        case GoAway(last_good, status):
            return _control(FrameType.GOAWAY, 0, struct.pack(">II", last_good, status))
        case WindowUpdate(stream_id, delta):
            return _control(FrameType.WINDOW_UPDATE, 0, struct.pack(">II", stream_id, delta))
        case UnknownControl(version, kind, flags, payload):
            return struct.pack(">HHI", 0x8000 | version, kind, (flags << 24) | len(payload)) + payload
    raise TypeError(f"not a SPDY frame: {frame!r}")


class FrameParser:
    """Incremental parser: ``feed`` bytes as they arrive, get the complete frames back.

    Invariant: ``_buf`` holds the bytes of at most one incomplete frame after ``feed``.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._headers = HeaderDecompressor()

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        frames: list[Frame] = []
        while len(self._buf) >= 8:
            first, flags_len = struct.unpack_from(">II", self._buf, 0)
            length = flags_len & MAX_LENGTH
            if len(self._buf) < 8 + length:
                break
            payload = bytes(self._buf[8:8 + length])
            del self._buf[:8 + length]
            flags = flags_len >> 24
            if first & 0x80000000:
                frames.append(self._control((first >> 16) & 0x7FFF, first & 0xFFFF, flags, payload))
            else:
                if first == 0:
                    raise SpdyProtocolError("data frame on stream 0")
                frames.append(DataFrame(first, payload, bool(flags & FLAG_FIN)))
        return frames

    def _control(self, version: int, kind: int, flags: int, p: bytes) -> Frame:
        if kind not in FrameType.__members__.values():
            return UnknownControl(version, kind, flags, p)
        if version != VERSION:
            raise SpdyProtocolError(f"unsupported SPDY version {version}")
        fin = bool(flags & FLAG_FIN)
        try:
            match kind:
                case FrameType.SYN_STREAM:
                    sid, assoc, prio, slot = struct.unpack_from(">IIBB", p, 0)
                    return SynStream(_nonzero(sid & MAX_STREAM_ID), self._headers.decompress(p[10:]),
                                     assoc & MAX_STREAM_ID, prio >> 5, slot, fin,
                                     bool(flags & FLAG_UNIDIRECTIONAL))
                case FrameType.SYN_REPLY | FrameType.HEADERS:
                    (sid,) = struct.unpack_from(">I", p, 0)
                    cls = SynReply if kind == FrameType.SYN_REPLY else HeadersFrame
                    return cls(_nonzero(sid & MAX_STREAM_ID), self._headers.decompress(p[4:]), fin)
                case FrameType.RST_STREAM:
                    sid, status = _exact(">II", p)
                    return RstStream(_nonzero(sid & MAX_STREAM_ID), status)
                case FrameType.SETTINGS:
                    (count,) = struct.unpack_from(">I", p, 0)
                    if len(p) != 4 + 8 * count:
                        raise SpdyProtocolError("SETTINGS length does not match its count")
                    entries = tuple((fid >> 24, fid & 0xFFFFFF, value)
                                    for fid, value in struct.iter_unpack(">II", p[4:]))
                    return Settings(entries, bool(flags & FLAG_SETTINGS_CLEAR))
                case FrameType.PING:
                    (ping_id,) = _exact(">I", p)
                    return Ping(ping_id)
                case FrameType.GOAWAY:
                    last, status = _exact(">II", p)
                    return GoAway(last & MAX_STREAM_ID, status)
                case FrameType.WINDOW_UPDATE:
                    sid, delta = _exact(">II", p)
                    return WindowUpdate(sid & MAX_STREAM_ID, delta & 0x7FFFFFFF)
        except struct.error as exc:
            raise SpdyProtocolError(f"malformed {FrameType(kind).name}: {exc}") from None
        raise AssertionError(kind)


def _exact(fmt: str, payload: bytes) -> tuple[int, ...]:
    if len(payload) != struct.calcsize(fmt):
        raise SpdyProtocolError(f"control frame payload of {len(payload)} bytes")
    return struct.unpack(fmt, payload)


def _nonzero(stream_id: int) -> int:
    if stream_id == 0:
        raise SpdyProtocolError("stream id 0")
    return stream_id
