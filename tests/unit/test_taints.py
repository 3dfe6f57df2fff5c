"""Tables for kubepy.api.taints: one toleration against one taint, a list of tolerations
against a taint, and the first untolerated taint of a node (with an effect filter)."""

from __future__ import annotations

from typing import Any

import pytest

from kubepy.api import taints as tt

Obj = dict[str, Any]


def taint(key: str = "a", value: str | None = "b", effect: str = "NoSchedule") -> Obj:
    t: Obj = {"key": key, "effect": effect}
    if value is not None:
        t["value"] = value
    return t


TOLERATES = [
    ("exists-any-key-any-effect", {"operator": "Exists"}, taint(effect="NoExecute"), True),
    ("exists-key", {"key": "a", "operator": "Exists"}, taint(), True),
    ("exists-other-key", {"key": "x", "operator": "Exists"}, taint(), False),
    ("exists-ignores-value", {"key": "a", "operator": "Exists", "value": "zzz"}, taint(), True),
    ("equal-same-value", {"key": "a", "operator": "Equal", "value": "b"}, taint(), True),
    ("equal-other-value", {"key": "a", "operator": "Equal", "value": "c"}, taint(), False),
    ("empty-operator-is-equal", {"key": "a", "value": "b"}, taint(), True),
    ("empty-operator-other-value", {"key": "a", "value": "c"}, taint(), False),
    ("equal-both-values-empty", {"key": "a"}, taint(value=None), True),
    ("equal-empty-against-value", {"key": "a"}, taint(), False),
    ("equal-value-against-empty", {"key": "a", "value": "b"}, taint(value=None), False),
    ("same-effect", {"key": "a", "operator": "Exists", "effect": "NoExecute"},
     taint(effect="NoExecute"), True),
    ("other-effect", {"key": "a", "operator": "Exists", "effect": "NoSchedule"},
     taint(effect="NoExecute"), False),
    ("empty-effect-matches-prefer", {"key": "a", "operator": "Exists"},
     taint(effect="PreferNoSchedule"), True),
    ("empty-key-equal-compares-values", {"operator": "Equal", "value": "b"}, taint(), True),
    ("unknown-operator", {"key": "a", "operator": "Gt", "value": "1"}, taint(value="2"), False),
    ("nothing-set-tolerates-only-empty-value", {}, taint(), False),
]


@pytest.mark.parametrize("toleration,taint_,expected", [c[1:] for c in TOLERATES],
                         ids=[c[0] for c in TOLERATES])
def test_tolerates(toleration: Obj, taint_: Obj, expected: bool) -> None:
    assert tt.tolerates(toleration, taint_) is expected


@pytest.mark.parametrize("tolerations,taint_,expected", [
    ([], taint(), False),
    ([{"key": "x", "operator": "Exists"}], taint(), False),
    ([{"key": "x", "operator": "Exists"}, {"key": "a", "value": "b"}], taint(), True),
    ([{"operator": "Exists"}], taint("anything", effect="NoExecute"), True),
], ids=["none", "no-match", "second-matches", "wildcard"])
def test_tolerations_tolerate_taint(tolerations: list[Obj], taint_: Obj,
                                    expected: bool) -> None:
    assert tt.tolerations_tolerate_taint(tolerations, taint_) is expected


HARD = (tt.NO_SCHEDULE, tt.NO_EXECUTE)
PREFER = taint("p", effect=tt.PREFER_NO_SCHEDULE)
EXEC = taint("e", effect=tt.NO_EXECUTE)
SCHED = taint("s", effect=tt.NO_SCHEDULE)


@pytest.mark.parametrize("taints,tolerations,effects,expected", [
    ([], [], None, None),
    ([SCHED, EXEC], [], None, SCHED),
    ([SCHED, EXEC], [{"key": "s", "operator": "Exists"}], None, EXEC),
    ([SCHED, EXEC], [{"operator": "Exists"}], None, None),
    ([PREFER, EXEC], [], None, PREFER),
    ([PREFER, EXEC], [], HARD, EXEC),
    ([PREFER], [], HARD, None),
    ([SCHED, EXEC], [{"key": "s", "operator": "Exists", "effect": "NoExecute"}], HARD, SCHED),
], ids=["no-taints", "first-wins", "skips-tolerated", "all-tolerated", "unfiltered-prefer",
        "filter-skips-prefer", "filter-leaves-nothing", "toleration-of-other-effect"])
def test_first_untolerated_taint(taints: list[Obj], tolerations: list[Obj],
                                 effects: tuple[str, ...] | None, expected: Obj | None) -> None:
    assert tt.first_untolerated_taint(taints, tolerations, effects) == expected
