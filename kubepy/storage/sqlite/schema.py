"""The on-disk layout of the SQLite store and how connections to it are opened.

One append-only table in the style of k3s's kine: every write appends one row whose ``id``
is the store revision of that write. The state of a key at revision R is its row with the
highest ``id <= R`` (absent when that row is a tombstone, ``deleted = 1``).

    id               the revision of the write (AUTOINCREMENT: never reused, even after
                     compaction deleted the highest rows; ``sqlite_sequence`` therefore holds
                     the current store revision)
    name             the key
    deleted          1 on a tombstone row (the write was a delete)
    create_revision  revision of the write that created this incarnation of the key
    prev_revision    revision of the key's previous row (0 on a create)
    version          1 on create, +1 per update; a tombstone repeats the deleted row's version
    value            the value written; a tombstone carries the deleted value

``meta`` holds ``compact_revision``: reads below it raise CompactedError. An empty store is at
revision 1 (as etcd): the first write gets revision 2.

Durability: WAL journal with ``synchronous=FULL``, so each COMMIT fsyncs the WAL before it
returns; a write acknowledged after its COMMIT survives kill -9 and power loss.
"""

from __future__ import annotations

import sqlite3

BUSY_TIMEOUT_MS = 30_000

_DDL = (
    """CREATE TABLE IF NOT EXISTS kv (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        deleted INTEGER NOT NULL,
        create_revision INTEGER NOT NULL,
        prev_revision INTEGER NOT NULL,
        version INTEGER NOT NULL,
        value BLOB NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS kv_name_id ON kv (name, id)",
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO meta (name, value) VALUES ('compact_revision', 0)",
    # Start the revision counter at 1 so that the first write is revision 2 (etcd's numbering).
    """INSERT INTO sqlite_sequence (name, seq)
       SELECT 'kv', 1 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'kv')""",
)

ROW_COLUMNS = "id, name, deleted, create_revision, prev_revision, version, value"


def connect(path: str, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit BEGIN/COMMIT), WAL journal,
    ``synchronous=FULL``. Usable from any thread, but by one thread at a time."""
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                           check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if readonly:
        conn.execute("PRAGMA query_only = ON")
    else:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise RuntimeError(f"{path}: cannot switch to WAL journal mode (got {mode})")
    conn.execute("PRAGMA synchronous = FULL")
    return conn


def create_schema(conn: sqlite3.Connection) -> None:
    """Create the tables when missing (idempotent; safe while other processes use the file)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in _DDL:
            conn.execute(statement)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
