"""Informer state machine (kubepy.client.informer) against a scripted list/watch source, in
virtual time: paging, event dispatch, relist on 410 with DeletedFinalStateUnknown, re-watch
from the last resourceVersion after a broken connection, resync; and the indexed store."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

import pytest

from kubepy import errors
from kubepy.api.registry import Registry
from kubepy.client.clock import FakeClock
from kubepy.client.informer import DeletedFinalStateUnknown, Informer
from kubepy.client.store import (NAMESPACE_INDEX, OWNER_UID_INDEX, Store, meta_key,
                                 namespace_index, owner_uid_index, split_key)

PODS = Registry().get("", "v1", "pods")
Obj = dict[str, Any]


def pod(name: str, rv: int, ns: str = "ns", **meta: Any) -> Obj:
    return {"metadata": {"name": name, "namespace": ns, "resourceVersion": str(rv), **meta}}


def ev(type_: str, obj: Obj) -> Obj:
    return {"type": type_, "object": {"kind": "Pod", "apiVersion": "v1", **obj}}


class ScriptedSource:
    """Lists answer from ``lists`` (each a list of pages); watches play ``watches`` in turn:
    each is a list of events, an exception to raise, or ends the stream (server timeout)
    when exhausted; the last watch stays open forever."""

    def __init__(self, lists: list[list[Obj]], watches: list[list[Any]]) -> None:
        self.lists = lists
        self.watches = watches
        self.calls: list[tuple[str, Any]] = []

    async def list(self, rt: Any, namespace: Any = None, *, limit: Any = None,
                   continue_: Any = None, **kw: Any) -> Obj:
        self.calls.append(("list", continue_))
        pages = self.lists[0]
        idx = int(continue_ or 0)
        page = pages[idx]
        if isinstance(page, Exception):
            self.lists.pop(0)
            raise page
        if idx + 1 == len(pages):
            self.lists.pop(0)
        return page

    async def watch(self, rt: Any, namespace: Any = None, *, resource_version: Any = None,
                    **kw: Any) -> AsyncIterator[Obj]:
        self.calls.append(("watch", resource_version))
        script = self.watches.pop(0) if self.watches else None
        if script is None:
            await asyncio.Event().wait()
            return
        for item in script:
            if isinstance(item, Exception):
                raise item
            yield item


def page(items: list[Obj], rv: int, cont: str | None = None) -> Obj:
    meta: Obj = {"resourceVersion": str(rv)}
    if cont:
        meta["continue"] = cont
    return {"kind": "PodList", "apiVersion": "v1", "metadata": meta, "items": items}


def recorder(inf: Informer) -> list[tuple[Any, ...]]:
    log: list[tuple[Any, ...]] = []

    def on_delete(o: Obj) -> None:
        tag = "delete-unknown" if isinstance(o, DeletedFinalStateUnknown) else "delete"
        log.append((tag, meta_key(o), o["metadata"]["resourceVersion"]))
    inf.add_event_handler(
        on_add=lambda o: log.append(("add", meta_key(o), o["metadata"]["resourceVersion"])),
        on_update=lambda a, b: log.append(("update", meta_key(b), a["metadata"]["resourceVersion"],
                                           b["metadata"]["resourceVersion"])),
        on_delete=on_delete)
    return log


async def play(source: ScriptedSource, *, advance: float = 10.0,
               resync: float = 0.0) -> tuple[Informer, list[tuple[Any, ...]]]:
    clock = FakeClock()
    inf = Informer(source, PODS, clock=clock, resync_period=resync, page_size=2,
                   min_backoff=1, max_backoff=4)
    log = recorder(inf)
    inf.start()
    await clock.tick(advance)
    await inf.stop()
    return inf, log


CASES: list[tuple[str, list[list[Obj]], list[list[Any]], list[tuple[Any, ...]], list[Any]]] = [
    ("paged initial list",
     [[page([pod("a", 5), pod("b", 6)], 10, "1"), page([pod("c", 7)], 10)]],
     [],
     [("add", "ns/a", "5"), ("add", "ns/b", "6"), ("add", "ns/c", "7")],
     [("list", None), ("list", "1"), ("watch", "10")]),
    ("watch events update the cache",
     [[page([pod("a", 5)], 10)]],
     [[ev("MODIFIED", pod("a", 11)), ev("ADDED", pod("b", 12)), ev("DELETED", pod("a", 13)),
       ev("DELETED", pod("never-seen", 14))]],
     [("add", "ns/a", "5"), ("update", "ns/a", "5", "11"), ("add", "ns/b", "12"),
      ("delete", "ns/a", "13")],
     [("list", None), ("watch", "10"), ("watch", "14")]),
    ("server timeout: re-watch from the last resourceVersion (bookmarks count)",
     [[page([], 10)]],
     [[ev("ADDED", pod("a", 11))], [{"type": "BOOKMARK", "object": pod("", 20)}]],
     [("add", "ns/a", "11")],
     [("list", None), ("watch", "10"), ("watch", "11"), ("watch", "20")]),
    ("410 Gone: relist; vanished objects are DeletedFinalStateUnknown",
     [[page([pod("a", 5), pod("b", 6)], 10)], [page([pod("b", 30), pod("c", 31)], 40)]],
     [[ev("MODIFIED", pod("a", 11)), errors.Gone("too old resource version: 11 (20)")]],
     [("add", "ns/a", "5"), ("add", "ns/b", "6"), ("update", "ns/a", "5", "11"),
      ("update", "ns/b", "6", "30"), ("add", "ns/c", "31"), ("delete-unknown", "ns/a", "11")],
     [("list", None), ("watch", "10"), ("list", None), ("watch", "40")]),
    ("broken connection: back off, re-watch from the last resourceVersion",
     [[page([], 10)]],
     [[ev("ADDED", pod("a", 11)), ConnectionError("reset")], [ConnectionError("refused")],
      [ev("ADDED", pod("b", 12))]],
     [("add", "ns/a", "11"), ("add", "ns/b", "12")],
     [("list", None), ("watch", "10"), ("watch", "11"), ("watch", "11"), ("watch", "12")]),
    ("expired continue token: list again in one piece",
     [[page([pod("a", 5)], 10, "1"), errors.Gone("continue expired")], [page([pod("a", 5), pod("b", 9)], 12)]],
     [],
     [("add", "ns/a", "5"), ("add", "ns/b", "9")],
     [("list", None), ("list", "1"), ("list", None), ("watch", "12")]),
    ("other API errors: relist after back-off",
     [[errors.Forbidden("no")], [page([pod("a", 5)], 10)]],
     [],
     [("add", "ns/a", "5")],
     [("list", None), ("list", None), ("watch", "10")]),
]


@pytest.mark.parametrize("lists,watches,events,calls", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_list_and_watch(lists: list[list[Obj]], watches: list[list[Any]],
                        events: list[tuple[Any, ...]], calls: list[Any]) -> None:
    source = ScriptedSource(lists, watches)
    inf, log = asyncio.run(play(source))
    assert log == events
    assert source.calls == calls
    assert inf.has_synced.is_set()


def test_cache_contents_and_types_after_relist() -> None:
    source = ScriptedSource([[page([pod("a", 5)], 10)], [page([pod("b", 30)], 40)]],
                            [[errors.Gone("gone")]])
    inf, _ = asyncio.run(play(source))
    assert inf.store.keys() == ["ns/b"]
    cached = inf.store.get("ns/b")
    assert cached is not None and (cached["kind"], cached["apiVersion"]) == ("Pod", "v1")
    assert inf.last_sync_resource_version == "40" and inf.list_count == 2


def test_connection_backoff_doubles_up_to_max() -> None:
    async def go() -> list[float]:
        clock = FakeClock()
        starts: list[float] = []

        class Down(ScriptedSource):
            async def watch(self, *a: Any, **kw: Any) -> AsyncIterator[Obj]:  # type: ignore[override]
                starts.append(clock.monotonic())
                raise ConnectionError("down")
                yield {}

        inf = Informer(Down([[page([], 1)]], []), PODS, clock=clock, min_backoff=1, max_backoff=4)
        inf.start()
        await clock.tick(20)
        await inf.stop()
        return starts
    assert asyncio.run(go()) == [0, 1, 3, 7, 11, 15, 19]


def test_resync_and_late_handlers() -> None:
    async def go() -> tuple[list[Any], list[Any]]:
        clock = FakeClock()
        inf = Informer(ScriptedSource([[page([pod("a", 5)], 10)]], []), PODS, clock=clock,
                       resync_period=30)
        log = recorder(inf)
        inf.start()
        await clock.tick(65)
        late: list[Any] = []
        inf.add_event_handler(on_add=lambda o: late.append(meta_key(o)))
        await inf.stop()
        return log, late
    log, late = asyncio.run(go())
    assert log == [("add", "ns/a", "5"), ("update", "ns/a", "5", "5"), ("update", "ns/a", "5", "5")]
    assert late == ["ns/a"]


def test_a_failing_handler_does_not_stop_the_informer() -> None:
    async def go() -> list[str]:
        clock = FakeClock()
        inf = Informer(ScriptedSource([[page([pod("a", 5), pod("b", 6)], 10)]], []), PODS, clock=clock)
        seen: list[str] = []

        def boom(o: Obj) -> None:
            raise RuntimeError("handler bug")
        inf.add_event_handler(on_add=boom)
        inf.add_event_handler(on_add=lambda o: seen.append(meta_key(o)))
        inf.start()
        await clock.tick(1)
        await inf.stop()
        return seen
    assert asyncio.run(go()) == ["ns/a", "ns/b"]


# ---------------------------------------------------------------- store and keys

KEYS = [
    ("namespaced", {"metadata": {"name": "p", "namespace": "ns"}}, "ns/p", ("ns", "p")),
    ("cluster-scoped", {"metadata": {"name": "node-1"}}, "node-1", (None, "node-1")),
]


@pytest.mark.parametrize("obj,key,split", [c[1:] for c in KEYS], ids=[c[0] for c in KEYS])
def test_keys(obj: Obj, key: str, split: tuple[str | None, str]) -> None:
    assert meta_key(obj) == key
    assert split_key(key) == split


def owned(name: str, ns: str, *uids: str) -> Obj:
    return {"metadata": {"name": name, "namespace": ns,
                         "ownerReferences": [{"uid": u, "controller": i == 0}
                                             for i, u in enumerate(uids)]}}


INDEX_CASES = [
    ("by namespace", NAMESPACE_INDEX, "ns1", ["ns1/a", "ns1/b"]),
    ("by owner uid", OWNER_UID_INDEX, "u1", ["ns1/a", "ns2/c"]),
    ("second owner", OWNER_UID_INDEX, "u2", ["ns1/b"]),
    ("nothing filed", OWNER_UID_INDEX, "u9", []),
]


@pytest.mark.parametrize("index,value,keys", [c[1:] for c in INDEX_CASES],
                         ids=[c[0] for c in INDEX_CASES])
def test_indexes(index: str, value: str, keys: list[str]) -> None:
    store = Store({NAMESPACE_INDEX: namespace_index})
    for obj in (owned("a", "ns1", "u1"), owned("b", "ns1", "u3", "u2"), owned("c", "ns2", "u1")):
        store.put(meta_key(obj), obj)
    store.add_indexer(OWNER_UID_INDEX, owner_uid_index)  # indexes existing objects
    assert [meta_key(o) for o in store.by_index(index, value)] == keys


def test_index_follows_updates_and_deletes() -> None:
    store = Store({OWNER_UID_INDEX: owner_uid_index})
    store.put("ns/a", owned("a", "ns", "u1"))
    store.put("ns/a", owned("a", "ns", "u2"))
    assert (store.index_keys(OWNER_UID_INDEX, "u1"), store.index_keys(OWNER_UID_INDEX, "u2")) == ([], ["ns/a"])
    store.delete("ns/a")
    assert store.index_keys(OWNER_UID_INDEX, "u2") == [] and len(store) == 0
    with pytest.raises(KeyError):
        store.by_index("nope", "x")
