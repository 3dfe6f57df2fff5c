"""Shared pieces of server-side printing: column specs, ages, labels, selectors.

Everything here mirrors a helper the kube-apiserver's printers use, so that a cell
formatted by kubepy is byte-for-byte the cell a 1.32 apiserver sends:

* ``human_duration`` is apimachinery's ``duration.HumanDuration`` (``5m``, ``3h4m``,
  ``2d``, ``10y``; ``<invalid>`` for more than a second in the future).
* ``since`` / ``age`` give ``<unknown>`` for a missing timestamp, as
  ``translateTimestampSince`` does.
* ``format_labels`` is ``labels.FormatLabels`` (``a=b,c=d`` or ``<none>``) and
  ``selector_string`` is ``LabelSelectorAsSelector(...).String()`` (from ``api.labels``).

Objects are the JSON dicts of the served version, already defaulted by the apiserver;
where a defaulted field is nevertheless absent, printers assume its default value.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Union

from kubepy.api.labels import selector_to_string
from kubepy.errors import BadRequest

SelectorError = BadRequest  # what an invalid selector raises; the printers catch it by this name

Obj = dict[str, Any]
Cell = Union[str, int, bool]
CellsFn = Callable[[Obj, datetime], list[Cell]]

_NS = 1_000_000_000


@dataclass(frozen=True)
class Doc:
    """A column description taken from the OpenAPI text of ``definition.field``."""

    definition: str  # e.g. "core.v1.PodStatus" (prefix io.k8s.api. added) or a full name
    field: str


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: Union[str, Doc]
    format: str = ""
    priority: int = 0

    def as_dict(self) -> dict[str, Any]:
        desc = self.description
        text = desc if isinstance(desc, str) else describe(desc.definition, desc.field)
        return {"name": self.name, "type": self.type, "format": self.format,
                "description": text, "priority": self.priority}


@dataclass(frozen=True)
class Printer:
    """Columns of one kind and the function computing a row's cells (all columns)."""

    columns: tuple[Column, ...]
    cells: CellsFn


META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


@functools.cache
def describe(definition: str, field: str) -> str:
    """The OpenAPI description of ``definition.field`` ("" when unknown)."""
    from kubepy.api.schema import schemas

    name = definition if definition.startswith("io.k8s.") else f"io.k8s.api.{definition}"
    raw = schemas().definitions.get(name, {})
    prop = raw.get("properties", {}).get(field, {})
    return str(prop.get("description", ""))


def name_column(priority: int = 0) -> Column:
    return Column("Name", "string", Doc(META, "name"), "name", priority)


def age_column() -> Column:
    return Column("Age", "string", Doc(META, "creationTimestamp"))


CONTAINERS_DOC = "Names of each container in the template."
IMAGES_DOC = "Images referenced by each container in the template."


def containers_columns() -> tuple[Column, Column]:
    return (Column("Containers", "string", CONTAINERS_DOC, priority=1),
            Column("Images", "string", IMAGES_DOC, priority=1))


# --- time -----------------------------------------------------------------------------

def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 ``Time``/``MicroTime`` as an aware datetime; None when unset."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    if "." in text:  # Python accepts at most 6 fractional digits
        head, _, rest = text.partition(".")
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        text = f"{head}.{(digits + '000000')[:6]}{rest}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    if parsed.year <= 1:  # Go's zero time, serialised
        return None
    return parsed


def _nanoseconds(delta: timedelta) -> int:
    return (delta.days * 86400 + delta.seconds) * _NS + delta.microseconds * 1000


def _trunc_div(a: int, b: int) -> int:
    """Go's integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def human_duration(delta: timedelta) -> str:
    """apimachinery ``duration.HumanDuration``: about 2-3 significant figures."""
    d = _nanoseconds(delta)
    seconds = _trunc_div(d, _NS)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes = d // (60 * _NS)
    if minutes < 10:
        s = seconds % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = d // (3600 * _NS)
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if dy == 0 else f"{years}y{dy}d"
    return f"{hours // 24 // 365}y"


def since(value: Any, now: datetime) -> str:
    """``translateTimestampSince``: the age of a timestamp, ``<unknown>`` when unset."""
    ts = parse_time(value)
    if ts is None:
        return "<unknown>"
    return human_duration(now - ts)


def age(obj: Obj, now: datetime) -> str:
    return since(meta(obj).get("creationTimestamp"), now)


# --- object access ----------------------------------------------------------------------

def meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def name(obj: Obj) -> str:
    return str(meta(obj).get("name", ""))


def dig(obj: Any, *path: str) -> Any:
    """``obj[path[0]][path[1]]...`` or None when any step is missing."""
    cur = obj
    for key in path:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(key)
    return cur


def as_int(value: Any, default: int = 0) -> int:
    if value is None or isinstance(value, bool):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def int_or_string(value: Any) -> str:
    """``intstr.IntOrString.String()``."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    return "" if value is None else str(value)


def go_bool(value: bool) -> str:
    return "True" if value else "False"


def container_cells(pod_spec: Obj | None) -> tuple[str, str]:
    """``layoutContainerCells``: comma-joined container names and images."""
    containers = (pod_spec or {}).get("containers") or []
    names = ",".join(str(c.get("name", "")) for c in containers)
    images = ",".join(str(c.get("image", "")) for c in containers)
    return names, images


# --- labels and selectors ---------------------------------------------------------------

def format_labels(labels: Obj | None) -> str:
    """``labels.FormatLabels``: sorted ``k=v`` joined by commas, ``<none>`` if empty."""
    if not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def selector_string(selector: Obj | None) -> str:
    """``metav1.LabelSelectorAsSelector(selector).String()`` ("" for a nil or empty one).

    Raises ``SelectorError`` (a ``BadRequest``) when the selector is invalid.
    """
    return selector_to_string(selector)


def format_label_selector(selector: Obj | None) -> str:
    """``metav1.FormatLabelSelector``: the selector string, ``<none>`` or ``<error>``."""
    try:
        text = selector_string(selector)
    except SelectorError:
        return "<error>"
    return text or "<none>"


def list_with_more(items: list[str], total: int, limit: int = 3, *, empty: str = "<unset>") -> str:
    """``a,b,c + 2 more...`` as several printers abbreviate long lists."""
    shown = ",".join(items[:limit])
    if total > limit:
        return f"{shown} + {total - limit} more..."
    return shown or empty
