"""The protobuf wire format: varints, tags and length-delimited fields, nothing more.

``iter_fields(data)`` walks one serialised message and yields ``(number, wire_type, value)``
triples, where ``value`` is an ``int`` for varint/fixed fields and ``bytes`` for
length-delimited ones. It knows no schema; ``decode`` gives the values meaning. Malformed
input (truncated varints or lengths, groups, unknown wire types) raises ``errors.BadRequest``
because bytes only ever reach here from a request body.

The encoding helpers at the bottom are the exact inverse, used by ``encode`` and tests.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from kubepy import errors

VARINT, FIXED64, LENGTH, START_GROUP, END_GROUP, FIXED32 = 0, 1, 2, 3, 4, 5

_MAX_VARINT_BYTES = 10


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """Return ``(value, next_pos)`` of the unsigned varint at ``pos``."""
    result = 0
    shift = 0
    end = min(len(data), pos + _MAX_VARINT_BYTES)
    while pos < end:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result & 0xFFFFFFFFFFFFFFFF, pos
        shift += 7
    raise errors.BadRequest("protobuf: truncated or overlong varint")


def iter_fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """Yield ``(field_number, wire_type, value)`` for every field of one message."""
    pos = 0
    size = len(data)
    while pos < size:
        key, pos = read_varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise errors.BadRequest("protobuf: illegal field number 0")
        if wire_type == VARINT:
            value, pos = read_varint(data, pos)
            yield number, wire_type, value
        elif wire_type == LENGTH:
            length, pos = read_varint(data, pos)
            if pos + length > size:
                raise errors.BadRequest(f"protobuf: field {number} runs past the end of the data")
            yield number, wire_type, data[pos : pos + length]
            pos += length
        elif wire_type == FIXED64:
            if pos + 8 > size:
                raise errors.BadRequest(f"protobuf: truncated fixed64 field {number}")
            yield number, wire_type, int.from_bytes(data[pos : pos + 8], "little")
            pos += 8
        elif wire_type == FIXED32:
            if pos + 4 > size:
                raise errors.BadRequest(f"protobuf: truncated fixed32 field {number}")
            yield number, wire_type, int.from_bytes(data[pos : pos + 4], "little")
            pos += 4
        else:
            raise errors.BadRequest(
                f"protobuf: unsupported wire type {wire_type} in field {number}"
            )


def iter_packed_varints(data: bytes) -> Iterator[int]:
    pos = 0
    while pos < len(data):
        value, pos = read_varint(data, pos)
        yield value


def as_signed64(value: int) -> int:
    """Two's complement reading of a 64-bit varint (int32 and int64 negatives use 10 bytes)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def as_signed32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def as_double(bits: int) -> float:
    return float(struct.unpack("<d", bits.to_bytes(8, "little"))[0])


def as_float(bits: int) -> float:
    return float(struct.unpack("<f", bits.to_bytes(4, "little"))[0])


# -- encoding -------------------------------------------------------------------------------


def varint(value: int) -> bytes:
    value &= 0xFFFFFFFFFFFFFFFF  # negatives as 10-byte two's complement, as Go writes them
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def tag(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


def varint_field(number: int, value: int) -> bytes:
    return tag(number, VARINT) + varint(value)


def bytes_field(number: int, value: bytes) -> bytes:
    return tag(number, LENGTH) + varint(len(value)) + value


def double_field(number: int, value: float) -> bytes:
    return tag(number, FIXED64) + struct.pack("<d", value)
