"""Quantities as printers show them: ``Quantity.String()``, the canonical form.

``1000m`` prints ``1``, ``1024Mi`` prints ``1Gi`` (see ``kubepy.api.quantity``). Two
printing conventions are added here: a nil ``*Quantity`` prints ``<nil>`` (as Go's
``String`` on a nil pointer does) and an absent non-pointer ``Quantity`` prints ``0``.
Text that does not parse is shown as it is rather than failing the whole table.
"""

from __future__ import annotations

from typing import Any

from kubepy.api.quantity import QuantityError
from kubepy.api.quantity import canonical_quantity as _canonical


def canonical_quantity(raw: Any) -> str:
    """``Quantity.String()`` of a JSON quantity; ``None`` (a nil pointer) is ``<nil>``."""
    if raw is None:
        return "<nil>"
    try:
        return _canonical(raw)
    except (QuantityError, TypeError):
        return str(raw)


def quantity_or_zero(raw: Any) -> str:
    """A non-pointer ``Quantity`` field: absent prints as ``0``."""
    return "0" if raw is None else canonical_quantity(raw)
