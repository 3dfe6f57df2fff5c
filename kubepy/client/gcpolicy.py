"""Cyclic garbage collector settings for processes that keep informer caches (the
controller-manager and scheduler, the node simulator).

An informer cache holds every object of its resource as plain acyclic dicts, freed by
reference counting; the cyclic collector can never reclaim any of them, yet with CPython's
default thresholds (700, 10, 10) it traverses the young ones every 700 allocations and the
whole heap whenever it grew by a quarter. With 5,000 nodes and thousands of pods that was
about 30 % of the components' and the simulator's CPU (``gc_collect_main`` in a native
profile). So, as the API server does for its watch cache:

* ``tune()`` raises the thresholds to (20000, 20, 20): transient request garbage mostly dies
  by reference count before a young collection looks at it;
* ``freeze()`` (after the caches first synced) collects once, then moves every surviving
  object to the permanent generation, which later collections skip. It is called once per
  sync, not periodically, so cyclic garbage created later is still collected.
"""

from __future__ import annotations

import gc

THRESHOLDS = (20_000, 20, 20)


def tune() -> None:
    """Raise the collection thresholds (idempotent)."""
    gc.set_threshold(*THRESHOLDS)


def freeze() -> None:
    """Collect what is garbage now, then keep every live object out of later scans."""
    gc.collect()
    gc.freeze()
