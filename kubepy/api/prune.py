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
    _walk(obj, _compiled(schema), "", unknown, schema.name.rsplit(".", 1)[-1], check_types)
    return unknown


class _Node:
    """What ``_walk`` needs of one SchemaNode, computed once (children on first use)."""

    __slots__ = ("node", "types", "struct", "is_map", "props", "preserve", "_values",
                 "_items", "_fields")

    def __init__(self, node: SchemaNode) -> None:
        self.node = node
        self.types = node.types
        self.struct = node.name.rsplit(".", 1)[-1] if node.name else ""
        self.is_map = node.is_map
        self.props = bool(node.raw.get("properties"))
        self.preserve = bool(node.raw.get("x-kubernetes-preserve-unknown-fields"))
        self._values: list[_Node | None] = []
        self._items: list[_Node | None] = []
        self._fields: dict[str, _Node | None] = {}

    def values(self) -> _Node | None:
        if not self._values:
            sub = self.node.map_values()
            self._values.append(_Node(sub) if sub is not None else None)
        return self._values[0]

    def items(self) -> _Node | None:
        if not self._items:
            sub = self.node.items()
            self._items.append(_Node(sub) if sub is not None else None)
        return self._items[0]

    def field(self, name: str) -> _Node | None:
        try:
            return self._fields[name]
        except KeyError:
            pass
        sub = self.node.field(name)
        found = _Node(sub) if sub is not None else None
        if len(self._fields) < 256:  # declared fields; unknown names are not remembered
            self._fields[name] = found
        return found


# root schema raw dict id -> (that dict, its compiled node); bounded (custom resource
# schemas come and go)
_ROOTS: dict[int, tuple[dict[str, Any], _Node]] = {}


def _compiled(schema: SchemaNode) -> _Node:
    hit = _ROOTS.get(id(schema.raw))
    if hit is not None and hit[0] is schema.raw and hit[1].node.name == schema.name:
        return hit[1]
    if len(_ROOTS) >= 512:
        _ROOTS.clear()
    compiled = _Node(schema)
    _ROOTS[id(schema.raw)] = (schema.raw, compiled)
    return compiled


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


def _walk(value: Any, node: _Node, path: str, unknown: list[str], struct: str,
          check_types: bool) -> None:
    types = node.types
    if value is not None and types and not _type_ok(value, types):
        if not check_types:
            return
        got = _GO_JSON_KIND.get(_JSON_TYPE.get(type(value), ""), "value")
        raise TypeMismatch(path, _go_type(node.node), got, struct)
    if node.struct:
        struct = node.struct
    if isinstance(value, dict):
        if node.is_map:
            values = node.values()
            if values is not None:
                for k, v in value.items():
                    _walk(v, values, _join(path, k), unknown, struct, check_types)
            return
        if not node.props:
            return  # untyped object (RawExtension, JSON): anything goes
        preserve = node.preserve
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
