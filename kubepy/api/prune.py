"""Decoding checks for built-in kinds: unknown fields and wrong JSON types.

The kube-apiserver decodes bodies into Go structs: unknown fields are dropped (and reported
under ``fieldValidation=Strict|Warn``), and a value of the wrong JSON type fails decoding
with 400 BadRequest. ``check_and_prune`` does both against the OpenAPI schema, in place.

Paths are written as the apiserver writes them: ``spec.template.spec.containers[0].foo``.
"""

from __future__ import annotations

from typing import Any

from kubepy.api.schema import SchemaNode

_JSON_TYPE = {str: "string", bool: "boolean", int: "integer", float: "number",
              dict: "object", list: "array"}


class TypeMismatch(Exception):
    """A value of the wrong JSON type. ``struct`` is the Go struct holding the field
    (``DeploymentSpec``) and ``expected`` its Go type (``int32``), for Go's message
    ``cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type
    int32``."""

    def __init__(self, path: str, expected: str, got: str, struct: str = ""):
        super().__init__(f"{path}: expected {expected}, got {got}")
        self.path, self.expected, self.got, self.struct = path, expected, got, struct


def _go_type(node: SchemaNode) -> str:
    types = node.types
    fmt = node.raw.get("format")
    if "integer" in types:
        return fmt if fmt in ("int32", "int64") else "int"
    if "number" in types:
        return "float64"
    if "boolean" in types:
        return "bool"
    if "string" in types:
        return "string"
    if "array" in types:
        items = node.items()
        return "[]" + (_go_type(items) if items is not None else "interface {}")
    if node.is_map:
        values = node.map_values()
        return "map[string]" + (_go_type(values) if values is not None else "interface {}")
    if node.name:
        group_version = node.name.rsplit(".", 2)
        return f"{group_version[-2]}.{group_version[-1]}" if len(group_version) == 3 \
            else node.name
    return "interface {}"


_GO_JSON_KIND = {"string": "string", "boolean": "bool", "integer": "number",
                 "number": "number", "object": "object", "array": "array"}


def check_and_prune(obj: dict[str, Any], schema: SchemaNode | None, *,
                    check_types: bool = True) -> list[str]:
    """Remove fields the schema does not know; return their paths. Raise TypeMismatch
    (unless ``check_types`` is off: custom resources report wrong types as 422 Invalid
    from schema validation instead, since they are decoded untyped)."""
    if schema is None:
        return []
    unknown: list[str] = []
    _walk(obj, schema, "", unknown, schema.name.rsplit(".", 1)[-1], check_types)
    return unknown


def _type_ok(value: Any, types: set[str]) -> bool:
    if value is None or not types:
        return True
    t = _JSON_TYPE.get(type(value))
    if t in types:
        return True
    if t == "integer" and "number" in types:
        return True
    if t == "number" and "integer" in types and float(value).is_integer():
        return True
    return False


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _walk(value: Any, node: SchemaNode, path: str, unknown: list[str], struct: str,
          check_types: bool) -> None:
    types = node.types
    if not _type_ok(value, types):
        if not check_types:
            return
        got = _GO_JSON_KIND.get(_JSON_TYPE.get(type(value), ""), "value")
        raise TypeMismatch(path, _go_type(node), got, struct)
    if node.name:
        struct = node.name.rsplit(".", 1)[-1]
    if isinstance(value, dict):
        if node.is_map:
            values = node.map_values()
            if values is not None:
                for k, v in value.items():
                    _walk(v, values, _join(path, k), unknown, struct, check_types)
            return
        props = node.raw.get("properties")
        if not props:
            return  # untyped object (RawExtension, JSON): anything goes
        preserve = bool(node.raw.get("x-kubernetes-preserve-unknown-fields"))
        for key in list(value):
            child = node.field(key)
            if child is None:
                if not preserve:  # custom resources may keep unknown fields here
                    unknown.append(_join(path, key))
                    del value[key]
                continue
            _walk(value[key], child, _join(path, key), unknown, struct, check_types)
    elif isinstance(value, list):
        items = node.items()
        if items is not None:
            for i, v in enumerate(value):
                _walk(v, items, f"{path}[{i}]", unknown, struct, check_types)
