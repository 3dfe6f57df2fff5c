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
    def __init__(self, path: str, expected: str, got: str):
        super().__init__(f"{path}: expected {expected}, got {got}")
        self.path, self.expected, self.got = path, expected, got


def check_and_prune(obj: dict[str, Any], schema: SchemaNode | None) -> list[str]:
    """Remove fields the schema does not know; return their paths. Raise TypeMismatch."""
    if schema is None:
        return []
    unknown: list[str] = []
    _walk(obj, schema, "", unknown)
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


def _walk(value: Any, node: SchemaNode, path: str, unknown: list[str]) -> None:
    types = node.types
    if not _type_ok(value, types):
        raise TypeMismatch(path, "/".join(sorted(types)), _JSON_TYPE.get(type(value), "?"))
    if isinstance(value, dict):
        if node.is_map:
            values = node.map_values()
            if values is not None:
                for k, v in value.items():
                    _walk(v, values, _join(path, k), unknown)
            return
        props = node.raw.get("properties")
        if not props:
            return  # untyped object (RawExtension, JSON): anything goes
        for key in list(value):
            child = node.field(key)
            if child is None:
                unknown.append(_join(path, key))
                del value[key]
                continue
            _walk(value[key], child, _join(path, key), unknown)
    elif isinstance(value, list):
        items = node.items()
        if items is not None:
            for i, v in enumerate(value):
                _walk(v, items, f"{path}[{i}]", unknown)
