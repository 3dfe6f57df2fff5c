"""Injected time: the ``Clock`` protocol, the real clock, and a deterministic fake for tests.

Every timer in the client layer (work-queue delays, rate-limited retries, informer resync and
back-off, lease renewal, event aggregation windows) reads time and sleeps through a
``Clock``, so tests run in virtual time: ``FakeClock.advance`` moves time forward and wakes
the sleepers whose deadline has passed, earliest deadline first (ties in the order they
went to sleep). Nothing in a ``FakeClock`` moves by itself.

``monotonic()`` is for durations and deadlines; ``now()`` is wall time in UTC, for the
timestamps written into objects (Lease renewTime, Event lastTimestamp).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from datetime import datetime, timedelta, timezone
from typing import Awaitable, Protocol, TypeVar

T = TypeVar("T")


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (only differences are meaningful)."""
        ...

    def now(self) -> datetime:
        """Wall time, timezone-aware UTC."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Return after ``seconds`` of this clock's time (at once when ``seconds <= 0``)."""
        ...


class RealClock:
    """The machine's clocks and the event loop's timers."""

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


REAL_CLOCK = RealClock()

_EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)


class FakeClock:
    """Virtual time. ``advance`` is synchronous: it resolves the due sleepers' futures in
    deadline order; the woken coroutines run when the caller next yields to the loop.
    ``tick`` is the asynchronous form that also lets woken coroutines run (and sleep again)
    at each intermediate deadline, so chains of timers inside the span all fire in order.
    """

    def __init__(self, start: datetime = _EPOCH, monotonic: float = 0.0) -> None:
        self._wall0 = start
        self._mono0 = monotonic
        self._mono = monotonic
        self._seq = itertools.count()
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []

    def monotonic(self) -> float:
        return self._mono

    def now(self) -> datetime:
        return self._wall0 + timedelta(seconds=self._mono - self._mono0)

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (self._mono + seconds, next(self._seq), fut)
        heapq.heappush(self._sleepers, entry)
        try:
            await fut
        finally:
            if not fut.done():  # cancelled: forget the sleeper
                fut.cancel()
                self._sleepers.remove(entry)
                heapq.heapify(self._sleepers)

    @property
    def sleepers(self) -> int:
        """How many coroutines are sleeping on this clock."""
        return sum(1 for _, _, f in self._sleepers if not f.done())

    def next_deadline(self) -> float | None:
        live = [d for d, _, f in self._sleepers if not f.done()]
        return min(live) if live else None

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` and wake every sleeper now due, earliest first."""
        if seconds < 0:
            raise ValueError("a clock does not go back")
        self._mono += seconds
        self._wake_due()

    def _wake_due(self) -> None:
        while self._sleepers and self._sleepers[0][0] <= self._mono:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)

    async def tick(self, seconds: float, *, settle_steps: int = 20) -> None:
        """Advance ``seconds`` step by step through every deadline in the span, letting the
        event loop run ``settle_steps`` rounds after each step."""
        end = self._mono + seconds
        await settle(settle_steps)
        while True:
            nxt = self.next_deadline()
            if nxt is None or nxt > end:
                break
            self._mono = max(self._mono, nxt)
            self._wake_due()
            await settle(settle_steps)
        self._mono = end
        await settle(settle_steps)


async def settle(rounds: int = 20) -> None:
    """Let ready callbacks and tasks run for ``rounds`` turns of the event loop."""
    for _ in range(rounds):
        await asyncio.sleep(0)


async def with_deadline(clock: Clock, awaitable: Awaitable[T], seconds: float) -> T:
    """Await ``awaitable``, but raise ``TimeoutError`` (cancelling it) once ``seconds`` of
    ``clock`` time have passed first."""
    work = asyncio.ensure_future(awaitable)
    timer = asyncio.ensure_future(clock.sleep(seconds))
    try:
        done, _ = await asyncio.wait({work, timer}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        work.cancel()
        raise
    finally:
        timer.cancel()
    if work in done:
        return work.result()
    work.cancel()
    try:
        await work
    except (asyncio.CancelledError, Exception):
        pass
    raise TimeoutError(f"no result within {seconds}s")
