"""Kubernetes channel subprotocols: the byte layout of each message, both directions."""

from __future__ import annotations

import pytest

from kubepy.streaming.websocket import Message, Opcode
from kubepy.streaming.websocket_channels import (ChannelClosed, ChannelData,
                                                 ChannelProtocolError, codec_for, decode,
                                                 encode, encode_close)

# (protocol, channel, data, wire) -- examples from k8s.io/apiserver wsstream's doc comments
ENCODED = [
    ("channel.k8s.io", 0, b"foo\n", b"\x00foo\n"),
    ("v4.channel.k8s.io", 1, b"\n", b"\x01\n"),
    ("v5.channel.k8s.io", 3, b"{}", b"\x03{}"),
    ("", 2, b"", b"\x02"),
    ("base64.channel.k8s.io", 0, b"foo\n", "0Zm9vCg=="),
    ("v4.base64.channel.k8s.io", 1, b"\n", "1Cg=="),
]


@pytest.mark.parametrize("protocol,channel,data,wire", ENCODED,
                         ids=[f"{e[0] or 'none'}-{e[1]}" for e in ENCODED])
def test_encode_decode(protocol: str, channel: int, data: bytes, wire: bytes | str) -> None:
    codec = codec_for(protocol)
    assert encode(codec, channel, data) == wire
    opcode = Opcode.TEXT if isinstance(wire, str) else Opcode.BINARY
    raw = wire.encode() if isinstance(wire, str) else wire
    assert decode(codec, Message(opcode, raw)) == ChannelData(channel, data)


@pytest.mark.parametrize("protocol,base64,close_signal,status_json", [
    ("v5.channel.k8s.io", False, True, True),
    ("v4.channel.k8s.io", False, False, True),
    ("v4.base64.channel.k8s.io", True, False, True),
    ("channel.k8s.io", False, False, False),
    ("base64.channel.k8s.io", True, False, False),
    ("", False, False, False),
])
def test_codec_for(protocol: str, base64: bool, close_signal: bool, status_json: bool) -> None:
    codec = codec_for(protocol)
    assert (codec.base64, codec.close_signal, codec.status_json) == \
        (base64, close_signal, status_json)


def test_close_signal_only_in_v5() -> None:
    signal = Message(Opcode.BINARY, encode_close(0))
    assert signal.data == b"\xff\x00"
    assert decode(codec_for("v5.channel.k8s.io"), signal) == ChannelClosed(0)
    # before v5, 255 is just an (unknown) channel number
    assert decode(codec_for("v4.channel.k8s.io"), signal) == ChannelData(255, b"\x00")
    with pytest.raises(ChannelProtocolError):
        decode(codec_for("v5.channel.k8s.io"), Message(Opcode.BINARY, b"\xff\x00\x01"))


def test_empty_message_is_ignored_and_bad_base64_refused() -> None:
    assert decode(codec_for("v4.channel.k8s.io"), Message(Opcode.BINARY, b"")) is None
    with pytest.raises(ChannelProtocolError):
        decode(codec_for("base64.channel.k8s.io"), Message(Opcode.TEXT, b"0!!!"))
