"""Schema tables from compiled protobuf descriptors (``google.protobuf.FileDescriptorProto``).

Kubernetes' Go packages register each ``generated.proto`` as a gzipped FileDescriptorProto,
and every kubectl binary carries them for all built-in groups. ``messages_from_binary``
finds those blobs (gzip streams whose content starts with a ``k8s.io/.../generated.proto``
file name) and ``messages_from_descriptor`` turns one into the ``messages`` table form.
Descriptors know numbers, names and types but not Go pointer-ness, so every field they give
has ``keep_zero=False``; the reviewed tables in ``known`` supply that where it matters.

This is an optional, opt-in source: ``decode_object(..., tables=merge(TABLES,
messages_from_binary(path)))`` extends the reviewed tables (which win where both know a
message) to every built-in kind. Descriptor-only messages are best effort: their proto
field names are used as JSON names (right except a few, e.g. ``uID``), Go's inline
embedding is unknown to them and every zero scalar is dropped.
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path

from kubepy.api.protobuf import wire
from kubepy.api.protobuf.messages import Field, Message

# FieldDescriptorProto.type -> scalar name (11 = message, 10 = group, 14 = enum)
_SCALAR_TYPES = {
    1: "double", 2: "float", 3: "int64", 4: "uint64", 5: "int32", 6: "fixed64", 7: "fixed32",
    8: "bool", 9: "string", 12: "bytes", 13: "uint32", 15: "sfixed32", 16: "sfixed64",
    17: "sint32", 18: "sint64", 14: "int32",
}
_LABEL_REPEATED = 3
_GZIP_HEADER = re.compile(rb"\x1f\x8b\x08\x00\x00\x00\x00\x00")
_K8S_FILE = re.compile(rb"^\n.k8s\.io/[\w./-]+/generated\.proto", re.S)


def _text(value: int | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _collect(
    data: bytes, prefix: str, out: dict[str, Message], map_entries: dict[str, tuple[str, str]]
) -> None:
    """Walk one DescriptorProto (and its nested types) named under ``prefix``."""
    name = ""
    raw_fields: list[bytes] = []
    nested: list[bytes] = []
    is_map_entry = False
    for number, _, value in wire.iter_fields(data):
        if number == 1:
            name = _text(value)
        elif number == 2 and isinstance(value, bytes):
            raw_fields.append(value)
        elif number == 3 and isinstance(value, bytes):
            nested.append(value)
        elif number == 7 and isinstance(value, bytes):
            is_map_entry = any(n == 7 and v == 1 for n, _, v in wire.iter_fields(value))
    full_name = f"{prefix}.{name}"
    fields: Message = {}
    for raw in raw_fields:
        field_name, field_number, label, type_code, type_name = "", 0, 1, 0, ""
        for number, _, value in wire.iter_fields(raw):
            if number == 1:
                field_name = _text(value)
            elif number == 3 and isinstance(value, int):
                field_number = value
            elif number == 4 and isinstance(value, int):
                label = value
            elif number == 5 and isinstance(value, int):
                type_code = value
            elif number == 6:
                type_name = _text(value).lstrip(".")
        type_ = type_name if type_code == 11 else _SCALAR_TYPES.get(type_code, "bytes")
        fields[field_number] = Field(
            field_number, field_name, type_, repeated=label == _LABEL_REPEATED
        )
    if is_map_entry:
        map_entries[full_name] = (fields[1].type, fields[2].type)
    else:
        out[full_name] = fields
    for child in nested:
        _collect(child, full_name, out, map_entries)


def messages_from_descriptor(file_descriptor: bytes) -> dict[str, Message]:
    """The messages of one serialised FileDescriptorProto, map fields folded."""
    package = ""
    message_blobs: list[bytes] = []
    for number, _, value in wire.iter_fields(file_descriptor):
        if number == 2:
            package = _text(value)
        elif number == 4 and isinstance(value, bytes):
            message_blobs.append(value)
    out: dict[str, Message] = {}
    map_entries: dict[str, tuple[str, str]] = {}
    for blob in message_blobs:
        _collect(blob, package, out, map_entries)
    return _fold_maps(out, map_entries)


def _fold_maps(
    messages: dict[str, Message], map_entries: dict[str, tuple[str, str]]
) -> dict[str, Message]:
    folded: dict[str, Message] = {}
    for name, fields in messages.items():
        folded[name] = {
            number: (
                Field(number, f.name, map_entries[f.type][1], is_map=True)
                if f.type in map_entries
                else f
            )
            for number, f in fields.items()
        }
    return folded


def descriptors_in_binary(blob: bytes) -> dict[str, bytes]:
    """``{proto file name: FileDescriptorProto bytes}`` of the Kubernetes files in ``blob``."""
    found: dict[str, bytes] = {}
    for match in _GZIP_HEADER.finditer(blob):
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            content = inflater.decompress(blob[match.start() : match.start() + (1 << 21)])
        except zlib.error:
            continue
        head = _K8S_FILE.match(content[:300])
        if inflater.eof and head:
            length = content[1]
            found.setdefault(content[2 : 2 + length].decode(), content)
    return found


def messages_from_binary(path: str | Path) -> dict[str, Message]:
    """Every message of every Kubernetes descriptor embedded in the binary at ``path``."""
    messages: dict[str, Message] = {}
    for descriptor in descriptors_in_binary(Path(path).read_bytes()).values():
        messages.update(messages_from_descriptor(descriptor))
    return messages
