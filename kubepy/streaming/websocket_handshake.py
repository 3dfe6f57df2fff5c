"""The WebSocket opening handshake (RFC 6455 §4) as Kubernetes streaming endpoints do it.

Pure logic over header dicts whose keys are lower-case (repeated headers joined with ", ").
Subprotocol choice follows k8s.io/apiserver wsstream: the first protocol in the client's
order that the server supports wins; a client asking for none gets the "" protocol if the
server has one (the legacy binary channel protocol), else the upgrade fails with 400.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping

from kubepy.streaming.websocket import accept_key

_CONNECTION_UPGRADE = re.compile(r"(^|.*,\s*)upgrade($|\s*,)")


class HandshakeError(Exception):
    """The request or response is not an acceptable WebSocket handshake (HTTP 400)."""


def is_websocket_request(headers: Mapping[str, str]) -> bool:
    return (headers.get("upgrade", "").lower() == "websocket"
            and bool(_CONNECTION_UPGRADE.match(headers.get("connection", "").lower())))


def requested_protocols(headers: Mapping[str, str]) -> list[str]:
    raw = headers.get("sec-websocket-protocol", "")
    return [p.strip() for p in raw.split(",") if p.strip()]


def select_protocol(requested: list[str], supported: list[str]) -> str | None:
    for protocol in requested or [""]:
        if protocol in supported:
            return protocol
    return None


def server_handshake(headers: Mapping[str, str], supported: list[str]
                     ) -> tuple[str, list[tuple[str, str]]]:
    """(chosen protocol, headers of the 101 response) or HandshakeError."""
    if not is_websocket_request(headers):
        raise HandshakeError("not a websocket upgrade request")
    if headers.get("sec-websocket-version", "").strip() != "13":
        raise HandshakeError("unsupported websocket version (need 13)")
    key = headers.get("sec-websocket-key", "").strip()
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            raise ValueError
    except ValueError:
        raise HandshakeError("invalid Sec-WebSocket-Key") from None
    requested = requested_protocols(headers)
    protocol = select_protocol(requested, supported)
    if protocol is None:
        raise HandshakeError(f"requested protocol(s) are not supported: {requested}; "
                             f"supports {supported}")
    out = [("Upgrade", "websocket"), ("Connection", "Upgrade"),
           ("Sec-WebSocket-Accept", accept_key(key))]
    if protocol:
        out.append(("Sec-WebSocket-Protocol", protocol))
    return protocol, out


def client_request(method: str, host: str, target: str, key: str, protocols: list[str],
                   extra: Mapping[str, str] | None = None) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", "Upgrade: websocket",
             "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
    if protocols:
        lines.append(f"Sec-WebSocket-Protocol: {', '.join(protocols)}")
    lines += [f"{k}: {v}" for k, v in (extra or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def check_server_response(status: int, headers: Mapping[str, str], key: str,
                          protocols: list[str]) -> str:
    """The protocol the server chose ("" for none), or HandshakeError."""
    if status != 101:
        raise HandshakeError(f"expected 101 Switching Protocols, got {status}")
    if headers.get("upgrade", "").lower() != "websocket":
        raise HandshakeError("response lacks Upgrade: websocket")
    if headers.get("sec-websocket-accept", "") != accept_key(key):
        raise HandshakeError("wrong Sec-WebSocket-Accept")
    chosen = headers.get("sec-websocket-protocol", "")
    if chosen and chosen not in protocols:
        raise HandshakeError(f"server chose protocol {chosen!r} that was not offered")
    return chosen
