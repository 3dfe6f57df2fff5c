"""The delaying queue (client-go's ``DelayingInterface``): ``add_after(item, delay)`` adds the
item once ``delay`` seconds of the injected clock have passed.

One background task per queue keeps a heap of (ready_at, item) and sleeps until the earliest
is due; due items are added in ready-time order (ties in the order ``add_after`` was
called). An item already waiting keeps the earlier of its two ready times, as client-go
does. The task starts on the first ``add_after`` (it needs a running loop) and ends with
``shutdown``, which also drops every waiting item.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from typing import Hashable, TypeVar

from kubepy.client.clock import REAL_CLOCK, Clock
from kubepy.client.queue import Queue

T = TypeVar("T", bound=Hashable)


class DelayingQueue(Queue[T]):
    def __init__(self, *, clock: Clock | None = None) -> None:
        super().__init__()
        self.clock: Clock = clock or REAL_CLOCK
        self._heap: list[tuple[float, int, T]] = []
        self._ready_at: dict[T, float] = {}
        self._seq = itertools.count()
        self._wakeup = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None

    def add_after(self, item: T, delay: float) -> None:
        """Add ``item`` after ``delay`` seconds (at once when ``delay <= 0``)."""
        if self.shutting_down:
            return
        if delay <= 0:
            self.add(item)
            return
        ready_at = self.clock.monotonic() + delay
        current = self._ready_at.get(item)
        if current is not None and current <= ready_at:
            return
        self._ready_at[item] = ready_at
        heapq.heappush(self._heap, (ready_at, next(self._seq), item))
        self._wakeup.set()
        if self._loop_task is None:
            self._loop_task = asyncio.get_running_loop().create_task(self._waiting_loop())

    @property
    def waiting(self) -> int:
        """Items waiting for their delay to pass."""
        return len(self._ready_at)

    def shutdown(self) -> None:
        super().shutdown()
        self._heap.clear()
        self._ready_at.clear()
        if self._loop_task is not None:
            self._loop_task.cancel()
            self._loop_task = None

    def _pop_due(self) -> float | None:
        """Add every due item; return the earliest remaining ready time, if any."""
        now = self.clock.monotonic()
        while self._heap:
            ready_at, _, item = self._heap[0]
            if self._ready_at.get(item) != ready_at:  # superseded by an earlier ready time
                heapq.heappop(self._heap)
                continue
            if ready_at > now:
                return ready_at
            heapq.heappop(self._heap)
            del self._ready_at[item]
            self.add(item)
        return None

    async def _waiting_loop(self) -> None:
        while True:
            self._wakeup.clear()
            next_ready = self._pop_due()
            if next_ready is None:
                await self._wakeup.wait()
                continue
            sleeper = asyncio.ensure_future(self.clock.sleep(next_ready - self.clock.monotonic()))
            woken = asyncio.ensure_future(self._wakeup.wait())
            try:
                await asyncio.wait({sleeper, woken}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
                woken.cancel()
