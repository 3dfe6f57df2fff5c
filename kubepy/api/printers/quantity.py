"""Canonical text of a ``resource.Quantity``, as ``Quantity.String()`` prints it.

Printers show capacities and quota usage through ``Quantity.String()``, which is the
canonical form: ``1000m`` -> ``1``, ``1024Mi`` -> ``1Gi``, ``0.5`` -> ``500m``,
``1200000`` -> ``1200k``. The rules, from apimachinery:

* The suffix family of the input is kept: binary (``Ki``..``Ei``), decimal SI
  (``n``..``E``) or decimal exponent (``e3``).
* Values are rounded up to nano precision.
* Decimal forms strip trailing zeros and use the largest exponent that is a multiple of 3
  while keeping the mantissa an integer.
* Binary form is used only for whole numbers of magnitude 1024 or more (else decimal SI);
  the mantissa is divided by 1024 as often as it divides evenly.

This covers printing only; the shared quantity arithmetic lives elsewhere.
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, Decimal, InvalidOperation, localcontext
from fractions import Fraction
from typing import Any

_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12,
                     "P": 15, "E": 18}
_BINARY_SUFFIXES = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL_BY_EXP = {v: k for k, v in _DECIMAL_SUFFIXES.items()}
_BINARY_BY_EXP = {v: k for k, v in _BINARY_SUFFIXES.items()}
_RE = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(.*)$")
_EXPONENT = re.compile(r"^[eE]([+-]?\d+)$")


def _parse(text: str) -> tuple[Fraction, str] | None:
    m = _RE.match(text.strip())
    if not m:
        return None
    number, suffix = m.group(1), m.group(2)
    try:
        value = Fraction(Decimal(number))
    except (InvalidOperation, ValueError):
        return None
    if suffix in _BINARY_SUFFIXES:
        return value * 1024 ** _BINARY_SUFFIXES[suffix], "binary"
    if suffix in _DECIMAL_SUFFIXES:
        return value * Fraction(10) ** _DECIMAL_SUFFIXES[suffix], "decimal"
    exp = _EXPONENT.match(suffix)
    if exp:
        return value * Fraction(10) ** int(exp.group(1)), "exponent"
    return None


def _round_up_to_nano(value: Fraction) -> Fraction:
    nanos = value * 1_000_000_000
    if nanos.denominator == 1:
        return value
    with localcontext() as ctx:
        ctx.prec = 60
        ceiled = (Decimal(nanos.numerator) / Decimal(nanos.denominator)).to_integral_value(
            rounding=ROUND_CEILING)
    return Fraction(int(ceiled), 1_000_000_000)


def _decimal_text(value: Fraction, family: str) -> str:
    # value is a whole number of nanos: mantissa * 10**exponent with exponent >= -9
    mantissa, exponent = int(value * 1_000_000_000), -9
    while mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    shift = exponent % 3
    mantissa *= 10 ** shift
    exponent -= shift
    if family == "exponent":
        return f"{mantissa}" if exponent == 0 else f"{mantissa}e{exponent}"
    suffix = _DECIMAL_BY_EXP.get(exponent)
    if suffix is None:  # beyond E: no SI suffix exists
        return f"{mantissa}e{exponent}"
    return f"{mantissa}{suffix}"


def _binary_text(value: int) -> str:
    exponent = 0
    while value % 1024 == 0 and exponent < 6:
        value //= 1024
        exponent += 1
    return f"{value}{_BINARY_BY_EXP.get(exponent, '')}"


def canonical_quantity(raw: Any) -> str:
    """``Quantity.String()`` of a JSON quantity; unparsable input comes back unchanged.

    ``None`` (a nil ``*Quantity``) prints ``<nil>``, as Go does.
    """
    if raw is None:
        return "<nil>"
    if isinstance(raw, bool):
        return str(raw)
    text = repr(raw) if isinstance(raw, float) else str(raw)
    parsed = _parse(text)
    if parsed is None:
        return text
    value, family = parsed
    sign = "-" if value < 0 else ""
    magnitude = _round_up_to_nano(abs(value))  # away from zero, as ParseQuantity rounds
    if magnitude == 0:
        return "0"
    if family == "binary" and magnitude >= 1024 and magnitude.denominator == 1:
        return sign + _binary_text(int(magnitude))
    if family == "binary":
        family = "decimal"
    return sign + _decimal_text(magnitude, family)


def quantity_or_zero(raw: Any) -> str:
    """A non-pointer ``Quantity`` field: absent prints as ``0``."""
    return "0" if raw is None else canonical_quantity(raw)
