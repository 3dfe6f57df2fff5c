"""WATCH: a chunked stream of newline-delimited WatchEvents.

Start points (``resourceVersion``): unset or "0" sends the current objects as ADDED first
(``sendInitialEvents=true`` does the same and closes the initial burst with a BOOKMARK
annotated ``k8s.io/initial-events-end``); ``N`` sends every change after N, from the watch
cache's window or, when older, from the store's history; compacted history gives an ERROR
event with a 410 Expired Status, as the apiserver does.

A watcher is registered on the cache in the same event-loop step as the snapshot it starts
from, so no event falls between them. With selectors, an object that stops matching is
sent as DELETED and one that starts matching as ADDED.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any, AsyncIterator, Callable

import orjson
from aiohttp import web

from kubepy import errors
from kubepy.api.registry import ResourceType
from kubepy.apiserver.listing import parse_rv
from kubepy.apiserver.watchcache import CacheHub, CachedEvent, Watcher, decode
from kubepy.storage.interface import CompactedError, EventType, Store

Obj = dict[str, Any]
Predicate = Callable[[Obj], bool]
# turns an event's object into what the client asked for (Table row, partial metadata...)
Transform = Callable[[Obj, bool], Obj]

BOOKMARK_INTERVAL = 30.0
MAX_EVENTS_PER_WRITE = 256
DEFAULT_TIMEOUT = (1800, 3600)


def _matches(pred: Predicate | None, obj: Obj | None) -> bool:
    return obj is not None and (pred is None or pred(obj))


def _filtered(ev: CachedEvent, pred: Predicate | None) -> tuple[str, Obj] | None:
    """The event as this watcher sees it through its selector, or None."""
    if pred is None:
        return ev.type, ev.obj
    now_m = _matches(pred, ev.obj)
    if ev.type == "DELETED":
        return ("DELETED", ev.obj) if (now_m or _matches(pred, ev.prev)) else None
    was_m = _matches(pred, ev.prev)
    if now_m and was_m:
        return "MODIFIED", ev.obj
    if now_m:
        return "ADDED", ev.obj
    if was_m:
        return "DELETED", ev.obj
    return None


async def serve_watch(request: web.Request, hub: CacheHub, store: Store, rt: ResourceType,
                      namespace: str | None, predicate: Predicate | None,
                      transform: Transform, query: dict[str, str]) -> web.StreamResponse:
    rv = parse_rv(query.get("resourceVersion"))
    allow_bookmarks = query.get("allowWatchBookmarks") in ("true", "1")
    send_initial = query.get("sendInitialEvents") in ("true", "1")
    timeout_q = query.get("timeoutSeconds")
    try:
        timeout = float(timeout_q) if timeout_q else float(random.randint(*DEFAULT_TIMEOUT))
    except ValueError:
        raise errors.BadRequest(f'invalid timeoutSeconds "{timeout_q}"')
    if "sendInitialEvents" in query and query.get("resourceVersionMatch") != "NotOlderThan":
        raise errors.invalid("ListOptions", "", [errors.field_cause(
            "resourceVersionMatch", "Forbidden: sendInitialEvents requires setting "
            "resourceVersionMatch to NotOlderThan", "FieldValueForbidden")],
            "meta.k8s.io")
    prefix = rt.namespace_prefix(namespace)
    cache = hub.cache_for(rt.key_prefix)

    if rv and rv > hub.revision:
        try:
            await hub.wait_for(rv)
        except TimeoutError:
            raise errors.Timeout(f"Too large resource version: {rv}, current: {hub.revision}",
                                 retry_after=1)
    if rv is None and not send_initial:
        await hub.wait_fresh()

    watcher = Watcher(prefix, lambda ev: _filtered(ev, predicate) is not None)
    initial: list[tuple[str, Obj]] = []
    replay_from_store: int | None = None
    start_rv = hub.revision
    # --- one event-loop step: snapshot and registration together ---
    if rv in (None, 0) or send_initial:
        for key in cache.keys_under(prefix):
            obj = cache.objects[key]
            if predicate is None or predicate(obj):
                initial.append(("ADDED", obj))
        if rv and send_initial:
            start_rv = max(rv, start_rv)
    else:
        assert rv is not None
        backlog = cache.events_since(rv)
        if backlog is None:
            replay_from_store = rv + 1
        else:
            for ev in backlog:
                if ev.key.startswith(prefix):
                    f = _filtered(ev, predicate)
                    if f is not None:
                        initial.append(f)
    cache.watchers.add(watcher)
    # ----------------------------------------------------------------

    response = web.StreamResponse(status=200, headers={
        "Content-Type": "application/json", "Cache-Control": "no-cache, private"})
    response.enable_chunked_encoding()
    try:
        await response.prepare(request)
        send = _Sender(response, transform)
        if replay_from_store is not None:
            ok = await _replay_store(send, store, prefix, predicate, replay_from_store,
                                     hub.revision, watcher)
            if not ok:
                return response
        for type_, obj in initial:
            await send.event(type_, obj)
        if send_initial:
            await send.raw({"type": "BOOKMARK", "object": _bookmark(rt, start_rv, initial_end=True)})
        await _follow(send, watcher, predicate, rt, hub, allow_bookmarks, timeout)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        watcher.close()
        cache.watchers.discard(watcher)
    return response


class _Sender:
    def __init__(self, response: web.StreamResponse, transform: Transform):
        self.response = response
        self.transform = transform
        self.first = True
        self.last_rv = 0

    def encode(self, type_: str, obj: Obj) -> bytes:
        body = self.transform(obj, self.first)
        self.first = False
        return orjson.dumps({"type": type_, "object": body}) + b"\n"

    async def event(self, type_: str, obj: Obj) -> None:
        await self.response.write(self.encode(type_, obj))

    async def raw(self, event: Obj) -> None:
        await self.response.write(orjson.dumps(event) + b"\n")

    async def lines(self, chunks: list[bytes]) -> None:
        """Several encoded events in one write (one chunk, one TLS record run)."""
        if chunks:
            await self.response.write(chunks[0] if len(chunks) == 1 else b"".join(chunks))


def _bookmark(rt: ResourceType, revision: int, *, initial_end: bool = False) -> Obj:
    meta: Obj = {"resourceVersion": str(revision), "creationTimestamp": None}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    return {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta}


async def _replay_store(send: _Sender, store: Store, prefix: str, predicate: Predicate | None,
                        start: int, until: int, watcher: Watcher) -> bool:
    """Events start..until from the store's history (the cache's window is too short)."""
    try:
        stream = store.watch(prefix, start_revision=start)
        try:
            async for ev in _until(stream, until):
                obj = decode(ev.kv)
                prev = decode(ev.prev) if ev.prev else None
                type_ = "DELETED" if ev.type is EventType.DELETE else \
                    ("ADDED" if ev.prev is None else "MODIFIED")
                f = _filtered(CachedEvent(type_, ev.revision, ev.kv.key, obj, prev), predicate)
                if f is not None:
                    await send.event(*f)
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
    except CompactedError as e:
        status = errors.Gone(f"too old resource version: {start - 1} ({e.compacted})").to_status()
        await send.raw({"type": "ERROR", "object": status})
        return False
    # drop live events the replay already covered
    drained: list[CachedEvent] = []
    while not watcher.queue.empty():
        item = watcher.queue.get_nowait()
        if item is not None and item.revision > until:
            drained.append(item)
    for item in drained:
        watcher.queue.put_nowait(item)
    return True


async def _until(stream: AsyncIterator[Any], until: int) -> AsyncIterator[Any]:
    if until < 0:
        return
    async for ev in stream:
        yield ev
        if ev.revision >= until:
            return


async def _follow(send: _Sender, watcher: Watcher, predicate: Predicate | None,
                  rt: ResourceType, hub: CacheHub, allow_bookmarks: bool,
                  timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout

    def bookmark_after(now: float) -> float:
        # as the watch cache: periodically, and once about 2 s before the watch times out,
        # so the client can resume from a recent revision
        before_end = deadline - 2.0
        periodic = now + BOOKMARK_INTERVAL
        return min(periodic, before_end) if before_end > now else periodic

    next_bookmark = bookmark_after(loop.time())
    queue = watcher.queue
    while True:
        now = loop.time()
        if now >= deadline:
            return
        if queue.empty():
            wait = deadline - now
            if allow_bookmarks:
                wait = min(wait, max(0.0, next_bookmark - now))
            try:
                item = await asyncio.wait_for(queue.get(), wait)
            except TimeoutError:
                if allow_bookmarks and loop.time() >= next_bookmark:
                    await send.raw({"type": "BOOKMARK", "object": _bookmark(rt, hub.revision)})
                    next_bookmark = bookmark_after(loop.time())
                continue
        else:
            item = queue.get_nowait()
        # what is queued already goes out in the same write: under load the events of a
        # commit batch arrive together, and one write per event costs a chunk header, a
        # TLS record and a wake-up each
        chunks: list[bytes] = []
        while True:
            if item is None:
                await send.lines(chunks)
                if watcher.overflowed:
                    status = errors.Gone("watch channel overflowed; the client must re-watch "
                                         "(too slow a consumer)").to_status()
                    await send.raw({"type": "ERROR", "object": status})
                return
            f = _filtered(item, predicate)
            if f is not None:
                chunks.append(send.encode(*f))
            if queue.empty() or len(chunks) >= MAX_EVENTS_PER_WRITE:
                break
            item = queue.get_nowait()
        await send.lines(chunks)
