"""The structural type of each position, as server-side apply sees it.

structured-merge-diff reduces an OpenAPI schema to a few shapes, and so does ``Shape``:

* ``SCALAR``  strings, numbers, booleans, int-or-string, quantities: always a leaf;
* ``STRUCT``  an object with declared ``properties``; its fields merge one by one unless
  ``x-kubernetes-map-type: atomic``;
* ``MAP``     an object with free keys (``additionalProperties``: labels, data); every key
  is owned on its own unless atomic;
* ``LIST``    ``x-kubernetes-list-type``: ``map`` (items keyed by ``x-kubernetes-list-map-keys``),
  ``set`` (scalar items keyed by value) or ``atomic`` (the default: owned whole);
* ``DEDUCED`` no schema (custom resources, ``RawExtension``): maps merge key by key and
  lists are atomic, as the apiserver's "deduced" type does.

Whether a position is a leaf also depends on the value found there (``container``): a map
value under an atomic or scalar type is a leaf, and so on.
"""

from __future__ import annotations

from typing import Any

from kubepy.api.apply.fieldpath import PathElement, freeze
from kubepy.api.schema import SchemaNode, schemas

SCALAR, STRUCT, MAP, LIST, DEDUCED = "scalar", "struct", "map", "list", "deduced"

# Defaults of list-map keys that the shipped schema data lacks ("default" is not kept in the
# JSON Schema form): upstream keys container and service ports by (port, protocol) and
# relies on protocol defaulting to TCP.
_KEY_DEFAULTS: dict[str, Any] = {"protocol": "TCP"}


class ShapeError(ValueError):
    """A value that the schema cannot place (list item without its keys, duplicates...)."""


class Shape:
    __slots__ = ("kind", "atomic", "list_type", "keys", "_node", "_fields", "_children", "_item")

    def __init__(self, kind: str, node: SchemaNode | None = None, *, atomic: bool = False,
                 list_type: str = "atomic", keys: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self.atomic = atomic
        self.list_type = list_type
        self.keys = keys
        self._node = node
        self._fields: frozenset[str] = frozenset(node.raw.get("properties") or ()) if kind == STRUCT and node else frozenset()
        self._children: dict[str, Shape] = {}
        self._item: Shape | None = None

    @staticmethod
    def of(node: SchemaNode | None) -> Shape:
        if node is None or node.is_untyped:
            return _DEDUCED_SHAPE
        raw = node.raw
        if node.is_array:
            list_type = node.list_type or "atomic"
            keys = tuple(node.list_map_keys)
            if list_type == "map" and not keys:
                list_type = "atomic"
            return Shape(LIST, node, atomic=list_type == "atomic", list_type=list_type, keys=keys)
        atomic = node.map_type == "atomic"
        if "properties" in raw:
            return Shape(STRUCT, node, atomic=atomic)
        if "additionalProperties" in raw:
            return Shape(MAP, node, atomic=atomic)
        if "object" in node.types:
            return _DEDUCED_SHAPE
        return Shape(SCALAR, node)

    def declared(self, name: str) -> bool:
        """Is ``name`` a declared field of a struct (structured-merge-diff's named fields)?"""
        return name in self._fields

    def child(self, name: str) -> Shape:
        """The shape of field or map key ``name``."""
        cached = self._children.get(name)
        if cached is not None:
            return cached
        node = self._node
        if self.kind == STRUCT and node is not None:
            sub = node.field(name)
            if sub is None:
                ap = node.raw.get("additionalProperties")
                sub = node.map_values() if isinstance(ap, dict) else None
            shape = Shape.of(sub)
        elif self.kind == MAP and node is not None:
            shape = Shape.of(node.map_values())
        else:
            shape = _DEDUCED_SHAPE
        self._children[name] = shape
        return shape

    def item(self) -> Shape:
        if self._item is None:
            self._item = Shape.of(self._node.items()) if self._node is not None else _DEDUCED_SHAPE
        return self._item

    def container(self, value: Any) -> str:
        """``"map"``, ``"list"`` or ``"leaf"``: how a walker treats ``value`` at this position."""
        if isinstance(value, dict):
            if self.kind in (STRUCT, MAP) and not self.atomic or self.kind == DEDUCED:
                return "map"
            return "leaf"
        if isinstance(value, list):
            return "list" if self.kind == LIST and not self.atomic else "leaf"
        return "leaf"

    def item_element(self, item: Any) -> PathElement:
        """The path element naming ``item`` of this associative list."""
        if self.list_type == "set":
            if isinstance(item, dict):
                raise ShapeError("associative list without keys has an element that's a map type")
            if isinstance(item, list):
                raise ShapeError("not supported: associative list with lists as elements")
            if item is None:
                raise ShapeError("associative list without keys has an element that's an explicit null")
            return ("v", freeze(item))
        if item is None:
            raise ShapeError("associative list with keys may not have a null element")
        if not isinstance(item, dict):
            raise ShapeError("associative list with keys may not have non-map elements")
        fields = []
        for name in self.keys:
            if name in item:
                fields.append((name, freeze(item[name])))
            else:
                default = self._key_default(name)
                if default is not None:
                    fields.append((name, freeze(default)))
        if not fields:
            quoted = "[" + " ".join(f'"{k}"' for k in self.keys) + "]"
            raise ShapeError(
                "associative list with keys has an element that omits all key fields "
                f"{quoted} (and doesn't have default values for any key fields)"
            )
        return ("k", tuple(sorted(fields)))

    def _key_default(self, name: str) -> Any:
        item = self.item()
        if item._node is not None:
            sub = item._node.field(name)
            if sub is not None and "default" in sub.raw:
                return sub.raw["default"]
        return _KEY_DEFAULTS.get(name) if item.kind == STRUCT else None

    def descend(self, pe: PathElement) -> Shape:
        """The shape at ``pe`` below this one (fields and keyed items; anything else deduced)."""
        if pe[0] == "f":
            return self.child(pe[1])
        if pe[0] == "k" and self.kind == LIST:
            return self.item()
        return _DEDUCED_SHAPE


_DEDUCED_SHAPE = Shape(DEDUCED)

# Struct fields that Go types hold by value (not by pointer), and lists without omitempty:
# the apiserver's empty object of a built-in kind already has them, so creating an object
# does not make them members of the creator's field set.
_VALUE_STRUCT_FIELDS = ("metadata", "spec", "status", "template", "jobTemplate", "strategy", "updateStrategy")
_NULL_LIST_FIELDS = ("containers",)


def zero_object(shape: Shape, depth: int = 0) -> dict[str, Any]:
    """The shape of a built-in kind's empty object (``{}`` without schema), for create."""
    out: dict[str, Any] = {}
    if shape.kind != STRUCT or depth > 8:
        return out
    for name in _VALUE_STRUCT_FIELDS:
        if shape.declared(name) and shape.child(name).kind == STRUCT:
            out[name] = zero_object(shape.child(name), depth + 1)
    for name in _NULL_LIST_FIELDS:
        if shape.declared(name) and shape.child(name).kind == LIST:
            out[name] = None
    return out

_ROOTS: dict[int, tuple[dict[str, Any], Shape]] = {}


_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_SCHEMALESS_ROOT: list[Shape] = []


def root_shape(schema: SchemaNode | None) -> Shape:
    """The shape of a kind's root, cached per schema definition (shapes memoize children).

    Without schema the root is deduced, except ``metadata``, which is always ObjectMeta (as
    for custom resources upstream, whose schemas get ObjectMeta grafted in).
    """
    if schema is None:
        if not _SCHEMALESS_ROOT:
            root = Shape(DEDUCED)
            root._children["metadata"] = Shape.of(schemas().node(_OBJECT_META))
            _SCHEMALESS_ROOT.append(root)
        return _SCHEMALESS_ROOT[0]
    hit = _ROOTS.get(id(schema.raw))
    if hit is not None and hit[0] is schema.raw:
        return hit[1]
    shape = Shape.of(schema)
    _ROOTS[id(schema.raw)] = (schema.raw, shape)
    return shape
