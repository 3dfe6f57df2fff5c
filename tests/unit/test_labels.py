"""Label selectors: string syntax, object form, matching, canonical text, error texts."""

from __future__ import annotations

import pytest

from kubepy.api.labels import (
    EVERYTHING,
    NOTHING,
    go_quote,
    parse_selector,
    selector_from_label_selector,
    selector_from_set,
    selector_to_string,
    validate_label_key,
    validate_label_value,
)
from kubepy.errors import BadRequest

NAME_REGEX = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
    "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
VALUE_REGEX = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
SUBDOMAIN_REGEX = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
    "regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


@pytest.mark.parametrize(
    "text, canonical",
    [
        ("", ""),
        ("a=b", "a=b"),
        ("a==b", "a==b"),
        ("a!=b", "a!=b"),
        ("a", "a"),
        ("!a", "!a"),
        ("a in (y,x)", "a in (x,y)"),
        ("a notin (x)", "a notin (x)"),
        ("  a = b ,\tc  notin ( x , y ) ", "a=b,c notin (x,y)"),
        ("b=1,a=2", "a=2,b=1"),
        ("x in (foo,,baz),y,z notin ()", "x in (,baz,foo),y,z notin ()"),
        ("a in (,)", "a in ()"),
        ("a=", "a="),
        ("a>5,b<10", "a>5,b<10"),
        ("in in (in,notin)", "in in (in,notin)"),
        ("example.com/app=web", "example.com/app=web"),
    ],
    ids=["empty", "eq", "double-eq", "neq", "exists", "not-exists", "in-sorted", "notin",
         "whitespace", "sorted-by-key", "empty-values", "comma-only", "eq-empty-value",
         "gt-lt", "keywords-as-identifiers", "prefixed-key"],
)
def test_parse_canonical(text: str, canonical: str) -> None:
    assert str(parse_selector(text)) == canonical
    assert str(parse_selector(canonical)) == canonical


@pytest.mark.parametrize(
    "text, labels, expected",
    [
        ("", None, True),
        ("a=b", {"a": "b"}, True),
        ("a=b", {"a": "c"}, False),
        ("a=b", {}, False),
        ("a!=b", {}, True),
        ("a!=b", {"a": "b"}, False),
        ("a in (x,y)", {"a": "y"}, True),
        ("a in (x,y)", {"b": "y"}, False),
        ("a notin (x,y)", {"b": "y"}, True),
        ("a notin (x,y)", {"a": "x"}, False),
        ("a", {"a": ""}, True),
        ("a", {"b": "1"}, False),
        ("!a", {"b": "1"}, True),
        ("!a", {"a": "1"}, False),
        ("a=", {"a": ""}, True),
        ("a>5", {"a": "6"}, True),
        ("a>5", {"a": "5"}, False),
        ("a<5", {"a": "-3"}, True),
        ("a>5", {"a": "x"}, False),
        ("a>5", {}, False),
        ("a=b,c", {"a": "b"}, False),
        ("a=b,c", {"a": "b", "c": "d"}, True),
    ],
    ids=["empty-matches-none-labels", "eq", "eq-other-value", "eq-missing", "neq-missing",
         "neq-same", "in", "in-missing", "notin-missing", "notin-listed", "exists",
         "exists-missing", "not-exists", "not-exists-present", "eq-empty", "gt", "gt-equal",
         "lt-negative", "gt-not-integer", "gt-missing", "and-partial", "and-all"],
)
def test_matches(text: str, labels: dict[str, str] | None, expected: bool) -> None:
    assert parse_selector(text).matches(labels) is expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("a in (b", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("a in b", "unable to parse requirement: found 'b' expected: '('"),
        ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("a!b", "unable to parse requirement: found '!', expected: in, notin, =, ==, !=, gt, lt"),
        ("a=b,", "found '', expected: identifier after ','"),
        (",a", "found ',', expected: !, identifier, or 'end of string'"),
        ("a=b c", "found 'c', expected: ',' or 'end of string'"),
        ("!a=b", "found '=', expected: ',' or 'end of string'"),
        ("!", "unable to parse requirement: found '', expected: identifier"),
        ("a=(", "unable to parse requirement: found '(', expected: identifier"),
        ("a in (=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier"),
        ("a in (x=)", "unable to parse requirement: found '=', expected: ',' or ')'"),
        ("A@=b", f'unable to parse requirement: <nil>: Invalid value: "A@": name part {NAME_REGEX}'),
        ("a=b@", f'unable to parse requirement: values[0][a]: Invalid value: "b@": {VALUE_REGEX}'),
        ("a in (x@,y@)", "unable to parse requirement: ["
         f'values[0][a]: Invalid value: "x@": {VALUE_REGEX}, '
         f'values[1][a]: Invalid value: "y@": {VALUE_REGEX}]'),
        ("a>x", "unable to parse requirement: values[0]: Invalid value: \"x\": "
         "for 'Gt', 'Lt' operators, the value must be an integer"),
        ("a<-1", f'unable to parse requirement: values[0][a]: Invalid value: "-1": {VALUE_REGEX}'),
    ],
    ids=["unclosed-set", "set-without-paren", "missing-operator", "bang-as-operator",
         "trailing-comma", "leading-comma", "two-values", "not-exists-with-value",
         "bare-bang", "paren-as-value", "operator-in-set", "operator-after-set-value",
         "invalid-key", "invalid-value", "two-invalid-values", "gt-not-integer",
         "lt-negative-is-not-a-label-value"],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(BadRequest) as err:
        parse_selector(text)
    assert err.value.message == message
    assert err.value.code == 400


@pytest.mark.parametrize(
    "key, errors",
    [
        ("app", []),
        ("app.kubernetes.io/name", []),
        ("a" * 63, []),
        ("a" * 64, ["name part must be no more than 63 characters"]),
        ("", ["name part must be non-empty", f"name part {NAME_REGEX}"]),
        ("/name", ["prefix part must be non-empty"]),
        ("Example.com/name", [f"prefix part {SUBDOMAIN_REGEX}"]),
        ("-app", [f"name part {NAME_REGEX}"]),
        ("a/b/c", ["a qualified name " + NAME_REGEX
                   + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]),
    ],
    ids=["simple", "prefixed", "63-chars", "64-chars", "empty", "empty-prefix",
         "uppercase-prefix", "leading-dash", "two-slashes"],
)
def test_validate_label_key(key: str, errors: list[str]) -> None:
    assert validate_label_key(key) == errors


@pytest.mark.parametrize(
    "value, errors",
    [
        ("", []),
        ("web-1.x_y", []),
        ("a" * 64, ["must be no more than 63 characters"]),
        ("web!", [VALUE_REGEX]),
        ("-web", [VALUE_REGEX]),
    ],
    ids=["empty", "allowed-chars", "too-long", "bang", "leading-dash"],
)
def test_validate_label_value(value: str, errors: list[str]) -> None:
    assert validate_label_value(value) == errors


@pytest.mark.parametrize(
    "ls, canonical, labels, expected",
    [
        (None, "", {"a": "b"}, False),
        ({}, "", {"a": "b"}, True),
        ({"matchLabels": {"app": "web"}}, "app=web", {"app": "web", "x": "y"}, True),
        ({"matchLabels": {"tier": "fe", "app": "web"}}, "app=web,tier=fe", {"app": "web"}, False),
        ({"matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]}]},
         "env in (dev,prod)", {"env": "dev"}, True),
        ({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]},
         "env notin (prod)", {}, True),
        ({"matchExpressions": [{"key": "env", "operator": "Exists"}]}, "env", {"env": ""}, True),
        ({"matchExpressions": [{"key": "env", "operator": "DoesNotExist"}]},
         "!env", {"env": ""}, False),
        ({"matchLabels": {"b": "1"}, "matchExpressions": [{"key": "a", "operator": "Exists"}]},
         "a,b=1", {"a": "x", "b": "1"}, True),
    ],
    ids=["nil-selects-nothing", "empty-selects-everything", "match-labels",
         "match-labels-sorted", "in", "notin", "exists", "does-not-exist", "mixed"],
)
def test_selector_from_label_selector(ls, canonical: str, labels, expected: bool) -> None:
    selector = selector_from_label_selector(ls)
    assert str(selector) == canonical
    assert selector_to_string(ls) == canonical
    assert selector.matches(labels) is expected


@pytest.mark.parametrize(
    "ls, message",
    [
        ({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]},
         '"Gt" is not a valid label selector operator'),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]},
         "values: Invalid value: []string(nil): "
         "for 'in', 'notin' operators, values set can't be empty"),
        ({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
         'values: Invalid value: []string{"x"}: '
         "values set must be empty for exists and does not exist"),
        ({"matchLabels": {"a b": "c"}},
         f'key: Invalid value: "a b": name part {NAME_REGEX}'),
        ({"matchLabels": {"a": "c d"}},
         f'values[0][a]: Invalid value: "c d": {VALUE_REGEX}'),
    ],
    ids=["unknown-operator", "in-without-values", "exists-with-values", "bad-key",
         "bad-value"],
)
def test_selector_from_label_selector_errors(ls, message: str) -> None:
    with pytest.raises(BadRequest) as err:
        selector_from_label_selector(ls)
    assert err.value.message == message


@pytest.mark.parametrize(
    "selector, empty, matches_anything",
    [(EVERYTHING, True, True), (NOTHING, False, False),
     (selector_from_set({}), True, True), (selector_from_set(None), True, True),
     (parse_selector("a"), False, False)],
    ids=["everything", "nothing", "empty-set", "none-set", "exists"],
)
def test_empty(selector, empty: bool, matches_anything: bool) -> None:
    assert selector.empty is empty
    assert selector.matches({"b": "c"}) is matches_anything


def test_selector_from_set() -> None:
    selector = selector_from_set({"tier": "fe", "app": "web"})
    assert str(selector) == "app=web,tier=fe"
    assert selector.matches({"app": "web", "tier": "fe", "x": "1"})
    assert not selector.matches({"app": "web"})


@pytest.mark.parametrize(
    "text, key, value",
    [("a=b,c", "a", "b"), ("a in (x)", "a", "x"), ("a in (x,y)", "a", None),
     ("a!=b", "a", None), ("c=d", "a", None)],
    ids=["eq", "in-single", "in-several", "neq", "other-key"],
)
def test_requires_exact_match(text: str, key: str, value: str | None) -> None:
    assert parse_selector(text).requires_exact_match(key) == value


@pytest.mark.parametrize(
    "raw, quoted",
    [("abc", '"abc"'), ('a"b', '"a\\"b"'), ("a\\b", '"a\\\\b"'), ("a\nb", '"a\\nb"'),
     ("\x01", '"\\x01"'), ("é", '"é"')],
    ids=["plain", "quote", "backslash", "newline", "control", "unicode"],
)
def test_go_quote(raw: str, quoted: str) -> None:
    assert go_quote(raw) == quoted
