"""The apiserver's field manager: server-side apply and managedFields for every write.

Two entry points, both pure (time comes in as ``now``, an RFC 3339 string):

* ``server_side_apply(live, config, ...)`` — a PATCH with ``application/apply-patch+yaml``.
  Returns the new object with ``metadata.managedFields`` set; raises ``errors.Conflict``
  (409, causes of type ``FieldManagerConflict``) when the configuration changes fields
  another manager owns and ``force`` is false, ``errors.BadRequest`` when the configuration
  carries managedFields or the wrong apiVersion/kind, and ``TypedObjectError`` (500, as
  upstream) when a list item lacks its keys or repeats them.
* ``update_managed_fields(old, new, ...)`` — create, update and non-apply patches: the
  fields the write changed go to ``manager`` under an ``Update`` entry.

The layers upstream wraps around structured-merge-diff are kept, in the same order:

* a request body may set ``metadata.managedFields`` itself: a valid non-empty list replaces
  the tracking, ``[]`` (or ``[{}]``) resets it, anything else keeps the live entries; on a
  subresource the request's entries are always ignored;
* an existing object with no managedFields is not tracked by updates; its first apply
  gives all existing fields to ``before-first-apply``;
* apiVersion, kind, metadata.name/namespace/uid/resourceVersion/generation/
  creationTimestamp/selfLink/managedFields are never owned (``STRIPPED_FIELDS``);
* ``reset_fields`` (default: ``status`` on the main resource; ``spec`` and ``metadata`` on
  ``status``) are neither owned nor conflicted on; this module does not reset their values,
  the strategy does;
* the manager ``kubectl`` upgrades from client-side apply: conflicts on fields whose live
  value still equals ``kubectl.kubernetes.io/last-applied-configuration`` are forced, and
  that annotation, when present, is rewritten to the new configuration;
* at most ``MAX_UPDATE_MANAGERS`` ``Update`` entries; the oldest fold into ``ancient-changes``.

Callers default the result (defaulted fields stay unowned) and restore server-set metadata,
as the apiserver does after its field manager.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterable
from typing import Any, TypeVar, cast

import orjson

from kubepy import errors
from kubepy.api.apply.fieldpath import Path, go_json
from kubepy.api.apply.managed import (
    APPLY,
    CURRENT_OPERATION,
    UPDATE,
    Managed,
    ManagerKey,
    VersionedSet,
    cap_update_managers,
    conflict_error,
    decode_managed_fields,
    encode_managed_fields,
    ordered_conflicts,
)
from kubepy.api.apply.merge import ApplyConflicts, apply_configuration, record_update
from kubepy.api.apply.shape import Shape, ShapeError, root_shape, zero_object
from kubepy.api.apply.typed import check_configuration, compare, field_set
from kubepy.api.schema import SchemaNode

LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
BEFORE_FIRST_APPLY = "before-first-apply"
KUBECTL_MANAGER = "kubectl"
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024

STRIPPED_FIELDS: frozenset[Path] = frozenset(
    [(("f", "apiVersion"),), (("f", "kind"),), (("f", "metadata"),)]
    + [
        (("f", "metadata"), ("f", name))
        for name in (
            "name", "namespace", "creationTimestamp", "selfLink", "uid", "clusterName",
            "generation", "managedFields", "resourceVersion",
        )
    ]
)
FIELD_MANAGER_MAX_LENGTH = 128


def manager_from_user_agent(manager: str | None, user_agent: str | None) -> str:
    """The manager a write is recorded under: ``fieldManager``, else the User-Agent product.

    ``kubectl/v1.32.0 (linux/amd64) kubernetes/abc`` gives ``kubectl``; unprintable
    characters are skipped and the result stops before 128 bytes, as upstream.
    """
    if manager:
        return manager
    out, size = [], 0
    for ch in (user_agent or "").split("/", 1)[0]:
        if not ch.isprintable():
            continue
        size += len(ch.encode())
        if size > FIELD_MANAGER_MAX_LENGTH:
            break
        out.append(ch)
    return "".join(out)


class TypedObjectError(errors.StatusError):
    """An object the schema cannot type; upstream answers a bare 500 (empty reason)."""

    reason, code = "", 500


def default_reset_fields(subresource: str) -> tuple[tuple[str, ...], ...]:
    """Fields a write through ``subresource`` may not own (its strategy resets them)."""
    if subresource == "":
        return (("status",),)
    if subresource == "status":
        return (("spec",), ("metadata",))
    return ()


def _ignored(subresource: str, reset_fields: Iterable[Iterable[str]] | None) -> set[Path]:
    chosen = default_reset_fields(subresource) if reset_fields is None else reset_fields
    return {tuple(("f", name) for name in names) for names in chosen}


_T = TypeVar("_T")


def _clone(obj: _T) -> _T:
    try:
        return cast(_T, orjson.loads(orjson.dumps(obj)))  # a JSON round trip keeps the type
    except (TypeError, orjson.JSONEncodeError):
        return copy.deepcopy(obj)


def _without_managed_fields(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or "managedFields" not in meta:
        return obj
    out = dict(obj)
    out["metadata"] = {k: v for k, v in meta.items() if k != "managedFields"}
    return out


def _with_managed_fields(obj: dict[str, Any], managed: Managed) -> dict[str, Any]:
    out = _clone(_without_managed_fields(obj))
    entries = encode_managed_fields(managed)
    if entries:
        meta = out.get("metadata")
        if not isinstance(meta, dict):
            meta = out["metadata"] = {}
        meta["managedFields"] = entries
    return out


def _strip_meta(managed: Managed, key: ManagerKey) -> None:
    vs = managed.fields.get(key)
    if vs is None:
        return
    paths = vs.paths - STRIPPED_FIELDS
    if paths:
        managed.fields[key] = VersionedSet(paths, vs.api_version, vs.applied)
    else:
        del managed.fields[key]


def _track_update(old: dict[str, Any], new: dict[str, Any], managed: Managed, key: ManagerKey, *,
                  now: str, shape: Shape, version: str, ignored: set[Path]) -> None:
    """Record one non-apply write in ``managed`` (in place), as ``key``."""
    record_update(old, new, shape, version, managed.fields, CURRENT_OPERATION, ignored=ignored)
    _strip_meta(managed, CURRENT_OPERATION)
    current = managed.fields.pop(CURRENT_OPERATION, None)
    if current is not None:
        previous = managed.fields.get(key)
        paths = current.paths | previous.paths if previous is not None else current.paths
        managed.fields[key] = VersionedSet(paths, current.api_version, False)
        managed.times[key] = now
    cap_update_managers(managed)


def _is_reset(entries: Any) -> bool:
    return isinstance(entries, list) and (not entries or entries == [{}])


def _decode_or_empty(entries: Any) -> Managed:
    try:
        return decode_managed_fields(entries)
    except ValueError:
        return Managed()


def _meta(obj: dict[str, Any] | None) -> dict[str, Any]:
    meta = (obj or {}).get("metadata")
    return meta if isinstance(meta, dict) else {}


# root shape id -> (shape, its zero object); only read (compared against), never mutated
_ZEROS: dict[int, tuple[Shape, dict[str, Any]]] = {}


def _zero_object(shape: Shape) -> dict[str, Any]:
    hit = _ZEROS.get(id(shape))
    if hit is not None and hit[0] is shape:
        return hit[1]
    if len(_ZEROS) >= 512:
        _ZEROS.clear()
    zero = zero_object(shape)
    _ZEROS[id(shape)] = (shape, zero)
    return zero


def update_managed_fields(old: dict[str, Any] | None, new: dict[str, Any], *, manager: str,
                          schema: SchemaNode | None, now: str, api_version: str, subresource: str = "",
                          reset_fields: Iterable[Iterable[str]] | None = None) -> dict[str, Any]:
    """``new`` with managedFields recording that ``manager`` wrote ``old -> new``."""
    old_entries = _meta(old).get("managedFields")
    new_entries = _meta(new).get("managedFields")
    if subresource:
        managed = _decode_or_empty(old_entries)
    elif _is_reset(new_entries):
        managed = Managed()
    else:
        try:
            managed = decode_managed_fields(new_entries)
        except ValueError:
            managed = Managed()
        if not managed.fields:
            managed = _decode_or_empty(old_entries)
    creating = old is None or not _meta(old).get("uid")
    if not managed.fields and not creating:
        return _with_managed_fields(new, managed)  # untracked objects stay untracked
    key = ManagerKey.build(manager, UPDATE, api_version, subresource)
    shape = root_shape(schema)
    live = _without_managed_fields(old) if old is not None else _zero_object(shape)
    try:
        _track_update(live, _without_managed_fields(new), managed, key, now=now, shape=shape,
                      version=api_version, ignored=_ignored(subresource, reset_fields))
    except ShapeError:
        out = _clone(_without_managed_fields(new))
        if old_entries:
            out.setdefault("metadata", {})["managedFields"] = _clone(old_entries)
        return out
    return _with_managed_fields(new, managed)


def _gvk_string(obj: dict[str, Any]) -> str:
    api_version = str(obj.get("apiVersion") or "")
    group_version = api_version if "/" in api_version else "/" + api_version
    return f"{group_version}, Kind={obj.get('kind') or ''}"


def _typed_error(what: str, obj: dict[str, Any], problems: list[str]) -> TypedObjectError:
    meta = _meta(obj)
    detail = problems[0] if len(problems) == 1 else "errors:\n  " + "\n  ".join(problems)
    where = f"{meta.get('namespace') or ''}/{meta.get('name') or ''}; {_gvk_string(obj)}"
    return TypedObjectError(f"failed to create typed {what} object ({where}): {detail}")


def server_side_apply(live: dict[str, Any] | None, config: dict[str, Any], *, manager: str, force: bool,
                      schema: SchemaNode | None, now: str, subresource: str = "",
                      reset_fields: Iterable[Iterable[str]] | None = None,
                      api_version: str | None = None) -> dict[str, Any]:
    """The object after ``manager`` applies ``config`` to ``live`` (None: apply creates)."""
    if _meta(config).get("managedFields") is not None:
        raise errors.BadRequest("metadata.managedFields must be nil")
    expected_version = api_version or (live or {}).get("apiVersion")
    expected_kind = (live or {}).get("kind") or config.get("kind")
    if expected_version and (config.get("apiVersion"), config.get("kind")) != (expected_version, expected_kind):
        raise errors.BadRequest(f"invalid object type: {_gvk_string(config)}")
    version = str(expected_version or config.get("apiVersion") or "")
    shape = root_shape(schema)
    problems = check_configuration(config, shape)
    if problems:
        raise _typed_error("patch", config, problems)
    try:
        managed = decode_managed_fields(_meta(live).get("managedFields"))
    except ValueError as exc:
        raise errors.InternalError(f"failed to decode managed fields: {exc}") from exc
    live_obj = _without_managed_fields(live) if live is not None else {}
    key = ManagerKey.build(manager, APPLY, version, subresource)
    run = functools.partial(_apply_once, live_obj, config, managed, key, now=now, shape=shape, version=version,
                            ignored=_ignored(subresource, reset_fields), existing=live is not None)
    try:
        try:
            result, tracked = run(force)
        except ApplyConflicts as conflict:
            remaining = conflict.conflicts
            if manager == KUBECTL_MANAGER:
                remaining = _not_allowed_by_last_applied(remaining, live_obj, version, shape)
            if remaining:
                raise conflict_error(ordered_conflicts(remaining)) from None
            result, tracked = run(True)
    except ShapeError as exc:
        raise _typed_error("live", live_obj, [str(exc)]) from exc
    if manager == KUBECTL_MANAGER and (_meta(result).get("annotations") or {}).get(LAST_APPLIED_ANNOTATION):
        result = _set_last_applied(result, _build_last_applied(config))
    return _with_managed_fields(result, tracked)


def _apply_once(live: dict[str, Any], config: dict[str, Any], managed: Managed, key: ManagerKey, force: bool, *,
                now: str, shape: Shape, version: str, ignored: set[Path], existing: bool) -> tuple[dict[str, Any], Managed]:
    """One apply attempt on a copy of ``managed``: the resulting object and tracking."""
    tracked = managed.copy()
    if not tracked.fields and existing:
        first = ManagerKey.build(BEFORE_FIRST_APPLY, UPDATE, version, key.subresource)
        _track_update(zero_object(shape), live, tracked, first, now=now, shape=shape, version=version, ignored=ignored)
    result = apply_configuration(live, config, shape, version, tracked.fields, key, force=force, ignored=ignored)
    _strip_meta(tracked, key)
    if result is None:
        return live, tracked
    tracked.times[key] = now
    return result, tracked


def _not_allowed_by_last_applied(conflicts: dict[ManagerKey, set[Path]], live: dict[str, Any], version: str,
                                 shape: Shape) -> dict[ManagerKey, set[Path]]:
    """The conflicts kubectl may not take over from its own client-side apply."""
    allowed = _allowed_by_last_applied(live, version, shape)
    if allowed is None:
        return conflicts
    return {k: paths - allowed for k, paths in conflicts.items() if paths - allowed}


def _allowed_by_last_applied(live: dict[str, Any], version: str, shape: Shape) -> set[Path] | None:
    """Fields client-side apply last set that still hold that value (kubectl may take them)."""
    annotations = _meta(live).get("annotations")
    text = annotations.get(LAST_APPLIED_ANNOTATION) if isinstance(annotations, dict) else None
    if not text:
        return None
    try:
        last_applied = json.loads(text)
    except ValueError:
        return None
    if not isinstance(last_applied, dict) or last_applied.get("apiVersion") != version:
        return None
    try:
        owned = field_set(last_applied, shape)
        cmp = compare(last_applied, live, shape)
    except ShapeError:
        return None
    return owned - cmp.modified - cmp.added - cmp.removed


def _build_last_applied(config: dict[str, Any]) -> str:
    applied = dict(config)
    meta = _meta(config)
    if isinstance(meta.get("annotations"), dict):
        annotations = {k: v for k, v in meta["annotations"].items() if k != LAST_APPLIED_ANNOTATION}
        applied["metadata"] = {**meta, "annotations": annotations}
    return go_json(applied) + "\n"


def _set_last_applied(obj: dict[str, Any], value: str) -> dict[str, Any]:
    out = dict(obj)
    meta = dict(_meta(obj))
    annotations = dict(meta.get("annotations") or {})
    annotations[LAST_APPLIED_ANNOTATION] = value
    size = sum(len(k.encode()) + len(str(v).encode()) for k, v in annotations.items())
    if size > TOTAL_ANNOTATION_SIZE_LIMIT:
        del annotations[LAST_APPLIED_ANNOTATION]
    meta["annotations"] = annotations
    out["metadata"] = meta
    return out
