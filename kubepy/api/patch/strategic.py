"""Strategic merge patch, ``application/strategic-merge-patch+json``, as kube-apiserver applies it.

Contract: ``apply_strategic_merge_patch(original, patch, schema) -> dict`` returns a new
object and never mutates its inputs. It follows apimachinery's ``strategicpatch`` apply path
(``StrategicMergeMapPatch``: parallel delete lists merged, unmatched nulls ignored):

* maps merge key by key; ``null`` deletes a key; a key the original lacks takes the patch
  value with its ``null`` members dropped;
* a list field whose schema node says ``x-kubernetes-patch-strategy: merge`` merges: lists
  of maps by ``x-kubernetes-patch-merge-key`` (containers by ``name``, ports by
  ``containerPort``, conditions by ``type``), lists of primitives as a set (finalizers);
  every other list is replaced; a map field with strategy ``replace`` is replaced;
* directives: ``$patch: replace|delete`` in a map, ``$patch: delete`` (by merge key) and
  ``{"$patch": "replace"}`` as list elements, ``$retainKeys``, ``$setElementOrder/<list>``
  and ``$deleteFromPrimitiveList/<list>``; the resulting order of a merged list is
  ``$setElementOrder`` first, then the order in the patch, then the live order;
* a sub-tree without schema information (unknown or untyped fields) merges like a JSON
  merge patch: maps merge, lists are replaced; directives still apply.

``$patch: merge`` is rejected, as in Kubernetes (it only exists as a struct tag).

Errors, as kube-apiserver reports them: malformed ``$retainKeys``, ``$setElementOrder`` or
``$deleteFromPrimitiveList`` keys -> 400 ``BadRequest`` (``invalid patch format of ...``);
lists of lists -> 422 ``Invalid`` with the generic message; everything else (missing merge
key, unknown ``$patch`` value, a ``$setElementOrder`` list at odds with the patch list) ->
500 with an empty reason and apimachinery's text, e.g. ``map: map[image:nginx] does not
contain declared merge key: name``.

Without a schema (``schema is None``, e.g. a custom resource) the apiserver refuses the patch
type with 415; ``unsupported_patch_type()`` builds that error and the function raises it.

Where Go leaves directive keys or ``null`` members inside newly added values and relies on
decoding into typed structs to drop them, this engine drops them itself, since kubepy keeps
objects as plain dicts.
"""

from __future__ import annotations

from typing import Any

from kubepy import errors
from kubepy.api.patch.common import (
    PatchApplyError,
    deep_copy,
    go_format,
    go_type_name,
    json_kind,
    scalar_key,
    unprocessable,
)
from kubepy.api.schema import SchemaNode

DIRECTIVE_MARKER = "$patch"
RETAIN_KEYS = "$retainKeys"
SET_ELEMENT_ORDER = "$setElementOrder"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList"

# What kube-apiserver accepts for a custom resource (kinds without a strategic schema).
CUSTOM_RESOURCE_PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
)

_DROP = object()  # materialise(): the value carried a $patch directive and vanishes


def unsupported_patch_type(accepted: tuple[str, ...] = CUSTOM_RESOURCE_PATCH_TYPES) -> errors.UnsupportedMediaType:
    """The 415 kube-apiserver answers for a patch type the resource does not accept."""
    return errors.UnsupportedMediaType(
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(accepted)
    )


def apply_strategic_merge_patch(original: dict[str, Any], patch: Any, schema: SchemaNode | None) -> dict[str, Any]:
    """Apply a strategic merge ``patch`` (any decoded JSON value) to a copy of ``original`` using ``schema`` (the kind's root)."""
    if schema is None:
        raise unsupported_patch_type()
    if not isinstance(patch, dict):
        raise errors.BadRequest(
            f"json: cannot unmarshal {json_kind(patch)} into Go value of type map[string]interface {{}}"
        )
    return _merge_map(deep_copy(original), deep_copy(patch), schema)


# -- errors -----------------------------------------------------------------------------------


def _bad_format(what: str) -> errors.BadRequest:
    return errors.BadRequest(f"invalid patch format of {what}")


def _no_merge_key(item: dict[str, Any], merge_key: str) -> PatchApplyError:
    return PatchApplyError(f"map: {go_format(item)} does not contain declared merge key: {merge_key}")


def _bad_arg_type(expected: str, actual: Any) -> PatchApplyError:
    return PatchApplyError(f"expected a {expected}, but received a {go_type_name(actual)}")


def _bad_patch_type(directive: Any, item: dict[str, Any]) -> PatchApplyError:
    shown = directive if isinstance(directive, str) else f"%!s({go_type_name(directive)}={go_format(directive)})"
    return PatchApplyError(f"unknown patch type: {shown} in map: {go_format(item)}")


# -- schema -----------------------------------------------------------------------------------


def _child_schema(node: SchemaNode | None, key: str) -> SchemaNode | None:
    if node is None:
        return None
    child = node.field(key)
    return child if child is not None else node.map_values()


def _strategy(node: SchemaNode | None) -> str:
    """The field's patch strategy other than ``retainKeys``: ``merge``, ``replace`` or ``""``."""
    if node is None:
        return ""
    strategies = node.patch_strategies - {"retainKeys"}
    if len(strategies) > 1:
        raise PatchApplyError(f"unexpected patch strategy: {sorted(node.patch_strategies)}")
    return next(iter(strategies), "")


def _merge_key(node: SchemaNode | None) -> str:
    return (node.patch_merge_key or "") if node is not None else ""


# -- values taken whole from the patch --------------------------------------------------------


def _is_directive_key(key: str) -> bool:
    return (
        key in (DIRECTIVE_MARKER, RETAIN_KEYS)
        or key.startswith(SET_ELEMENT_ORDER + "/")
        or key.startswith(DELETE_FROM_PRIMITIVE_LIST + "/")
    )


def _materialise(value: Any) -> Any:
    """A patch value as it lands in the object: nulls in maps and directives removed.

    A map carrying ``$patch`` disappears (``_DROP``), as in apimachinery's removeDirectives.
    """
    if isinstance(value, dict):
        if DIRECTIVE_MARKER in value:
            return _DROP
        out = {}
        for key, item in value.items():
            if item is None or _is_directive_key(key):
                continue
            kept = _materialise(item)
            if kept is not _DROP:
                out[key] = kept
        return out
    if isinstance(value, list):
        return [kept for kept in map(_materialise, value) if kept is not _DROP]
    return value


def _set_whole(target: dict[str, Any], key: str, value: Any) -> None:
    kept = _materialise(value)
    if kept is _DROP:
        target.pop(key, None)
    else:
        target[key] = kept


# -- maps -------------------------------------------------------------------------------------


def _merge_map(original: dict[str, Any] | None, patch: dict[str, Any], schema: SchemaNode | None) -> dict[str, Any]:
    """Merge ``patch`` into ``original`` (both private copies; ``original`` is reused)."""
    if DIRECTIVE_MARKER in patch:
        directive = patch[DIRECTIVE_MARKER]
        if directive == "replace":
            replaced: dict[str, Any] = _materialise({k: v for k, v in patch.items() if k != DIRECTIVE_MARKER})
            return replaced
        if directive == "delete":
            return {}
        raise _bad_patch_type(directive, patch)
    if original is None:
        original = {}
    if RETAIN_KEYS in patch:
        _apply_retain_keys(original, patch, patch.pop(RETAIN_KEYS))
    _apply_set_element_orders(original, patch, schema)

    for key, value in patch.items():
        delete_list = key.startswith(DELETE_FROM_PRIMITIVE_LIST)
        if delete_list:
            key = _directive_target(key, DELETE_FROM_PRIMITIVE_LIST, "primitive list")
        if value is None:
            original.pop(key, None)
            continue
        if key not in original:
            if not delete_list:
                _set_whole(original, key, value)
            continue
        current = original[key]
        if isinstance(current, dict) and isinstance(value, dict):
            child = _child_schema(schema, key)
            if _strategy(child) == "replace":
                _set_whole(original, key, value)
            else:
                original[key] = _merge_map(current, value, child)
        elif isinstance(current, list) and isinstance(value, list):
            original[key] = _merge_list_field(current, value, _child_schema(schema, key), delete_list=delete_list)
        elif not delete_list:
            _set_whole(original, key, value)
    return original


def _directive_target(key: str, prefix: str, what: str) -> str:
    """``$prefix/field`` -> ``field``; anything else is a malformed directive (400)."""
    head, sep, field = key.partition("/")
    if not sep or head != prefix:
        raise _bad_format(what)
    return field


def _apply_retain_keys(original: dict[str, Any], patch: dict[str, Any], retain: Any) -> None:
    """Clear the keys of ``original`` not listed; every non-null patch key must be listed."""
    if not isinstance(retain, list):
        raise _bad_format("retainKeys")
    allowed = {scalar_key(k) for k in retain}
    for key, value in patch.items():
        if value is None or key.startswith(DELETE_FROM_PRIMITIVE_LIST) or key.startswith(SET_ELEMENT_ORDER):
            continue
        if scalar_key(key) not in allowed:
            raise _bad_format("retainKeys")
    for key in [k for k in original if scalar_key(k) not in allowed]:
        del original[key]


def _apply_set_element_orders(original: dict[str, Any], patch: dict[str, Any], schema: SchemaNode | None) -> None:
    """Merge each list named by a ``$setElementOrder/<field>`` key and order it as listed."""
    for directive in [k for k in patch if k.startswith(SET_ELEMENT_ORDER)]:
        order = patch.pop(directive)
        if not isinstance(order, list):
            raise _bad_arg_type("[]interface {}", order)
        field = _directive_target(directive, SET_ELEMENT_ORDER, "setElementOrder list")
        found_original, found_patch = field in original, field in patch
        original_list = _as_list(original.get(field) if found_original else [])
        patch_list = _as_list(patch.get(field) if found_patch else [])
        list_schema = _child_schema(schema, field)
        merge_key = _merge_key(list_schema)
        _validate_order(patch_list, order, merge_key)
        if not found_original and not found_patch:
            continue
        live_order = original_list
        if not found_patch:
            merged = original_list
        elif not found_original:
            merged = _materialise(patch_list)
        else:
            merged = _merge_list_field(original_list, patch_list, list_schema, delete_list=False)
            if merge_key and _strategy(list_schema) == "merge":
                live_order = _live_order_after_merge(original_list, patch_list, merge_key)
        kind = _element_kind(original_list, patch_list)
        in_order, server_only = _partition(merged, order, merge_key, kind)
        original[field] = _normalize_order(in_order, server_only, order, live_order, merge_key, kind)
        patch.pop(field, None)


def _as_list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _bad_arg_type("[]interface {}", value)
    return value


def _live_order_after_merge(original: list[Any], patch: list[Any], merge_key: str) -> list[Any]:
    """The live order apimachinery sorts server-only items by after merging a keyed list.

    Go's merge deletes ``$patch: delete`` items by shifting the live list's backing array in
    place, and the first new items it appends land in the slots that frees; the
    ``$setElementOrder`` step then reads that same array as "the live order". So with live
    ``[1, 2, 4]``, deletion of 1 and addition of 3, the order seen is ``[2, 4, 3]`` and the
    server-only 4 stays before the new 3. Reproduced here so list order matches Kubernetes.
    """
    backing = list(original)
    length = len(backing)
    for item in patch:
        if isinstance(item, dict) and item.get(DIRECTIVE_MARKER) == "delete" and merge_key in item:
            while (idx := _find(backing[:length], merge_key, item[merge_key])) is not None:
                backing[idx : length - 1] = backing[idx + 1 : length]
                length -= 1
    if any(isinstance(item, dict) and item.get(DIRECTIVE_MARKER) == "replace" for item in patch):
        return backing
    for item in patch:
        if not isinstance(item, dict) or DIRECTIVE_MARKER in item or merge_key not in item:
            continue
        if length >= len(backing):
            break  # Go reallocates: further appends no longer touch the live array
        if _find(backing[:length], merge_key, item[merge_key]) is None:
            backing[length] = item
            length += 1
    return backing


def _validate_order(patch_list: list[Any], order: list[Any], merge_key: str) -> None:
    """The patch list must be a subsequence of the ``$setElementOrder`` list (deletions aside)."""
    if not order or not patch_list:
        return
    items = _without_deletions(patch_list) if merge_key else patch_list
    pi = si = 0
    while pi < len(items) and si < len(order):
        if isinstance(items[pi], dict) and DIRECTIVE_MARKER in items[pi]:
            pi += 1
            continue
        if _same_entry(items[pi], order[si], merge_key):
            pi += 1
        si += 1
    if pi < len(items) and si >= len(order):
        raise PatchApplyError(
            f"The order in patch list:\n{go_format(patch_list)}\n doesn't match "
            f"{SET_ELEMENT_ORDER} list:\n{go_format(order)}\n"
        )


def _same_entry(left: Any, right: Any, merge_key: str) -> bool:
    if not merge_key:
        return scalar_key(left) == scalar_key(right)
    for item in (left, right):
        if not isinstance(item, dict):
            raise _bad_arg_type("map[string]interface {}", item)
        if merge_key not in item:
            raise _no_merge_key(item, merge_key)
    return scalar_key(left[merge_key]) == scalar_key(right[merge_key])


# -- lists ------------------------------------------------------------------------------------


def _merge_list_field(original: list[Any], patch: list[Any], list_schema: SchemaNode | None, *, delete_list: bool) -> list[Any]:
    """A list field: merged when its strategy is ``merge`` (or for a delete list), else replaced."""
    if _strategy(list_schema) != "merge" and not delete_list:
        replaced: list[Any] = _materialise(patch)
        return replaced
    if not original and not patch:
        return original
    merge_key = _merge_key(list_schema)
    kind = _element_kind(original, patch)
    if kind != "object":
        if delete_list:
            doomed = {scalar_key(v) for v in patch}
            return [v for v in original if scalar_key(v) not in doomed]
        merged = _dedupe(original + patch)
        in_patch, server_only = _partition(merged, patch, "", kind)
        return _normalize_order(in_patch, server_only, patch, original, "", kind)
    if not merge_key:
        name = list_schema.name if list_schema is not None else ""
        raise PatchApplyError(f"cannot merge lists without merge key for {name}")
    item_schema = list_schema.items() if list_schema is not None else None
    original, patch = _apply_list_directives(original, patch, merge_key)
    merged = list(original)
    for item in patch:
        if merge_key not in item:
            raise _no_merge_key(item, merge_key)
        idx = _find(merged, merge_key, item[merge_key])
        if idx is None:
            merged.append(_materialise(item))
        else:
            merged[idx] = _merge_map(merged[idx], item, item_schema)
    in_patch, server_only = _partition(merged, patch, merge_key, kind)
    return _normalize_order(in_patch, server_only, patch, original, merge_key, kind)


def _apply_list_directives(original: list[Any], patch: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    """Handle ``$patch`` list elements; returns the new original and the plain patch items."""
    plain: list[Any] = []
    replace = False
    for item in patch:
        if DIRECTIVE_MARKER not in item:
            plain.append(item)
            continue
        directive = item[DIRECTIVE_MARKER]
        if directive == "delete":
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)
            doomed = scalar_key(item[merge_key])
            original = [o for o in original if not (merge_key in o and scalar_key(o[merge_key]) == doomed)]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise PatchApplyError("merging lists cannot yet be specified in the patch")
        else:
            raise _bad_patch_type(directive, item)
    if replace:
        return [_materialise(item) for item in plain], []
    return original, plain


def _element_kind(*lists: list[Any]) -> str:
    """The one JSON kind shared by every element; lists of lists are refused (422)."""
    kind = None
    for items in lists:
        for item in items:
            current = json_kind(item)
            if kind is None:
                if current == "array":
                    raise unprocessable("lists of lists are not supported")
                kind = current
            elif current != kind:
                raise PatchApplyError(
                    f"list element types are not identical: {go_format(list(lists))}"
                )
    if kind is None:
        raise PatchApplyError("no elements in any of the given slices")
    if kind == "null":
        raise PatchApplyError(f"list element types are not identical: {go_format(list(lists))}")
    return kind


def _dedupe(items: list[Any]) -> list[Any]:
    seen: set[tuple[str, Any]] = set()
    out = []
    for item in items:
        key = scalar_key(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _find(items: list[Any], merge_key: str, value: Any) -> int | None:
    wanted = scalar_key(value)
    for idx, item in enumerate(items):
        if isinstance(item, dict) and merge_key in item and scalar_key(item[merge_key]) == wanted:
            return idx
    return None


def _without_deletions(items: list[Any]) -> list[Any]:
    for item in items:
        if not isinstance(item, dict):
            raise _bad_arg_type("map[string]interface {}", item)
    return [item for item in items if item.get(DIRECTIVE_MARKER) != "delete"]


def _identity(item: Any, merge_key: str, kind: str) -> tuple[str, Any]:
    if kind == "object":
        return scalar_key(item.get(merge_key)) if isinstance(item, dict) else ("null", None)
    return scalar_key(item)


def _partition(merged: list[Any], by: list[Any], merge_key: str, kind: str) -> tuple[list[Any], list[Any]]:
    """Split ``merged`` into the items named in ``by`` and the server-only rest."""
    if kind == "object":
        for item in merged:
            if not isinstance(item, dict):
                raise _bad_arg_type("map[string]interface {}", item)
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)
    named = {_identity(item, merge_key, kind) for item in by}
    inside = [item for item in merged if _identity(item, merge_key, kind) in named]
    outside = [item for item in merged if _identity(item, merge_key, kind) not in named]
    return inside, outside


def _sorted_by(items: list[Any], order: list[Any], merge_key: str, kind: str) -> list[Any]:
    """Stable sort of ``items`` by position in ``order``; items with ``$patch: delete`` go last."""
    if kind == "object":
        for item in list(items) + list(order):
            if not isinstance(item, dict):
                raise _bad_arg_type("map[string]interface {}", item)
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)
        deletions = [i for i in items if i.get(DIRECTIVE_MARKER) == "delete"]
        items = [i for i in items if i.get(DIRECTIVE_MARKER) != "delete"]
    else:
        deletions = []
    position: dict[tuple[str, Any], int] = {}
    for idx, item in enumerate(order):
        position.setdefault(_identity(item, merge_key, kind), idx)
    ranked = sorted(items, key=lambda item: position.get(_identity(item, merge_key, kind), len(order)))
    return ranked + deletions


def _normalize_order(
    in_patch: list[Any], server_only: list[Any], patch_order: list[Any], server_order: list[Any], merge_key: str, kind: str
) -> list[Any]:
    """Interleave patch items (in patch order) with server-only items (in live order).

    A server-only item goes before the next patch item only when both appear in the live
    list and the server-only one came first there; otherwise the patch item goes first.
    """
    right = _sorted_by(in_patch, patch_order, merge_key, kind)
    left = _sorted_by(server_only, server_order, merge_key, kind)
    live: dict[tuple[str, Any], int] = {}
    for idx, item in enumerate(server_order):
        live.setdefault(_identity(item, merge_key, kind), idx)
    out: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if j >= len(right):
            out.append(left[i])
            i += 1
        elif i >= len(left):
            out.append(right[j])
            j += 1
        else:
            li = live.get(_identity(left[i], merge_key, kind))
            rj = live.get(_identity(right[j], merge_key, kind))
            if li is not None and rj is not None and li < rj:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out

