"""Kubernetes channel subprotocols over WebSocket (k8s.io/apiserver wsstream, remotecommand).

Every message carries one channel's data, prefixed by the channel number:
  "channel.k8s.io", "v4.channel.k8s.io", "v5.channel.k8s.io" (and "" when none is asked):
      binary messages, first byte the channel (0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize
      for remote commands; 2n data / 2n+1 error for port-forward port n);
  "base64.channel.k8s.io", "v4.base64.channel.k8s.io":
      text messages, first character '0'+channel, the rest the data in standard base64.
"v4." changes only what the error channel carries (a metav1 Status JSON instead of a plain
message). "v5." adds the close signal: a binary message [255, channel] half-closes that
channel (the client is done writing stdin). Pure logic.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from kubepy.streaming.websocket import Message, Opcode

V5_BINARY = "v5.channel.k8s.io"
V4_BINARY = "v4.channel.k8s.io"
V4_BASE64 = "v4.base64.channel.k8s.io"
V1_BINARY = "channel.k8s.io"
V1_BASE64 = "base64.channel.k8s.io"
STREAM_CLOSE = 255

STDIN, STDOUT, STDERR, ERROR, RESIZE = 0, 1, 2, 3, 4

# what the kubelet offers for exec and attach, and for port-forward (no v5, no v1 there)
REMOTE_COMMAND_PROTOCOLS = [V5_BINARY, V4_BINARY, V4_BASE64, V1_BINARY, V1_BASE64, ""]
PORT_FORWARD_PROTOCOLS = [V4_BINARY, V4_BASE64, ""]


@dataclass(frozen=True)
class ChannelCodec:
    base64: bool  # text messages with base64 data
    close_signal: bool  # v5: [255, channel] half-closes a channel
    status_json: bool  # v4+: the error channel carries a metav1 Status


def codec_for(protocol: str) -> ChannelCodec:
    return ChannelCodec(base64="base64" in protocol,
                        close_signal=protocol.startswith("v5."),
                        status_json=protocol.startswith(("v4.", "v5.")))


@dataclass(frozen=True)
class ChannelData:
    channel: int
    data: bytes


@dataclass(frozen=True)
class ChannelClosed:
    channel: int


class ChannelProtocolError(ValueError):
    pass


def encode(codec: ChannelCodec, channel: int, data: bytes) -> bytes | str:
    """The message for ``data`` on ``channel`` (str: send as a text message)."""
    if codec.base64:
        return chr(ord("0") + channel) + base64.b64encode(data).decode()
    return bytes([channel]) + data


def encode_close(channel: int) -> bytes:
    return bytes([STREAM_CLOSE, channel])


def decode(codec: ChannelCodec, message: Message) -> ChannelData | ChannelClosed | None:
    """What a received message means; None for an empty message (ignored, as wsstream does)."""
    raw = message.data
    if not raw:
        return None
    if codec.close_signal and raw[0] == STREAM_CLOSE and message.opcode == Opcode.BINARY:
        if len(raw) != 2:
            raise ChannelProtocolError(f"close signal of {len(raw)} bytes (want 2)")
        return ChannelClosed(raw[1])
    if codec.base64:
        channel = raw[0] - ord("0")
        try:
            data = base64.b64decode(raw[1:], validate=True)
        except binascii.Error:
            raise ChannelProtocolError("invalid base64 data") from None
        return ChannelData(channel, data)
    return ChannelData(raw[0], raw[1:])
