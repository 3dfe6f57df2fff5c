"""The single writer thread: group commit of concurrent write requests.

Every write of a process goes through one thread that owns the write connection. It takes
whatever requests are queued (up to ``MAX_BATCH``), runs them in one ``BEGIN IMMEDIATE``
transaction in arrival order and COMMITs once; the COMMIT fsyncs the WAL (``synchronous=FULL``),
so one fsync covers the whole batch. Only then are the requests' futures resolved: an
acknowledged write is durable.

Revisions: the transaction holds SQLite's write lock, so no other process can write in
between; the batch reads ``sqlite_sequence`` once and numbers its rows consecutively. The
events of a committed batch are therefore contiguous in revision and are handed to
``on_commit`` (with the outcomes) in commit order.

An operation (``Op``) runs inside the transaction and returns its result and its events. A
StoreError (CAS failure) fails only its own request; any other exception rolls the batch back,
fails that request and retries the rest.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from kubepy.storage.interface import (Event, EventType, FutureRevisionError, KeyExistsError,
                                      KeyNotFoundError, KeyValue, RevisionMismatchError,
                                      StoreError)
from kubepy.storage.sqlite.queries import Row, row_to_kv
from kubepy.storage.sqlite.schema import ROW_COLUMNS

MAX_BATCH = 1000


class Tx:
    """The open write transaction: its connection and the next revision to assign."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.revision: int = conn.execute(
            "SELECT seq FROM sqlite_sequence WHERE name = 'kv'").fetchone()[0]

    def latest(self, key: str) -> Row | None:
        row: Row | None = self.conn.execute(f"SELECT {ROW_COLUMNS} FROM kv WHERE name = ? "
                                            "ORDER BY id DESC LIMIT 1", (key,)).fetchone()
        return row

    def append(self, key: str, *, deleted: bool, create_revision: int, prev_revision: int,
               version: int, value: bytes) -> int:
        revision = self.revision + 1
        self.conn.execute(
            "INSERT INTO kv (id, name, deleted, create_revision, prev_revision, version, value)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (revision, key, int(deleted), create_revision or revision, prev_revision, version,
             value))
        self.revision = revision
        return revision


R = TypeVar("R")
Op = Callable[[Tx], tuple[R, list[Event]]]  # an operation answering with an R
Outcome = tuple["asyncio.Future[Any]", Any, BaseException | None]


def create_op(key: str, value: bytes) -> Op[KeyValue]:
    def op(tx: Tx) -> tuple[KeyValue, list[Event]]:
        latest = tx.latest(key)
        if latest is not None and not latest[2]:
            raise KeyExistsError(key)
        rev = tx.append(key, deleted=False, create_revision=0, prev_revision=0, version=1,
                        value=value)
        kv = KeyValue(key, value, rev, rev, 1)
        return kv, [Event(EventType.PUT, kv, None)]
    return op


def update_op(key: str, value: bytes, expected_revision: int) -> Op[KeyValue]:
    def op(tx: Tx) -> tuple[KeyValue, list[Event]]:
        latest = tx.latest(key)
        if latest is None or latest[2]:
            raise KeyNotFoundError(key)
        prev = row_to_kv(latest)
        if prev.mod_revision != expected_revision:
            raise RevisionMismatchError(prev)
        rev = tx.append(key, deleted=False, create_revision=prev.create_revision,
                        prev_revision=prev.mod_revision, version=prev.version + 1, value=value)
        kv = KeyValue(key, value, prev.create_revision, rev, prev.version + 1)
        return kv, [Event(EventType.PUT, kv, prev)]
    return op


def delete_op(key: str, expected_revision: int | None) -> Op[KeyValue]:
    def op(tx: Tx) -> tuple[KeyValue, list[Event]]:
        latest = tx.latest(key)
        if latest is None or latest[2]:
            raise KeyNotFoundError(key)
        prev = row_to_kv(latest)
        if expected_revision is not None and prev.mod_revision != expected_revision:
            raise RevisionMismatchError(prev)
        rev = tx.append(key, deleted=True, create_revision=prev.create_revision,
                        prev_revision=prev.mod_revision, version=prev.version, value=prev.value)
        kv = KeyValue(key, prev.value, prev.create_revision, rev, prev.version)
        return kv, [Event(EventType.DELETE, kv, prev)]
    return op


def set_compact_revision_op(revision: int) -> Op[int]:
    """Raise ``compact_revision`` to ``revision``; returns the previous compacted revision.
    Commits before (or with) the row deletions, so readers never see a half-compacted past."""
    def op(tx: Tx) -> tuple[int, list[Event]]:
        if revision > tx.revision:
            raise FutureRevisionError(f"cannot compact to {revision}: current is {tx.revision}")
        old: int = tx.conn.execute(
            "SELECT value FROM meta WHERE name = 'compact_revision'").fetchone()[0]
        if revision > old:
            tx.conn.execute("UPDATE meta SET value = ? WHERE name = 'compact_revision'",
                            (revision,))
        return old, []
    return op


def compact_rows_op(low: int, high: int, compact_revision: int) -> Op[int]:
    """Delete rows with ``low <= id < high`` (``high <= compact_revision``) that no read at or
    after ``compact_revision`` needs: tombstones, and rows superseded by a later row of the same
    key that is itself older than ``compact_revision``. The row a key had just before
    ``compact_revision`` stays, so every retained event still finds its ``prev``."""
    def op(tx: Tx) -> tuple[int, list[Event]]:
        cur = tx.conn.execute(
            "DELETE FROM kv WHERE id >= ? AND id < ? AND (deleted = 1 OR EXISTS ("
            "SELECT 1 FROM kv AS n WHERE n.name = kv.name AND n.id > kv.id AND n.id < ?))",
            (low, high, compact_revision))
        return cur.rowcount, []
    return op


@dataclass
class _Request:
    op: Op[Any]
    future: "asyncio.Future[Any]"


class Writer:
    """Owns the write connection and the thread that commits batches."""

    def __init__(self, conn: sqlite3.Connection,
                 on_commit: Callable[[list[Event], list[Outcome]], None]):
        self._conn = conn
        self._on_commit = on_commit
        self._requests: "queue.SimpleQueue[_Request | None]" = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="kubepy-sqlite-writer",
                                        daemon=True)
        self._thread.start()

    def submit(self, op: Op[R]) -> "asyncio.Future[R]":
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._requests.put(_Request(op, future))
        return future

    def stop(self) -> None:
        """Commit what is queued, then end the thread and close the connection."""
        self._requests.put(None)
        self._thread.join()
        self._conn.close()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._requests.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    request = self._requests.get_nowait()
                except queue.Empty:
                    break
                if request is None:
                    stopping = True
                    break
                batch.append(request)
            events, outcomes = self._commit(batch)
            self._on_commit(events, outcomes)

    def _commit(self, batch: list[_Request]) -> tuple[list[Event], list[Outcome]]:
        failed: list[Outcome] = []
        while batch:
            events: list[Event] = []
            outcomes: list[Outcome] = []
            broken: int | None = None
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                tx = Tx(self._conn)
                for i, request in enumerate(batch):
                    try:
                        result, op_events = request.op(tx)
                    except StoreError as err:
                        outcomes.append((request.future, None, err))
                        continue
                    except Exception as err:  # noqa: BLE001 - reported to the caller
                        failed.append((request.future, None, err))
                        broken = i
                        break
                    outcomes.append((request.future, result, None))
                    events.extend(op_events)
                if broken is None:
                    self._conn.execute("COMMIT")
                    return events, failed + outcomes
            except Exception as err:  # noqa: BLE001 - BEGIN/COMMIT failed: fail the batch
                self._rollback()
                return [], failed + [(r.future, None, err) for r in batch]
            self._rollback()
            batch = batch[:broken] + batch[broken + 1:]
        return [], failed

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")
