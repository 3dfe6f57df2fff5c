"""Go's text forms that Kubernetes messages are made of. Pure.

``go_quote`` is Go's ``strconv.Quote`` (``%q`` of a string): printable characters as they
are, ``\\a \\b \\f \\n \\r \\t \\v \\\\ \\"`` escaped, other ASCII as ``\\xNN``, other runes
as ``\\uNNNN`` / ``\\UNNNNNNNN``.
"""

from __future__ import annotations

_GO_ESCAPES = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t",
               "\v": r"\v", "\\": "\\\\", '"': '\\"'}


def go_quote(s: str) -> str:
    """Go's ``%q`` of a string (strconv.Quote)."""
    out = []
    for ch in s:
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'
