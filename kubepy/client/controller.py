"""``Controller``: the level-triggered controller pattern of client-go's sample-controller,
so each controller module is only informers + ``reconcile``.

* Event handlers only enqueue keys (``namespace/name``): ``enqueue(obj)`` (also for a
  ``DeletedFinalStateUnknown``), or ``enqueue_key``/``enqueue_after`` — or map an object to
  its owner's key first.
* ``workers`` tasks each ``get`` a key and ``await reconcile(key)``. The queue guarantees a
  key is never reconciled by two workers at once, and a key enqueued while being
  reconciled is reconciled once more afterwards.
* ``reconcile`` returns normally: success, the key's back-off is ``forget``-ed. It returns a
  number: success, reconcile again after that many seconds. It raises: the key is retried
  with ``add_rate_limited`` (5 ms doubling to 1000 s), and the error is logged.
  ``done(key)`` is always called.
* ``reconcile`` reads the informers' caches (never mutating what it reads) and writes
  through the API; it must be idempotent: it is told only *which* object to look at.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from kubepy.client.clock import REAL_CLOCK, Clock
from kubepy.client.informer import Informer
from kubepy.client.queue import ShutDown
from kubepy.client.ratelimit import RateLimiter
from kubepy.client.store import meta_key
from kubepy.client.workqueue import WorkQueue

log = logging.getLogger("kubepy.client.controller")

Obj = dict[str, Any]


class Controller:
    """Subclass and implement ``reconcile``; register handlers on informers in
    ``__init__`` (e.g. ``informer.add_event_handler(*self.handlers())``)."""

    name = "controller"

    def __init__(self, *, name: str | None = None, workers: int = 1,
                 clock: Clock | None = None, rate_limiter: RateLimiter | None = None,
                 informers: list[Informer] | None = None) -> None:
        if name:
            self.name = name
        self.workers = workers
        self.clock: Clock = clock or REAL_CLOCK
        self.queue: WorkQueue[str] = WorkQueue(clock=self.clock, rate_limiter=rate_limiter,
                                               name=self.name)
        self.informers: list[Informer] = list(informers or [])
        self._worker_tasks: list[asyncio.Task[None]] = []

    async def reconcile(self, key: str) -> float | None:
        """Make the world match the desired state of the object ``key`` names."""
        raise NotImplementedError

    # -- enqueueing (safe to call from informer handlers)
    def enqueue(self, obj: Obj) -> None:
        self.queue.add(meta_key(obj))

    def enqueue_key(self, key: str) -> None:
        self.queue.add(key)

    def enqueue_after(self, obj_or_key: Obj | str, delay: float) -> None:
        key = obj_or_key if isinstance(obj_or_key, str) else meta_key(obj_or_key)
        self.queue.add_after(key, delay)

    def handlers(self) -> tuple[Any, Any, Any]:
        """(on_add, on_update, on_delete) that enqueue the object's own key."""
        return (self.enqueue, lambda old, new: self.enqueue(new), self.enqueue)

    # -- running
    async def process_next(self) -> bool:
        """Take one key and reconcile it; False once the queue is shut down."""
        try:
            key = await self.queue.get()
        except ShutDown:
            return False
        try:
            requeue_after = await self.reconcile(key)
        except asyncio.CancelledError:
            self.queue.done(key)
            raise
        except Exception as e:  # noqa: BLE001 - every failure is retried with back-off
            log.warning("%s: reconciling %s failed (retry %d): %r", self.name, key,
                        self.queue.num_requeues(key) + 1, e)
            self.queue.add_rate_limited(key)
        else:
            self.queue.forget(key)
            if requeue_after is not None:
                self.queue.add_after(key, requeue_after)
        finally:
            if self.queue.is_processing(key):
                self.queue.done(key)
        return True

    async def _worker(self) -> None:
        while await self.process_next():
            pass

    def start_workers(self) -> None:
        loop = asyncio.get_running_loop()
        self._worker_tasks = [loop.create_task(self._worker(), name=f"{self.name} worker {i}")
                              for i in range(self.workers)]

    async def run(self) -> None:
        """Wait for the informers' caches, then run the workers until cancelled."""
        await asyncio.gather(*(inf.has_synced.wait() for inf in self.informers))
        self.start_workers()
        try:
            await asyncio.gather(*self._worker_tasks)
        finally:
            await self.shutdown()

    async def shutdown(self) -> None:
        """Stop taking keys, cancel the workers (a reconcile in flight is cancelled)."""
        self.queue.shutdown()
        for task in self._worker_tasks:
            task.cancel()
        for task in self._worker_tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._worker_tasks = []
