"""``metadata.managedFields``: decoding, encoding, ordering and the conflict error.

Each entry records which fields one *manager* owns::

    {"manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1",
     "time": "2024-05-01T10:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": {...},
     "subresource": "status"}          # subresource only when set

Entries are identified as the apiserver identifies them (``ManagerKey``): by manager,
operation and subresource, plus apiVersion for ``Update`` entries only, so one applier has a
single entry whatever version it applies with while updaters get one entry per version.

Encoded entries come out sorted as upstream sorts them: by operation (``Apply`` before
``Update``), then time (whole seconds), manager, apiVersion and subresource. ``Update``
entries beyond ``MAX_UPDATE_MANAGERS`` are folded, oldest first, into ``ancient-changes``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from kubepy import errors
from kubepy.api.apply.fieldpath import (
    FieldSet,
    Path,
    from_fields_v1,
    iteration_order,
    path_string,
    to_fields_v1,
)

APPLY, UPDATE = "Apply", "Update"
MAX_UPDATE_MANAGERS = 10
ANCIENT_CHANGES = "ancient-changes"


class ManagerKey(NamedTuple):
    manager: str
    operation: str
    api_version: str  # always "" for appliers
    subresource: str = ""

    @staticmethod
    def build(manager: str, operation: str, api_version: str, subresource: str = "") -> ManagerKey:
        return ManagerKey(manager or "unknown", operation, "" if operation == APPLY else api_version, subresource)

    def identifier(self) -> str:
        """The JSON the apiserver uses as the manager's identity (and to order conflicts)."""
        ident: dict[str, str] = {"manager": self.manager, "operation": self.operation}
        if self.api_version:
            ident["apiVersion"] = self.api_version
        if self.subresource:
            ident["subresource"] = self.subresource
        return json.dumps(ident, separators=(",", ":"), ensure_ascii=False)

    def describe(self) -> str:
        """``"kubectl-client-side-apply" using apps/v1`` as in conflict messages."""
        text = json.dumps(self.manager, ensure_ascii=False)
        if self.subresource:
            text += " with subresource " + json.dumps(self.subresource, ensure_ascii=False)
        if self.operation == UPDATE:
            text += f" using {self.api_version}"
        return text


# The transient identity of the write being recorded, before it is merged into its manager.
CURRENT_OPERATION = ManagerKey("current-operation", "", "", "")


@dataclass(frozen=True)
class VersionedSet:
    paths: FieldSet
    api_version: str
    applied: bool


@dataclass
class Managed:
    fields: dict[ManagerKey, VersionedSet] = field(default_factory=dict)
    times: dict[ManagerKey, str | None] = field(default_factory=dict)

    def copy(self) -> Managed:
        return Managed(dict(self.fields), dict(self.times))


def decode_managed_fields(entries: Any) -> Managed:
    """Parse ``metadata.managedFields``; ``ValueError`` says why an entry is unusable."""
    managed = Managed()
    if entries is None:
        return managed
    if not isinstance(entries, list):
        raise ValueError("managedFields must be a list")
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ValueError(f"managed fields entry {i} must be an object")
        operation = entry.get("operation")
        if operation not in (APPLY, UPDATE):
            raise ValueError("operation must be `Apply` or `Update`")
        api_version = entry.get("apiVersion") or ""
        if not api_version:
            raise ValueError("apiVersion must not be empty")
        fields_type = entry.get("fieldsType") or ""
        if fields_type != "FieldsV1":
            if not fields_type:
                raise ValueError(f"missing fieldsType in managed fields entry {i}")
            raise ValueError(f"invalid fieldsType {fields_type!r} in managed fields entry {i}")
        paths = from_fields_v1(entry.get("fieldsV1") or {})
        key = ManagerKey(
            str(entry.get("manager") or ""),
            operation,
            "" if operation == APPLY else api_version,
            str(entry.get("subresource") or ""),
        )
        managed.fields[key] = VersionedSet(frozenset(paths), api_version, operation == APPLY)
        managed.times[key] = entry.get("time")
    return managed


def _seconds(time: str | None) -> int:
    if not time:
        return 0
    try:
        return int(datetime.fromisoformat(time.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0


def encode_managed_fields(managed: Managed) -> list[dict[str, Any]]:
    """The ``managedFields`` list, in upstream's order (empty list when nothing is tracked)."""
    entries: list[dict[str, Any]] = []
    for key, vs in managed.fields.items():
        entry: dict[str, Any] = {
            "manager": key.manager,
            "operation": APPLY if vs.applied else key.operation,
            "apiVersion": vs.api_version,
        }
        time = managed.times.get(key)
        if time:
            entry["time"] = time
        entry["fieldsType"] = "FieldsV1"
        entry["fieldsV1"] = to_fields_v1(vs.paths)
        if key.subresource:
            entry["subresource"] = key.subresource
        entries.append(entry)
    if len(entries) > 1:
        entries.sort(
            key=lambda e: (
                e["operation"],
                _seconds(e.get("time")),
                e["manager"],
                e["apiVersion"],
                e.get("subresource", ""),
            )
        )
    return entries


def cap_update_managers(managed: Managed, limit: int = MAX_UPDATE_MANAGERS) -> None:
    """Fold the oldest ``Update`` entries into per-version ``ancient-changes`` entries."""
    updaters = [key for key, vs in managed.fields.items() if not vs.applied]
    if len(updaters) <= limit:
        return
    updaters.sort(key=lambda k: (_seconds(managed.times.get(k)), k.identifier()))
    first_of_version: dict[str, ManagerKey] = {}
    length = len(updaters)
    for key in updaters:
        if length <= limit:
            break
        vs = managed.fields[key]
        bucket = ManagerKey(ANCIENT_CHANGES, UPDATE, vs.api_version)
        first = first_of_version.get(vs.api_version)
        if first is None:
            first_of_version[vs.api_version] = key
            continue
        if bucket not in managed.fields:
            managed.fields[bucket] = managed.fields.pop(first)
        managed.fields[bucket] = VersionedSet(vs.paths | managed.fields[bucket].paths, vs.api_version, vs.applied)
        del managed.fields[key]
        managed.times[bucket] = managed.times.get(key)
        length -= 1


def ordered_conflicts(conflicts: dict[ManagerKey, set[Path]]) -> list[tuple[ManagerKey, Path]]:
    """Conflicts grouped by manager (in identifier order), paths in field-set order."""
    out: list[tuple[ManagerKey, Path]] = []
    for key in sorted(conflicts, key=ManagerKey.identifier):
        out.extend((key, path) for path in iteration_order(conflicts[key]))
    return out


def conflict_error(conflicts: list[tuple[ManagerKey, Path]]) -> errors.Conflict:
    """The 409 of a failed apply, worded and detailed as kube-apiserver words it."""
    causes = [
        {"reason": "FieldManagerConflict", "message": f"conflict with {key.describe()}", "field": path_string(path)}
        for key, path in conflicts
    ]
    if len(conflicts) == 1:
        key, path = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {key.describe()}: {path_string(path)}"
    else:
        lines: list[str] = []
        by_manager: dict[ManagerKey, list[Path]] = {}
        for key, path in conflicts:
            by_manager.setdefault(key, []).append(path)
        for key in sorted(by_manager, key=ManagerKey.identifier):
            lines.append(f"conflicts with {key.describe()}:")
            lines.extend(f"- {path_string(path)}" for path in by_manager[key])
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return errors.Conflict(message, causes=causes)
