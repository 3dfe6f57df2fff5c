"""Ownership bookkeeping of one write: structured-merge-diff's ``Updater``.

``record_update`` handles a write whose result is already known (create, update, patch):
every field the write added or changed now belongs to ``workflow`` and is taken away from
everyone else; fields it removed are dropped from every other set.

``apply_configuration`` handles server-side apply. The applier's set becomes exactly the
configuration's fields. The configuration is merged over the live object, then fields the
applier owned before and no longer applies are *pruned* unless another manager still owns
them. Finally the change is compared with the live object: a field added or modified that
another manager owns is a conflict; with ``force`` that manager loses the field instead.

``ignored`` paths (with everything below them) are never owned nor conflicted on: the
fields a strategy resets, e.g. ``status`` on the main resource.

Manager sets are plain path sets, versions are not converted (one version per object).
"""

from __future__ import annotations

from typing import Any

from kubepy.api.apply.fieldpath import Path, exclude_prefixed
from kubepy.api.apply.managed import ManagerKey, VersionedSet
from kubepy.api.apply.shape import Shape
from kubepy.api.apply.typed import (
    Comparison,
    compare,
    field_set,
    json_equal,
    merge,
    remove_items,
    with_named_fields,
)

Managers = dict[ManagerKey, VersionedSet]


class ApplyConflicts(Exception):
    def __init__(self, conflicts: dict[ManagerKey, set[Path]]) -> None:
        super().__init__(f"{sum(len(v) for v in conflicts.values())} apply conflicts")
        self.conflicts = conflicts


def _filtered(cmp: Comparison, ignored: set[Path]) -> Comparison:
    if not ignored:
        return cmp
    return Comparison(
        exclude_prefixed(cmp.added, ignored),
        exclude_prefixed(cmp.modified, ignored),
        exclude_prefixed(cmp.removed, ignored),
    )


def _take_changes(old: dict[str, Any], new: dict[str, Any], shape: Shape, managers: Managers,
                  workflow: ManagerKey, *, force: bool, ignored: set[Path]) -> Comparison:
    """Remove what ``old -> new`` changed from every manager but ``workflow`` (in place)."""
    cmp = _filtered(compare(old, new, shape), ignored)
    changed = cmp.added | cmp.modified
    conflicts: dict[ManagerKey, set[Path]] = {}
    for key, vs in managers.items():
        if key == workflow:
            continue
        clash = vs.paths & changed
        if clash:
            conflicts[key] = set(clash)
    if conflicts and not force:
        raise ApplyConflicts(conflicts)
    for key, vs in list(managers.items()):
        if key == workflow:
            continue
        remaining = vs.paths - conflicts.get(key, set()) - cmp.removed
        if remaining != vs.paths:
            managers[key] = VersionedSet(frozenset(remaining), vs.api_version, vs.applied)
    for key in [k for k, vs in managers.items() if not vs.paths]:
        del managers[key]
    return cmp


def record_update(old: dict[str, Any], new: dict[str, Any], shape: Shape, version: str,
                  managers: Managers, workflow: ManagerKey, *, ignored: set[Path]) -> None:
    """Give the fields changed by ``old -> new`` to ``workflow`` (managers change in place)."""
    cmp = _take_changes(old, new, shape, managers, workflow, force=True, ignored=ignored)
    previous = managers[workflow].paths if workflow in managers else frozenset()
    paths = exclude_prefixed((previous - cmp.removed) | cmp.modified | cmp.added, ignored)
    if paths:
        managers[workflow] = VersionedSet(frozenset(paths), version, False)
    else:
        managers.pop(workflow, None)


def apply_configuration(live: dict[str, Any], config: dict[str, Any], shape: Shape, version: str,
                        managers: Managers, applier: ManagerKey, *, force: bool,
                        ignored: set[Path]) -> dict[str, Any] | None:
    """Merge ``config`` into ``live`` for ``applier``; None when the object is unchanged.

    ``managers`` changes in place, also when ``ApplyConflicts`` is raised: pass a copy.
    """
    merged: dict[str, Any] = merge(live, config, shape)
    last = managers.get(applier)
    applied = exclude_prefixed(field_set(config, shape), ignored)
    managers[applier] = VersionedSet(frozenset(applied), version, True)
    if last is not None and last.paths:
        merged = _prune(merged, managers, last.paths, shape)
    _take_changes(live, merged, shape, managers, applier, force=force, ignored=ignored)
    if json_equal(live, merged):
        return None
    return merged


def _prune(merged: dict[str, Any], managers: Managers, last: frozenset[Path], shape: Shape) -> dict[str, Any]:
    """Drop fields the applier no longer applies and nobody else owns (upstream's three passes)."""
    last_named = with_named_fields(last, shape)
    first_pass = remove_items(merged, last_named, shape)
    owned: set[Path] = set()
    for vs in managers.values():
        owned |= vs.paths
    merged_named = with_named_fields(field_set(merged, shape), shape)
    kept = with_named_fields(field_set(first_pass, shape), shape) | with_named_fields(owned, shape)
    second_pass = remove_items(merged, merged_named - kept, shape)
    # put back items that were only caught under a removed parent and were never the applier's
    second_named = with_named_fields(field_set(second_pass, shape), shape)
    return remove_items(merged, (merged_named - second_named) & last_named, shape)
