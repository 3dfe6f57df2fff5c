"""Label selectors: the ``?labelSelector=`` string syntax and the metav1.LabelSelector object.

A ``LabelSelector`` is an AND of ``Requirement``s kept sorted by key, as apimachinery's
``labels.Parse`` leaves them, so ``selector_to_string`` yields the apiserver's canonical
text (``Scale.status.selector``, ``kubectl describe``). ``parse_selector`` follows the
grammar and error texts of apimachinery's ``labels/selector.go`` (1.32): the lexer, the
parser's ``found '...', expected: ...`` messages, and key/value validation whose
``field.Invalid`` messages carry the Go path (``<nil>``, ``values[0][key]``).

Matching: ``in``/``=``/``==`` need the key present with a listed value; ``notin``/``!=``
also match when the key is absent; ``gt``/``lt`` compare base-10 int64 values.
``NOTHING`` (what a nil metav1.LabelSelector becomes) matches no object and is not empty.
Errors are ``errors.BadRequest`` carrying apimachinery's message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any, Iterable, Mapping

from kubepy.errors import BadRequest
from kubepy.api.gotext import go_quote

__all__ = [
    "EVERYTHING",
    "NOTHING",
    "LabelSelector",
    "Operator",
    "Requirement",
    "go_quote",
    "new_requirement",
    "parse_selector",
    "selector_from_label_selector",
    "selector_from_set",
    "selector_to_string",
    "validate_label_key",
    "validate_label_value",
]

# --------------------------------------------------------------------------------------
# Name validation (apimachinery util/validation: IsQualifiedName, IsValidLabelValue)
# --------------------------------------------------------------------------------------

_QNAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QNAME_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_LABEL_VALUE_FMT = f"({_QNAME_FMT})?"
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, "
    "'-', '_' or '.', and must start and end with an alphanumeric character"
)
_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = f"{_DNS1123_LABEL_FMT}(\\.{_DNS1123_LABEL_FMT})*"
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character"
)
_QNAME_RE = re.compile(_QNAME_FMT)
_LABEL_VALUE_RE = re.compile(_LABEL_VALUE_FMT)
_DNS1123_SUBDOMAIN_RE = re.compile(_DNS1123_SUBDOMAIN_FMT)
_INT64_RE = re.compile(r"[+-]?[0-9]+")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def _blen(s: str) -> int:
    """Go's ``len(string)``: the length in UTF-8 bytes."""
    return len(s.encode("utf-8", "surrogatepass"))


def _dns1123_subdomain_errors(value: str) -> list[str]:
    errs = []
    if _blen(value) > 253:
        errs.append("must be no more than 253 characters")
    if not _DNS1123_SUBDOMAIN_RE.fullmatch(value):
        errs.append(_regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def validate_label_key(key: str) -> list[str]:
    """Errors of IsQualifiedName: ``[prefix/]name``, name <= 63, prefix a DNS subdomain."""
    errs: list[str] = []
    parts = key.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in _dns1123_subdomain_errors(prefix))
    else:
        return [
            "a qualified name "
            + _regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part must be non-empty")
    elif _blen(name) > 63:
        errs.append("name part must be no more than 63 characters")
    if not _QNAME_RE.fullmatch(name):
        errs.append(
            "name part " + _regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc")
        )
    return errs


def validate_label_value(value: str) -> list[str]:
    """Errors of IsValidLabelValue: empty, or a qualified-name-like string of <= 63."""
    errs = []
    if _blen(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _LABEL_VALUE_RE.fullmatch(value):
        errs.append(
            _regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def _go_string_slice(values: list[str] | None) -> str:
    """Go's ``%#v`` of a ``[]string`` (nil prints as ``[]string(nil)``)."""
    if values is None:
        return "[]string(nil)"
    return "[]string{" + ", ".join(go_quote(v) for v in values) + "}"


def _field_invalid(path: str, shown_value: str, detail: str) -> str:
    """The text of a ``field.Invalid`` error: ``path: Invalid value: value: detail``."""
    return f"{path}: Invalid value: {shown_value}: {detail}"


def _aggregate(messages: list[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): one message bare, several deduped in [...]."""
    if len(messages) == 1:
        return messages[0]
    unique = list(dict.fromkeys(messages))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


# --------------------------------------------------------------------------------------
# Requirements and selectors
# --------------------------------------------------------------------------------------


class Operator(str, Enum):
    """apimachinery ``selection.Operator`` values."""

    IN = "in"
    NOT_IN = "notin"
    EQUALS = "="
    DOUBLE_EQUALS = "=="
    NOT_EQUALS = "!="
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"
    GREATER_THAN = "gt"
    LESS_THAN = "lt"


_BINARY_OPERATORS = "in, notin, =, ==, !=, gt, lt"
_EXACT = (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.NOT_EQUALS)


def _parse_int64(text: str) -> int | None:
    if not _INT64_RE.fullmatch(text):
        return None
    value = int(text)
    return value if _INT64_MIN <= value <= _INT64_MAX else None


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op in (Operator.IN, Operator.EQUALS, Operator.DOUBLE_EQUALS):
            return self.key in labels and labels[self.key] in self.values
        if op in (Operator.NOT_IN, Operator.NOT_EQUALS):
            return self.key not in labels or labels[self.key] not in self.values
        if op is Operator.EXISTS:
            return self.key in labels
        if op is Operator.DOES_NOT_EXIST:
            return self.key not in labels
        if self.key not in labels or len(self.values) != 1:
            return False
        have, want = _parse_int64(labels[self.key]), _parse_int64(self.values[0])
        if have is None or want is None:
            return False
        return have > want if op is Operator.GREATER_THAN else have < want

    def __str__(self) -> str:
        op = self.operator
        if op is Operator.EXISTS:
            return self.key
        if op is Operator.DOES_NOT_EXIST:
            return "!" + self.key
        values = ",".join(sorted(self.values))
        if op in (Operator.IN, Operator.NOT_IN):
            return f"{self.key} {op.value} ({values})"
        symbol = {Operator.GREATER_THAN: ">", Operator.LESS_THAN: "<"}.get(op, op.value)
        return f"{self.key}{symbol}{values}"


def new_requirement(key: str, operator: Operator, values: list[str] | None) -> Requirement:
    """labels.NewRequirement: validate key, operator arity and values (BadRequest if not)."""
    errs: list[str] = []
    key_errs = validate_label_key(key)
    if key_errs:
        errs.append(_field_invalid("key", go_quote(key), "; ".join(key_errs)))
    vals = values or []
    if operator in (Operator.IN, Operator.NOT_IN) and not vals:
        errs.append(_field_invalid("values", _go_string_slice(values),
                                   "for 'in', 'notin' operators, values set can't be empty"))
    elif operator in _EXACT and len(vals) != 1:
        errs.append(_field_invalid("values", _go_string_slice(values),
                                   "exact-match compatibility requires one single value"))
    elif operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST) and vals:
        errs.append(_field_invalid("values", _go_string_slice(values),
                                   "values set must be empty for exists and does not exist"))
    elif operator in (Operator.GREATER_THAN, Operator.LESS_THAN):
        if len(vals) != 1:
            errs.append(_field_invalid("values", _go_string_slice(values),
                                       "for 'Gt', 'Lt' operators, exactly one value is required"))
        for i, v in enumerate(vals):
            if _parse_int64(v) is None:
                errs.append(_field_invalid(
                    f"values[{i}]", go_quote(v),
                    "for 'Gt', 'Lt' operators, the value must be an integer"))
    for i, v in enumerate(vals):
        value_errs = validate_label_value(v)
        if value_errs:
            errs.append(_field_invalid(f"values[{i}][{key}]", go_quote(v), "; ".join(value_errs)))
    if errs:
        raise BadRequest(_aggregate(errs))
    return Requirement(key, operator, tuple(vals))


@dataclass(frozen=True)
class LabelSelector:
    """An AND of requirements sorted by key; ``nothing`` marks labels.Nothing()."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    @property
    def empty(self) -> bool:
        """True when the selector does not restrict anything (selects everything)."""
        return not self.nothing and not self.requirements

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.nothing:
            return False
        have = labels or {}
        return all(r.matches(have) for r in self.requirements)

    def requires_exact_match(self, key: str) -> str | None:
        """The one value ``key`` must have (for indexing), or None."""
        for r in self.requirements:
            if r.key == key:
                ok = r.operator in (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.IN)
                return r.values[0] if ok and len(r.values) == 1 else None
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


EVERYTHING = LabelSelector()
NOTHING = LabelSelector(nothing=True)


def _sorted_selector(requirements: Iterable[Requirement]) -> LabelSelector:
    return LabelSelector(tuple(sorted(requirements, key=lambda r: r.key)))


def selector_from_set(labels: Mapping[str, str] | None) -> LabelSelector:
    """labels.SelectorFromSet: key=value for each entry; None or {} selects everything."""
    if not labels:
        return EVERYTHING
    return _sorted_selector(Requirement(k, Operator.EQUALS, (v,)) for k, v in labels.items())


_OBJECT_OPERATORS = {"In": Operator.IN, "NotIn": Operator.NOT_IN,
                     "Exists": Operator.EXISTS, "DoesNotExist": Operator.DOES_NOT_EXIST}


def selector_from_label_selector(ls: Mapping[str, Any] | None) -> LabelSelector:
    """metav1.LabelSelectorAsSelector: None selects nothing, {} selects everything."""
    if ls is None:
        return NOTHING
    match_labels = ls.get("matchLabels") or {}
    match_expressions = ls.get("matchExpressions") or []
    if not match_labels and not match_expressions:
        return EVERYTHING
    requirements = [new_requirement(k, Operator.EQUALS, [v]) for k, v in match_labels.items()]
    for expr in match_expressions:
        op_name = expr.get("operator", "")
        if op_name not in _OBJECT_OPERATORS:
            raise BadRequest(f"{go_quote(str(op_name))} is not a valid label selector operator")
        values = expr.get("values")
        requirements.append(new_requirement(
            expr.get("key", ""), _OBJECT_OPERATORS[op_name], list(values) if values else None))
    return _sorted_selector(requirements)


def selector_to_string(selector: LabelSelector | Mapping[str, Any] | None) -> str:
    """Canonical text of a selector, or of a metav1.LabelSelector object (``app=web``)."""
    if not isinstance(selector, LabelSelector):
        selector = selector_from_label_selector(selector)
    return str(selector)


# --------------------------------------------------------------------------------------
# The string syntax: lexer and recursive-descent parser after labels/selector.go
# --------------------------------------------------------------------------------------

_END, _CLOSE, _COMMA, _NOT, _DEQ, _EQ, _GT, _IDENT, _IN, _LT, _NEQ, _NOTIN, _OPEN = range(13)
_TOKENS = {")": _CLOSE, ",": _COMMA, "!": _NOT, "==": _DEQ, "=": _EQ, ">": _GT, "in": _IN,
           "<": _LT, "!=": _NEQ, "notin": _NOTIN, "(": _OPEN}
_SPECIAL = set("=!(),><")
_WHITESPACE = set(" \t\r\n")


def _lex(text: str) -> list[tuple[int, str]]:
    items: list[tuple[int, str]] = []
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos] in _WHITESPACE:
            pos += 1
        if pos >= end:
            items.append((_END, ""))
            return items
        if text[pos] in _SPECIAL:
            # Longest run of special characters that is still a token ("!=", "==").
            start, best = pos, pos
            while pos < end and text[pos] in _SPECIAL:
                pos += 1
                if text[start:pos] in _TOKENS:
                    best = pos
                elif best > start:
                    break
            pos = best
            literal = text[start:pos]
        else:
            start = pos
            while pos < end and text[pos] not in _SPECIAL and text[pos] not in _WHITESPACE:
                pos += 1
            literal = text[start:pos]
        items.append((_TOKENS.get(literal, _IDENT), literal))


class _Parser:
    def __init__(self, text: str) -> None:
        self.items = _lex(text)
        self.position = 0

    def lookahead(self, values: bool = True) -> tuple[int, str]:
        tok, lit = self.items[self.position]
        return (_IDENT if values and tok in (_IN, _NOTIN) else tok), lit

    def consume(self, values: bool = True) -> tuple[int, str]:
        item = self.lookahead(values)
        self.position += 1
        return item

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            tok, lit = self.lookahead()
            if tok == _END:
                return requirements
            if tok not in (_IDENT, _NOT):
                raise ValueError(f"found '{lit}', expected: !, identifier, or 'end of string'")
            try:
                requirements.append(self.requirement())
            except ValueError as err:
                raise ValueError(f"unable to parse requirement: {err}") from None
            tok, lit = self.consume()
            if tok == _END:
                return requirements
            if tok != _COMMA:
                raise ValueError(f"found '{lit}', expected: ',' or 'end of string'")
            tok, lit = self.lookahead()
            if tok not in (_IDENT, _NOT):
                raise ValueError(f"found '{lit}', expected: identifier after ','")

    def requirement(self) -> Requirement:
        operator: Operator | None = None
        tok, key = self.consume()
        if tok == _NOT:
            operator = Operator.DOES_NOT_EXIST
            tok, key = self.consume()
        if tok != _IDENT:
            raise ValueError(f"found '{key}', expected: identifier")
        key_errs = validate_label_key(key)
        if key_errs:
            raise ValueError(_field_invalid("<nil>", go_quote(key), "; ".join(key_errs)))
        if operator is None and self.lookahead()[0] in (_END, _COMMA):
            operator = Operator.EXISTS
        if operator is not None:
            return self.validated(key, operator, [])
        tok, lit = self.consume(values=False)
        operators = {_IN: Operator.IN, _EQ: Operator.EQUALS, _DEQ: Operator.DOUBLE_EQUALS,
                     _GT: Operator.GREATER_THAN, _LT: Operator.LESS_THAN,
                     _NOTIN: Operator.NOT_IN, _NEQ: Operator.NOT_EQUALS}
        if tok not in operators:
            raise ValueError(f"found '{lit}', expected: {_BINARY_OPERATORS}")
        operator = operators[tok]
        if operator in (Operator.IN, Operator.NOT_IN):
            values = self.value_set()
        else:
            values = self.exact_value()
        return self.validated(key, operator, sorted(values))

    @staticmethod
    def validated(key: str, operator: Operator, values: list[str]) -> Requirement:
        try:
            return new_requirement(key, operator, values)
        except BadRequest as err:
            raise ValueError(err.message) from None

    def value_set(self) -> set[str]:
        tok, lit = self.consume()
        if tok != _OPEN:
            raise ValueError(f"found '{lit}' expected: '('")
        tok, lit = self.lookahead()
        if tok == _CLOSE:
            self.consume()
            return {""}
        if tok not in (_IDENT, _COMMA):
            raise ValueError(f"found '{lit}', expected: ',', ')' or identifier")
        values = self.identifiers()
        if self.consume()[0] != _CLOSE:
            raise ValueError(f"found '{lit}', expected: ')'")
        return values

    def identifiers(self) -> set[str]:
        values: set[str] = set()
        while True:
            tok, lit = self.consume()
            if tok == _IDENT:
                values.add(lit)
                tok2, lit2 = self.lookahead()
                if tok2 == _CLOSE:
                    return values
                if tok2 != _COMMA:
                    raise ValueError(f"found '{lit2}', expected: ',' or ')'")
            elif tok == _COMMA:
                # Empty values around commas: "(,a)", "(a,)", "(a,,b)" all hold "".
                if not values or self.lookahead()[0] in (_CLOSE, _COMMA):
                    values.add("")
                if self.lookahead()[0] == _CLOSE:
                    return values
            else:
                raise ValueError(f"found '{lit}', expected: ',', or identifier")

    def exact_value(self) -> set[str]:
        if self.lookahead()[0] in (_END, _COMMA):
            return {""}
        tok, lit = self.consume()
        if tok != _IDENT:
            raise ValueError(f"found '{lit}', expected: identifier")
        return {lit}


def parse_selector(text: str) -> LabelSelector:
    """labels.Parse of a ``labelSelector`` query string; BadRequest with Go's message."""
    try:
        requirements = _Parser(text).parse()
    except ValueError as err:
        raise BadRequest(str(err)) from None
    return _sorted_selector(requirements)
