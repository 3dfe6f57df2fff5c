"""Schema definitions in OpenAPI form, converted from the JSON-Schema ``$defs``.

The kubernetes-validate data is JSON Schema flavoured: nullable types (``["string", "null"]``),
references ``#/$defs/<name>``, ``enum`` on every ``apiVersion``/``kind`` and ``oneOf`` for
IntOrString and Quantity. The apiserver publishes the same definitions as OpenAPI:

* one ``type`` per schema (``null`` dropped), no apiVersion/kind enums;
* v2 (swagger): ``$ref: #/definitions/<name>`` with siblings (description, extensions) kept
  beside it; IntOrString is ``type: string, format: int-or-string``; Quantity is a string;
* v3: ``$ref: #/components/schemas/<name>`` alone, or ``allOf: [{$ref}]`` when siblings
  exist; IntOrString is ``format: int-or-string`` with ``oneOf [integer, string]``; Quantity
  is ``oneOf [string, number]``.

Descriptions and every ``x-kubernetes-*`` extension are kept. ``convert`` is pure;
``builtin_definitions`` converts the whole table once per flavour and caches it.
"""

from __future__ import annotations

import functools
from typing import Any, Iterable, Literal, Mapping

from kubepy.api.schema import schemas

Flavour = Literal["v2", "v3"]

SOURCE_REF = "#/$defs/"
REF_PREFIX: dict[str, str] = {"v2": "#/definitions/", "v3": "#/components/schemas/"}

INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
LIST_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"

_INT_OR_STRING_DOC = (
    "IntOrString is a type that can hold an int32 or a string.  When used in JSON or YAML "
    "marshalling and unmarshalling, it produces or consumes the inner type.  This allows you "
    "to have, for example, a JSON field that can accept a name or number.")
_QUANTITY_DOC = (
    "Quantity is a fixed-point representation of a number. It provides convenient "
    "marshaling/unmarshaling in JSON and YAML, in addition to String() and AsInt64() "
    "accessors. Examples: \"100m\", \"1Gi\", \"2.5\", \"1e3\".")

# Keys whose value is one schema / a list of schemas / a name->schema map.
_ONE = ("items", "not")
_MANY = ("oneOf", "anyOf", "allOf")
_NAMED = ("properties", "patternProperties")


def _single_type(t: Any) -> str | None:
    if isinstance(t, str):
        return None if t == "null" else t
    if isinstance(t, list):
        kept = [x for x in t if x != "null"]
        return kept[0] if kept else None
    return None


def convert(raw: dict[str, Any], flavour: Flavour, *, top: bool = True) -> dict[str, Any]:
    """One schema (a definition when ``top``) converted to ``flavour``."""
    out: dict[str, Any] = {}
    ref = raw.get("$ref")
    for key, value in raw.items():
        if key == "$ref":
            continue
        if key == "type":
            single = _single_type(value)
            if single:
                out["type"] = single
        elif key in _ONE:
            out[key] = convert(value, flavour, top=False) if isinstance(value, dict) else value
        elif key in _MANY:
            out[key] = [convert(v, flavour, top=False) for v in value]
        elif key in _NAMED:
            out[key] = {name: _property(name, v, flavour) for name, v in value.items()}
        elif key == "additionalProperties":
            out[key] = convert(value, flavour, top=False) if isinstance(value, dict) else value
        else:
            out[key] = value
    if ref is None:
        return out
    target = REF_PREFIX[flavour] + ref[len(SOURCE_REF):] if ref.startswith(SOURCE_REF) else ref
    if not out:
        return {"$ref": target}
    if flavour == "v2":
        out.pop("type", None)  # a v2 $ref may not carry a type
        return {"$ref": target, **out}
    return {"allOf": [{"$ref": target}], **out}


def _property(name: str, raw: dict[str, Any], flavour: Flavour) -> dict[str, Any]:
    out = convert(raw, flavour, top=False)
    if name in ("apiVersion", "kind") and "enum" in out and out.get("type") == "string":
        out = {k: v for k, v in out.items() if k != "enum"}
    return out


def _special(name: str, raw: dict[str, Any], flavour: Flavour) -> dict[str, Any] | None:
    if name == INT_OR_STRING:
        doc = raw.get("description") or _INT_OR_STRING_DOC
        if flavour == "v2":
            return {"description": doc, "type": "string", "format": "int-or-string"}
        return {"description": doc, "format": "int-or-string",
                "oneOf": [{"type": "integer"}, {"type": "string"}]}
    if name == QUANTITY:
        doc = raw.get("description") or _QUANTITY_DOC
        if flavour == "v2":
            return {"description": doc, "type": "string"}
        return {"description": doc, "oneOf": [{"type": "string"}, {"type": "number"}]}
    return None


def convert_definition(name: str, raw: dict[str, Any], flavour: Flavour) -> dict[str, Any]:
    return _special(name, raw, flavour) or convert(raw, flavour)


@functools.cache
def builtin_definitions(flavour: Flavour) -> dict[str, dict[str, Any]]:
    """Every built-in definition in ``flavour`` form (computed once; do not mutate)."""
    return {name: convert_definition(name, raw, flavour)
            for name, raw in schemas().definitions.items()}


def references(schema: Any, prefix: str) -> set[str]:
    """Names of the definitions ``schema`` refers to directly (refs starting with prefix)."""
    found: set[str] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(prefix):
                found.add(ref[len(prefix):])
            stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, (dict, list)))
    return found


def closure(roots: Iterable[str], definitions: Mapping[str, dict[str, Any]],
            flavour: Flavour) -> list[str]:
    """The definitions reachable from ``roots`` (sorted; unknown names are skipped)."""
    prefix = REF_PREFIX[flavour]
    seen: set[str] = set()
    todo = [r for r in roots if r in definitions]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(n for n in references(definitions[name], prefix)
                    if n in definitions and n not in seen)
    return sorted(seen)
