"""The HTTP/1.1 upgrade to SPDY/3.1 as the kubelet and apiserver perform it.

The client sends ``Connection: Upgrade``, ``Upgrade: SPDY/3.1`` and one or more
``X-Stream-Protocol-Version`` headers (each may be a comma-separated list, most preferred
first). The server picks the first client protocol it supports (client order wins), answers
101 Switching Protocols with ``Connection: Upgrade``, ``Upgrade: SPDY/3.1`` and the chosen
``X-Stream-Protocol-Version``; with no common protocol it answers 403 listing its own in
``X-Accepted-Stream-Protocol-Versions`` (one header per protocol); without the header, 400.
After the 101 the server speaks first only in reply: see ``spdy.SpdySession``.
"""

from __future__ import annotations

from collections.abc import Iterable

UPGRADE_SPDY31 = "SPDY/3.1"
HEADER_CONNECTION = "Connection"
HEADER_UPGRADE = "Upgrade"
HEADER_PROTOCOL_VERSION = "X-Stream-Protocol-Version"
HEADER_ACCEPTED_PROTOCOL_VERSIONS = "X-Accepted-Stream-Protocol-Versions"


def split_protocols(values: Iterable[str]) -> list[str]:
    """Header values -> protocols: comma-separated, trimmed of spaces, empty ones dropped."""
    return [p.strip(" ") for value in values for p in value.split(",") if p.strip(" ")]


def negotiate_protocol(requested: list[str], supported: list[str]) -> str | None:
    """The first protocol the client requested that the server supports (client order)."""
    wanted = split_protocols(requested)
    for protocol in wanted:
        if protocol in supported:
            return protocol
    return None


def is_spdy_upgrade(connection: str | None, upgrade: str | None) -> bool:
    """A request to upgrade to SPDY/3.1 (substring checks, case-insensitive, as Go's)."""
    return ("upgrade" in (connection or "").lower()
            and UPGRADE_SPDY31.lower() in (upgrade or "").lower())


def upgrade_response_headers(protocol: str | None) -> list[tuple[str, str]]:
    """The 101 response's headers for the negotiated protocol (None: no protocol header)."""
    headers = [(HEADER_CONNECTION, HEADER_UPGRADE), (HEADER_UPGRADE, UPGRADE_SPDY31)]
    if protocol:
        headers.append((HEADER_PROTOCOL_VERSION, protocol))
    return headers
