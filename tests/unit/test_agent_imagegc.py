"""The agent's image GC decision (the kubelet's image GC manager): thresholds, then unused
images least recently used first."""

from __future__ import annotations

import pytest

from kubepy.kubelet.agent.imagegc import ImageInfo, ImageUsage, amount_to_free, \
    images_to_remove, shortfall_message

GB = 1000 ** 3

AMOUNTS = [
    ("below-high", 100 * GB, 16 * GB, 85, 80, 0),          # 84 % used
    ("at-high", 100 * GB, 15 * GB, 85, 80, 5 * GB),         # 85 %: down to 80 %
    ("full", 100 * GB, 0, 85, 80, 20 * GB),
    ("off-at-100", 100 * GB, 0, 100, 80, 0),
    ("no-capacity", 0, 0, 85, 80, 0),
    ("low-above-usage", 100 * GB, 10 * GB, 85, 95, 0),      # nothing below zero
]


@pytest.mark.parametrize("capacity,available,high,low,expected", [a[1:] for a in AMOUNTS],
                         ids=[a[0] for a in AMOUNTS])
def test_amount_to_free(capacity: int, available: int, high: int, low: int,
                        expected: int) -> None:
    assert amount_to_free(capacity, available, high=high, low=low) == expected


NOW = 10_000.0
IMAGES = [
    ImageInfo("old-unused", 3, first_detected=100, last_used=0),
    ImageInfo("used-long-ago", 4, first_detected=50, last_used=500),
    ImageInfo("used-lately", 5, first_detected=60, last_used=9_000),
    ImageInfo("in-use", 100, first_detected=10, last_used=NOW),
    ImageInfo("just-pulled", 100, first_detected=NOW - 60, last_used=0),
    ImageInfo("never-used-earlier", 2, first_detected=90, last_used=0),
]

REMOVALS = [
    ("nothing-to-free", 0, [], 0),
    ("lru-first-then-first-detected", 1, ["never-used-earlier"], 2),
    ("until-the-amount", 5, ["never-used-earlier", "old-unused"], 5),
    ("more", 6, ["never-used-earlier", "old-unused", "used-long-ago"], 9),
    ("not-enough-eligible", 1000, ["never-used-earlier", "old-unused", "used-long-ago",
                                   "used-lately"], 14),
]


@pytest.mark.parametrize("amount,expected,freed", [r[1:] for r in REMOVALS],
                         ids=[r[0] for r in REMOVALS])
def test_images_to_remove(amount: int, expected: list[str], freed: int) -> None:
    assert images_to_remove(IMAGES, {"in-use"}, amount=amount, now=NOW) == (expected, freed)


def test_min_age_zero_makes_new_images_eligible() -> None:
    chosen, _ = images_to_remove(IMAGES, {"in-use"}, amount=1000, now=NOW, min_age=0)
    assert "just-pulled" in chosen and "in-use" not in chosen


def test_usage_records_first_detection_and_last_use() -> None:
    usage = ImageUsage()
    first = usage.detect({"a": (1, 50.0), "b": (2, 500.0)}, {"b"}, now=100.0)
    assert first == [ImageInfo("a", 1, 50.0, 0.0), ImageInfo("b", 2, 100.0, 100.0)]
    later = usage.detect({"a": (1, 50.0)}, {"a"}, now=200.0)
    assert later == [ImageInfo("a", 1, 50.0, 200.0)]
    assert "b" not in usage.first_detected and "b" not in usage.last_used
    again = usage.detect({"a": (1, 50.0)}, set(), now=300.0)
    assert again == [ImageInfo("a", 1, 50.0, 200.0)]


def test_shortfall_message_is_the_kubelets() -> None:
    assert shortfall_message(10, 4) == (
        "Failed to garbage collect required amount of images. Attempted to free 10 bytes, "
        "but only found 4 bytes eligible to free.")
