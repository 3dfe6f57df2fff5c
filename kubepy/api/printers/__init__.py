"""Server-side printing: the ``meta.k8s.io/v1`` Table the apiserver returns for ``as=Table``.

``kubectl get`` (default and ``-o wide``) asks for a Table and prints its cells verbatim,
so these columns and cells are what users see. The contract, as the kube-apiserver 1.32
implements it (``pkg/printers/internalversion``):

* ``column_definitions(group, kind)`` lists every column, wide-only ones with priority 1
  (kubectl hides them without ``-o wide``). Kinds without a printer (Role, ClusterRole,
  LimitRange, CustomResourceDefinition, ...) get the default table: ``Name`` (format
  ``name``) and ``Created At`` (type ``date``, an RFC 3339 UTC cell).
* ``row_cells(group, kind, obj, now)`` gives one cell per column, always including the wide
  ones (the apiserver prints wide, the client filters). Cells are str, int or bool.
* ``row_conditions`` gives a row's ``conditions`` (a finished pod is ``Completed``).
* ``table_for`` assembles the body; the caller fills ``metadata.resourceVersion`` and
  ``continue``. Rows carry a PartialObjectMetadata (``include_object="Metadata"``, the
  default), the full object (``"Object"``) or nothing (``"None"``).

Objects are plain dicts in the served version, already defaulted; the printers are pure
functions of (object, now).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

from . import apps, autoscaling, batch, core, events, misc, networking, pods, storage
from .common import META, Cell, Column, Doc, Obj, Printer, meta, name, name_column, parse_time

__all__ = ["column_definitions", "row_cells", "row_conditions", "table_for", "has_printer"]

PRINTERS: dict[tuple[str, str], Printer] = {
    **pods.PRINTERS, **core.PRINTERS, **events.PRINTERS, **storage.PRINTERS, **apps.PRINTERS,
    **batch.PRINTERS, **autoscaling.PRINTERS, **networking.PRINTERS, **misc.PRINTERS,
}
LIST_ORDER: dict[tuple[str, str], Callable[[Obj], Any]] = {**misc.LIST_ORDER}

INCLUDE_OBJECT = ("None", "Metadata", "Object")


def _created_at(obj: Obj, now: datetime) -> list[Cell]:
    created = parse_time(meta(obj).get("creationTimestamp"))
    stamp = created.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if created \
        else "0001-01-01T00:00:00Z"
    return [name(obj), stamp]


DEFAULT = Printer((name_column(), Column("Created At", "date", Doc(META, "creationTimestamp"))),
                  _created_at)


def has_printer(group: str, kind: str) -> bool:
    """Whether the kind has its own columns (else the default NAME / CREATED AT)."""
    return (group, kind) in PRINTERS


def _printer(group: str, kind: str) -> Printer:
    return PRINTERS.get((group, kind), DEFAULT)


def column_definitions(group: str, kind: str) -> list[dict[str, Any]]:
    """The Table ``columnDefinitions`` of a kind, wide columns included."""
    return [column.as_dict() for column in _printer(group, kind).columns]


def row_cells(group: str, kind: str, obj: Obj, now: datetime) -> list[Cell]:
    """The cells of one object's row, one per column of ``column_definitions``."""
    return _printer(group, kind).cells(obj, now)


def row_conditions(group: str, kind: str, obj: Obj) -> list[dict[str, str]]:
    """The row ``conditions`` (only pods have them: ``Completed`` when finished)."""
    if (group, kind) == ("", "Pod"):
        return pods.pod_conditions(obj)
    return []


def partial_object_metadata(obj: Obj, api_version: str = "meta.k8s.io/v1") -> Obj:
    return {"kind": "PartialObjectMetadata", "apiVersion": api_version,
            "metadata": dict(meta(obj))}


def table_for(group: str, kind: str, objects: list[Obj], now: datetime, *,
              include_object: str = "Metadata", with_columns: bool = True,
              api_version: str = "meta.k8s.io/v1") -> Obj:
    """The whole Table body for ``objects`` (a list, or one object for a single GET).

    ``with_columns=False`` leaves ``columnDefinitions`` empty, as watch events after the
    first carry them. ``api_version`` may be ``meta.k8s.io/v1beta1`` for old clients.
    """
    if include_object not in INCLUDE_OBJECT:
        raise ValueError(f"includeObject must be one of {', '.join(INCLUDE_OBJECT)}")
    order = LIST_ORDER.get((group, kind))
    if order is not None and len(objects) > 1:
        objects = sorted(objects, key=order)
    printer = _printer(group, kind)
    rows = []
    for obj in objects:
        row: Obj = {"cells": printer.cells(obj, now)}
        conditions = row_conditions(group, kind, obj)
        if conditions:
            row["conditions"] = conditions
        if include_object == "Metadata":
            row["object"] = partial_object_metadata(obj, api_version)
        elif include_object == "Object":
            row["object"] = obj
        rows.append(row)
    columns = [c.as_dict() for c in printer.columns] if with_columns else []
    return {"kind": "Table", "apiVersion": api_version, "metadata": {},
            "columnDefinitions": columns, "rows": rows}
