"""Resource quantities (apimachinery ``resource.Quantity``): exact parsing and canonical form.

A quantity is ``<signed number><suffix>``: binary SI (Ki Mi Gi Ti Pi Ei), decimal SI
(n u m "" k M G T P E) or a decimal exponent (``e3``, ``E-2``). Values are exact
``Decimal``s, never floats. As in Go, a parsed value is rounded up (away from zero) to
nano precision, a BinarySI value is capped at 2**63-1, and a BinarySI value strictly
between 0 and 1 becomes DecimalSI.

Canonical form (what the apiserver writes back): the format the value was written in,
the largest exponent that loses no precision, no fractional digits: ``1.5`` is
``1500m``, ``1.5Gi`` is ``1536Mi``, ``1000m`` is ``1``, ``1024Mi`` is ``1Gi``; BinarySI
values below 1024 in magnitude or with fractions fall back to DecimalSI. Two Go quirks
are kept on purpose: a string that Go parsed on its fast path is echoed verbatim
(``canonical_quantity("+1Ki") == "+1Ki"``), and a DecimalSI exponent beyond ``E``
loses its suffix (``1000E`` becomes ``1``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from fractions import Fraction

__all__ = [
    "Quantity",
    "QuantityError",
    "QuantityFormat",
    "canonical_quantity",
    "format_quantity",
    "parse",
    "parse_quantity",
    "quantity_to_int",
    "quantity_to_millis",
    "validate_quantity",
]

SPLIT_RE = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
ERR_FORMAT_WRONG = f"quantities must match the regular expression '{SPLIT_RE}'"
ERR_NUMERIC = "unable to parse numeric part of quantity"
ERR_SUFFIX = "unable to parse quantity's suffix"

_MAX_INT64 = 2**63 - 1
_SUFFIX_CHARS = set("eEinumkKMGTP")
_DIGITS = set("0123456789")


class QuantityError(ValueError):
    """A string that is not a quantity; ``message`` is apimachinery's error text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class QuantityFormat(str, Enum):
    DECIMAL_EXPONENT = "DecimalExponent"  # 12e6
    BINARY_SI = "BinarySI"  # 12Mi
    DECIMAL_SI = "DecimalSI"  # 12M


_DECIMAL_SI = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15,
               "E": 18}
_BINARY_SI = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_SUFFIX = {e: s for s, e in _DECIMAL_SI.items()}
_BINARY_SUFFIX = {e // 10: s for s, e in _BINARY_SI.items()}


@dataclass(frozen=True)
class Quantity:
    """An exact value and the format it serialises in; ``str()`` is the canonical form."""

    value: Decimal
    format: QuantityFormat = QuantityFormat.DECIMAL_SI
    # The original string when Go would echo it verbatim; not part of the value.
    text: str | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return self.text if self.text is not None else format_quantity(self.value, self.format)


# --------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------


def _split(s: str) -> tuple[bool, str, str, str, str]:
    """Go's parseQuantityString: (positive, value, num, denom, suffix) or QuantityError."""
    positive, pos, end = True, 0, len(s)
    if s[0] in "+-":
        positive = s[0] == "+"
        pos = 1
    while pos < end and s[pos] == "0":  # leading zeros are not part of num
        pos += 1
    if pos >= end:
        return positive, "0", "0", "", ""
    start = pos
    while pos < end and s[pos] in _DIGITS:
        pos += 1
    num = s[start:pos] or "0"
    if pos >= end:
        return positive, s, num, "", ""
    denom = ""
    if s[pos] == ".":
        pos += 1
        start = pos
        while pos < end and s[pos] in _DIGITS:
            pos += 1
        denom = s[start:pos]
        if pos >= end:
            return positive, s, num, denom, ""
    value, suffix_start = s[:pos], pos
    while pos < end and s[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and s[pos] in "+-":
        pos += 1
    while pos < end and s[pos] in _DIGITS:
        pos += 1
    if pos < end:
        raise QuantityError(ERR_FORMAT_WRONG)
    return positive, value, num, denom, s[suffix_start:]


def _interpret(suffix: str) -> tuple[int, int, QuantityFormat]:
    """(base, exponent, format) of a suffix, or QuantityError(ERR_SUFFIX)."""
    if suffix in _DECIMAL_SI:
        return 10, _DECIMAL_SI[suffix], QuantityFormat.DECIMAL_SI
    if suffix in _BINARY_SI:
        return 2, _BINARY_SI[suffix], QuantityFormat.BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE":
        digits = suffix[1:]
        body = digits[1:] if digits[0] in "+-" else digits
        if body and set(body) <= _DIGITS and -(2**63) <= int(digits) <= _MAX_INT64:
            return 10, int(digits), QuantityFormat.DECIMAL_EXPONENT
    raise QuantityError(ERR_SUFFIX)


def _fast_path(num: str, denom: str, exponent: int,
               fmt: QuantityFormat) -> tuple[bool, bool]:
    """Whether Go takes its int64 fast path, and whether it then keeps ``s`` verbatim."""
    if fmt is QuantityFormat.BINARY_SI:
        if denom:
            return False, False
        precision = 15 - len(num) - int(exponent * 3 / 10) - 1
        scale = 0
    else:
        precision = 18 - len(num) - len(denom)
        scale = exponent - len(denom)
    if precision < 0 or scale < -9:
        return False, False
    shifted = num + denom
    value = int(shifted)
    if fmt is QuantityFormat.BINARY_SI:
        if value << exponent > _MAX_INT64:
            return False, False
        return True, exponent % 10 == 0 and value & 0x07 != 0
    return True, scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0"


# Values travel internally as (mantissa, exp10): value == mantissa * 10**exp10. Exponents
# stay symbolic so "1e999999999" costs no more than "1e3".
_Exact = tuple[int, int]


def _round_up_to_nano(mantissa: int, exp10: int) -> _Exact:
    """Round away from zero to 9 decimal places, as ParseQuantity does."""
    if exp10 >= -9 or mantissa == 0:
        return mantissa, exp10
    shift = -9 - exp10
    magnitude = abs(mantissa)
    if shift > len(str(magnitude)):
        magnitude = 1
    else:
        magnitude = -(-magnitude // 10**shift)
    return (magnitude if mantissa > 0 else -magnitude), -9


def _exact(value: Decimal | Fraction | int) -> _Exact:
    """(mantissa, exp10) of a value, rounded up to nano precision."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise QuantityError(ERR_FORMAT_WRONG)
        sign, digits, exp = value.as_tuple()
        mantissa = int("".join(map(str, digits)) or "0")
        return _round_up_to_nano(-mantissa if sign else mantissa, int(exp))
    fraction = Fraction(value)
    scaled = fraction * 10**9
    magnitude = -(-abs(scaled.numerator) // scaled.denominator)
    mantissa, exp10 = (magnitude if fraction >= 0 else -magnitude), -9
    while mantissa and mantissa % 10 == 0 and exp10 < 0:
        mantissa //= 10
        exp10 += 1
    return mantissa, exp10


def _to_decimal(mantissa: int, exp10: int) -> Decimal:
    """An exact Decimal, in its plainest form (``1.5Gi`` is ``Decimal(1610612736)``)."""
    while exp10 < 0 and mantissa % 10 == 0:
        mantissa //= 10
        exp10 += 1
    if 0 < exp10 <= 30:
        mantissa, exp10 = mantissa * 10**exp10, 0
    return Decimal((1 if mantissa < 0 else 0, tuple(map(int, str(abs(mantissa)))), exp10))


def parse(s: str | int | float) -> Quantity:
    """Parse a quantity as the apiserver decodes one from JSON (whitespace trimmed)."""
    if isinstance(s, bool):
        s = "true" if s else "false"
    text = (s if isinstance(s, str) else repr(s) if isinstance(s, float) else str(s)).strip()
    if not text:
        raise QuantityError(ERR_FORMAT_WRONG)
    if text == "0":
        return Quantity(Decimal(0), QuantityFormat.DECIMAL_SI, "0")
    positive, value_text, num, denom, suffix = _split(text)
    base, exponent, fmt = _interpret(suffix)
    fast, verbatim = _fast_path(num, denom, exponent, fmt)
    if not fast and not any(c in _DIGITS for c in value_text):
        raise QuantityError(ERR_NUMERIC)
    mantissa, exp10 = int(num + denom), -len(denom)
    if base == 2:
        mantissa <<= exponent
    else:
        exp10 += exponent
    mantissa, exp10 = _round_up_to_nano(mantissa, exp10)
    if fmt is QuantityFormat.BINARY_SI:  # exp10 <= 0 here: the comparisons stay small
        if mantissa > _MAX_INT64 * 10**-exp10:
            mantissa, exp10 = _MAX_INT64, 0
        elif 0 < mantissa < 10**-exp10:
            fmt = QuantityFormat.DECIMAL_SI
    if not positive:
        mantissa = -mantissa
    return Quantity(_to_decimal(mantissa, exp10), fmt, text if verbatim else None)


def parse_quantity(s: str | int | float) -> Decimal:
    """The exact value of a quantity string; QuantityError if malformed."""
    return parse(s).value


def validate_quantity(s: str | int | float) -> list[str]:
    """[] for a valid quantity, else [apimachinery's parse error message]."""
    try:
        parse(s)
    except QuantityError as err:
        return [err.message]
    return []


# --------------------------------------------------------------------------------------
# Canonical form
# --------------------------------------------------------------------------------------


def _decimal_canonical(mantissa: int, exp10: int, fmt: QuantityFormat) -> str:
    while mantissa % 10 == 0:
        mantissa //= 10
        exp10 += 1
    if exp10 % 3:
        mantissa *= 10 ** (exp10 % 3)
        exp10 -= exp10 % 3
    if fmt is QuantityFormat.DECIMAL_EXPONENT:
        return f"{mantissa}e{exp10}" if exp10 else str(mantissa)
    return f"{mantissa}{_DECIMAL_SUFFIX.get(exp10, '')}"


def format_quantity(value: Decimal | Fraction | int | str | Quantity,
                    fmt: QuantityFormat | str = QuantityFormat.DECIMAL_SI) -> str:
    """Canonical text of a value in a format (a string or Quantity is parsed first).

    Values are first rounded up to nano precision, the finest a Quantity holds.
    """
    if isinstance(value, str):
        value = parse(value)
    if isinstance(value, Quantity):
        fmt = value.format
        value = value.value
    fmt = QuantityFormat(fmt)
    mantissa, exp10 = _exact(value)
    if mantissa == 0:
        return "0"
    if fmt is QuantityFormat.BINARY_SI and exp10 <= 20:
        integral = exp10 >= 0 or mantissa % 10**-exp10 == 0
        whole = mantissa * 10**exp10 if exp10 >= 0 else mantissa // 10**-exp10
        if integral and abs(whole) >= 1024:
            times = 0
            while whole % 1024 == 0:
                whole //= 1024
                times += 1
            return f"{whole}{_BINARY_SUFFIX.get(times, '')}"
    if fmt is QuantityFormat.BINARY_SI:
        fmt = QuantityFormat.DECIMAL_SI
    return _decimal_canonical(mantissa, exp10, fmt)


def canonical_quantity(s: str | int | float) -> str:
    """The text the apiserver stores and returns for a quantity written as ``s``."""
    return str(parse(s))


# --------------------------------------------------------------------------------------
# Integer views (Quantity.Value / MilliValue): rounded up, away from zero
# --------------------------------------------------------------------------------------


def _scaled(s: str | int | float | Decimal | Quantity, exp10_shift: int) -> int:
    """value * 10**exp10_shift rounded away from zero, saturated to the int64 range."""
    if isinstance(s, Quantity):
        value = s.value
    elif isinstance(s, Decimal):
        value = s
    else:
        value = parse_quantity(s)
    mantissa, exp10 = _exact(value)
    exp10 += exp10_shift
    if mantissa == 0:
        return 0
    if exp10 + len(str(abs(mantissa))) > 20:
        return _MAX_INT64 if mantissa > 0 else -_MAX_INT64 - 1
    result: int
    if exp10 >= 0:
        result = mantissa * 10**exp10
    else:
        magnitude = -(-abs(mantissa) // 10**-exp10)
        result = magnitude if mantissa > 0 else -magnitude
    return max(-_MAX_INT64 - 1, min(_MAX_INT64, result))


def quantity_to_int(s: str | int | float | Decimal | Quantity) -> int:
    """Quantity.Value(): the value as an integer, rounded up (``1500m`` -> 2)."""
    return _scaled(s, 0)


def quantity_to_millis(s: str | int | float | Decimal | Quantity) -> int:
    """Quantity.MilliValue(): the value in thousandths, rounded up (``0.1m`` -> 1)."""
    return _scaled(s, 3)
