"""Field errors as ``details.causes`` entries, worded like apimachinery's ``field.Error``.

Each constructor returns one cause dict ``{"reason", "message", "field"}`` (see
``kubepy.errors.field_cause``). ``message`` is what apimachinery calls the error body:
the type's words, the bad value printed the way Go's ``fmt`` prints it (``%q`` for
strings, ``%#v`` for maps), then ``: detail``. Paths are plain strings built with
``child``/``index``/``key`` exactly as ``field.Path.String()`` renders them:
``spec.containers[0].name``, ``data[my key]``.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from kubepy.api.gotext import go_quote as go_quote  # field helpers render values with it
from kubepy.errors import field_cause

Cause = dict[str, str]

REQUIRED = "FieldValueRequired"
INVALID = "FieldValueInvalid"
NOT_SUPPORTED = "FieldValueNotSupported"
DUPLICATE = "FieldValueDuplicate"
FORBIDDEN = "FieldValueForbidden"
TOO_LONG = "FieldValueTooLong"
TOO_MANY = "FieldValueTooMany"
NOT_FOUND = "FieldValueNotFound"

FIELD_IMMUTABLE = "field is immutable"  # apimachinery validation.FieldImmutableErrorMsg
IS_NEGATIVE = "must be greater than or equal to 0"  # validation.IsNegativeErrorMsg


def child(path: str, *names: str) -> str:
    for name in names:
        path = f"{path}.{name}" if path else name
    return path


def index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def key(path: str, k: str) -> str:
    return f"{path}[{k}]"


class GoRaw(str):
    """A bad value already rendered the way Go's ``%#v`` would render it."""


def go_string_map(value: Any) -> GoRaw:
    """``%#v`` of a ``map[string]string``, including the nil map."""
    if not value:
        return GoRaw("map[string]string(nil)" if value is None else "map[string]string{}")
    items = ", ".join(f"{go_quote(str(k))}:{go_quote(str(v))}" for k, v in sorted(value.items()))
    return GoRaw("map[string]string{" + items + "}")


def go_label_selector(selector: Any) -> GoRaw:
    """``%#v`` of a metav1.LabelSelector, as in ``spec.selector: ... field is immutable``."""
    selector = selector if isinstance(selector, dict) else {}
    reqs = selector.get("matchExpressions")
    if reqs:
        rendered = []
        for r in reqs:
            values = r.get("values")
            vals = ("[]string(nil)" if values is None else
                    "[]string{" + ", ".join(go_quote(str(v)) for v in values) + "}")
            rendered.append(f"v1.LabelSelectorRequirement{{Key:{go_quote(r.get('key', ''))}, "
                            f"Operator:{go_quote(r.get('operator', ''))}, Values:{vals}}}")
        exprs = "[]v1.LabelSelectorRequirement{" + ", ".join(rendered) + "}"
    else:
        exprs = "[]v1.LabelSelectorRequirement(nil)"
    return GoRaw(f"v1.LabelSelector{{MatchLabels:{go_string_map(selector.get('matchLabels'))}, "
                 f"MatchExpressions:{exprs}}}")


def go_value(value: Any) -> str:
    """How ``field.Error.ErrorBody`` prints a bad value."""
    if isinstance(value, GoRaw):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return str(go_string_map(value))
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "[]string{" + ", ".join(go_quote(v) for v in value) + "}"
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _body(kind: str, detail: str) -> str:
    return f"{kind}: {detail}" if detail else kind


def required(path: str, detail: str = "") -> Cause:
    return field_cause(path, _body("Required value", detail), REQUIRED)


def invalid(path: str, value: Any, detail: str = "") -> Cause:
    return field_cause(path, _body(f"Invalid value: {go_value(value)}", detail), INVALID)


def not_supported(path: str, value: Any, supported: Iterable[str]) -> Cause:
    values = ", ".join(go_quote(s) for s in supported)
    detail = f"supported values: {values}" if values else ""
    return field_cause(path, _body(f"Unsupported value: {go_value(value)}", detail),
                       NOT_SUPPORTED)


def duplicate(path: str, value: Any) -> Cause:
    return field_cause(path, f"Duplicate value: {go_value(value)}", DUPLICATE)


def forbidden(path: str, detail: str) -> Cause:
    return field_cause(path, _body("Forbidden", detail), FORBIDDEN)


def not_found(path: str, value: Any) -> Cause:
    return field_cause(path, f"Not found: {go_value(value)}", NOT_FOUND)


def too_long(path: str, max_length: int) -> Cause:
    unit = "byte" if max_length == 1 else "bytes"
    return field_cause(path, f"Too long: may not be more than {max_length} {unit}", TOO_LONG)


def too_many(path: str, actual: int, limit: int) -> Cause:
    return field_cause(path, f"Too many: {actual}: must have at most {limit} items", TOO_MANY)


def immutable(path: str, new: Any) -> Cause:
    """``ValidateImmutableField``: ``Invalid value: <new>: field is immutable``."""
    return invalid(path, new, FIELD_IMMUTABLE)


def check_immutable(path: str, new: Any, old: Any) -> list[Cause]:
    return [] if new == old else [immutable(path, new)]
