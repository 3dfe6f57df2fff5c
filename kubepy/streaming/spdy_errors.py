"""Errors of the SPDY/3.1 layer (connection-level, below any Kubernetes Status)."""

from __future__ import annotations


class SpdyProtocolError(Exception):
    """The peer broke the framing rules; the session answers with GOAWAY PROTOCOL_ERROR."""


class StreamClosedError(ConnectionError):
    """A write on a stream that was reset, half-closed by us, or whose session has ended."""
