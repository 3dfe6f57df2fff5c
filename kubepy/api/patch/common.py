"""Shared helpers of the patch engines: JSON equality, copying, and Go-style error text.

The engines work on plain JSON-compatible values (dict, list, str, int, float, bool, None).
Python's ``==`` says ``True == 1``; JSON does not, so equality and hashing here keep booleans
apart from numbers while treating ``1`` and ``1.0`` as the same JSON number (as Go's
``float64`` decoding does).

Kubernetes builds several patch error messages with Go's ``%v`` verb (``map[name:web]``);
``go_format`` renders a value the same way so clients see the messages they know.
"""

from __future__ import annotations

import decimal
from typing import Any, TypeVar, cast

import orjson

from kubepy import errors

# The generic text the apiserver sends for a 422 built by NewGenericServerResponse: the
# underlying jsonpatch / mergepatch error is not passed on to the client.
UNPROCESSABLE_MESSAGE = "the server rejected our request due to an error in our request"


class PatchApplyError(errors.StatusError):
    """A patch failure the apiserver reports as a plain error: HTTP 500, empty reason.

    kube-apiserver returns most strategic-merge-patch failures (missing merge key, unknown
    ``$patch`` value, mismatched ``$setElementOrder``) as non-Status Go errors; they reach the
    client as ``code: 500`` with reason ``""`` (StatusReasonUnknown), which kubectl prints as
    ``Error from server: <message>``.
    """

    reason, code = "", 500


def unprocessable(detail: str) -> errors.Invalid:
    """The 422 the apiserver answers when a patch cannot be applied (detail is not sent)."""
    err = errors.Invalid(UNPROCESSABLE_MESSAGE)
    err.detail = detail  # type: ignore[attr-defined]  # kept for logs and tests
    return err


_T = TypeVar("_T")


def deep_copy(value: _T) -> _T:
    """A copy of a JSON value that shares no dict or list with the input."""
    if isinstance(value, dict):
        return cast(_T, {k: deep_copy(v) for k, v in value.items()})
    if isinstance(value, list):
        return cast(_T, [deep_copy(v) for v in value])
    return value


def json_equal(a: Any, b: Any) -> bool:
    """Structural JSON equality: ``1 == 1.0`` but ``True != 1`` and key order is ignored."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict):
        if not isinstance(b, dict) or len(a) != len(b):
            return False
        return all(k in b and json_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        if not isinstance(b, list) or len(a) != len(b):
            return False
        return all(json_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def scalar_key(value: Any) -> tuple[str, Any]:
    """A hashable identity for a JSON scalar (used for sets of primitives and merge keys)."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return ("number", value)
    if isinstance(value, str):
        return ("string", value)
    if value is None:
        return ("null", None)
    # maps and lists have no identity in Go's interface comparison; use their text
    return ("other", go_format(value))


def json_kind(value: Any) -> str:
    """The JSON type name of a value: object, array, string, number, boolean or null."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "null"


def _go_float(value: float) -> str:
    """``strconv.FormatFloat(f, 'g', -1, 64)``: shortest digits, exponent form below 1e-4
    and from 1e6 on (``1e+06``), as ``fmt`` prints a float64 with ``%v``."""
    if value != value or value in (float("inf"), float("-inf")):
        return {"nan": "NaN", "inf": "+Inf", "-inf": "-Inf"}[repr(value)]
    if value == 0:
        return "0"
    sign, digits, exp = decimal.Decimal(repr(value)).normalize().as_tuple()
    text = "".join(map(str, digits))
    point = len(text) + int(exp)  # position of the decimal point in the digit string
    exponent = point - 1
    prefix = "-" if sign else ""
    if exponent < -4 or exponent >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{text}"
    if point >= len(text):
        return prefix + text + "0" * (point - len(text))
    return f"{prefix}{text[:point]}.{text[point:]}"


def go_format(value: Any) -> str:
    """Render a decoded JSON value as Go's ``fmt`` ``%v`` does (maps with sorted keys)."""
    if isinstance(value, dict):
        inner = " ".join(f"{k}:{go_format(value[k])}" for k in sorted(value))
        return f"map[{inner}]"
    if isinstance(value, list):
        return "[" + " ".join(go_format(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float(value)
    return str(value)


def json_quote(text: str) -> str:
    """Go's ``%q`` of a string (close enough for messages: JSON string quoting)."""
    return orjson.dumps(text).decode()


def go_type_name(value: Any) -> str:
    """Go's ``reflect.TypeOf`` name for a value decoded into ``interface{}``."""
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    return "<nil>"
