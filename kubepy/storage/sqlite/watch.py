"""Watch fan-out: one notifier per store delivers every committed event, in revision order, to
the in-process watchers.

Invariant: ``delivered`` is the highest revision whose event has been handed to every watcher
registered at that time, and every revision up to it is committed. A watcher registering at
``delivered = D`` replays revisions ``start..D`` from the table and receives ``D+1..`` live, so
replay and live neither overlap nor leave a gap (registration and delivery both run on the
event loop, never interleaved).

Sources of events:
- this process's writer: after each COMMIT its batch (contiguous revisions) is offered; when it
  follows ``delivered`` it is delivered at once;
- otherwise (another process wrote the revisions in between) the gap is read back from the
  table, as is everything another process commits: while watchers exist the notifier polls the
  current revision every ``poll_interval`` seconds.
With no watchers, ``delivered`` simply jumps forward: nobody needs the skipped events, and a
later watcher replays them from the table.

Slow consumer: each watcher buffers at most ``max_queue`` live events. On overflow it is cut
off: it yields what it buffered, then raises WatchOverflowError; the consumer re-watches from
the last revision it saw (the apiserver ends the client's watch so the client does that).
"""

from __future__ import annotations

import asyncio
import collections
from typing import Awaitable, Callable

from kubepy.storage.interface import CompactedError, Event, StoreError

REPLAY_CHUNK = 1000

ReadEvents = Callable[[str, int, int, int], Awaitable[tuple[list[Event], int]]]
ReadCurrent = Callable[[], Awaitable[int]]


class WatchOverflowError(StoreError):
    """The watcher fell more than ``max_queue`` events behind and was cut off."""


class Watcher:
    """An ``AsyncIterator[Event]`` over keys under ``prefix`` from ``start_revision`` on.

    Registers with the notifier on first iteration; ``aclose()`` unregisters."""

    def __init__(self, hub: "Notifier", prefix: str, start_revision: int, max_queue: int):
        self._hub = hub
        self.prefix = prefix
        self.start_revision = start_revision
        self._max_queue = max_queue
        self._registered = False
        self._replay_next = 0
        self._replay_until = -1
        self._replay: collections.deque[Event] = collections.deque()
        self._live: collections.deque[Event] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._error: BaseException | None = None
        self._ended = False

    def __aiter__(self) -> "Watcher":
        return self

    async def __anext__(self) -> Event:
        if not self._registered:
            self._registered = True
            if self._hub.closed:
                self._ended = True
            else:
                self._replay_next, self._replay_until = self._hub.register(self)
        while True:
            if self._replay:
                return self._replay.popleft()
            if self._replay_next <= self._replay_until and not self._ended:
                await self._read_replay()
                continue
            if self._live:
                return self._live.popleft()
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            if self._ended:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    async def _read_replay(self) -> None:
        try:
            events, _ = await self._hub.read_events(self.prefix, self._replay_next,
                                                    self._replay_until, REPLAY_CHUNK)
        except BaseException:
            self._close()
            raise
        self._replay.extend(events)
        if len(events) < REPLAY_CHUNK:
            self._replay_next = self._replay_until + 1
        else:
            self._replay_next = events[-1].revision + 1

    async def aclose(self) -> None:
        self._close()

    def _close(self) -> None:
        self._hub.unregister(self)
        self._ended = True
        self._replay.clear()
        self._live.clear()
        self._error = None

    def push(self, event: Event) -> None:
        """Called by the notifier for every event under ``prefix`` (never blocks)."""
        if event.revision < self.start_revision:
            return
        if len(self._live) >= self._max_queue:
            self.end(WatchOverflowError(
                f"watch on {self.prefix!r} fell {self._max_queue} events behind at revision "
                f"{event.revision}; re-watch from the last revision received"))
            return
        self._live.append(event)
        self._wake()

    def end(self, error: BaseException | None = None) -> None:
        """Stop receiving; the consumer gets the buffered events, then ``error`` (if any)."""
        self._hub.unregister(self)
        self._ended = True
        self._error = error
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class Notifier:
    """Delivers committed events to watchers in revision order (see the module docstring)."""

    def __init__(self, delivered: int, read_events: ReadEvents, read_current: ReadCurrent,
                 poll_interval: float, max_queue: int):
        self.delivered = delivered
        self.read_events = read_events
        self._read_current = read_current
        self._poll_interval = poll_interval
        self._max_queue = max_queue
        self._watchers: set[Watcher] = set()
        self._pending: collections.deque[list[Event]] = collections.deque()
        self._busy = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._next_poll = 0.0
        self.closed = False

    def poke(self) -> None:
        """Poll the table now (a reader learned of a newer revision from another process)."""
        self._next_poll = 0.0
        self._ensure_task()
        self._wake.set()

    def watch(self, prefix: str, start_revision: int) -> Watcher:
        """``start_revision <= 0``: from the first revision not delivered yet (i.e. "now")."""
        if start_revision <= 0:
            start_revision = self.delivered + 1
        return Watcher(self, prefix, start_revision, self._max_queue)

    def register(self, watcher: Watcher) -> tuple[int, int]:
        """Add ``watcher``; returns the revisions it must replay from the table (inclusive)."""
        self._ensure_task()
        self._watchers.add(watcher)
        self._wake.set()  # start polling
        return watcher.start_revision, self.delivered

    def unregister(self, watcher: Watcher) -> None:
        self._watchers.discard(watcher)

    def offer(self, events: list[Event]) -> None:
        """This process committed ``events`` (contiguous revisions). Runs on the event loop."""
        if not events or self.closed:
            return
        if self._busy or self._pending or not self._advance(events):
            self._pending.append(events)
            self._ensure_task()
            self._wake.set()

    def _advance(self, events: list[Event]) -> bool:
        """Deliver ``events`` past ``delivered``; False when a revision is missing before them."""
        for event in events:
            revision = event.revision
            if revision <= self.delivered:
                continue
            if revision != self.delivered + 1 and self._watchers:
                return False
            self.delivered = revision
            key = event.kv.key
            for watcher in tuple(self._watchers):
                if key.startswith(watcher.prefix):
                    watcher.push(event)
        return True

    async def _fill(self, target: int) -> None:
        """Read revisions ``delivered+1..target`` back from the table and deliver them."""
        while self.delivered < target and not self.closed:
            try:
                events, _ = await self.read_events("", self.delivered + 1, target, REPLAY_CHUNK)
            except CompactedError as err:
                # Another process compacted revisions we had not read yet: watchers that
                # needed them can only re-list.
                for watcher in tuple(self._watchers):
                    if watcher.start_revision < err.compacted:
                        watcher.end(CompactedError(self.delivered + 1, err.compacted))
                self.delivered = max(self.delivered, err.compacted - 1)
                continue
            if not events:
                break
            self._advance(events)

    def _ensure_task(self) -> None:
        if self._task is None and not self.closed:
            self._task = asyncio.get_running_loop().create_task(self._run(),
                                                                name="kubepy-sqlite-notifier")

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        self._next_poll = loop.time()
        while not self.closed:
            timeout = max(0.0, self._next_poll - loop.time()) if self._watchers else None
            try:
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            self._busy = True
            try:
                while self._pending:
                    batch = self._pending[0]
                    if not self._advance(batch):
                        await self._fill(batch[0].revision - 1)
                        self._advance(batch)
                    self._pending.popleft()
                if self._watchers and loop.time() >= self._next_poll:
                    self._next_poll = loop.time() + self._poll_interval
                    current = await self._read_current()
                    if current > self.delivered:
                        await self._fill(current)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # noqa: BLE001 - e.g. disk error: end every watcher
                for watcher in tuple(self._watchers):
                    watcher.end(StoreError(f"watch notifier failed: {err!r}"))
            finally:
                self._busy = False

    async def close(self) -> None:
        self.closed = True
        for watcher in tuple(self._watchers):
            watcher.end()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
            self._task = None
