"""The Event row: LAST SEEN TYPE REASON OBJECT | SUBOBJECT SOURCE | MESSAGE | FIRST SEEN COUNT NAME.

Core ``v1`` and ``events.k8s.io/v1`` events are one stored kind printed alike; the
``events.k8s.io`` field names (``regarding``, ``note``, ``deprecatedCount``...) are read
through ``core_view``. LAST SEEN falls back to FIRST SEEN, which falls back to
``eventTime``; a series supplies its own last time and count; a count of 0 prints 1.
"""

from __future__ import annotations

from datetime import datetime

from .common import Cell, Column, Doc, Obj, Printer, dig, name, name_column, since

EVENT = (
    Column("Last Seen", "string", Doc("core.v1.Event", "lastTimestamp")),
    Column("Type", "string", Doc("core.v1.Event", "type")),
    Column("Reason", "string", Doc("core.v1.Event", "reason")),
    Column("Object", "string", Doc("core.v1.Event", "involvedObject")),
    Column("Subobject", "string", Doc("core.v1.ObjectReference", "fieldPath"), priority=1),
    Column("Source", "string", Doc("core.v1.Event", "source"), priority=1),
    Column("Message", "string", Doc("core.v1.Event", "message")),
    Column("First Seen", "string", Doc("core.v1.Event", "firstTimestamp"), priority=1),
    Column("Count", "string", Doc("core.v1.Event", "count"), priority=1),
    name_column(priority=1),
)

_RENAMED = {  # events.k8s.io/v1 field -> core/v1 field
    "regarding": "involvedObject",
    "note": "message",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
    "deprecatedSource": "source",
    "reportingController": "reportingComponent",
}


def core_view(event: Obj) -> Obj:
    """The event with core/v1 field names (an events.k8s.io/v1 event is renamed)."""
    if not any(key in event for key in _RENAMED):
        return event
    view = {k: v for k, v in event.items() if k not in _RENAMED}
    for new, old in _RENAMED.items():
        if new in event:
            view[old] = event[new]
    return view


def _source(event: Obj) -> str:
    component = dig(event, "source", "component") or event.get("reportingComponent") or ""
    host = dig(event, "source", "host") or event.get("reportingInstance") or ""
    return f"{component}, {host}" if host else str(component)


def event_cells(obj: Obj, now: datetime) -> list[Cell]:
    event = core_view(obj)
    if event.get("firstTimestamp"):
        first_seen = since(event["firstTimestamp"], now)
    else:
        first_seen = since(event.get("eventTime"), now)
    last_seen = since(event["lastTimestamp"], now) if event.get("lastTimestamp") else first_seen
    count = int(event.get("count") or 0)
    series = event.get("series")
    if series is not None:
        last_seen = since(series.get("lastObservedTime"), now)
        count = int(series.get("count") or 0)
    elif count == 0:
        count = 1
    involved: Obj = event.get("involvedObject") or {}
    kind = str(involved.get("kind") or "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    return [
        last_seen, str(event.get("type") or ""), str(event.get("reason") or ""), target,
        str(involved.get("fieldPath") or ""), _source(event),
        str(event.get("message") or "").strip(), first_seen, count, name(obj),
    ]


PRINTERS = {
    ("", "Event"): Printer(EVENT, event_cells),
    ("events.k8s.io", "Event"): Printer(EVENT, event_cells),
}
