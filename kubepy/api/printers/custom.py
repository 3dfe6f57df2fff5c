"""Tables for custom resources, from the CRD version's ``additionalPrinterColumns``.

As the apiextensions-apiserver's table convertor: a Name column first, then each column's
``jsonPath`` evaluated on the object (the first match); ``date`` columns print as ages;
priority > 0 columns are wide-only. JSONPath is the subset CRDs use: ``.a.b``, ``.a[0]``,
``.a[*].b``, ``.a[?(@.type=="Ready")].status`` and ``['dotted.key']``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Iterable

from kubepy.api.printers.common import human_duration, parse_time

Obj = dict[str, Any]
_TOKEN = re.compile(r"""\.([A-Za-z0-9_\-$]+)|\['([^']*)'\]|\[(\*|-?\d+)\]|\[\?\(@\.([\w.\-]+)\s*==\s*["']([^"']*)["']\)\]""")


def _steps(path: str) -> list[tuple[str, Any]]:
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    if not path.startswith((".", "[")):
        path = "." + path
    steps: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if m is None:
            raise ValueError(f"unsupported JSONPath {path!r}")
        if m.group(1) is not None or m.group(2) is not None:
            steps.append(("key", m.group(1) if m.group(1) is not None else m.group(2)))
        elif m.group(3) is not None:
            steps.append(("all", None) if m.group(3) == "*" else ("index", int(m.group(3))))
        else:
            steps.append(("filter", (m.group(4), m.group(5))))
        pos = m.end()
    return steps


def evaluate(obj: Any, path: str) -> list[Any]:
    """Every value the path selects (empty when nothing matches)."""
    try:
        steps = _steps(path)
    except ValueError:
        return []
    values = [obj]
    for kind, arg in steps:
        nxt: list[Any] = []
        for v in values:
            if kind == "key" and isinstance(v, dict) and arg in v:
                nxt.append(v[arg])
            elif kind == "index" and isinstance(v, list) and -len(v) <= arg < len(v):
                nxt.append(v[arg])
            elif kind == "all":
                nxt.extend(v if isinstance(v, list) else v.values() if isinstance(v, dict)
                           else [])
            elif kind == "filter" and isinstance(v, list):
                field, want = arg
                for item in v:
                    got: Any = item
                    for part in field.split("."):
                        got = got.get(part) if isinstance(got, dict) else None
                    if got is not None and str(got) == want:
                        nxt.append(item)
        values = nxt
    return values


def _cell(value: Any, column_type: str, now: datetime) -> Any:
    if value is None:
        return None
    if column_type == "date":
        when = parse_time(value) if isinstance(value, str) else None
        return human_duration(now - when) if when else "<unknown>"
    if column_type == "integer" and isinstance(value, (int, float)) and \
            not isinstance(value, bool):
        return int(value)
    if column_type == "number" and isinstance(value, (int, float)):
        return value
    if column_type == "boolean" and isinstance(value, bool):
        return value
    if isinstance(value, (dict, list)):
        import json

        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def column_definitions(columns: Iterable[Obj]) -> list[Obj]:
    out = [{"name": "Name", "type": "string", "format": "name",
            "description": "Name must be unique within a namespace. Is required when creating "
                           "resources, although some resources may allow a client to request "
                           "the generation of an appropriate name automatically. Name is "
                           "primarily intended for creation idempotence and configuration "
                           "definition. Cannot be updated. More info: https://kubernetes.io/"
                           "docs/concepts/overview/working-with-objects/names#names",
            "priority": 0}]
    for c in columns:
        out.append({"name": c.get("name", ""), "type": c.get("type", "string"),
                    "format": c.get("format", ""), "description": c.get("description", ""),
                    "priority": int(c.get("priority", 0))})
    return out


def row_cells(columns: Iterable[Obj], obj: Obj, now: datetime) -> list[Any]:
    cells: list[Any] = [(obj.get("metadata") or {}).get("name", "")]
    for c in columns:
        found = evaluate(obj, c.get("jsonPath", ""))
        cells.append(_cell(found[0] if found else None, c.get("type", "string"), now))
    return cells


def table_for(columns: tuple[Obj, ...], objects: list[Obj], now: datetime, *,
              include_object: str = "Metadata") -> Obj:
    rows = []
    for obj in objects:
        row: Obj = {"cells": row_cells(columns, obj, now)}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": obj.get("metadata", {})}
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {},
            "columnDefinitions": column_definitions(columns), "rows": rows}
