"""The kubelet's crash-loop and image-pull back-off (``kubepy.kubelet.pods.backoff``)."""

from __future__ import annotations

import pytest

from kubepy.kubelet.pods.backoff import Backoff, go_duration


@pytest.mark.parametrize("seconds,want", [(10, "10s"), (20, "20s"), (80, "1m20s"),
                                          (160, "2m40s"), (300, "5m0s"), (3600, "1h0m0s"),
                                          (0, "0s")],
                         ids=["10s", "20s", "80s", "160s", "300s", "hour", "zero"])
def test_go_duration(seconds: float, want: str) -> None:
    assert go_duration(seconds) == want


def test_crash_loop_doubles_to_the_maximum() -> None:
    b = Backoff()
    finished, seen = 1000.0, []
    for _ in range(8):
        seen.append(b.next("k", finished, finished))
        finished += 1   # the container ran for one second
    assert seen == [10, 20, 40, 80, 160, 300, 300, 300]


@pytest.mark.parametrize("restarts,finished,now,want", [
    (0, 100.0, 100.0, False),          # first exit: restart at once
    (1, 100.0, 105.0, True),           # 10 s back-off, 5 s passed
    (1, 100.0, 110.0, False),          # 10 s passed
    (2, 100.0, 119.0, True),           # 20 s back-off
    (2, 100.0, 120.5, False),
    (1, 100.0 + 601 + 10, 100.0 + 601 + 11, False),  # ran 10 min: starts over
], ids=["first", "within-10s", "after-10s", "within-20s", "after-20s", "reset-after-10min"])
def test_in_backoff_since(restarts: int, finished: float, now: float, want: bool) -> None:
    b = Backoff()
    for _ in range(restarts):
        b.next("k", 100.0, 100.0)
    assert b.in_backoff_since("k", finished, now) is want
    assert (b.remaining_since("k", finished, now) > 0) is want


def test_reset_after_ten_minutes_restarts_at_the_initial_delay() -> None:
    b = Backoff()
    for _ in range(4):
        b.next("k", 0.0, 0.0)
    assert b.get("k") == 80
    assert b.next("k", 700.0, 700.0) == 10


def test_image_backoff_measured_from_the_last_failure() -> None:
    b = Backoff()
    b.next("img", 50.0, 50.0)
    assert b.in_backoff_since_update("img", 59.0)
    assert not b.in_backoff_since_update("img", 60.0)
    b.next("img", 60.0, 60.0)
    assert b.remaining_since_update("img", 65.0) == 15.0


def test_forget_prefix_and_gc() -> None:
    b = Backoff()
    b.next("u1/c/a", 0, 0)
    b.next("u1/i/x", 0, 0)
    b.next("u2/c/a", 0, 500)
    b.forget_prefix("u1/")
    assert (b.get("u1/c/a"), b.get("u1/i/x"), b.get("u2/c/a")) == (0, 0, 10)
    b.gc(1100)
    assert b.get("u2/c/a") == 10
    b.gc(1100.5)
    assert b.get("u2/c/a") == 0
