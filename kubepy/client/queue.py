"""The basic work queue (client-go's ``workqueue.Type``): fair, de-duplicating, and never
handing the same item to two workers at once.

Invariants:

* every item in ``_queue`` is in ``_dirty`` and not in ``_processing``;
* an item is in ``_dirty`` when it needs processing (queued, or added again while a worker
  holds it); ``add`` of a dirty item does nothing — that is the de-duplication;
* an item added while it is being processed stays out of ``_queue`` until the worker calls
  ``done``; then it is queued once, however many times it was added meanwhile.

Items must be hashable (controllers use "namespace/name" keys). After ``shutdown`` new adds
are ignored, ``get`` still hands out what is queued and then raises ``ShutDown``.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, Hashable, TypeVar

T = TypeVar("T", bound=Hashable)


class ShutDown(Exception):
    """The queue was shut down and is empty: the worker should exit."""


class Queue(Generic[T]):
    def __init__(self) -> None:
        self._queue: deque[T] = deque()
        self._dirty: set[T] = set()
        self._processing: set[T] = set()
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._drained: list[asyncio.Future[None]] = []
        self._shutting_down = False

    def add(self, item: T) -> None:
        """Mark ``item`` as needing processing (no-op if it already does)."""
        if self._shutting_down or item in self._dirty:
            return
        self._dirty.add(item)
        if item in self._processing:
            return
        self._queue.append(item)
        self._wake_one()

    def __len__(self) -> int:
        """Items waiting to be handed out (not those being processed)."""
        return len(self._queue)

    async def get(self) -> T:
        """The next item, waiting for one; the caller must call ``done(item)`` afterwards.
        Raises ``ShutDown`` once the queue is shut down and empty."""
        while not self._queue:
            if self._shutting_down:
                raise ShutDown()
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            try:
                await fut
            except asyncio.CancelledError:
                if fut.done() and not fut.cancelled():
                    self._wake_one()  # pass a wake-up this waiter will not use on
                raise
            finally:
                try:
                    self._waiters.remove(fut)
                except ValueError:
                    pass
        item = self._queue.popleft()
        self._processing.add(item)
        self._dirty.discard(item)
        return item

    def done(self, item: T) -> None:
        """The worker finished ``item``; re-queue it if it was added while processing."""
        self._processing.discard(item)
        if item in self._dirty:
            self._queue.append(item)
            self._wake_one()
        elif not self._processing:
            for fut in self._drained:
                if not fut.done():
                    fut.set_result(None)
            self._drained.clear()

    def shutdown(self) -> None:
        """Refuse new items; waiting ``get`` calls raise ``ShutDown`` once the queue is empty."""
        self._shutting_down = True
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)

    async def shutdown_with_drain(self) -> None:
        """``shutdown``, then wait until every item handed out has been ``done``."""
        self.shutdown()
        if self._processing:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._drained.append(fut)
            await fut

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def is_processing(self, item: T) -> bool:
        return item in self._processing

    def _wake_one(self) -> None:
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return
