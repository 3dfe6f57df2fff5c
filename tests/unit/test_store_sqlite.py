"""The SQLite Store backend: CRUD/CAS, range, revisions, watch, compaction, concurrency."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest

from kubepy.storage import open_store, sqlite_path
from kubepy.storage.interface import (CompactedError, Event, EventType, FutureRevisionError,
                                      KeyExistsError, KeyNotFoundError, KeyValue,
                                      RevisionMismatchError)
from kubepy.storage.sqlite import SQLiteStore, StoreClosedError, WatchOverflowError
from kubepy.storage.sqlite.queries import prefix_end

Scenario = Callable[[SQLiteStore], Awaitable[Any]]


def run(path: Path, scenario: Scenario, **options: Any) -> Any:
    async def main() -> Any:
        store = SQLiteStore(str(path / "state.db"), **options)
        try:
            return await scenario(store)
        finally:
            await store.close()
    return asyncio.run(main())


async def take(watch: Any, n: int, timeout: float = 5.0) -> list[Event]:
    async def collect() -> list[Event]:
        return [await anext(watch) for _ in range(n)]
    return await asyncio.wait_for(collect(), timeout)


def kv(key: str, value: bytes, create: int, mod: int, version: int) -> KeyValue:
    return KeyValue(key, value, create, mod, version)


# --- CRUD and compare-and-swap ---------------------------------------------------------------
# Each step: (method, args, kwargs, expected result or exception type). Revisions are
# deterministic: an empty store is at revision 1, the first write is revision 2.
CRUD_CASES = {
    "create": [
        ("create", ("/k", b"a"), {}, kv("/k", b"a", 2, 2, 1)),
        ("get", ("/k",), {}, kv("/k", b"a", 2, 2, 1)),
    ],
    "create-existing": [
        ("create", ("/k", b"a"), {}, kv("/k", b"a", 2, 2, 1)),
        ("create", ("/k", b"b"), {}, KeyExistsError),
        ("current_revision", (), {}, 2),
    ],
    "update-cas-ok": [
        ("create", ("/k", b"a"), {}, kv("/k", b"a", 2, 2, 1)),
        ("update", ("/k", b"b"), {"expected_revision": 2}, kv("/k", b"b", 2, 3, 2)),
        ("update", ("/k", b"c"), {"expected_revision": 3}, kv("/k", b"c", 2, 4, 3)),
    ],
    "update-stale": [
        ("create", ("/k", b"a"), {}, kv("/k", b"a", 2, 2, 1)),
        ("update", ("/k", b"b"), {"expected_revision": 2}, kv("/k", b"b", 2, 3, 2)),
        ("update", ("/k", b"c"), {"expected_revision": 2}, RevisionMismatchError),
        ("get", ("/k",), {}, kv("/k", b"b", 2, 3, 2)),
        ("current_revision", (), {}, 3),
    ],
    "update-missing": [
        ("update", ("/k", b"b"), {"expected_revision": 1}, KeyNotFoundError),
    ],
    "delete": [
        ("create", ("/k", b"a"), {}, kv("/k", b"a", 2, 2, 1)),
        ("delete", ("/k",), {}, kv("/k", b"a", 2, 3, 1)),
        ("get", ("/k",), {}, None),
        ("delete", ("/k",), {}, KeyNotFoundError),
        ("update", ("/k", b"b"), {"expected_revision": 2}, KeyNotFoundError),
    ],
    "delete-cas": [
        ("create", ("/k", b"a"), {}, kv("/k", b"a", 2, 2, 1)),
        ("delete", ("/k",), {"expected_revision": 5}, RevisionMismatchError),
        ("delete", ("/k",), {"expected_revision": 2}, kv("/k", b"a", 2, 3, 1)),
    ],
    "delete-missing": [
        ("delete", ("/nope",), {}, KeyNotFoundError),
        ("current_revision", (), {}, 1),
    ],
    "recreate-after-delete": [
        ("create", ("/k", b"a"), {}, kv("/k", b"a", 2, 2, 1)),
        ("update", ("/k", b"b"), {"expected_revision": 2}, kv("/k", b"b", 2, 3, 2)),
        ("delete", ("/k",), {}, kv("/k", b"b", 2, 4, 2)),
        ("create", ("/k", b"c"), {}, kv("/k", b"c", 5, 5, 1)),
        ("get", ("/k",), {"revision": 3}, kv("/k", b"b", 2, 3, 2)),
        ("get", ("/k",), {"revision": 4}, None),
    ],
    "get-future": [
        ("create", ("/k", b"a"), {}, kv("/k", b"a", 2, 2, 1)),
        ("get", ("/k",), {"revision": 3}, FutureRevisionError),
        ("get", ("/k",), {"revision": 1}, None),
    ],
}


@pytest.mark.parametrize("steps", CRUD_CASES.values(), ids=CRUD_CASES.keys())
def test_crud_and_cas(tmp_path: Path, steps: list[tuple[str, tuple, dict, Any]]) -> None:
    async def scenario(store: SQLiteStore) -> None:
        for i, (method, args, kwargs, expected) in enumerate(steps):
            call = getattr(store, method)(*args, **kwargs)
            if isinstance(expected, type) and issubclass(expected, Exception):
                with pytest.raises(expected):
                    await call
            else:
                assert await call == expected, f"step {i}: {method}{args}"
    run(tmp_path, scenario)


def test_revision_mismatch_carries_current(tmp_path: Path) -> None:
    async def scenario(store: SQLiteStore) -> None:
        await store.create("/k", b"a")
        current = await store.update("/k", b"b", expected_revision=2)
        with pytest.raises(RevisionMismatchError) as err:
            await store.update("/k", b"c", expected_revision=2)
        assert err.value.current == current
    run(tmp_path, scenario)


# --- range -----------------------------------------------------------------------------------
RANGE_KEYS = ["/registry/pod", "/registry/pods/a/x", "/registry/pods/b/y", "/registry/pods/b/z",
              "/registry/pods0", "/registry/podsx/z", "/registry/services/a/s"]
RANGE_CASES = {
    "prefix": ("/registry/pods/", "", 0, ["/registry/pods/a/x", "/registry/pods/b/y",
                                          "/registry/pods/b/z"], False),
    "prefix-namespace": ("/registry/pods/b/", "", 0, ["/registry/pods/b/y", "/registry/pods/b/z"],
                         False),
    "limit": ("/registry/pods/", "", 2, ["/registry/pods/a/x", "/registry/pods/b/y"], True),
    "limit-exact": ("/registry/pods/", "", 3, ["/registry/pods/a/x", "/registry/pods/b/y",
                                               "/registry/pods/b/z"], False),
    "start-after": ("/registry/pods/", "/registry/pods/a/x", 0,
                    ["/registry/pods/b/y", "/registry/pods/b/z"], False),
    "start-after-limit": ("/registry/pods/", "/registry/pods/a/x", 1, ["/registry/pods/b/y"], True),
    "start-after-last": ("/registry/pods/", "/registry/pods/b/z", 0, [], False),
    "start-after-before-prefix": ("/registry/pods/", "/a", 1, ["/registry/pods/a/x"], True),
    "all": ("", "", 0, RANGE_KEYS, False),
    "no-match": ("/registry/nodes/", "", 0, [], False),
    "exact-key-as-prefix": ("/registry/pod", "", 0, RANGE_KEYS[:-1], False),
}


@pytest.mark.parametrize("prefix,start_after,limit,keys,more", RANGE_CASES.values(),
                         ids=RANGE_CASES.keys())
def test_range(tmp_path: Path, prefix: str, start_after: str, limit: int, keys: list[str],
               more: bool) -> None:
    async def scenario(store: SQLiteStore) -> None:
        for key in reversed(RANGE_KEYS):
            await store.create(key, key.encode())
        await store.create("/registry/pods/a/gone", b"x")
        await store.delete("/registry/pods/a/gone")
        result = await store.range(prefix, start_after=start_after, limit=limit)
        assert [k.key for k in result.kvs] == keys
        assert [k.value for k in result.kvs] == [k.encode() for k in keys]
        assert result.more is more
        assert result.revision == await store.current_revision()
        if not start_after and not limit:
            assert await store.count(prefix) == len(keys)
    run(tmp_path, scenario)


# History: a=2, b=3, a'=4, delete b=5, c=6.
HISTORY_CASES = {
    "rev-1": (1, []),
    "rev-2": (2, [("/a", b"a1")]),
    "rev-3": (3, [("/a", b"a1"), ("/b", b"b1")]),
    "rev-4": (4, [("/a", b"a2"), ("/b", b"b1")]),
    "rev-5": (5, [("/a", b"a2")]),
    "rev-6": (6, [("/a", b"a2"), ("/c", b"c1")]),
    "latest": (0, [("/a", b"a2"), ("/c", b"c1")]),
}


async def write_history(store: SQLiteStore) -> None:
    await store.create("/a", b"a1")
    await store.create("/b", b"b1")
    await store.update("/a", b"a2", expected_revision=2)
    await store.delete("/b")
    await store.create("/c", b"c1")


@pytest.mark.parametrize("revision,expected", HISTORY_CASES.values(), ids=HISTORY_CASES.keys())
def test_range_at_past_revision(tmp_path: Path, revision: int,
                                expected: list[tuple[str, bytes]]) -> None:
    async def scenario(store: SQLiteStore) -> None:
        await write_history(store)
        result = await store.range("/", revision=revision)
        assert [(k.key, k.value) for k in result.kvs] == expected
        assert result.revision == (revision or 6)
        limited = await store.range("/", revision=revision, limit=1)
        assert [(k.key, k.value) for k in limited.kvs] == expected[:1]
        assert limited.more is (len(expected) > 1)
        with pytest.raises(FutureRevisionError):
            await store.range("/", revision=7)
    run(tmp_path, scenario)


# --- watch -----------------------------------------------------------------------------------
def test_event_contents(tmp_path: Path) -> None:
    async def scenario(store: SQLiteStore) -> list[Event]:
        await write_history(store)
        return await take(store.watch("/", start_revision=2), 5)
    events = run(tmp_path, scenario)
    assert events == [
        Event(EventType.PUT, kv("/a", b"a1", 2, 2, 1), None),
        Event(EventType.PUT, kv("/b", b"b1", 3, 3, 1), None),
        Event(EventType.PUT, kv("/a", b"a2", 2, 4, 2), kv("/a", b"a1", 2, 2, 1)),
        Event(EventType.DELETE, kv("/b", b"b1", 3, 5, 1), kv("/b", b"b1", 3, 3, 1)),
        Event(EventType.PUT, kv("/c", b"c1", 6, 6, 1), None),
    ]


def test_live_events_equal_replayed_events(tmp_path: Path) -> None:
    async def scenario(store: SQLiteStore) -> tuple[list[Event], list[Event]]:
        live = store.watch("/", start_revision=1)
        consumer = asyncio.create_task(take(live, 5))
        await asyncio.sleep(0.01)
        await write_history(store)
        return await consumer, await take(store.watch("/", start_revision=1), 5)
    live, replayed = run(tmp_path, scenario)
    assert live == replayed
    assert [e.revision for e in live] == [2, 3, 4, 5, 6]


WATCH_PREFIX_CASES = {
    "pods": ("/registry/pods/", ["/registry/pods/a/x"]),
    "podsx": ("/registry/podsx/", ["/registry/podsx/y"]),
    "all-registry": ("/registry/", ["/registry/pods/a/x", "/registry/podsx/y"]),
}


@pytest.mark.parametrize("prefix,keys", WATCH_PREFIX_CASES.values(),
                         ids=WATCH_PREFIX_CASES.keys())
def test_watch_prefix(tmp_path: Path, prefix: str, keys: list[str]) -> None:
    async def scenario(store: SQLiteStore) -> tuple[list[str], list[str]]:
        replay = store.watch(prefix, start_revision=2)
        live = store.watch(prefix, start_revision=2)
        await store.create("/registry/pods/a/x", b"1")
        await store.create("/registry/podsx/y", b"2")
        await store.create("/other", b"3")
        got_live = [e.kv.key for e in await take(live, len(keys))]
        got_replay = [e.kv.key for e in await take(replay, len(keys))]
        await store.create(prefix + "last", b"4")  # the next event is this one, nothing between
        assert (await take(live, 1))[0].kv.key == prefix + "last"
        return got_live, got_replay
    assert run(tmp_path, scenario) == (keys, keys)


def test_watch_commit_order_under_concurrent_writers(tmp_path: Path) -> None:
    """Watchers started before, during and after a storm of concurrent writes all see every
    acknowledged write exactly once, in revision order, with the right prev."""
    async def scenario(store: SQLiteStore) -> None:
        early = store.watch("/registry/", start_revision=2)
        early_task = asyncio.create_task(take(early, 200))
        acked: list[KeyValue] = []
        mid_tasks: list[asyncio.Task[list[Event]]] = []

        async def writer(i: int) -> None:
            created = await store.create(f"/registry/pods/ns/p{i}", b"v1")
            acked.append(created)
            if i % 10 == 0:  # watchers registering mid-storm
                mid_tasks.append(asyncio.create_task(
                    take(store.watch("/registry/", start_revision=2), 200)))
            acked.append(await store.update(created.key, b"v2",
                                            expected_revision=created.mod_revision))

        await asyncio.gather(*(writer(i) for i in range(100)))
        late = await take(store.watch("/registry/", start_revision=2), 200)
        expected_revisions = sorted(k.mod_revision for k in acked)
        assert expected_revisions == list(range(2, 202))
        by_revision = {k.mod_revision: k for k in acked}
        for events in [await early_task, late, *[await t for t in mid_tasks]]:
            assert [e.revision for e in events] == expected_revisions
            assert [e.kv for e in events] == [by_revision[r] for r in expected_revisions]
            for e in events:
                assert (e.prev is None) == (e.kv.version == 1)
                if e.prev is not None:
                    assert e.prev.value == b"v1" and e.kv.value == b"v2"
    run(tmp_path, scenario)


def test_watch_from_future_revision(tmp_path: Path) -> None:
    async def scenario(store: SQLiteStore) -> list[int]:
        watch = store.watch("/", start_revision=4)
        task = asyncio.create_task(take(watch, 2))
        for i in range(4):
            await store.create(f"/k{i}", b"x")
        return [e.revision for e in await task]
    assert run(tmp_path, scenario) == [4, 5]


def test_watch_overflow_ends_slow_consumer(tmp_path: Path) -> None:
    async def scenario(store: SQLiteStore) -> tuple[list[int], list[int]]:
        slow = store.watch("/", start_revision=0)
        fast = store.watch("/", start_revision=0)
        await anext_pending(slow)
        fast_task = asyncio.create_task(take(fast, 8))
        for i in range(8):
            await store.create(f"/k{i}", b"x")
        received = []
        with pytest.raises(WatchOverflowError):
            async for event in slow:
                received.append(event.revision)
        return received, [e.revision for e in await fast_task]
    slow, fast = run(tmp_path, scenario, watch_queue=3)
    assert slow == [2, 3, 4]  # what it buffered, then the error
    assert fast == list(range(2, 10))


async def anext_pending(watch: Any) -> None:
    """Register ``watch`` (first iteration) without consuming anything."""
    task = asyncio.ensure_future(anext(watch))
    await asyncio.sleep(0.01)
    assert not task.done()
    task.cancel()


def test_close_ends_watchers(tmp_path: Path) -> None:
    async def scenario(store: SQLiteStore) -> None:
        watch = store.watch("/", start_revision=0)
        task = asyncio.create_task(take(watch, 1))
        await asyncio.sleep(0.01)
        await store.close()
        with pytest.raises(StopAsyncIteration):
            await task
        with pytest.raises(StoreClosedError):
            await store.create("/k", b"x")
    run(tmp_path, scenario)


def run_two(path: Path, scenario: Callable[[SQLiteStore, SQLiteStore], Awaitable[Any]],
            **options: Any) -> Any:
    """Two stores on one file, as two server processes sharing a data dir would have."""
    async def main() -> Any:
        a = SQLiteStore(str(path / "state.db"), **options)
        b = SQLiteStore(str(path / "state.db"))
        try:
            return await scenario(a, b)
        finally:
            await a.close()
            await b.close()
    return asyncio.run(main())


def test_own_commit_after_foreign_writes_fills_the_gap(tmp_path: Path) -> None:
    """Without polling (poll_interval is long), a's own commit following b's writes makes a's
    notifier read b's revisions back from the table first: no gap, commit order."""
    async def scenario(a: SQLiteStore, b: SQLiteStore) -> list[tuple[int, str]]:
        watch = a.watch("/", start_revision=2)
        await anext_pending(watch)
        for round_ in range(3):
            for i in range(4):
                await b.create(f"/b/{round_}-{i}", b"x")
            await a.create(f"/a/{round_}", b"x")
        return [(e.revision, e.kv.key[:2]) for e in await take(watch, 15)]
    events = run_two(tmp_path, scenario, poll_interval=60)
    assert events == [(r, "/a" if (r - 1) % 5 == 0 else "/b") for r in range(2, 17)]


def test_polling_sees_writes_of_another_store(tmp_path: Path) -> None:
    async def scenario(a: SQLiteStore, b: SQLiteStore) -> list[int]:
        watch = a.watch("/", start_revision=2)
        collector = asyncio.create_task(take(watch, 20))
        await asyncio.sleep(0.01)
        await asyncio.gather(*(b.create(f"/b/{i}", b"x") for i in range(20)))
        return [e.revision for e in await collector]
    assert run_two(tmp_path, scenario, poll_interval=0.02) == list(range(2, 22))


def test_watch_behind_another_stores_compaction_fails(tmp_path: Path) -> None:
    async def scenario(a: SQLiteStore, b: SQLiteStore) -> None:
        old = a.watch("/", start_revision=2)
        await anext_pending(old)  # registered; a does not poll (poll_interval is long)
        kv_b = await b.create("/k", b"0")
        for i in range(5):
            kv_b = await b.update("/k", b"%d" % i, expected_revision=kv_b.mod_revision)
        await b.compact(kv_b.mod_revision)
        fresh = a.watch("/", start_revision=kv_b.mod_revision)
        await a.create("/own", b"x")  # a's own commit reveals the gap to a's notifier
        with pytest.raises(CompactedError):
            await take(old, 1)
        assert [e.kv.key for e in await take(fresh, 2)] == ["/k", "/own"]
    run_two(tmp_path, scenario, poll_interval=60)


# --- compaction ------------------------------------------------------------------------------
def row_count(path: Path) -> int:
    with sqlite3.connect(path / "state.db") as conn:
        return conn.execute("SELECT COUNT(*) FROM kv").fetchone()[0]


def test_compaction(tmp_path: Path) -> None:
    async def scenario(store: SQLiteStore) -> None:
        await write_history(store)  # a=2, b=3, a'=4, delete b=5, c=6
        for i in range(3):  # /c = 7, 8, 9
            await store.update("/c", b"c%d" % (i + 2), expected_revision=6 + i)
        before = await store.range("/", revision=8)
        assert row_count(tmp_path) == 8
        await store.compact(8)
        assert await store.compacted_revision() == 8
        # Rows kept: a'=4 (latest), c@7 (prev of the event at 8), c@8, c@9.
        assert row_count(tmp_path) == 4
        assert await store.range("/", revision=8) == before
        assert [(k.key, k.value) for k in (await store.range("/")).kvs] == [("/a", b"a2"),
                                                                           ("/c", b"c4")]
        for revision in (2, 7):
            with pytest.raises(CompactedError):
                await store.get("/a", revision=revision)
        with pytest.raises(CompactedError):
            await anext(store.watch("/", start_revision=7))
        events = await take(store.watch("/", start_revision=8), 2)
        assert [(e.revision, e.prev and e.prev.value) for e in events] == [(8, b"c2"),
                                                                           (9, b"c3")]
        await store.compact(3)  # older than the compacted revision: no-op
        assert await store.compacted_revision() == 8
        with pytest.raises(FutureRevisionError):
            await store.compact(10)
        await store.compact(9)
        assert await store.get("/c") == kv("/c", b"c4", 6, 9, 4)
    run(tmp_path, scenario)


def test_background_compaction(tmp_path: Path) -> None:
    async def scenario(store: SQLiteStore) -> int:
        created = await store.create("/k", b"0")
        revision = created.mod_revision
        for i in range(20):
            updated = await store.update("/k", b"%d" % i, expected_revision=revision)
            revision = updated.mod_revision
        store.start_background_compaction(interval=0.02, retention=5)
        for _ in range(100):
            await asyncio.sleep(0.02)
            if await store.compacted_revision() == revision - 5:
                break
        return await store.compacted_revision()
    assert run(tmp_path, scenario) == 22 - 5
    assert row_count(tmp_path) == 7  # revisions 17..22 and 16, the prev of the event at 17


# --- concurrency and persistence -------------------------------------------------------------
def test_concurrent_writers_get_distinct_revisions(tmp_path: Path) -> None:
    async def scenario(store: SQLiteStore) -> list[int]:
        results = await asyncio.gather(
            *(store.create(f"/registry/pods/ns/p{i}", b"x") for i in range(100)),
            *(store.create("/registry/contended", b"y") for _ in range(5)),
            return_exceptions=True)
        created = [r for r in results if isinstance(r, KeyValue)]
        conflicts = [r for r in results if isinstance(r, KeyExistsError)]
        assert len(conflicts) == 4
        assert await store.count("/registry/pods/") == 100
        return sorted(k.mod_revision for k in created)
    assert run(tmp_path, scenario) == list(range(2, 103))


def test_reopen_keeps_state_and_revision(tmp_path: Path) -> None:
    async def first(store: SQLiteStore) -> None:
        await store.create("/a", b"1")
        await store.create("/b", b"2")
        await store.delete("/b")  # revision 4: the newest row is a tombstone
        await store.compact(4)

    async def second(store: SQLiteStore) -> tuple[int, int, KeyValue, KeyValue | None]:
        return (await store.current_revision(), await store.compacted_revision(),
                await store.create("/c", b"3"), await store.get("/a"))

    run(tmp_path, first)
    assert run(tmp_path, second) == (4, 4, kv("/c", b"3", 5, 5, 1), kv("/a", b"1", 2, 2, 1))


# --- pure helpers ----------------------------------------------------------------------------
PREFIX_END_CASES = {
    "slash": ("/registry/pods/", "/registry/pods0"),
    "letter": ("abc", "abd"),
    "empty": ("", None),
    "max-code-point": ("a" + chr(0x10FFFF), "b"),
    "before-surrogates": ("a" + chr(0xD7FF), "a" + chr(0xE000)),
}


@pytest.mark.parametrize("prefix,end", PREFIX_END_CASES.values(), ids=PREFIX_END_CASES.keys())
def test_prefix_end(prefix: str, end: str | None) -> None:
    assert prefix_end(prefix) == end


ENDPOINT_CASES = {
    "absolute-url": ("sqlite:///var/lib/kubepy/state.db", "/var/lib/kubepy/state.db"),
    "relative-url": ("sqlite://data/state.db", "data/state.db"),
    "kine-dsn-options": ("sqlite:///d/state.db?_journal=WAL&cache=shared", "/d/state.db"),
    "bare-path": ("/d/state.db", "/d/state.db"),
}


@pytest.mark.parametrize("endpoint,path", ENDPOINT_CASES.values(), ids=ENDPOINT_CASES.keys())
def test_sqlite_path(endpoint: str, path: str) -> None:
    assert sqlite_path(endpoint) == path


def test_open_store(tmp_path: Path) -> None:
    store = open_store(f"sqlite://{tmp_path}/sub/state.db")
    assert isinstance(store, SQLiteStore) and store.path == f"{tmp_path}/sub/state.db"
    asyncio.run(store.close())
    with pytest.raises(ValueError):
        open_store("etcd://127.0.0.1:2379")
