"""DNS wire codec: round trips per record type, name compression, known bytes, EDNS0 OPT,
truncation with TC, malformed input; resolv.conf parsing for the forwarder."""

from __future__ import annotations

import struct

import pytest

from kubepy.dns import wire
from kubepy.dns.forward import parse_resolv_conf
from kubepy.dns.wire import Message, Question, Record, Soa, Srv

NAME = "web.default.svc.cluster.local."

RECORDS = [
    ("a", Record(NAME, wire.A, 30, "10.43.0.5")),
    ("aaaa", Record(NAME, wire.AAAA, 30, "fd00::5")),
    ("cname", Record(NAME, wire.CNAME, 30, "example.com.")),
    ("ptr", Record("5.0.43.10.in-addr.arpa.", wire.PTR, 5, NAME)),
    ("ns", Record("cluster.local.", wire.NS, 5, "ns.dns.cluster.local.")),
    ("srv", Record("_http._tcp." + NAME, wire.SRV, 30, Srv(0, 100, 80, NAME))),
    ("soa", Record("cluster.local.", wire.SOA, 30,
                   Soa("ns.dns.cluster.local.", "hostmaster.cluster.local.", 7, 7200, 1800,
                       86400, 30))),
    ("txt", Record("dns-version.cluster.local.", wire.TXT, 30, (b"1.1.0", b"x y"))),
    ("unknown-type", Record(NAME, 99, 30, b"\x01\x02\x03")),
    ("opt", Record(".", wire.OPT, 0x8000, b"", 4096)),
]


@pytest.mark.parametrize("rec", [r for _, r in RECORDS], ids=[i for i, _ in RECORDS])
def test_record_round_trip(rec: Record) -> None:
    msg = Message(0x1234, wire.QR | wire.AA | wire.RD, [Question(rec.name, rec.rtype)],
                  answers=[rec])
    assert wire.decode(wire.encode(msg)) == msg


def test_known_query_bytes() -> None:
    # dig-style query for example.com A, id 0xabcd, RD
    raw = bytes.fromhex("abcd01000001000000000000076578616d706c6503636f6d0000010001")
    msg = wire.decode(raw)
    assert (msg.id, msg.flags, msg.questions) == (0xABCD, wire.RD,
                                                  [Question("example.com.", wire.A)])
    assert wire.encode(msg) == raw


def test_names_are_compressed() -> None:
    answers = [Record(NAME, wire.A, 30, f"10.0.0.{i}") for i in range(10)]
    msg = Message(1, wire.QR, [Question(NAME, wire.A)], answers=answers)
    data = wire.encode(msg)
    # the name is written once; every answer owner is a 2-byte pointer
    assert data.count(b"\x07cluster\x05local") == 1
    assert len(data) == 12 + (len(NAME) + 1) + 4 + 10 * (2 + 10 + 4)
    assert wire.decode(data) == msg


def test_compression_is_case_insensitive_but_case_survives_first_write() -> None:
    msg = Message(1, 0, [Question("Web.Example.COM.", wire.A)],
                  answers=[Record("web.example.com.", wire.A, 1, "1.2.3.4")])
    out = wire.decode(wire.encode(msg))
    assert out.questions[0].name == "Web.Example.COM."
    assert wire.canonical(out.answers[0].name) == "web.example.com."


@pytest.mark.parametrize("opt, size", [(None, 512), (100, 512), (1232, 1232), (4096, 4096)],
                         ids=["no-edns", "below-minimum", "1232", "4096"])
def test_udp_payload_size(opt: int | None, size: int) -> None:
    msg = Message(1, wire.RD, [Question(NAME, wire.A)],
                  additional=[] if opt is None else [wire.make_opt(opt)])
    assert wire.decode(wire.encode(msg)).udp_payload_size == size


def _big(n: int, *, authority: bool = False) -> Message:
    return Message(7, wire.QR | wire.AA, [Question(NAME, wire.A)],
                   answers=[Record(NAME, wire.A, 30, f"10.1.{i // 250}.{i % 250}")
                            for i in range(n)],
                   authority=[Record("cluster.local.", wire.NS, 30, "ns.dns.cluster.local.")]
                   if authority else [],
                   additional=[Record("x.cluster.local.", wire.A, 30, "10.9.9.9"),
                               wire.make_opt(512)])


@pytest.mark.parametrize("n, limit, truncated", [
    (5, 512, False),
    (40, 512, True),      # 40 * 16 bytes of answers cannot fit
    (40, 4096, False),
    (300, 4096, True),
], ids=["small-fits", "udp-512-truncates", "edns-4096-fits", "edns-4096-truncates"])
def test_truncation(n: int, limit: int, truncated: bool) -> None:
    data = wire.encode(_big(n), limit)
    assert len(data) <= limit
    out = wire.decode(data)
    assert out.has(wire.TC) is truncated
    assert (len(out.answers) < n) is truncated
    assert out.opt is not None  # OPT survives truncation
    assert out.questions == [Question(NAME, wire.A)]


def test_truncation_drops_additional_first_without_tc() -> None:
    msg = _big(28)
    full = len(wire.encode(msg))
    data = wire.encode(msg, full - 1)
    out = wire.decode(data)
    assert not out.has(wire.TC) and len(out.answers) == 28
    assert [r.rtype for r in out.additional] == [wire.OPT]


@pytest.mark.parametrize("raw", [
    b"\x00\x01",
    bytes.fromhex("000100000001000000000000") + b"\x05abc",              # label past end
    bytes.fromhex("000100000001000000000000") + b"\xc0\x0c\x00\x01\x00\x01",  # self pointer
    bytes.fromhex("000100000001000000000000") + b"\x40abc\x00\x00\x01\x00\x01",  # label type
    bytes.fromhex("000100000000000100000000") + b"\x00\x00\x01\x00\x01\x00\x00\x00\x1e\x00\x09"
    + b"\x01\x02",                                                       # rdata past end
], ids=["short-header", "label-past-end", "pointer-loop", "bad-label-type", "rdata-past-end"])
def test_malformed_input_raises_wire_error(raw: bytes) -> None:
    with pytest.raises(wire.WireError):
        wire.decode(raw)


def test_reply_to_copies_id_question_rd_and_edns() -> None:
    q = Message(99, wire.RD, [Question(NAME, wire.SRV)], additional=[wire.make_opt(4096)])
    r = wire.reply_to(q, wire.NXDOMAIN, authoritative=True)
    assert (r.id, r.rcode, r.questions) == (99, wire.NXDOMAIN, q.questions)
    assert r.has(wire.QR) and r.has(wire.AA) and r.has(wire.RD) and r.opt is not None
    assert struct.unpack_from("!H", wire.encode(r), 2)[0] & 0xF == wire.NXDOMAIN


@pytest.mark.parametrize("text, expected", [
    ("nameserver 10.0.0.2\nsearch example.com\n", [("10.0.0.2", 53)]),
    ("# comment\nnameserver 1.1.1.1 ; trailing\nnameserver fe80::1%eth0\noptions ndots:5\n",
     [("1.1.1.1", 53), ("fe80::1", 53)]),
    ("domain x\n", []),
], ids=["one", "comments-and-zone-index", "none"])
def test_parse_resolv_conf(text: str, expected: list[tuple[str, int]]) -> None:
    assert parse_resolv_conf(text) == expected
