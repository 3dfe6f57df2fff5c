"""Kubernetes protobuf request bodies -> the JSON-form dict of the same object.

``decode_object(body, group, version, kind)`` reads ``application/vnd.kubernetes.protobuf``:
the 4-byte prefix ``k8s\\x00`` and a ``runtime.Unknown`` envelope {1 typeMeta {apiVersion,
kind}, 2 raw, 3 contentEncoding, 4 contentType} whose ``raw`` is the object's message from
``k8s.io/api/<group>/<version>/generated.proto``. The result is what Go's JSON encoding of
the decoded object gives, so the rest of kubepy never learns the body was protobuf:

- JSON field names; ``apiVersion``/``kind`` first, from the envelope.
- Scalars: a zero that Go writes for every non-pointer field is dropped (``omitempty``)
  unless the table marks the field ``keep_zero`` (pointers such as ``replicas`` and
  ``gracePeriodSeconds``, and fields without ``omitempty``). int64 stays a JSON number,
  ``bytes`` become base64 strings.
- Embedded messages present on the wire are kept, even empty (``"status": {}``), as Go
  prints them; Go's inline embedding (``LocalObjectReference``) is flattened; special types
  follow ``special``; a zero ``Time`` (Go's ``null``) is omitted.
- Unknown field numbers are skipped, as the Kubernetes apiserver's decoder skips them.

Malformed bytes raise ``errors.BadRequest``; a kind without a protobuf schema (custom
resources, groups not in the table) raises ``errors.UnsupportedMediaType`` as the apiserver
does for custom resources.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from kubepy import errors
from kubepy.api.protobuf import special, wire
from kubepy.api.protobuf.messages import Field, Message
from kubepy.api.protobuf.tables import TABLES

MAGIC = b"k8s\x00"
UNKNOWN = "k8s.io.apimachinery.pkg.runtime.Unknown"
META_V1 = "k8s.io.apimachinery.pkg.apis.meta.v1"
# kinds that live in meta/v1 but are sent under any group version (``v1 DeleteOptions``)
META_KINDS = frozenset(
    {"DeleteOptions", "Status", "ListOptions", "GetOptions", "CreateOptions", "PatchOptions",
     "UpdateOptions"}
)
_OUT_OF_TREE = {
    "internal.apiserver.k8s.io": "k8s.io.api.apiserverinternal",
    "apiextensions.k8s.io": "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions",
    "apiregistration.k8s.io": "k8s.io.kube_aggregator.pkg.apis.apiregistration",
    "metrics.k8s.io": "k8s.io.metrics.pkg.apis.metrics",
}


def proto_package(group: str, version: str) -> str:
    """The protobuf package of a built-in group version (``apps``/``v1`` -> k8s.io.api.apps.v1)."""
    if not group:
        return f"k8s.io.api.core.{version}"
    if group in _OUT_OF_TREE:
        return f"{_OUT_OF_TREE[group]}.{version}"
    return f"k8s.io.api.{group.split('.', 1)[0]}.{version}"


def message_name(group: str, version: str, kind: str) -> str:
    if kind in META_KINDS:
        return f"{META_V1}.{kind}"
    return f"{proto_package(group, version)}.{kind}"


def _scalar(field: Field, wire_type: int, value: int | bytes) -> Any:
    kind = field.type
    if kind in ("string", "bytes"):
        if not isinstance(value, bytes):
            raise errors.BadRequest(f"protobuf: field {field.name} must be length-delimited")
        if kind == "string":
            return value.decode("utf-8", "replace")
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, bytes):
        raise errors.BadRequest(f"protobuf: field {field.name} has the wrong wire type")
    if kind == "bool":
        return value != 0
    if kind in ("int32", "sfixed32"):
        return wire.as_signed32(value)
    if kind in ("int64", "sfixed64"):
        return wire.as_signed64(value)
    if kind in ("sint32", "sint64"):
        return (value >> 1) ^ -(value & 1)
    if kind == "double":
        return wire.as_double(value)
    if kind == "float":
        return wire.as_float(value)
    return value  # uint32, uint64, fixed32, fixed64


def _repeated_scalars(field: Field, wire_type: int, value: int | bytes) -> list[Any]:
    if wire_type == wire.LENGTH and field.type not in ("string", "bytes"):
        assert isinstance(value, bytes)
        if field.type in ("double", "fixed64", "sfixed64"):
            step = 8
        elif field.type in ("float", "fixed32", "sfixed32"):
            step = 4
        else:
            return [_scalar(field, wire.VARINT, v) for v in wire.iter_packed_varints(value)]
        if len(value) % step:
            raise errors.BadRequest(f"protobuf: packed field {field.name} has a ragged length")
        return [
            _scalar(field, wire.FIXED64, int.from_bytes(value[i : i + step], "little"))
            for i in range(0, len(value), step)
        ]
    return [_scalar(field, wire_type, value)]


class _Decoder:
    def __init__(self, tables: Mapping[str, Message]) -> None:
        self.tables = tables

    def value(self, type_name: str, data: bytes) -> Any:
        """The JSON value of one embedded message of type ``type_name``."""
        if type_name in special.SPECIAL_TYPES:
            return special.SPECIAL_TYPES[type_name](data)
        if type_name == special.RAW_EXTENSION:
            return special.decode_raw_json(data, nested=self.nested_object)
        return self.message(type_name, data)

    def message(self, type_name: str, data: bytes) -> dict[str, Any]:
        schema = self.tables.get(type_name)
        if schema is None:
            raise errors.UnsupportedMediaType(f"protobuf: no schema for message {type_name}")
        out: dict[str, Any] = {}
        singles: dict[int, list[bytes]] = {}  # a message field seen twice merges (concatenation)
        for number, wire_type, value in wire.iter_fields(data):
            field = schema.get(number)
            if field is None:
                continue
            if field.is_map:
                if not isinstance(value, bytes):
                    raise errors.BadRequest(f"protobuf: map field {field.name} is not a message")
                key, item = self.map_entry(field, value)
                out.setdefault(field.name, {})[key] = item
            elif field.is_scalar:
                if field.repeated:
                    out.setdefault(field.name, []).extend(
                        _repeated_scalars(field, wire_type, value)
                    )
                    continue
                scalar = _scalar(field, wire_type, value)
                if field.keep_zero or scalar:
                    out[field.name] = scalar
                else:
                    out.pop(field.name, None)
            elif not isinstance(value, bytes):
                raise errors.BadRequest(f"protobuf: field {field.name} must be a message")
            elif field.repeated:
                out.setdefault(field.name, []).append(self.value(field.type, value))
            else:
                singles.setdefault(number, []).append(value)
                out.setdefault(field.name, None)  # keep wire order
        for number, parts in singles.items():
            field = schema[number]
            decoded = self.value(field.type, b"".join(parts))
            if field.inline:
                del out[field.name]
                if isinstance(decoded, dict):
                    out.update(decoded)
            elif decoded is None:
                del out[field.name]
            else:
                out[field.name] = decoded
        return out

    def map_entry(self, field: Field, data: bytes) -> tuple[str, Any]:
        key, raw_value = "", None
        for number, wire_type, value in wire.iter_fields(data):
            if number == 1:
                if not isinstance(value, bytes):
                    raise errors.BadRequest(f"protobuf: map key of {field.name} is not a string")
                key = value.decode("utf-8", "replace")
            elif number == 2:
                raw_value = (wire_type, value)
        if field.is_scalar:
            if raw_value is None:
                zero: dict[str, Any] = {"string": "", "bytes": "", "bool": False}
                return key, zero.get(field.type, 0)
            return key, _scalar(field, *raw_value)
        body = raw_value[1] if raw_value is not None else b""
        if not isinstance(body, bytes):
            raise errors.BadRequest(f"protobuf: map value of {field.name} must be a message")
        return key, self.value(field.type, body)

    def nested_object(self, body: bytes) -> dict[str, Any]:
        type_meta, raw = self.envelope(body)
        api_version, kind = type_meta.get("apiVersion", ""), type_meta.get("kind", "")
        group, _, version = api_version.rpartition("/")
        return self.object(raw, group, version, api_version, kind)

    def envelope(self, body: bytes) -> tuple[dict[str, Any], bytes]:
        if not body.startswith(MAGIC):
            raise errors.BadRequest(
                "protobuf: the body does not start with the Kubernetes protobuf prefix 'k8s\\x00'"
            )
        type_meta: dict[str, Any] = {}
        raw = b""
        encoding = ""
        for number, _, value in wire.iter_fields(body[len(MAGIC) :]):
            if not isinstance(value, bytes):
                raise errors.BadRequest(
                    f"protobuf: envelope field {number} is not length-delimited"
                )
            if number == 1:
                type_meta = self.message("k8s.io.apimachinery.pkg.runtime.TypeMeta", value)
            elif number == 2:
                raw = value
            elif number == 3:
                encoding = value.decode("utf-8", "replace")
        if encoding:
            raise errors.BadRequest(f"protobuf: unsupported contentEncoding {encoding!r}")
        return type_meta, raw

    def object(
        self, raw: bytes, group: str, version: str, api_version: str, kind: str
    ) -> dict[str, Any]:
        decoded = self.message(message_name(group, version, kind), raw)
        return {"apiVersion": api_version, "kind": kind, **decoded}


_DEFAULT = _Decoder(TABLES)


def _decoder(tables: Mapping[str, Message] | None) -> _Decoder:
    return _DEFAULT if tables is None else _Decoder(tables)


def decode_message(
    type_name: str, data: bytes, *, tables: Mapping[str, Message] | None = None
) -> dict[str, Any]:
    """One bare message (no prefix, no envelope) of full protobuf name ``type_name``."""
    return _decoder(tables).message(type_name, data)


def decode_object(
    body: bytes,
    group: str,
    version: str,
    kind: str | None = None,
    *,
    tables: Mapping[str, Message] | None = None,
) -> dict[str, Any]:
    """Decode a protobuf request body sent for ``group``/``version`` (the URL's, or the
    subresource's kind: ``authentication.k8s.io/v1`` for ``serviceaccounts/token``).

    ``kind`` is the expected kind; the envelope's kind must agree with it when both are set.
    ``tables`` replaces the built-in schema (e.g. ``messages.merge(TABLES, descriptors...)``).
    """
    decoder = _decoder(tables)
    type_meta, raw = decoder.envelope(body)
    expected = f"{group}/{version}" if group else version
    api_version = type_meta.get("apiVersion") or expected
    data_kind = type_meta.get("kind") or kind
    if not data_kind:
        raise errors.BadRequest("Object 'Kind' is missing in the protobuf body")
    if kind and data_kind != kind:
        raise errors.BadRequest(
            f"the kind in the data ({data_kind}) does not match the expected kind ({kind})"
        )
    if api_version != expected and data_kind not in META_KINDS:
        raise errors.BadRequest(
            f"the API version in the data ({api_version}) does not match the expected API "
            f"version ({expected})"
        )
    return decoder.object(raw, group, version, api_version, data_kind)
