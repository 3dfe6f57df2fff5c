"""Just enough of resource.Quantity to compare and print quantities in validation.

Private: kubepy.api.quantity is the project's full implementation; this module only
parses the serialized form (``^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$``) to an exact
``Fraction`` so that requests can be compared with limits.
"""

from __future__ import annotations

import re
from fractions import Fraction

QUANTITY_ERROR = ("quantities must match the regular expression "
                  "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")

_NUMBER = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(.*)$")
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000),
            "": Fraction(1), "k": Fraction(10**3), "M": Fraction(10**6),
            "G": Fraction(10**9), "T": Fraction(10**12), "P": Fraction(10**15),
            "E": Fraction(10**18)}
_EXPONENT = re.compile(r"^[eE]([+-]?[0-9]+)$")


def parse_quantity(value: object) -> Fraction | None:
    """The exact value of a quantity (string or JSON number), or None if malformed."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        return Fraction(str(value))
    if not isinstance(value, str):
        return None
    m = _NUMBER.match(value.strip())
    if not m:
        return None
    number, suffix = Fraction(m.group(1)), m.group(2)
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * _DECIMAL[suffix]
    exp = _EXPONENT.match(suffix)
    if exp:
        return number * Fraction(10) ** int(exp.group(1))
    return None
