"""SPDY/3.1 frame codec and header compression: golden bytes derived from the draft's layouts."""

from __future__ import annotations

import struct
import zlib

import pytest

from kubepy.streaming.spdy_errors import SpdyProtocolError
from kubepy.streaming.spdy_frames import (DataFrame, Frame, FrameParser, GoAway, HeadersFrame, Ping,
                                          RstStream, Settings, SynReply, SynStream,
                                          UnknownControl, WindowUpdate, encode)
from kubepy.streaming.spdy_headers import (DICTIONARY, HeaderCompressor, HeaderDecompressor,
                                           decode_block, encode_block)

# frame, exact wire bytes (hex, spaces for reading): head = C|version|type, flags|length
GOLDEN = [
    ("data-fin", DataFrame(1, b"hi", fin=True), "00000001 01000002 6869"),
    ("data-empty", DataFrame(3, b""), "00000003 00000000"),
    ("data-high-id", DataFrame(0x7FFFFFFF, b"\x00"), "7fffffff 00000001 00"),
    ("rst-cancel", RstStream(1, 5), "80030003 00000008 00000001 00000005"),
    ("rst-refused", RstStream(4, 3), "80030003 00000008 00000004 00000003"),
    ("settings-window", Settings(((0, 7, 65536),)),
     "80030004 0000000c 00000001 00000007 00010000"),
    ("settings-persist-clear", Settings(((1, 4, 100), (2, 7, 1)), clear=True),
     "80030004 01000014 00000002 01000004 00000064 02000007 00000001"),
    ("ping", Ping(1), "80030006 00000004 00000001"),
    ("ping-server", Ping(2), "80030006 00000004 00000002"),
    ("goaway-ok", GoAway(3, 0), "80030007 00000008 00000003 00000000"),
    ("goaway-protocol", GoAway(0, 1), "80030007 00000008 00000000 00000001"),
    ("window-session", WindowUpdate(0, 32768), "80030009 00000008 00000000 00008000"),
    ("window-stream", WindowUpdate(5, 65536), "80030009 00000008 00000005 00010000"),
    ("unknown-noop", UnknownControl(3, 5, 0, b""), "80030005 00000000"),
]


@pytest.mark.parametrize("frame,wire", [(f, w) for _, f, w in GOLDEN], ids=[i for i, _, _ in GOLDEN])
def test_golden_frames(frame: Frame, wire: str) -> None:
    raw = bytes.fromhex(wire.replace(" ", ""))
    assert encode(frame) == raw
    assert FrameParser().feed(raw) == [frame]


def test_parser_is_incremental_byte_by_byte() -> None:
    compressor = HeaderCompressor()
    frames: list[Frame] = [SynStream(1, {"streamtype": "error"}), SynStream(3, {"streamtype": "stdout"}, fin=True),
              DataFrame(1, b"x" * 1000), SynReply(2, {}, fin=True), HeadersFrame(1, {"a": "b"}),
              Ping(7), WindowUpdate(1, 10), GoAway(3)]
    wire = b"".join(encode(f, compressor) for f in frames)
    parser = FrameParser()
    got: list[Frame] = []
    for i in range(len(wire)):
        got += parser.feed(wire[i:i + 1])
    assert got == frames


def test_syn_stream_layout() -> None:
    wire = encode(SynStream(5, {"streamtype": "data", "port": "80"}, associated_to=1, priority=3,
                           fin=True, unidirectional=True), HeaderCompressor())
    head, flags_len, sid, assoc, prio, slot = struct.unpack_from(">IIIIBB", wire)
    assert head == 0x80030001
    assert flags_len >> 24 == 0x03 and flags_len & 0xFFFFFF == len(wire) - 8
    assert (sid, assoc, prio, slot) == (5, 1, 3 << 5, 0)
    # zlib header: CMF 0x78, FLG with FDICT set, then the dictionary id (adler32)
    assert wire[18:24] == bytes.fromhex("78f9e3c6a7c2")
    assert wire.endswith(b"\x00\x00\xff\xff")          # every block ends with a sync flush


BAD = [
    ("version-2", "80020003 00000008 00000001 00000005"),
    ("rst-short", "80030003 00000004 00000001"),
    ("rst-stream-0", "80030003 00000008 00000000 00000005"),
    ("ping-long", "80030006 00000008 00000001 00000002"),
    ("goaway-short", "80030007 00000004 00000003"),
    ("window-short", "80030009 00000004 00000001"),
    ("settings-count", "80030004 0000000c 00000002 00000007 00010000"),
    ("data-stream-0", "00000000 00000001 00"),
    ("syn-reply-garbage", "80030002 00000008 00000001 deadbeef"),
]


@pytest.mark.parametrize("wire", [w for _, w in BAD], ids=[i for i, _ in BAD])
def test_protocol_errors(wire: str) -> None:
    with pytest.raises(SpdyProtocolError):
        FrameParser().feed(bytes.fromhex(wire.replace(" ", "")))


def test_dictionary_is_the_spec_dictionary() -> None:
    assert len(DICTIONARY) == 1423
    assert zlib.adler32(DICTIONARY) == 0xE3C6A7C2
    assert DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert b"\x00\x00\x00\x06origin100101201" in DICTIONARY
    assert DICTIONARY.endswith(b"charset=iso-8859-1,utf-,*,enq=0.")


BLOCKS = [
    ("empty", {}, "00000000"),
    ("one", {"streamtype": "error"}, "00000001 0000000a 73747265616d74797065 00000005 6572726f72"),
    ("lowercased", {"Port": "8080"}, "00000001 00000004 706f7274 00000004 38303830"),
    ("multi-value", {"a": "1\x002"}, "00000001 00000001 61 00000003 310032"),
]


@pytest.mark.parametrize("headers,wire", [(h, w) for _, h, w in BLOCKS], ids=[i for i, _, _ in BLOCKS])
def test_header_blocks(headers: dict[str, str], wire: str) -> None:
    raw = bytes.fromhex(wire.replace(" ", ""))
    assert encode_block(headers) == raw
    assert decode_block(raw) == {k.lower(): v for k, v in headers.items()}


def test_header_block_errors() -> None:
    with pytest.raises(ValueError):
        encode_block({"a": "1", "A": "2"})               # duplicate once lower-cased
    with pytest.raises(SpdyProtocolError):
        decode_block(bytes.fromhex("00000001 00000004 6162".replace(" ", "")))
    with pytest.raises(SpdyProtocolError):
        decode_block(bytes.fromhex("00000000 00".replace(" ", "")))


def test_compressed_blocks_share_one_context() -> None:
    compressor, decompressor = HeaderCompressor(), HeaderDecompressor()
    blocks = [{"streamtype": "error"}, {"streamtype": "stdout"}, {"streamtype": "stderr"}, {},
              {"streamtype": "data", "port": "8080", "requestid": "0"}]
    wires = [compressor.compress(h) for h in blocks]
    assert [decompressor.decompress(w) for w in wires] == blocks
    # the second block refers back to the first: a fresh context cannot decode it alone
    assert len(wires[1]) < len(wires[0])
    with pytest.raises(SpdyProtocolError):
        HeaderDecompressor().decompress(wires[1])


def test_compression_uses_the_dictionary() -> None:
    wire = HeaderCompressor().compress({"streamtype": "error"})
    assert zlib.decompressobj(zdict=DICTIONARY).decompress(wire) == encode_block({"streamtype": "error"})
    with pytest.raises(zlib.error):
        zlib.decompressobj(zdict=b"not the dictionary").decompress(wire)


def _stored(block: bytes) -> bytes:
    return b"\x00" + struct.pack("<HH", len(block), len(block) ^ 0xFFFF) + block


def test_decodes_a_hand_assembled_zlib_stream() -> None:
    """RFC 1950 header with FDICT (0x78 0x20: 0x7820 % 31 == 0), DICTID, stored blocks."""
    first, second = encode_block({"streamtype": "error"}), encode_block({"streamtype": "stdin"})
    decompressor = HeaderDecompressor()
    assert decompressor.decompress(b"\x78\x20" + struct.pack(">I", 0xE3C6A7C2) + _stored(first)) \
        == {"streamtype": "error"}
    assert decompressor.decompress(_stored(second)) == {"streamtype": "stdin"}


def test_header_block_that_is_not_flushed_is_refused() -> None:
    wire = HeaderCompressor().compress({"streamtype": "error"})
    with pytest.raises(SpdyProtocolError):
        HeaderDecompressor().decompress(wire[:-6])


# SYN_STREAM frames as kubectl 1.27 (moby/spdystream, Go's compress/zlib at BestCompression)
# sent them for `kubectl exec -i`, captured off the wire: one zlib context across the four.
GO_CAPTURE = [
    ("80030001000000290000000100000000000078f9e3c6a7c26260606004a7b392a2d4c45c6851c29a0a0a"
     "6800000000ffff", SynStream(1, {"streamtype": "error"})),
    ("800300010000001700000003000000000000c22e555c92929907000000ffff",
     SynStream(3, {"streamtype": "stdin"})),
    ("800300010000001900000005000000000000c22ac5565c92925f5a02000000ffff",
     SynStream(5, {"streamtype": "stdout"})),
    ("800300010000001500000007000000000000c229975a5404000000ffff",
     SynStream(7, {"streamtype": "stderr"})),
]


def test_decodes_frames_captured_from_a_go_peer() -> None:
    parser = FrameParser()
    assert [parser.feed(bytes.fromhex(wire)) for wire, _ in GO_CAPTURE] == [[f] for _, f in GO_CAPTURE]


def test_go_capture_needs_the_shared_context() -> None:
    with pytest.raises(SpdyProtocolError):
        FrameParser().feed(bytes.fromhex(GO_CAPTURE[1][0]))
