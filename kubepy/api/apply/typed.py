"""Schema-aware operations on objects: field sets, comparison, merge and removal.

These are the four operations structured-merge-diff performs on typed values, over plain
JSON dicts and a ``Shape``:

* ``field_set(obj)``          the fields an object (an applied configuration) sets;
* ``compare(old, new)``       which fields were added, modified and removed;
* ``merge(live, config)``     the configuration laid over the live object;
* ``remove_items(obj, set)``  the object without the given fields.

Their rules, kept from upstream because managedFields must read the same:

* a struct field is a member of a field set only when it is a leaf, null or ``{}``; a map key
  and a list item are always members (hence ``".": {}`` on items), an atomic value is one
  member;
* during comparison a map or list that appears or disappears is itself added or removed;
* an empty-or-missing map or list on both sides is compared as a leaf;
* associative lists merge item by item, keeping live-only items in place and following the
  configuration's order for the rest.

None of these functions mutates its arguments; results may share unchanged sub-values with
them. ``ShapeError`` reports values the schema cannot place.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from kubepy.api.apply.fieldpath import Path, PathElement, Trie, build_trie, element_string, path_string
from kubepy.api.apply.shape import Shape, ShapeError


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: ``1 == 1.0`` but ``True != 1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(json_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def _is_empty(v: Any) -> bool:
    return v is ABSENT or v is None or v == {} or v == []


def _mode(shape: Shape, lhs: Any, rhs: Any) -> str:
    """How to walk a position holding ``lhs`` and ``rhs`` (either may be ABSENT or null)."""
    if lhs is ABSENT or lhs is None:
        if rhs is ABSENT or rhs is None:
            return "leaf"
        mode = shape.container(rhs)
    else:
        mode = shape.container(lhs)
        if rhs is not ABSENT and rhs is not None and shape.container(rhs) != mode:
            return "leaf"
    if mode != "leaf" and _is_empty(lhs) and _is_empty(rhs):
        return "leaf"
    return mode


# -- field sets --------------------------------------------------------------------------------


def field_set(obj: dict[str, Any], shape: Shape) -> set[Path]:
    out: set[Path] = set()
    if shape.container(obj) == "map":
        _fs_map(obj, shape, (), out)
    return out


def _fs(value: Any, shape: Shape, path: Path, out: set[Path]) -> None:
    mode = shape.container(value)
    if mode == "leaf":
        out.add(path)
    elif mode == "map":
        _fs_map(value, shape, path, out)
    else:
        _fs_list(value, shape, path, out)


def _fs_map(value: dict[str, Any], shape: Shape, path: Path, out: set[Path]) -> None:
    for name, sub in value.items():
        sub_path = path + (("f", name),)
        _fs(sub, shape.child(name), sub_path, out)
        if sub is None or sub == {} or not shape.declared(name):
            out.add(sub_path)


def _fs_list(value: list[Any], shape: Shape, path: Path, out: set[Path]) -> None:
    elements = [shape.item_element(item) for item in value]
    counts = Counter(elements)
    item_shape = shape.item()
    for pe, item in zip(elements, value):
        item_path = path + (pe,)
        if counts[pe] == 1:
            _fs(item, item_shape, item_path, out)
        out.add(item_path)


def check_configuration(obj: Any, shape: Shape) -> list[str]:
    """What makes ``obj`` unusable as an applied configuration: items without keys, duplicates.

    Messages read as upstream's: ``.spec.ports: duplicate entries for key [port=80,...]``.
    """
    problems: list[str] = []
    _check(obj, shape, (), problems)
    return problems


def _check(value: Any, shape: Shape, path: Path, problems: list[str]) -> None:
    mode = shape.container(value)
    if mode == "map":
        for name, sub in value.items():
            _check(sub, shape.child(name), path + (("f", name),), problems)
    elif mode == "list":
        seen: set[PathElement] = set()
        for i, item in enumerate(value):
            try:
                pe = shape.item_element(item)
            except ShapeError as exc:
                problems.append(f"{path_string(path)}: element {i}: {exc}")
                continue
            if pe in seen:
                problems.append(f"{path_string(path)}: duplicate entries for key {element_string(pe)}")
                continue
            seen.add(pe)
            _check(item, shape.item(), path + (pe,), problems)


def with_named_fields(paths: set[Path] | frozenset[Path], shape: Shape) -> set[Path]:
    """Add every declared struct field that is a parent of a member (EnsureNamedFieldsAreMembers)."""
    out = set(paths)
    shapes: dict[Path, Shape] = {(): shape}

    def shape_at(prefix: Path) -> Shape:
        found = shapes.get(prefix)
        if found is None:
            found = shapes[prefix] = shape_at(prefix[:-1]).descend(prefix[-1])
        return found

    seen: set[Path] = set()
    for path in paths:
        for n in range(len(path) - 1, 0, -1):
            prefix = path[:n]
            if prefix in seen:
                break  # this prefix and all shorter ones are done
            seen.add(prefix)
            pe = prefix[-1]
            if pe[0] == "f" and shape_at(prefix[:-1]).declared(pe[1]):
                out.add(prefix)
    return out


# -- comparison ----------------------------------------------------------------------------------


@dataclass
class Comparison:
    added: set[Path] = field(default_factory=set)
    modified: set[Path] = field(default_factory=set)
    removed: set[Path] = field(default_factory=set)


def compare(old: Any, new: Any, shape: Shape) -> Comparison:
    result = Comparison()
    _cmp(old, new, shape, (), result)
    return result


def _cmp(lhs: Any, rhs: Any, shape: Shape, path: Path, res: Comparison) -> None:
    if lhs is ABSENT and rhs is ABSENT:
        return
    mode = _mode(shape, lhs, rhs)
    if mode == "leaf":
        if lhs is ABSENT:
            res.added.add(path)
        elif rhs is ABSENT:
            res.removed.add(path)
        elif not json_equal(lhs, rhs):
            res.modified.add(path)
        return
    if mode == "map":
        lmap = lhs if isinstance(lhs, dict) else {}
        rmap = rhs if isinstance(rhs, dict) else {}
        for name in lmap.keys() | rmap.keys():
            _cmp(lmap.get(name, ABSENT), rmap.get(name, ABSENT), shape.child(name), path + (("f", name),), res)
    else:
        _cmp_list(lhs if isinstance(lhs, list) else [], rhs if isinstance(rhs, list) else [], shape, path, res)
    if path:
        if lhs is ABSENT:
            res.added.add(path)
        elif rhs is ABSENT:
            res.removed.add(path)


def _group(items: list[Any], shape: Shape) -> dict[PathElement, list[Any]]:
    groups: dict[PathElement, list[Any]] = {}
    for item in items:
        groups.setdefault(shape.item_element(item), []).append(item)
    return groups


def _cmp_list(lhs: list[Any], rhs: list[Any], shape: Shape, path: Path, res: Comparison) -> None:
    lgroups, rgroups = _group(lhs, shape), _group(rhs, shape)
    item_shape = shape.item()
    for pe in list(lgroups) + [pe for pe in rgroups if pe not in lgroups]:
        litems, ritems = lgroups.get(pe, []), rgroups.get(pe, [])
        item_path = path + (pe,)
        if len(litems) <= 1 and len(ritems) <= 1:
            _cmp(litems[0] if litems else ABSENT, ritems[0] if ritems else ABSENT, item_shape, item_path, res)
        elif len(litems) >= 2 and len(ritems) >= 2:
            if not json_equal(litems, ritems):
                res.modified.add(item_path)
        elif len(litems) >= 2:
            if ritems:
                _cmp(ABSENT, ritems[0], item_shape, item_path, res)
            res.removed.add(item_path)
        else:
            if litems:
                _cmp(litems[0], ABSENT, item_shape, item_path, res)
            res.added.add(item_path)


# -- merge ----------------------------------------------------------------------------------------


def merge(live: Any, config: Any, shape: Shape) -> Any:
    """``config`` laid over ``live``; null values in the configuration clear the field."""
    if config is ABSENT:
        return live
    if live is ABSENT:
        return config
    mode = _mode(shape, live, config)
    if mode == "leaf":
        return config
    if mode == "map":
        lmap = live if isinstance(live, dict) else {}
        rmap = config if isinstance(config, dict) else {}
        out: dict[str, Any] = {}
        for name, value in lmap.items():
            merged = merge(value, rmap[name], shape.child(name)) if name in rmap else value
            if merged is not None:
                out[name] = merged
        for name, value in rmap.items():
            if name not in lmap and value is not None:
                out[name] = value
        return out
    return _merge_list(live if isinstance(live, list) else [], config if isinstance(config, list) else [], shape)


def _merge_list(lhs: list[Any], rhs: list[Any], shape: Shape) -> list[Any]:
    item_shape = shape.item()
    relements = [shape.item_element(item) for item in rhs]
    robserved: dict[PathElement, Any] = {}
    for pe, item in zip(relements, rhs):
        if pe in robserved:
            raise ShapeError(f"duplicate entries for key {element_string(pe)}")
        robserved[pe] = item
    lelements = [shape.item_element(item) for item in lhs]
    lobserved: dict[PathElement, Any] = {}
    for pe, item in zip(lelements, lhs):
        # a duplicated live item is not merged with the configuration's
        lobserved[pe] = None if pe in lobserved else item
    shared = iter([pe for pe in relements if pe in lobserved])
    next_shared = next(shared, None)
    done: set[PathElement] = set()
    out: list[Any] = []
    li = ri = 0
    while li < len(lelements) or ri < len(relements):
        if li < len(lelements) and ri < len(relements):
            pe = lelements[li]
            if pe == relements[ri]:
                done.add(pe)
                out.append(merge(lobserved[pe], robserved[pe], item_shape))
                li, ri = li + 1, ri + 1
                next_shared = next(shared, None)
                continue
            if pe in robserved and next_shared is not None and next_shared != pe:
                li += 1  # a shared item, placed when the configuration reaches it
                continue
        if li < len(lelements):
            pe = lelements[li]
            if pe not in robserved:
                out.append(lhs[li])
                li += 1
                continue
            if pe in done:
                li += 1
        if ri < len(relements):
            pe = relements[ri]
            done.add(pe)
            out.append(merge(lobserved.get(pe, ABSENT), robserved[pe], item_shape))
            ri += 1
            if next_shared is not None and next_shared == pe:
                next_shared = next(shared, None)
    return out


# -- removal -------------------------------------------------------------------------------------


def remove_items(obj: dict[str, Any], paths: set[Path] | frozenset[Path], shape: Shape) -> dict[str, Any]:
    """``obj`` without the members of ``paths`` (each member goes with everything below it)."""
    if not paths:
        return obj
    result = _remove(obj, build_trie(paths), shape)
    return result if isinstance(result, dict) else {}


def _remove(value: Any, trie: Trie, shape: Shape) -> Any:
    mode = shape.container(value)
    if mode == "map":
        out: dict[str, Any] = {}
        for name, sub in value.items():
            entry = trie.get(("f", name))
            if entry is None:
                out[name] = sub
            elif not entry[0]:
                kept = _remove(sub, entry[1], shape.child(name))
                if not (_is_empty(kept) and not _is_empty(sub)):
                    out[name] = kept
        return out
    if mode == "list":
        items: list[Any] = []
        item_shape = shape.item()
        for item in value:
            try:
                entry = trie.get(shape.item_element(item))
            except ShapeError:
                entry = None
            if entry is None:
                items.append(item)
            elif not entry[0]:
                items.append(_remove(item, entry[1], item_shape))
        return items
    return value
