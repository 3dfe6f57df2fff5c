"""WebSocket frames, messages, the handshake and the connection (RFC 6455).

Frame bytes are checked against the RFC's examples and against the websocket-client
library's own encoder (a real, independent implementation); the connection is exercised
as a client/server pair over in-memory pipes.
"""

from __future__ import annotations

import asyncio
import os

import pytest
from websocket import ABNF

from kubepy.streaming.websocket import (CloseCode, Frame, FrameDecoder, Message,
                                        MessageAssembler, Opcode, WebSocketProtocolError,
                                        accept_key, apply_mask, close_payload, encode_frame,
                                        parse_close)
from kubepy.streaming.websocket_conn import WebSocket
from kubepy.streaming.websocket_handshake import (HandshakeError, check_server_response,
                                                  is_websocket_request, select_protocol,
                                                  server_handshake)

MASK = bytes.fromhex("37fa213d")

# RFC 6455 §5.7 examples
RFC_FRAMES = [
    ("text-unmasked", Opcode.TEXT, b"Hello", True, None, "810548656c6c6f"),
    ("text-masked", Opcode.TEXT, b"Hello", True, MASK, "818537fa213d7f9f4d5158"),
    ("fragment-1", Opcode.TEXT, b"Hel", False, None, "010348656c"),
    ("fragment-2", Opcode.CONTINUATION, b"lo", True, None, "80026c6f"),
    ("ping", Opcode.PING, b"Hello", True, None, "890548656c6c6f"),
    ("pong-masked", Opcode.PONG, b"Hello", True, MASK, "8a8537fa213d7f9f4d5158"),
    ("binary-256", Opcode.BINARY, b"\0" * 256, True, None, "827e0100" + "00" * 256),
    ("binary-64k", Opcode.BINARY, b"\0" * 65536, True, None,
     "827f0000000000010000" + "00" * 65536),
    ("empty-binary", Opcode.BINARY, b"", True, None, "8200"),
    ("close-1000", Opcode.CLOSE, close_payload(1000), True, None, "880203e8"),
]


@pytest.mark.parametrize("name,opcode,payload,fin,mask,wire", RFC_FRAMES,
                         ids=[r[0] for r in RFC_FRAMES])
def test_encode_matches_rfc(name: str, opcode: Opcode, payload: bytes, fin: bool,
                            mask: bytes | None, wire: str) -> None:
    assert encode_frame(opcode, payload, fin=fin, mask=mask).hex() == wire
    decoded = FrameDecoder(masked=mask is not None).feed(bytes.fromhex(wire))
    assert decoded == [Frame(opcode, payload, fin)]


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
@pytest.mark.parametrize("opcode", [Opcode.TEXT, Opcode.BINARY])
def test_encode_matches_websocket_client_library(size: int, opcode: Opcode) -> None:
    payload = (b"k8s!" * (size // 4 + 1))[:size]
    mask = os.urandom(4)
    frame = ABNF(1, 0, 0, 0, int(opcode), 1, payload)
    frame.get_mask_key = lambda n: mask
    assert encode_frame(opcode, payload, mask=mask) == frame.format()


def test_decoder_byte_by_byte_and_batched() -> None:
    wire = b"".join([encode_frame(Opcode.BINARY, b"x" * 300, mask=MASK),
                     encode_frame(Opcode.PING, b"p", mask=MASK),
                     encode_frame(Opcode.TEXT, "héllo".encode(), mask=MASK)])
    expected = [Frame(Opcode.BINARY, b"x" * 300), Frame(Opcode.PING, b"p"),
                Frame(Opcode.TEXT, "héllo".encode())]
    decoder = FrameDecoder(masked=True)
    got: list[Frame] = []
    for i in range(len(wire)):
        got += decoder.feed(wire[i:i + 1])
    assert got == expected
    assert FrameDecoder(masked=True).feed(wire) == expected


BAD_FRAMES = [
    ("unmasked-to-server", True, encode_frame(Opcode.TEXT, b"hi"), CloseCode.PROTOCOL_ERROR),
    ("masked-to-client", False, encode_frame(Opcode.TEXT, b"hi", mask=MASK),
     CloseCode.PROTOCOL_ERROR),
    ("reserved-bit", False, bytes([0xC1, 0x00]), CloseCode.PROTOCOL_ERROR),
    ("unknown-opcode", False, bytes([0x83, 0x00]), CloseCode.PROTOCOL_ERROR),
    ("fragmented-ping", False, bytes([0x09, 0x00]), CloseCode.PROTOCOL_ERROR),
    ("long-ping", False, bytes([0x89, 126, 0, 126]) + b"x" * 126, CloseCode.PROTOCOL_ERROR),
    ("too-big", False, bytes([0x82, 127]) + (1 << 40).to_bytes(8, "big"), CloseCode.TOO_BIG),
]


@pytest.mark.parametrize("name,masked,wire,code", BAD_FRAMES, ids=[b[0] for b in BAD_FRAMES])
def test_decoder_refuses(name: str, masked: bool, wire: bytes, code: int) -> None:
    with pytest.raises(WebSocketProtocolError) as e:
        FrameDecoder(masked=masked).feed(wire)
    assert e.value.code == code


def test_mask_is_an_involution() -> None:
    data = os.urandom(1001)
    assert apply_mask(data, MASK) != data
    assert apply_mask(apply_mask(data, MASK), MASK) == data


ASSEMBLY = [
    ("single", [Frame(Opcode.BINARY, b"abc")], [Message(Opcode.BINARY, b"abc")]),
    ("fragments", [Frame(Opcode.TEXT, b"Hel", False), Frame(Opcode.CONTINUATION, b"lo")],
     [Message(Opcode.TEXT, b"Hello")]),
    ("ping-between-fragments",
     [Frame(Opcode.BINARY, b"a", False), Frame(Opcode.PING, b"!"),
      Frame(Opcode.CONTINUATION, b"b", False), Frame(Opcode.CONTINUATION, b"c")],
     [Message(Opcode.PING, b"!"), Message(Opcode.BINARY, b"abc")]),
]


@pytest.mark.parametrize("name,frames,messages", ASSEMBLY, ids=[a[0] for a in ASSEMBLY])
def test_assembler(name: str, frames: list[Frame], messages: list[Message]) -> None:
    assembler = MessageAssembler()
    assert [m for m in map(assembler.add, frames) if m is not None] == messages


@pytest.mark.parametrize("frames", [
    [Frame(Opcode.CONTINUATION, b"x")],
    [Frame(Opcode.TEXT, b"a", False), Frame(Opcode.BINARY, b"b")],
    [Frame(Opcode.TEXT, b"\xff\xfe")],
], ids=["orphan-continuation", "interleaved-data", "invalid-utf8"])
def test_assembler_refuses(frames: list[Frame]) -> None:
    assembler = MessageAssembler()
    with pytest.raises(WebSocketProtocolError):
        for f in frames:
            assembler.add(f)


@pytest.mark.parametrize("payload,expected", [
    (b"", (CloseCode.NO_STATUS, "")),
    (close_payload(1000, "bye"), (1000, "bye")),
    (close_payload(4001), (4001, "")),
])
def test_parse_close(payload: bytes, expected: tuple[int, str]) -> None:
    assert parse_close(payload) == expected


@pytest.mark.parametrize("payload", [b"\x03", close_payload(999), close_payload(1005),
                                     close_payload(2000)])
def test_parse_close_refuses(payload: bytes) -> None:
    with pytest.raises(WebSocketProtocolError):
        parse_close(payload)


def test_accept_key_rfc_example() -> None:
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


UPGRADE = {"upgrade": "websocket", "connection": "keep-alive, Upgrade",
           "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ=="}


@pytest.mark.parametrize("headers,expected", [
    (UPGRADE, True),
    ({**UPGRADE, "connection": "upgrade"}, True),
    ({**UPGRADE, "connection": "keep-alive"}, False),
    ({**UPGRADE, "upgrade": "SPDY/3.1"}, False),
])
def test_is_websocket_request(headers: dict[str, str], expected: bool) -> None:
    assert is_websocket_request(headers) is expected


@pytest.mark.parametrize("requested,supported,chosen", [
    (["v5.channel.k8s.io", "v4.channel.k8s.io"], ["v4.channel.k8s.io", "v5.channel.k8s.io"],
     "v5.channel.k8s.io"),
    (["v9.channel.k8s.io", "v4.channel.k8s.io"], ["v4.channel.k8s.io", ""], "v4.channel.k8s.io"),
    ([], ["channel.k8s.io", ""], ""),
    ([], ["channel.k8s.io"], None),
    (["x"], ["channel.k8s.io", ""], None),
])
def test_select_protocol(requested: list[str], supported: list[str], chosen: str | None) -> None:
    assert select_protocol(requested, supported) == chosen


def test_server_handshake_and_client_check() -> None:
    headers = {**UPGRADE, "sec-websocket-protocol": "v5.channel.k8s.io, v4.channel.k8s.io"}
    protocol, out = server_handshake(headers, ["v4.channel.k8s.io", "v5.channel.k8s.io"])
    assert protocol == "v5.channel.k8s.io"
    response = {k.lower(): v for k, v in out}
    assert response["sec-websocket-accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert check_server_response(101, response, UPGRADE["sec-websocket-key"],
                                 ["v5.channel.k8s.io"]) == "v5.channel.k8s.io"
    with pytest.raises(HandshakeError):
        check_server_response(101, {**response, "sec-websocket-accept": "x"},
                              UPGRADE["sec-websocket-key"], ["v5.channel.k8s.io"])
    for bad in ({**UPGRADE, "sec-websocket-version": "8"}, {**UPGRADE, "sec-websocket-key": "x"},
                {**UPGRADE, "sec-websocket-protocol": "nope"}):
        with pytest.raises(HandshakeError):
            server_handshake(bad, ["v4.channel.k8s.io"])


class Pipe:
    """One direction of an in-memory transport."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.sent: list[bytes] = []

    async def read(self) -> bytes:
        return await self.queue.get()

    async def write(self, data: bytes) -> None:
        self.sent.append(data)
        self.queue.put_nowait(data)


def pair() -> tuple[WebSocket, WebSocket, Pipe, Pipe]:
    to_server, to_client = Pipe(), Pipe()
    client = WebSocket(to_client.read, to_server.write, client=True)
    server = WebSocket(to_server.read, to_client.write, client=False)
    return client, server, to_server, to_client


def test_connection_messages_ping_and_close() -> None:
    async def main() -> None:
        client, server, to_server, to_client = pair()
        await client.send(b"\x00hello")
        await client.send("text")
        await client.ping(b"are you there")
        assert await server.recv() == Message(Opcode.BINARY, b"\x00hello")
        assert await server.recv() == Message(Opcode.TEXT, b"text")
        await server.send(b"big" * 50000)
        assert await client.recv() == Message(Opcode.BINARY, b"big" * 50000)
        await client.close(1000, "done")
        assert await server.recv() is None
        # the server answered the ping with a pong carrying the same data, then the close
        assert to_client.sent[1:] == [encode_frame(Opcode.PONG, b"are you there"),
                                      encode_frame(Opcode.CLOSE, close_payload(1000))]
        assert (server.close_code, server.close_reason) == (1000, "done")
        # the server echoed the close; the client sees the handshake complete
        assert await client.recv() is None and client.close_code == 1000
        with pytest.raises(ConnectionResetError):
            await server.send(b"late")
    asyncio.run(main())


def test_connection_protocol_error_closes_with_code() -> None:
    async def main() -> None:
        client, server, to_server, to_client = pair()
        to_server.queue.put_nowait(encode_frame(Opcode.TEXT, b"unmasked"))
        assert await server.recv() is None
        assert server.close_code == CloseCode.PROTOCOL_ERROR
        assert await client.recv() is None
        assert client.close_code == CloseCode.PROTOCOL_ERROR
    asyncio.run(main())


def test_connection_eof_is_abnormal_close() -> None:
    async def main() -> None:
        client, server, to_server, _ = pair()
        await client.send(b"last")
        to_server.queue.put_nowait(b"")
        assert await server.recv() == Message(Opcode.BINARY, b"last")
        assert await server.recv() is None
        assert server.close_code == CloseCode.ABNORMAL
    asyncio.run(main())
