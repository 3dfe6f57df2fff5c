"""Field paths and field sets of server-side apply, and their ``FieldsV1`` wire form.

A *path* names one position in an object, as a tuple of *path elements*:

* ``("f", name)``             a field of a struct or a key of a map   ``f:name``
* ``("k", ((key, v), ...))``  an item of a ``map`` list, by its keys   ``k:{"name":"web"}``
* ``("v", v)``                an item of a ``set`` list, by value      ``v:"a"``
* ``("i", n)``                an item by index (never produced here)   ``i:0``

Values inside elements are *frozen* (``freeze``) so that paths are hashable and so that
``True`` stays apart from ``1`` (Python's ``==`` would mix them). A *field set* is a plain
``set``/``frozenset`` of member paths; the tree structure of structured-merge-diff's ``Set``
is implied by prefixes.

``to_fields_v1`` writes a field set exactly as the apiserver writes ``fieldsV1``: elements
sorted (fields, then keys, then values, then indexes), ``".": {}`` first when a position is
both a member and a parent. ``path_string`` renders ``.spec.containers[name="web"].image``,
the form used in apply conflict messages.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TypeAlias

PathElement: TypeAlias = tuple[str, Any]
Path: TypeAlias = tuple[PathElement, ...]
FieldSet: TypeAlias = frozenset[Path]

EMPTY: FieldSet = frozenset()


# -- frozen values -----------------------------------------------------------------------


def freeze(value: Any) -> tuple[Any, ...]:
    """A hashable, type-tagged form of a JSON value (``1 == 1.0``, ``True != 1``)."""
    if value is None:
        return ("null",)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return ("num", value)
    if isinstance(value, str):
        return ("str", value)
    if isinstance(value, list):
        return ("list", tuple(freeze(v) for v in value))
    if isinstance(value, dict):
        return ("map", tuple(sorted((k, freeze(v)) for k, v in value.items())))
    raise TypeError(f"not a JSON value: {value!r}")


def thaw(frozen: tuple[Any, ...]) -> Any:
    tag = frozen[0]
    if tag == "null":
        return None
    if tag in ("bool", "num", "str"):
        return frozen[1]
    if tag == "list":
        return [thaw(v) for v in frozen[1]]
    return {k: thaw(v) for k, v in frozen[1]}


def _value_order(frozen: tuple[Any, ...]) -> tuple[Any, ...]:
    """structured-merge-diff's value order: numbers, strings, booleans, lists, maps, null."""
    tag = frozen[0]
    if tag == "num":
        return (0, frozen[1])
    if tag == "str":
        return (1, frozen[1])
    if tag == "bool":
        return (2, frozen[1])
    if tag == "list":
        return (3, tuple(_value_order(v) for v in frozen[1]))
    if tag == "map":
        return (4, tuple((k, _value_order(v)) for k, v in frozen[1]))
    return (5,)


def element_order(pe: PathElement) -> tuple[Any, ...]:
    """Sort key of path elements: fields < keys < values < indexes, each in natural order."""
    kind, payload = pe
    if kind == "f":
        return (0, payload)
    if kind == "k":
        return (1, tuple((name, _value_order(v)) for name, v in payload))
    if kind == "v":
        return (2, _value_order(payload))
    return (3, payload)


def path_order(path: Path) -> tuple[Any, ...]:
    return tuple(element_order(pe) for pe in path)


# -- Go-compatible JSON text ---------------------------------------------------------------


def _go_number(v: int | float) -> int | float:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e21:
        return int(v)
    return v


def _normalize(value: Any) -> Any:
    if isinstance(value, float):
        return _go_number(value)
    if isinstance(value, list):
        return [_normalize(v) for v in value]
    if isinstance(value, dict):
        return {k: _normalize(v) for k, v in value.items()}
    return value


def go_json(value: Any) -> str:
    """Compact JSON as Go's encoding/json writes it: sorted keys, HTML characters escaped."""
    text = json.dumps(_normalize(value), separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


# -- path elements: construction, wire form, display --------------------------------------


def field(name: str) -> PathElement:
    return ("f", name)


def key(fields: dict[str, Any]) -> PathElement:
    return ("k", tuple(sorted((k, freeze(v)) for k, v in fields.items())))


def set_value(value: Any) -> PathElement:
    return ("v", freeze(value))


def make_path(*parts: str | PathElement) -> Path:
    """``make_path("spec", "replicas")``; tuples pass through as path elements."""
    return tuple(field(p) if isinstance(p, str) else p for p in parts)


def serialize_element(pe: PathElement) -> str:
    kind, payload = pe
    if kind == "f":
        return "f:" + str(payload)
    if kind == "k":
        body = ",".join(go_json(name) + ":" + go_json(thaw(v)) for name, v in payload)
        return "k:{" + body + "}"
    if kind == "v":
        return "v:" + go_json(thaw(payload))
    return f"i:{payload}"


def parse_element(text: str) -> PathElement:
    """Inverse of ``serialize_element``; raises ``ValueError`` on a malformed element."""
    if len(text) < 2 or text[1] != ":":
        raise ValueError(f"invalid path element {text!r}")
    kind, body = text[0], text[2:]
    if kind == "f":
        return ("f", body)
    if kind == "k":
        fields = json.loads(body)
        if not isinstance(fields, dict):
            raise ValueError(f"invalid key path element {text!r}")
        return key(fields)
    if kind == "v":
        return set_value(json.loads(body))
    if kind == "i":
        return ("i", int(body))
    raise ValueError(f"unknown path element type {text!r}")


def _go_string(value: Any) -> str:
    """Go's ``value.ToString``: strings quoted (%q), numbers and booleans bare."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(_go_number(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(_go_string(v) for v in value) + "]"
    return "".join(f"{k}={_go_string(v)}" for k, v in sorted(value.items()))


def element_string(pe: PathElement) -> str:
    kind, payload = pe
    if kind == "f":
        return "." + str(payload)
    if kind == "k":
        return "[" + ",".join(f"{name}={_go_string(thaw(v))}" for name, v in payload) + "]"
    if kind == "v":
        return f"[={_go_string(thaw(payload))}]"
    return f"[{payload}]"


def path_string(path: Path) -> str:
    """``.spec.template.spec.containers[name="web"].image`` as in conflict messages."""
    return "".join(element_string(pe) for pe in path)


# -- field sets as trees ---------------------------------------------------------------------

# A trie node maps a path element to [is_member, children].
Trie: TypeAlias = dict[PathElement, list[Any]]


def build_trie(paths: Iterable[Path]) -> Trie:
    root: Trie = {}
    for path in paths:
        node = root
        for i, pe in enumerate(path):
            entry = node.get(pe)
            if entry is None:
                entry = node[pe] = [False, {}]
            if i == len(path) - 1:
                entry[0] = True
            node = entry[1]
    return root


def to_fields_v1(paths: Iterable[Path]) -> dict[str, Any]:
    """The ``fieldsV1`` object of a field set, key order as the apiserver writes it."""
    return _emit(build_trie(paths), False)


def _emit(children: Trie, is_member: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if is_member and children:
        out["."] = {}
    for pe in sorted(children, key=element_order):
        member, sub = children[pe]
        out[serialize_element(pe)] = _emit(sub, member) if sub else {}
    return out


def from_fields_v1(fields: Any) -> set[Path]:
    """Parse ``fieldsV1``; raises ``ValueError`` when it is not a valid field set."""
    if not isinstance(fields, dict):
        raise ValueError("fieldsV1 must be an object")
    out: set[Path] = set()
    _read(fields, (), out)
    return out


def _read(obj: dict[str, Any], prefix: Path, out: set[Path]) -> None:
    for text, sub in obj.items():
        if text == ".":
            if prefix:
                out.add(prefix)
            continue
        if not isinstance(sub, dict):
            raise ValueError(f"invalid fieldsV1 entry {text!r}")
        path = prefix + (parse_element(text),)
        if sub:
            _read(sub, path, out)
        else:
            out.add(path)


def iteration_order(paths: Iterable[Path]) -> list[Path]:
    """structured-merge-diff's ``Set.Iterate`` order: a level's members, then its children."""
    out: list[Path] = []
    _walk(build_trie(paths), (), out)
    return out


def _walk(children: Trie, prefix: Path, out: list[Path]) -> None:
    ordered = sorted(children, key=element_order)
    for pe in ordered:
        if children[pe][0]:
            out.append(prefix + (pe,))
    for pe in ordered:
        if children[pe][1]:
            _walk(children[pe][1], prefix + (pe,), out)


def exclude_prefixed(paths: Iterable[Path], prefixes: Iterable[Path]) -> set[Path]:
    """Paths that neither equal nor lie under any of ``prefixes`` (a recursive difference)."""
    pre = set(prefixes)
    if not pre:
        return set(paths)
    return {p for p in paths if not any(p[:n] in pre for n in range(1, len(p) + 1))}
