"""DNS message wire format (RFC 1035, 2782, 3596, 6891): ``decode(bytes) -> Message`` and
``encode(Message, max_size=None) -> bytes``.

Contract:

* Names are text with a trailing dot (``web.default.svc.cluster.local.``; the root is
  ``.``); decoding follows compression pointers (loops and forward jumps are errors) and
  encoding compresses every name it writes, case-insensitively, as RFC 1035 4.1.4 allows.
* Record data by type: A/AAAA -> IP address text; CNAME/PTR/NS -> name; SRV -> ``Srv``;
  SOA -> ``Soa``; TXT -> tuple of ``bytes`` strings; anything else (OPT included) -> raw
  ``bytes``, passed through untouched. An OPT record keeps the UDP payload size in
  ``rclass`` and the extended rcode/flags in ``ttl`` (RFC 6891 6.1.2).
* ``encode(msg, max_size=n)`` never returns more than ``n`` bytes: it drops additional
  records first (keeping OPT), then authority and answer records from the end, and sets
  the TC bit when an answer or authority record had to go (a client then retries on TCP).
* Malformed input raises ``WireError`` (a ``ValueError``).
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field, replace
from typing import Union

# record types
A, NS, CNAME, SOA, PTR, MX, TXT, AAAA, SRV, OPT, ANY = 1, 2, 5, 6, 12, 15, 16, 28, 33, 41, 255
CLASS_IN = 1
# response codes
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5
# header flag bits
QR, AA, TC, RD, RA = 0x8000, 0x0400, 0x0200, 0x0100, 0x0080
UDP_MIN_PAYLOAD = 512
MAX_LABEL, MAX_NAME = 63, 255


class WireError(ValueError):
    """A DNS message that cannot be parsed or encoded."""


@dataclass(frozen=True)
class Srv:
    priority: int
    weight: int
    port: int
    target: str


@dataclass(frozen=True)
class Soa:
    mname: str
    rname: str
    serial: int
    refresh: int
    retry: int
    expire: int
    minimum: int


RData = Union[str, Srv, Soa, tuple[Union[bytes, str], ...], bytes]  # the tuple: TXT strings


@dataclass(frozen=True)
class Question:
    name: str
    qtype: int
    qclass: int = CLASS_IN


@dataclass(frozen=True)
class Record:
    name: str
    rtype: int
    ttl: int
    data: RData
    rclass: int = CLASS_IN


@dataclass
class Message:
    id: int = 0
    flags: int = 0  # QR/opcode/AA/TC/RD/RA/Z bits and the low 4 rcode bits
    questions: list[Question] = field(default_factory=list)
    answers: list[Record] = field(default_factory=list)
    authority: list[Record] = field(default_factory=list)
    additional: list[Record] = field(default_factory=list)

    @property
    def rcode(self) -> int:
        return self.flags & 0xF

    @property
    def opcode(self) -> int:
        return (self.flags >> 11) & 0xF

    def has(self, bit: int) -> bool:
        return bool(self.flags & bit)

    @property
    def opt(self) -> Record | None:
        return next((r for r in self.additional if r.rtype == OPT), None)

    @property
    def udp_payload_size(self) -> int:
        """The largest UDP answer the sender accepts (EDNS0 OPT, at least 512)."""
        opt = self.opt
        return max(UDP_MIN_PAYLOAD, opt.rclass) if opt is not None else UDP_MIN_PAYLOAD


def canonical(name: str) -> str:
    """Lower-case, absolute (trailing dot) form used for comparisons."""
    name = name.lower()
    return name if name.endswith(".") else name + "."


def make_opt(payload: int = 1232) -> Record:
    return Record(".", OPT, 0, b"", payload)


# ---------------------------------------------------------------------------- decode

def decode(data: bytes) -> Message:
    try:
        return _decode(data)
    except (struct.error, IndexError, UnicodeDecodeError) as e:
        raise WireError(f"malformed DNS message: {e}") from e


def decode_header_id(data: bytes) -> int | None:
    return struct.unpack_from("!H", data)[0] if len(data) >= 2 else None


def _decode(data: bytes) -> Message:
    if len(data) < 12:
        raise WireError("message shorter than its header")
    mid, flags, qd, an, ns, ar = struct.unpack_from("!6H", data)
    msg = Message(mid, flags)
    pos = 12
    for _ in range(qd):
        name, pos = _read_name(data, pos)
        qtype, qclass = struct.unpack_from("!HH", data, pos)
        pos += 4
        msg.questions.append(Question(name, qtype, qclass))
    for section, count in ((msg.answers, an), (msg.authority, ns), (msg.additional, ar)):
        for _ in range(count):
            rec, pos = _read_record(data, pos)
            section.append(rec)
    return msg


def _read_name(data: bytes, pos: int) -> tuple[str, int]:
    labels: list[str] = []
    end = -1
    jumps = 0
    length = 0
    while True:
        n = data[pos]
        if n & 0xC0 == 0xC0:
            target = ((n & 0x3F) << 8) | data[pos + 1]
            if end < 0:
                end = pos + 2
            if target >= pos or jumps > 64:
                raise WireError("bad compression pointer")
            jumps += 1
            pos = target
            continue
        if n & 0xC0:
            raise WireError("unsupported label type")
        pos += 1
        if n == 0:
            break
        label = data[pos:pos + n]
        if len(label) != n:
            raise WireError("label runs past the message")
        length += n + 1
        if length > MAX_NAME:
            raise WireError("name longer than 255 octets")
        labels.append(label.decode("latin-1"))
        pos += n
    return (".".join(labels) + "." if labels else "."), (end if end >= 0 else pos)


def _read_record(data: bytes, pos: int) -> tuple[Record, int]:
    name, pos = _read_name(data, pos)
    rtype, rclass, ttl, rdlen = struct.unpack_from("!HHIH", data, pos)
    pos += 10
    end = pos + rdlen
    if end > len(data):
        raise WireError("record data runs past the message")
    rdata: RData
    if rtype == A and rdlen == 4:
        rdata = str(ipaddress.IPv4Address(data[pos:end]))
    elif rtype == AAAA and rdlen == 16:
        rdata = str(ipaddress.IPv6Address(data[pos:end]))
    elif rtype in (CNAME, PTR, NS):
        rdata, _ = _read_name(data, pos)
    elif rtype == SRV:
        pri, weight, port = struct.unpack_from("!3H", data, pos)
        target, _ = _read_name(data, pos + 6)
        rdata = Srv(pri, weight, port, target)
    elif rtype == SOA:
        mname, p = _read_name(data, pos)
        rname, p = _read_name(data, p)
        rdata = Soa(mname, rname, *struct.unpack_from("!5I", data, p))
    elif rtype == TXT:
        strings, p = [], pos
        while p < end:
            n = data[p]
            strings.append(bytes(data[p + 1:p + 1 + n]))
            p += 1 + n
        rdata = tuple(strings)
    else:
        rdata = bytes(data[pos:end])
    return Record(name, rtype, ttl, rdata, rclass), end


# ---------------------------------------------------------------------------- encode

class _Writer:
    def __init__(self) -> None:
        self.buf = bytearray()
        self.offsets: dict[str, int] = {}  # lower-case name suffix -> offset

    def name(self, name: str) -> None:
        labels = [x for x in name.rstrip(".").split(".") if x] if name not in (".", "") else []
        if sum(len(x) + 1 for x in labels) + 1 > MAX_NAME:
            raise WireError(f"name too long: {name!r}")
        for i in range(len(labels)):
            suffix = ".".join(labels[i:]).lower()
            ptr = self.offsets.get(suffix)
            if ptr is not None:
                self.buf += struct.pack("!H", 0xC000 | ptr)
                return
            if len(self.buf) < 0x3FFF:
                self.offsets[suffix] = len(self.buf)
            raw = labels[i].encode("latin-1")
            if len(raw) > MAX_LABEL:
                raise WireError(f"label too long in {name!r}")
            self.buf += bytes([len(raw)]) + raw
        self.buf += b"\0"

    def record(self, rec: Record) -> None:
        self.name(rec.name)
        self.buf += struct.pack("!HHI", rec.rtype, rec.rclass, rec.ttl & 0xFFFFFFFF)
        start = len(self.buf)
        self.buf += b"\0\0"
        d = rec.data
        if rec.rtype == A and isinstance(d, str):
            self.buf += ipaddress.IPv4Address(d).packed
        elif rec.rtype == AAAA and isinstance(d, str):
            self.buf += ipaddress.IPv6Address(d).packed
        elif rec.rtype in (CNAME, PTR, NS) and isinstance(d, str):
            self.name(d)
        elif rec.rtype == SRV and isinstance(d, Srv):
            self.buf += struct.pack("!3H", d.priority, d.weight, d.port)
            self.name(d.target)  # RFC 2782 forbids compressing it; harmless for readers
        elif rec.rtype == SOA and isinstance(d, Soa):
            self.name(d.mname)
            self.name(d.rname)
            self.buf += struct.pack("!5I", d.serial, d.refresh, d.retry, d.expire, d.minimum)
        elif rec.rtype == TXT and isinstance(d, tuple):
            for s in d:
                raw = s.encode() if isinstance(s, str) else bytes(s)
                for i in range(0, max(len(raw), 1), 255):
                    chunk = raw[i:i + 255]
                    self.buf += bytes([len(chunk)]) + chunk
        elif isinstance(d, (bytes, bytearray)):
            self.buf += d
        else:
            raise WireError(f"cannot encode {type(d).__name__} data for type {rec.rtype}")
        struct.pack_into("!H", self.buf, start, len(self.buf) - start - 2)


def _encode(msg: Message) -> bytes:
    w = _Writer()
    w.buf += struct.pack("!6H", msg.id, msg.flags, len(msg.questions), len(msg.answers),
                         len(msg.authority), len(msg.additional))
    for q in msg.questions:
        w.name(q.name)
        w.buf += struct.pack("!HH", q.qtype, q.qclass)
    for section in (msg.answers, msg.authority, msg.additional):
        for rec in section:
            w.record(rec)
    return bytes(w.buf)


def encode(msg: Message, max_size: int | None = None) -> bytes:
    data = _encode(msg)
    if max_size is None or len(data) <= max_size:
        return data
    opts = [r for r in msg.additional if r.rtype == OPT]
    trimmed = replace(msg, additional=opts)
    data = _encode(trimmed)
    if len(data) <= max_size:
        return data
    answers, authority = list(msg.answers), list(msg.authority)
    while authority or answers:
        (authority or answers).pop()
        cut = replace(msg, flags=msg.flags | TC, answers=answers, authority=authority,
                      additional=opts)
        data = _encode(cut)
        if len(data) <= max_size:
            return data
    data = _encode(replace(msg, flags=msg.flags | TC, answers=[], authority=[], additional=[]))
    if len(data) > max_size:
        raise WireError("question alone exceeds the size limit")
    return data


def reply_to(query: Message, rcode: int = NOERROR, *, authoritative: bool = False,
             recursion_available: bool = True) -> Message:
    """An empty response to ``query``: same id, question, opcode and RD bit."""
    flags = QR | (query.flags & (0x7800 | RD)) | rcode
    if authoritative:
        flags |= AA
    if recursion_available:
        flags |= RA
    resp = Message(query.id, flags, list(query.questions))
    if query.opt is not None:
        resp.additional.append(make_opt())
    return resp
