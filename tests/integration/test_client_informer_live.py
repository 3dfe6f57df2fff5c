"""Informers against a real ``kubepy server``: initial (paged) list, add/update/delete from
the watch, shared factory caches; and across a server restart: resume from the last
resourceVersion when history is kept, relist after 410 when it was compacted away."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest

from kubepy.api.registry import Registry
from kubepy.client.factory import SharedInformerFactory
from kubepy.client.informer import DeletedFinalStateUnknown, Informer
from kubepy.client.rest import ApiClient
from kubepy.client.store import NAMESPACE_INDEX
from tests.conftest import ServerProcess, start_server

REG = Registry()
CM = REG.get("", "v1", "configmaps")
NS = REG.get("", "v1", "namespaces")
Obj = dict[str, Any]


def run(coro: Awaitable[Any], timeout: float = 30) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))  # type: ignore[arg-type]


async def eventually(cond: Callable[[], bool], timeout: float = 10) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


def record(inf: Informer) -> list[tuple[str, str]]:
    log: list[tuple[str, str]] = []
    inf.add_event_handler(
        on_add=lambda o: log.append(("add", o["metadata"]["name"])),
        on_update=lambda a, b: log.append(("update", b["metadata"]["name"]))
        if a["metadata"]["resourceVersion"] != b["metadata"]["resourceVersion"] else None,
        on_delete=lambda o: log.append(
            ("delete-unknown" if isinstance(o, DeletedFinalStateUnknown) else "delete",
             o["metadata"]["name"])))
    return log


async def new_namespace(c: ApiClient) -> str:
    name = f"inf-{uuid.uuid4().hex[:8]}"
    await c.create(NS, {"metadata": {"name": name}})
    return name


def test_initial_list_then_watch_events(kubepy_server: ServerProcess) -> None:
    async def go() -> None:
        async with ApiClient.from_kubeconfig(kubepy_server.kubeconfig) as c:
            ns = await new_namespace(c)
            for i in range(5):
                await c.create(CM, {"metadata": {"name": f"pre{i}"}}, ns)
            inf = Informer(c, CM, namespace=ns, page_size=2)
            log = record(inf)
            inf.start()
            assert await inf.wait_for_sync(10)
            assert log == [("add", f"pre{i}") for i in range(5)]
            assert sorted(inf.store.keys()) == [f"{ns}/pre{i}" for i in range(5)]
            cached = inf.store.get(f"{ns}/pre0")
            assert cached is not None and cached["kind"] == "ConfigMap"
            log.clear()
            await c.create(CM, {"metadata": {"name": "new"}}, ns)
            await c.patch(CM, "pre1", {"data": {"k": "v"}}, namespace=ns)
            await c.delete(CM, "pre2", ns)
            await eventually(lambda: len(log) == 3)
            assert log == [("add", "new"), ("update", "pre1"), ("delete", "pre2")]
            pre1 = inf.store.get(f"{ns}/pre1")
            assert pre1 is not None and pre1["data"] == {"k": "v"}
            assert f"{ns}/pre2" not in inf.store
            assert len(inf.store.by_index(NAMESPACE_INDEX, ns)) == 5
            await inf.stop()
    run(go())


def test_shared_factory_hands_out_one_informer_per_filter(kubepy_server: ServerProcess) -> None:
    async def go() -> None:
        async with ApiClient.from_kubeconfig(kubepy_server.kubeconfig) as c:
            ns = await new_namespace(c)
            await c.create(CM, {"metadata": {"name": "x", "labels": {"tier": "a"}}}, ns)
            await c.create(CM, {"metadata": {"name": "y", "labels": {"tier": "b"}}}, ns)
            factory = SharedInformerFactory(c)
            one = factory.informer(CM, namespace=ns)
            assert factory.informer(CM, namespace=ns) is one
            tier_a = factory.informer(CM, namespace=ns, label_selector="tier=a")
            assert tier_a is not one
            factory.start()
            assert await factory.wait_for_cache_sync(10)
            late = factory.informer(NS)  # requested after start: started at once
            assert await factory.wait_for_cache_sync(10) and late.store.get(ns) is not None
            assert sorted(one.store.keys()) == [f"{ns}/x", f"{ns}/y"]
            assert tier_a.store.keys() == [f"{ns}/x"]
            log = record(tier_a)
            await c.patch(CM, "y", {"metadata": {"labels": {"tier": "a"}}}, namespace=ns)
            await eventually(lambda: f"{ns}/y" in tier_a.store)
            assert log[-1] == ("add", "y")  # started matching the selector
            await factory.stop()
    run(go())


def _compact_offline(data_dir: Path, delete_keys: list[str]) -> None:
    """With the server stopped: delete keys behind its back and compact away all history."""
    from kubepy.storage import open_store

    async def go() -> None:
        store = open_store(f"sqlite://{data_dir / 'db' / 'state.db'}")
        try:
            for key in delete_keys:
                await store.delete(key)
            await store.compact(await store.current_revision())
        finally:
            await store.close()
    asyncio.run(go())


@pytest.mark.parametrize("compact", [False, True], ids=["history kept: resume", "compacted: 410 relist"])
def test_server_restart(tmp_path: Path, compact: bool) -> None:
    data_dir = tmp_path / "data"
    server = start_server(data_dir)
    try:
        async def go() -> tuple[list[tuple[str, str]], int, list[str]]:
            nonlocal server
            async with ApiClient.from_kubeconfig(server.kubeconfig) as c:
                ns = await new_namespace(c)
                for name in ("keep", "doomed", "doomed2"):
                    await c.create(CM, {"metadata": {"name": name}}, ns)
                inf = Informer(c, CM, namespace=ns, min_backoff=0.1, max_backoff=0.5)
                log = record(inf)
                inf.start()
                assert await inf.wait_for_sync(10)
                await c.create(CM, {"metadata": {"name": "seen-by-watch"}}, ns)
                await eventually(lambda: ("add", "seen-by-watch") in log)
                log.clear()
                server.stop()
                if compact:  # two writes, so the first one is older than the compaction
                    keys = [f"/registry/configmaps/{ns}/{n}" for n in ("doomed", "doomed2")]
                    await asyncio.to_thread(_compact_offline, data_dir, keys)
                server = await asyncio.to_thread(start_server, data_dir, server.port)
                if not compact:  # changes the restarted server's watch replay must deliver
                    await c.delete(CM, "doomed", ns)
                    await c.delete(CM, "doomed2", ns)
                await c.create(CM, {"metadata": {"name": "after"}}, ns)
                await eventually(lambda: ("add", "after") in log, 15)
                await inf.stop()
                return log, inf.list_count, sorted(inf.store.keys())
        log, lists, keys = run(go(), 60)
    finally:
        server.stop()
    assert [k.split("/")[1] for k in keys] == ["after", "keep", "seen-by-watch"]
    if compact:
        assert lists == 2, log
        # vanished while nobody watched (the relist also calls on_update for "keep" and
        # "seen-by-watch" with an unchanged resourceVersion, which record() leaves out)
        assert sorted(log) == [("add", "after"), ("delete-unknown", "doomed"),
                               ("delete-unknown", "doomed2")]
    else:
        assert lists == 1
        assert log == [("delete", "doomed"), ("delete", "doomed2"), ("add", "after")]
