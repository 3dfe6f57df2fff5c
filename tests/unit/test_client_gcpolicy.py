"""kubepy.client.gcpolicy: the thresholds are raised; a freeze collects the garbage first
and keeps the live objects out of later collections."""

from __future__ import annotations

import gc
from typing import Any, Iterator

import pytest

from kubepy.client import gcpolicy


@pytest.fixture
def restored() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_tune_raises_the_thresholds(restored: None) -> None:
    gc.set_threshold(700, 10, 10)
    gcpolicy.tune()
    assert gc.get_threshold() == gcpolicy.THRESHOLDS


def test_freeze_collects_cycles_first_then_freezes_the_living(restored: None) -> None:
    class Node:
        def __init__(self) -> None:
            self.me: Any = self

    garbage = Node()  # a cycle nothing refers to once ``del``eted
    collected: list[int] = []
    gc.callbacks.append(lambda phase, info: collected.append(info["collected"])
                        if phase == "stop" else None)
    try:
        del garbage
        cache = [{"metadata": {"name": f"pod-{i}"}} for i in range(1000)]
        gcpolicy.freeze()
    finally:
        gc.callbacks.pop()
    assert sum(collected) >= 1  # the cycle was collected, not frozen
    assert gc.get_freeze_count() >= len(cache)
