"""The swagger 2.0 document as the gnostic ``openapi.v2.Document`` protobuf message.

kubectl 1.20 downloads ``/openapi/v2`` only in this form (kube-openapi's ``ToProtoBinary``)
and parses it with gnostic's ``OpenAPIv2.proto``; kubectl ``explain`` and client-side
validation are built on it. This module is a small proto3 encoder for exactly the messages
that document uses, driven by the swagger JSON dict (``encode_document``), plus a generic
wire-format reader (``decode_message``) for tests and debugging.

Field numbers are those of github.com/google/gnostic ``openapiv2/OpenAPIv2.proto``.
Vendor extensions (``x-*``), ``default``, ``enum`` and ``example`` values are ``Any``
messages whose ``yaml`` field holds the value's text; JSON text is used (JSON is YAML) and
kube-openapi reads it back with a YAML decoder. proto3 rules apply: empty strings, false and
zero are left out; sub-messages are always written, since their presence is meaningful (an
object schema with ``properties: {}`` is a kind, without it a map).
"""

from __future__ import annotations

import struct
from typing import Any

import orjson

# -- wire primitives ---------------------------------------------------------------------


def _varint(n: int) -> bytes:
    if n < 0:
        n &= (1 << 64) - 1
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_KEYS: dict[tuple[int, int], bytes] = {}


def _key(field: int, wire_type: int) -> bytes:
    k = _KEYS.get((field, wire_type))
    if k is None:
        k = _KEYS[(field, wire_type)] = _varint((field << 3) | wire_type)
    return k


class _Writer:
    """Accumulates the fields of one message."""

    __slots__ = ("parts",)

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def encoded(self) -> bytes:
        return b"".join(self.parts)

    def message(self, field: int, body: bytes) -> None:
        self.parts += (_key(field, 2), _varint(len(body)), body)

    def string(self, field: int, value: Any) -> None:
        if isinstance(value, str) and value:
            data = value.encode()
            self.parts += (_key(field, 2), _varint(len(data)), data)

    def strings(self, field: int, values: Any) -> None:
        for v in values or ():
            if isinstance(v, str):
                data = v.encode()
                self.parts += (_key(field, 2), _varint(len(data)), data)

    def boolean(self, field: int, value: Any) -> None:
        if value is True:
            self.parts += (_key(field, 0), b"\x01")

    def int64(self, field: int, value: Any) -> None:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value:
            self.parts += (_key(field, 0), _varint(int(value)))

    def double(self, field: int, value: Any) -> None:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value:
            self.parts += (_key(field, 1), struct.pack("<d", float(value)))


# -- gnostic messages --------------------------------------------------------------------


def _any(value: Any) -> bytes:
    w = _Writer()
    w.string(2, orjson.dumps(value).decode() + "\n")  # Any.yaml
    return w.encoded()


def _named(name: str, value: bytes) -> bytes:
    w = _Writer()
    w.string(1, name)
    w.message(2, value)
    return w.encoded()


def _extensions(w: _Writer, field: int, obj: dict[str, Any]) -> None:
    for key, value in obj.items():
        if key.startswith("x-"):
            w.message(field, _named(key, _any(value)))


def schema(s: dict[str, Any]) -> bytes:
    """gnostic ``Schema`` from a swagger schema object."""
    w = _Writer()
    w.string(1, s.get("$ref"))
    w.string(2, s.get("format"))
    w.string(3, s.get("title"))
    w.string(4, s.get("description"))
    if "default" in s:
        w.message(5, _any(s["default"]))
    w.double(6, s.get("multipleOf"))
    w.double(7, s.get("maximum"))
    w.boolean(8, s.get("exclusiveMaximum"))
    w.double(9, s.get("minimum"))
    w.boolean(10, s.get("exclusiveMinimum"))
    w.int64(11, s.get("maxLength"))
    w.int64(12, s.get("minLength"))
    w.string(13, s.get("pattern"))
    w.int64(14, s.get("maxItems"))
    w.int64(15, s.get("minItems"))
    w.boolean(16, s.get("uniqueItems"))
    w.int64(17, s.get("maxProperties"))
    w.int64(18, s.get("minProperties"))
    w.strings(19, s.get("required"))
    for value in s.get("enum") or ():
        w.message(20, _any(value))
    extra = s.get("additionalProperties")
    if isinstance(extra, dict):
        item = _Writer()
        item.message(1, schema(extra))
        w.message(21, item.encoded())
    elif isinstance(extra, bool):
        item = _Writer()
        item.parts += (_key(2, 0), b"\x01" if extra else b"\x00")
        w.message(21, item.encoded())
    if "type" in s:
        t = s["type"]
        type_item = _Writer()
        type_item.strings(1, [t] if isinstance(t, str) else t)
        w.message(22, type_item.encoded())
    if "items" in s:
        items = s["items"]
        items_item = _Writer()
        for sub in ([items] if isinstance(items, dict) else items or ()):
            items_item.message(1, schema(sub))
        w.message(23, items_item.encoded())
    for sub in s.get("allOf") or ():
        w.message(24, schema(sub))
    if isinstance(s.get("properties"), dict):
        props = _Writer()
        for name, sub in s["properties"].items():
            props.message(1, _named(name, schema(sub)))
        w.message(25, props.encoded())
    w.string(26, s.get("discriminator"))
    w.boolean(27, s.get("readOnly"))
    if "example" in s:
        w.message(30, _any(s["example"]))
    _extensions(w, 31, s)
    return w.encoded()


# Field numbers of the non-body parameter sub-schemas: in, description, name, type, format,
# uniqueItems, vendor extensions (required is field 1 in all of them).
_PARAM_FIELDS: dict[str, tuple[int, dict[str, int]]] = {
    "header": (1, {"in": 2, "description": 3, "name": 4, "type": 5, "format": 6,
                   "uniqueItems": 19, "x": 22}),
    "formData": (2, {"in": 2, "description": 3, "name": 4, "type": 6, "format": 7,
                     "uniqueItems": 20, "x": 23}),
    "query": (3, {"in": 2, "description": 3, "name": 4, "type": 6, "format": 7,
                  "uniqueItems": 20, "x": 23}),
    "path": (4, {"in": 2, "description": 3, "name": 4, "type": 5, "format": 6,
                 "uniqueItems": 19, "x": 22}),
}


def parameter(p: dict[str, Any]) -> bytes:
    """gnostic ``ParametersItem`` (always the ``parameter`` alternative)."""
    param = _Writer()
    if p.get("in") == "body":
        body = _Writer()
        body.string(1, p.get("description"))
        body.string(2, p.get("name"))
        body.string(3, "body")
        body.boolean(4, p.get("required"))
        if isinstance(p.get("schema"), dict):
            body.message(5, schema(p["schema"]))
        _extensions(body, 6, p)
        param.message(1, body.encoded())
    else:
        alternative, fields = _PARAM_FIELDS.get(p.get("in", ""), _PARAM_FIELDS["query"])
        sub = _Writer()
        sub.boolean(1, p.get("required"))
        for key in ("in", "description", "name", "type", "format"):
            sub.string(fields[key], p.get(key))
        sub.boolean(fields["uniqueItems"], p.get("uniqueItems"))
        _extensions(sub, fields["x"], p)
        non_body = _Writer()
        non_body.message(alternative, sub.encoded())
        param.message(2, non_body.encoded())
    item = _Writer()
    item.message(1, param.encoded())
    return item.encoded()


def response(r: dict[str, Any]) -> bytes:
    """gnostic ``ResponseValue`` (the ``response`` alternative)."""
    w = _Writer()
    w.string(1, r.get("description"))
    if isinstance(r.get("schema"), dict):
        item = _Writer()
        item.message(1, schema(r["schema"]))
        w.message(2, item.encoded())
    _extensions(w, 5, r)
    value = _Writer()
    value.message(1, w.encoded())
    return value.encoded()


def operation(op: dict[str, Any]) -> bytes:
    w = _Writer()
    w.strings(1, op.get("tags"))
    w.string(2, op.get("summary"))
    w.string(3, op.get("description"))
    w.string(5, op.get("operationId"))
    w.strings(6, op.get("produces"))
    w.strings(7, op.get("consumes"))
    for p in op.get("parameters") or ():
        w.message(8, parameter(p))
    responses = _Writer()
    for code, r in (op.get("responses") or {}).items():
        responses.message(1, _named(code, response(r)))
    w.message(9, responses.encoded())
    w.strings(10, op.get("schemes"))
    w.boolean(11, op.get("deprecated"))
    _extensions(w, 13, op)
    return w.encoded()


_METHODS = {"get": 2, "put": 3, "post": 4, "delete": 5, "options": 6, "head": 7, "patch": 8}


def path_item(item: dict[str, Any]) -> bytes:
    w = _Writer()
    w.string(1, item.get("$ref"))
    for method, field in _METHODS.items():
        if method in item:
            w.message(field, operation(item[method]))
    for p in item.get("parameters") or ():
        w.message(9, parameter(p))
    _extensions(w, 10, item)
    return w.encoded()


def _security_definitions(defs: dict[str, Any]) -> bytes:
    w = _Writer()
    for name, d in defs.items():
        if d.get("type") != "apiKey":
            continue
        api_key = _Writer()
        for field, key in ((1, "type"), (2, "name"), (3, "in"), (4, "description")):
            api_key.string(field, d.get(key))
        item = _Writer()
        item.message(2, api_key.encoded())
        w.message(1, _named(name, item.encoded()))
    return w.encoded()


def _security_requirement(req: dict[str, Any]) -> bytes:
    w = _Writer()
    for name, scopes in req.items():
        array = _Writer()
        array.strings(1, scopes)
        w.message(1, _named(name, array.encoded()))
    return w.encoded()


def encode_document(doc: dict[str, Any]) -> bytes:
    """The gnostic ``Document`` for a swagger 2.0 document dict."""
    w = _Writer()
    w.string(1, doc.get("swagger"))
    info = _Writer()
    for field, key in ((1, "title"), (2, "version"), (3, "description")):
        info.string(field, (doc.get("info") or {}).get(key))
    w.message(2, info.encoded())
    w.string(3, doc.get("host"))
    w.string(4, doc.get("basePath"))
    w.strings(5, doc.get("schemes"))
    w.strings(6, doc.get("consumes"))
    w.strings(7, doc.get("produces"))
    paths = _Writer()
    for name, item in (doc.get("paths") or {}).items():
        paths.message(2, _named(name, path_item(item)))
    w.message(8, paths.encoded())
    definitions = _Writer()
    for name, s in (doc.get("definitions") or {}).items():
        definitions.message(1, _named(name, schema(s)))
    w.message(9, definitions.encoded())
    for req in doc.get("security") or ():
        w.message(12, _security_requirement(req))
    if doc.get("securityDefinitions"):
        w.message(13, _security_definitions(doc["securityDefinitions"]))
    _extensions(w, 16, doc)
    return w.encoded()


# -- reading (tests, debugging) ----------------------------------------------------------


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def decode_message(data: bytes) -> dict[int, list[Any]]:
    """Field number -> values, in order: ints for varints, bytes for length-delimited fields
    (decode sub-messages again with this function), floats for fixed64."""
    out: dict[int, list[Any]] = {}
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        field, wire_type = key >> 3, key & 7
        value: Any
        if wire_type == 0:
            value, pos = _read_varint(data, pos)
        elif wire_type == 2:
            length, pos = _read_varint(data, pos)
            value = data[pos:pos + length]
            if len(value) != length:
                raise ValueError("truncated length-delimited field")
            pos += length
        elif wire_type == 1:
            value = struct.unpack_from("<d", data, pos)[0]
            pos += 8
        elif wire_type == 5:
            value = struct.unpack_from("<f", data, pos)[0]
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wire_type}")
        out.setdefault(field, []).append(value)
    return out


def named_entries(data: bytes, field: int) -> dict[str, bytes]:
    """Decode a repeated ``Named*`` field (name=1, value=2) into name -> value bytes."""
    entries: dict[str, bytes] = {}
    for raw in decode_message(data).get(field, []):
        named = decode_message(raw)
        name = named.get(1, [b""])[0].decode()
        entries[name] = named.get(2, [b""])[0]
    return entries


