"""SPDY/3 name/value header blocks and their zlib compression.

A header block is ``uint32 count`` then, per pair, ``uint32 len, name, uint32 len, value``
(SPDY/3 widened SPDY/2's 16-bit lengths). Names are lower-case; one name carries several
values joined by NUL. Each direction of a session compresses all its header blocks with ONE
zlib stream primed with the fixed SPDY/3 dictionary, ending every block with a sync flush so
the peer can decode it without waiting for more: so a ``HeaderCompressor`` and a
``HeaderDecompressor`` live as long as the session, and blocks must be compressed in the order
they are sent.

The dictionary is the spec's (draft 3, section 2.6.10.1): the words of its first part, each
preceded by its 4-byte big-endian length, then a tail of status lines, dates and media types
without separators -- 1423 bytes, zlib dictionary id (adler32) 0xe3c6a7c2.
"""

from __future__ import annotations

import struct
import zlib

from kubepy.streaming.spdy_errors import SpdyProtocolError

_WORDS = (
    "options head post put delete trace accept accept-charset accept-encoding accept-language "
    "accept-ranges age allow authorization cache-control connection content-base "
    "content-encoding content-language content-length content-location content-md5 "
    "content-range content-type date etag expect expires from host if-match if-modified-since "
    "if-none-match if-range if-unmodified-since last-modified location max-forwards pragma "
    "proxy-authenticate proxy-authorization range referer retry-after server te trailer "
    "transfer-encoding upgrade user-agent vary via warning www-authenticate method get status"
).split() + ["200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive",
             "origin"]
_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request"
    "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented"
    "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
    "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
    "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
    "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)
DICTIONARY: bytes = b"".join(struct.pack(">I", len(w)) + w.encode() for w in _WORDS) + _TAIL.encode()

# A decompressed header block larger than this is refused (a zlib bomb guard).
MAX_HEADER_BLOCK = 1 << 20

Headers = dict[str, str]


def encode_block(headers: Headers) -> bytes:
    """The uncompressed name/value block; names are lower-cased (Go peers reject others)."""
    out = [struct.pack(">I", len(headers))]
    seen: set[str] = set()
    for name, value in headers.items():
        raw_name = name.lower().encode()
        if not raw_name or name.lower() in seen:
            raise ValueError(f"invalid or duplicate SPDY header name {name!r}")
        seen.add(name.lower())
        raw_value = value.encode()
        out.append(struct.pack(">I", len(raw_name)) + raw_name
                   + struct.pack(">I", len(raw_value)) + raw_value)
    return b"".join(out)


def decode_block(block: bytes) -> Headers:
    """Parse an uncompressed block; repeated names are joined with NUL as one value."""
    try:
        (count,) = struct.unpack_from(">I", block, 0)
        pos = 4
        headers: Headers = {}
        for _ in range(count):
            (n,) = struct.unpack_from(">I", block, pos)
            name = block[pos + 4:pos + 4 + n]
            pos += 4 + n
            (v,) = struct.unpack_from(">I", block, pos)
            value = block[pos + 4:pos + 4 + v]
            pos += 4 + v
            if len(name) != n or len(value) != v or not name:
                raise SpdyProtocolError("truncated header block")
            key = name.decode("latin-1").lower()
            text = value.decode("utf-8", "surrogateescape")
            headers[key] = f"{headers[key]}\0{text}" if key in headers else text
    except struct.error as exc:
        raise SpdyProtocolError(f"truncated header block: {exc}") from None
    if pos != len(block):
        raise SpdyProtocolError("trailing bytes after header block")
    return headers


class HeaderCompressor:
    """One direction's compression context: every block ends with a sync flush."""

    def __init__(self) -> None:
        self._z = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, DICTIONARY)

    def compress(self, headers: Headers) -> bytes:
        return self._z.compress(encode_block(headers)) + self._z.flush(zlib.Z_SYNC_FLUSH)


class HeaderDecompressor:
    """The peer's compression context, fed one header block at a time, in frame order."""

    def __init__(self) -> None:
        self._z = zlib.decompressobj(15, DICTIONARY)

    def decompress(self, data: bytes) -> Headers:
        try:
            block = self._z.decompress(data, MAX_HEADER_BLOCK + 1)
        except zlib.error as exc:
            raise SpdyProtocolError(f"header decompression failed: {exc}") from None
        if len(block) > MAX_HEADER_BLOCK or self._z.unconsumed_tail:
            raise SpdyProtocolError("header block too large")
        return decode_block(block)
