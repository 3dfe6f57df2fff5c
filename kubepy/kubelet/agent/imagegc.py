"""Image garbage collection, as the kubelet's image GC manager decides it (pure).

When the image filesystem's usage reaches ``imageGCHighThresholdPercent`` (85) the kubelet
frees ``capacity * (100 - imageGCLowThresholdPercent) / 100 - available`` bytes (down to 80 %
used): images no container of a known pod uses, not younger than ``imageMinimumGCAge`` (2 min
since first detected), are removed least recently used first (then first detected first)
until the sizes removed add up to the amount. A high threshold of 100 turns GC off. When the
eligible images do not free enough, the kubelet warns (FreeDiskSpaceFailed, ``shortfall_message``).
It runs every ``GC_PERIOD`` (5 min). ``ImageUsage`` keeps the first-detected and last-used times
between rounds (the kubelet's image records); the agent does the I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

HIGH_THRESHOLD_PERCENT = 85
LOW_THRESHOLD_PERCENT = 80
MIN_AGE = 120.0            # imageMinimumGCAge 2m
GC_PERIOD = 300.0          # ImageGCPeriod 5m


@dataclass(frozen=True)
class ImageInfo:
    id: str
    size: int                 # bytes it takes on disk
    first_detected: float
    last_used: float          # 0: never seen in use


def amount_to_free(capacity: int, available: int, *, high: int = HIGH_THRESHOLD_PERCENT,
                   low: int = LOW_THRESHOLD_PERCENT) -> int:
    """Bytes to free now (0 when usage is below *high* percent, or GC is off)."""
    if capacity <= 0 or high >= 100:
        return 0
    usage = 100 - available * 100 // capacity
    if usage < high:
        return 0
    return max(0, capacity * (100 - low) // 100 - available)


def images_to_remove(images: Iterable[ImageInfo], in_use: set[str], *, amount: int,
                     now: float, min_age: float = MIN_AGE) -> tuple[list[str], int]:
    """(the image ids to remove, in order; the bytes they free). Stops once *amount* is
    reached; the bytes are below *amount* when the eligible images do not suffice."""
    if amount <= 0:
        return [], 0
    eligible = sorted((i for i in images
                       if i.id not in in_use and now - i.first_detected >= min_age),
                      key=lambda i: (i.last_used, i.first_detected, i.id))
    chosen: list[str] = []
    freed = 0
    for image in eligible:
        if freed >= amount:
            break
        chosen.append(image.id)
        freed += image.size
    return chosen, freed


def shortfall_message(amount: int, freed: int) -> str:
    """The kubelet's FreeDiskSpaceFailed message."""
    return (f"Failed to garbage collect required amount of images. Attempted to free "
            f"{amount} bytes, but only found {freed} bytes eligible to free.")


@dataclass
class ImageUsage:
    """First-detected and last-used times of the images seen (in memory, as the kubelet's)."""

    first_detected: dict[str, float] = field(default_factory=dict)
    last_used: dict[str, float] = field(default_factory=dict)

    def detect(self, present: dict[str, tuple[int, float]], in_use: set[str],
               now: float) -> list[ImageInfo]:
        """Record a look at the store (*present*: id -> (size, time it entered the store));
        images in use are used now; forgotten images are dropped. The ImageInfo of each."""
        for gone in set(self.first_detected) - set(present):
            self.first_detected.pop(gone, None)
            self.last_used.pop(gone, None)
        out: list[ImageInfo] = []
        for image_id, (size, added) in present.items():
            first = self.first_detected.setdefault(image_id, min(added, now))
            if image_id in in_use:
                self.last_used[image_id] = now
            out.append(ImageInfo(image_id, size, first, self.last_used.get(image_id, 0.0)))
        return out


__all__ = ["GC_PERIOD", "HIGH_THRESHOLD_PERCENT", "ImageInfo", "ImageUsage",
           "LOW_THRESHOLD_PERCENT", "MIN_AGE", "amount_to_free", "images_to_remove",
           "shortfall_message"]
