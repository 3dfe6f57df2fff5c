"""Read queries over the kv table (see ``schema``); blocking, run in reader threads.

Each public function reads inside one read transaction, so it sees one consistent snapshot of
the file even while writers (of this or another process) commit. Revision checks (compacted,
future) are made against that same snapshot: compaction raises ``compact_revision`` before it
deletes any row, so a snapshot that passes the check still holds every row it needs.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from typing import Iterator

from kubepy.storage.interface import (CompactedError, Event, EventType, FutureRevisionError,
                                      KeyValue, RangeResult)
from kubepy.storage.sqlite.schema import ROW_COLUMNS

Row = tuple[int, str, int, int, int, int, bytes]  # in ROW_COLUMNS order


def prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix`` (None: no bound).

    SQLite compares TEXT bytewise in UTF-8, which orders like code points, so bumping the last
    code point gives the bound: "/registry/pods/" -> "/registry/pods0".
    """
    stripped = prefix.rstrip(chr(0x10FFFF))
    if not stripped:
        return None
    last = ord(stripped[-1]) + 1
    if 0xD800 <= last <= 0xDFFF:  # skip the surrogate block, which UTF-8 cannot encode
        last = 0xE000
    return stripped[:-1] + chr(last)


def row_to_kv(row: Row) -> KeyValue:
    rev, name, _deleted, create_rev, _prev, version, value = row
    return KeyValue(name, value, create_rev, rev, version)


def row_to_event(row: Row, prev_value: bytes | None) -> Event:
    """The event a row records. ``prev_value`` is the value of row ``prev_revision`` (needed
    only for an update; a tombstone carries the deleted value itself)."""
    rev, name, deleted, create_rev, prev_rev, version, value = row
    if deleted:
        prev = KeyValue(name, value, create_rev, prev_rev, version)
        return Event(EventType.DELETE, KeyValue(name, value, create_rev, rev, version), prev)
    kv = KeyValue(name, value, create_rev, rev, version)
    if prev_rev == 0 or prev_value is None:
        return Event(EventType.PUT, kv, None)
    return Event(EventType.PUT, kv, KeyValue(name, prev_value, create_rev, prev_rev, version - 1))


@contextmanager
def snapshot(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        conn.execute("COMMIT")


def revisions(conn: sqlite3.Connection) -> tuple[int, int]:
    """(current revision, compacted revision)."""
    current = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'kv'").fetchone()[0]
    compacted = conn.execute(
        "SELECT value FROM meta WHERE name = 'compact_revision'").fetchone()[0]
    return current, compacted


def _resolve(conn: sqlite3.Connection, revision: int) -> int:
    """The revision to read at (0 = current); raises when it is compacted or in the future."""
    current, compacted = revisions(conn)
    if revision == 0:
        return current
    if revision > current:
        raise FutureRevisionError(f"revision {revision} is newer than the current revision "
                                  f"{current}")
    if revision < compacted:
        raise CompactedError(revision, compacted)
    return revision


def current_revision(conn: sqlite3.Connection) -> int:
    with snapshot(conn):
        return revisions(conn)[0]


def compacted_revision(conn: sqlite3.Connection) -> int:
    with snapshot(conn):
        return revisions(conn)[1]


def get(conn: sqlite3.Connection, key: str, revision: int) -> KeyValue | None:
    with snapshot(conn):
        at = _resolve(conn, revision)
        row = conn.execute(f"SELECT {ROW_COLUMNS} FROM kv WHERE name = ? AND id <= ? "
                           "ORDER BY id DESC LIMIT 1", (key, at)).fetchone()
    if row is None or row[2]:
        return None
    return row_to_kv(row)


def _name_bounds(prefix: str, start_after: str,
                 column: str = "name") -> tuple[str, list[object]]:
    """SQL condition on ``column`` for: starts with ``prefix`` and sorts after ``start_after``."""
    clauses: list[str] = []
    params: list[object] = []
    if start_after and start_after >= prefix:
        clauses.append(f"{column} > ?")
        params.append(start_after)
    else:
        clauses.append(f"{column} >= ?")
        params.append(prefix)
    end = prefix_end(prefix)
    if end is not None:
        clauses.append(f"{column} < ?")
        params.append(end)
    return " AND ".join(clauses), params


def _live_rows(where: str) -> str:
    """Rows under ``where`` that are a key's latest row at revision ``?`` and not tombstones.

    Walks the (name, id) index in key order and stops at LIMIT: no temporary sort, so a page
    costs in proportion to its size."""
    return (f"FROM kv AS k WHERE {where} AND k.id <= ? AND k.deleted = 0 AND NOT EXISTS ("
            "SELECT 1 FROM kv AS n WHERE n.name = k.name AND n.id > k.id AND n.id <= ?)")


def range_(conn: sqlite3.Connection, prefix: str, start_after: str, limit: int,
           revision: int) -> RangeResult:
    where, params = _name_bounds(prefix, start_after, "k.name")
    with snapshot(conn):
        at = _resolve(conn, revision)
        sql = f"SELECT {ROW_COLUMNS} {_live_rows(where)} ORDER BY k.name"
        args = [*params, at, at]
        if limit > 0:
            sql += " LIMIT ?"
            args.append(limit + 1)
        rows = conn.execute(sql, args).fetchall()
    more = limit > 0 and len(rows) > limit
    if more:
        rows = rows[:limit]
    return RangeResult([row_to_kv(r) for r in rows], at, more)


def count(conn: sqlite3.Connection, prefix: str) -> int:
    where, params = _name_bounds(prefix, "", "k.name")
    with snapshot(conn):
        at = revisions(conn)[0]
        n: int = conn.execute(f"SELECT COUNT(*) {_live_rows(where)}",
                              [*params, at, at]).fetchone()[0]
    return n


def events(conn: sqlite3.Connection, prefix: str, first: int, last: int,
           limit: int) -> tuple[list[Event], int]:
    """Up to ``limit`` events with ``first <= revision <= last`` on keys under ``prefix``, in
    revision order, and the compacted revision. Raises CompactedError when ``first`` is
    compacted."""
    where, params = _name_bounds(prefix, "", "k.name")
    with snapshot(conn):
        current, compacted = revisions(conn)
        if first < compacted:
            raise CompactedError(first, compacted)
        rows = conn.execute(
            f"SELECT k.id, k.name, k.deleted, k.create_revision, k.prev_revision, k.version, "
            f"k.value, p.value FROM kv AS k LEFT JOIN kv AS p ON p.id = k.prev_revision "
            f"WHERE k.id >= ? AND k.id <= ? AND {where} ORDER BY k.id LIMIT ?",
            [first, last, *params, limit]).fetchall()
    return [row_to_event(r[:7], r[7]) for r in rows], compacted
