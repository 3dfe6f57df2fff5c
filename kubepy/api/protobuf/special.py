"""apimachinery types whose JSON form is not their protobuf shape.

Each decoder takes the raw bytes of one embedded message and returns its JSON value, or
``None`` when Go's JSON would write ``null`` (the caller then omits the field):

- ``meta.v1.Time`` {1 seconds, 2 nanos} -> RFC 3339 in UTC, whole seconds
  (``2024-05-01T10:00:00Z``); an empty message is the zero time -> ``None``.
- ``meta.v1.MicroTime`` -> the same with six fractional digits.
- ``meta.v1.Duration`` {1 duration (ns)} -> Go's ``time.Duration.String()`` (``1h0m0s``).
- ``resource.Quantity`` {1 string} -> the string.
- ``intstr.IntOrString`` {1 type, 2 intVal, 3 strVal} -> an int (type 0) or a string.
- ``runtime.RawExtension`` / ``meta.v1.FieldsV1`` {1 raw} -> the parsed JSON document; a
  RawExtension holding a nested ``k8s\\x00`` protobuf object is handed to ``nested``.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import orjson

from kubepy import errors
from kubepy.api.protobuf import wire

META = "k8s.io.apimachinery.pkg.apis.meta.v1"
_GO_ZERO_TIME_SECONDS = -62135596800  # time.Time{}.Unix()
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def _ints(data: bytes) -> dict[int, int]:
    return {n: v for n, _, v in wire.iter_fields(data) if isinstance(v, int)}


def _blobs(data: bytes) -> dict[int, bytes]:
    return {n: v for n, _, v in wire.iter_fields(data) if isinstance(v, bytes)}


def _instant(data: bytes) -> datetime.datetime | None:
    fields = _ints(data)
    if not fields:
        return None
    seconds = wire.as_signed64(fields.get(1, 0))
    nanos = wire.as_signed32(fields.get(2, 0))
    if seconds == _GO_ZERO_TIME_SECONDS and nanos == 0:
        return None
    try:
        return _EPOCH + datetime.timedelta(seconds=seconds, microseconds=nanos // 1000)
    except OverflowError:
        raise errors.BadRequest(f"protobuf: time out of range: {seconds}s") from None


def decode_time(data: bytes) -> str | None:
    instant = _instant(data)
    return None if instant is None else instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def decode_micro_time(data: bytes) -> str | None:
    instant = _instant(data)
    return None if instant is None else instant.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _fraction(value: int, digits: int) -> str:
    whole, frac = divmod(value, 10**digits)
    text = str(whole)
    if frac:
        text += "." + str(frac).rjust(digits, "0").rstrip("0")
    return text


def go_duration(nanoseconds: int) -> str:
    """``time.Duration(n).String()``: ``0s``, ``1.5µs``, ``20ms``, ``1m30s``, ``2h0m0.5s``."""
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    n = abs(nanoseconds)
    if n < 1_000:
        return f"{sign}{n}ns"
    if n < 1_000_000:
        return f"{sign}{_fraction(n, 3)}µs"
    if n < 1_000_000_000:
        return f"{sign}{_fraction(n, 6)}ms"
    hours, rest = divmod(n, 3_600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    text = sign
    if hours:
        text += f"{hours}h"
    if hours or minutes:
        text += f"{minutes}m"
    return text + _fraction(rest, 9) + "s"


def decode_duration(data: bytes) -> str:
    return go_duration(wire.as_signed64(_ints(data).get(1, 0)))


def decode_quantity(data: bytes) -> str:
    return _blobs(data).get(1, b"").decode("utf-8", "replace")


def decode_int_or_string(data: bytes) -> int | str:
    ints, blobs = _ints(data), _blobs(data)
    if ints.get(1, 0) == 1:
        return blobs.get(3, b"").decode("utf-8", "replace")
    return wire.as_signed32(ints.get(2, 0))


def decode_raw_json(data: bytes, nested: Callable[[bytes], Any] | None = None) -> Any:
    raw = _blobs(data).get(1, b"")
    if not raw:
        return None
    if raw.startswith(b"k8s\x00") and nested is not None:
        return nested(raw)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise errors.BadRequest(
            "protobuf: embedded raw object is neither JSON nor protobuf"
        ) from None


SPECIAL_TYPES: dict[str, Callable[[bytes], Any]] = {
    f"{META}.Time": decode_time,
    f"{META}.MicroTime": decode_micro_time,
    f"{META}.Duration": decode_duration,
    f"{META}.FieldsV1": decode_raw_json,
    "k8s.io.apimachinery.pkg.api.resource.Quantity": decode_quantity,
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": decode_int_or_string,
}
RAW_EXTENSION = "k8s.io.apimachinery.pkg.runtime.RawExtension"
