"""SQLiteStore: the embedded Store backend (kine-style append-only table in one SQLite file).

Threads: one writer thread commits batches of concurrent writes (group commit, see
``writer``); reads run on a small pool of reader threads, each with its own connection (WAL
readers never block the writer nor each other). Results come back to the event loop the store
is used from; a store serves one event loop.

Durability: WAL journal, ``PRAGMA synchronous=FULL``; every write is acknowledged only after
the COMMIT of its batch returned, i.e. after the WAL was fsynced, so acknowledged writes
survive kill -9 and power loss.

Several processes may open the same file (e.g. two kubepy servers on one data dir): SQLite's
write lock serialises their transactions and revisions stay one store-wide sequence; each
process's watchers see the other processes' writes within ``poll_interval``.

Compaction: ``compact(rev)`` forgets history older than ``rev`` in chunks, so writes interleave;
``start_background_compaction`` repeats it, keeping the last ``retention`` revisions (kine's
defaults: every 5 minutes, keep 1000 revisions).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, AsyncIterator, Callable, TypeVar

from kubepy.storage.interface import Event, KeyValue, RangeResult, StoreError
from kubepy.storage.sqlite import queries, writer
from kubepy.storage.sqlite.schema import connect, create_schema
from kubepy.storage.sqlite.watch import Notifier

T = TypeVar("T")
log = logging.getLogger(__name__)

COMPACT_CHUNK = 1000


class StoreClosedError(StoreError):
    """The store was closed."""


class SQLiteStore:
    """The Store protocol over one SQLite file (see the module docstring)."""

    def __init__(self, path: str, *, readers: int = 2, poll_interval: float = 0.1,
                 watch_queue: int = 10_000, compaction_interval: float = 300.0,
                 compaction_retention: int = 1000):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.path = path
        self.compaction_interval = compaction_interval
        self.compaction_retention = compaction_retention
        write_conn = connect(path)
        create_schema(write_conn)
        current = queries.current_revision(write_conn)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._reader_conns: list[sqlite3.Connection] = []
        self._local = threading.local()
        self._readers = ThreadPoolExecutor(readers, thread_name_prefix="kubepy-sqlite-reader")
        self._committed = current  # highest revision committed by this process (or at open)
        self._notifier = Notifier(current, self._read_events, self.current_revision,
                                  poll_interval, watch_queue)
        self._compactor: asyncio.Task[None] | None = None
        self._writer = writer.Writer(write_conn, self._after_commit)

    # --- plumbing -------------------------------------------------------------------------

    def _bind(self) -> asyncio.AbstractEventLoop:
        if self._closed:
            raise StoreClosedError(f"{self.path}: store is closed")
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            raise RuntimeError("SQLiteStore used from a second event loop")
        return loop

    def _reader_conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect(self.path, readonly=True)
            self._reader_conns.append(conn)
        return conn

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        loop = self._bind()
        return await loop.run_in_executor(self._readers,
                                          lambda: fn(self._reader_conn(), *args))

    async def _write(self, op: writer.Op[T]) -> T:
        self._bind()
        return await self._writer.submit(op)

    def _after_commit(self, events: list[Event], outcomes: list[writer.Outcome]) -> None:
        """Writer thread, after each batch: hand events and results to the event loop."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(self._settle, events, outcomes)
        except RuntimeError:  # the loop closed meanwhile
            pass

    def _settle(self, events: list[Event], outcomes: list[writer.Outcome]) -> None:
        if events:
            self._committed = max(self._committed, events[-1].revision)
        self._notifier.offer(events)
        for future, result, error in outcomes:
            if future.done():
                continue
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(error)

    # --- Store protocol -------------------------------------------------------------------

    async def create(self, key: str, value: bytes) -> KeyValue:
        return await self._write(writer.create_op(key, bytes(value)))

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> KeyValue:
        return await self._write(writer.update_op(key, bytes(value), expected_revision))

    async def delete(self, key: str, *, expected_revision: int | None = None) -> KeyValue:
        return await self._write(writer.delete_op(key, expected_revision))

    async def get(self, key: str, *, revision: int = 0) -> KeyValue | None:
        return await self._read(queries.get, key, revision)

    async def range(self, prefix: str, *, start_after: str = "", limit: int = 0,
                    revision: int = 0) -> RangeResult:
        return await self._read(queries.range_, prefix, start_after, limit, revision)

    async def count(self, prefix: str) -> int:
        return await self._read(queries.count, prefix)

    def watch(self, prefix: str, *, start_revision: int) -> AsyncIterator[Event]:
        """See Store.watch. ``start_revision <= 0`` means "from now": events this process
        has not yet delivered to watchers when ``watch()`` is called.
        A watcher more than ``watch_queue`` events behind ends with WatchOverflowError."""
        if self._closed:
            raise StoreClosedError(f"{self.path}: store is closed")
        return self._notifier.watch(prefix, start_revision)

    async def _read_events(self, prefix: str, first: int, last: int,
                           limit: int) -> tuple[list[Event], int]:
        return await self._read(queries.events, prefix, first, last, limit)

    async def current_revision(self) -> int:
        return await self._read(queries.current_revision)

    def poke(self) -> None:
        """Look for other processes' commits now instead of at the next poll."""
        self._notifier.poke()

    def local_revision(self) -> int:
        """The highest revision this process committed (no I/O). Every write this process
        acknowledged is at or below it, so waiting for it gives read-your-writes; writes by
        other processes sharing the file are seen through the watch poller instead."""
        return self._committed

    async def compacted_revision(self) -> int:
        return await self._read(queries.compacted_revision)

    async def compact(self, revision: int) -> None:
        """Forget superseded and deleted values older than ``revision`` (see
        ``writer.compact_rows_op``). Compacting to or below the compacted revision is a no-op;
        beyond the current revision raises FutureRevisionError."""
        old = await self._write(writer.set_compact_revision_op(revision))
        low = old
        while low < revision and not self._closed:
            high = min(low + COMPACT_CHUNK, revision)
            await self._write(writer.compact_rows_op(low, high, revision))
            low = high

    def start_background_compaction(self, interval: float | None = None,
                                    retention: int | None = None) -> None:
        """Every ``interval`` seconds compact to ``current - retention`` revisions (defaults:
        the constructor's ``compaction_interval`` and ``compaction_retention``)."""
        self._bind()
        every = self.compaction_interval if interval is None else interval
        keep = self.compaction_retention if retention is None else retention
        if self._compactor is None:
            self._compactor = asyncio.get_running_loop().create_task(
                self._compact_forever(every, keep), name="kubepy-sqlite-compactor")

    async def _compact_forever(self, interval: float, retention: int) -> None:
        while not self._closed:
            await asyncio.sleep(interval)
            try:
                target = await self.current_revision() - retention
                if target > await self.compacted_revision():
                    await self.compact(target)
            except StoreClosedError:
                return
            except Exception:  # noqa: BLE001 - try again next interval
                log.exception("%s: background compaction failed", self.path)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._compactor is not None:
            self._compactor.cancel()
            try:
                await self._compactor
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._writer.stop)  # commits what is queued
        await asyncio.sleep(0)  # let the last batch settle
        await self._notifier.close()
        await loop.run_in_executor(None, self._readers.shutdown)
        for conn in self._reader_conns:
            conn.close()
