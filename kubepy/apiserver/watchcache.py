"""The watch cache: every stored object in memory, fed by one watch on the store.

One ``CacheHub`` lists ``/registry/`` once, then follows a single store watch from that
revision and dispatches each event to the ``ResourceCache`` owning the key's prefix.
Because one stream carries every write in commit order, ``hub.revision`` is exactly the
store revision the caches reflect; a consistent read waits until it reaches the store's
current revision (``wait_fresh``) and is then served from memory.

Invariants:
- cached objects are decoded once and never mutated (handlers copy before changing);
  ``metadata.resourceVersion`` is set from the key's mod_revision;
- ``ResourceCache.events`` holds the most recent events in revision order, so a watch from
  a recent resourceVersion replays from memory; older ones fall back to the store.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import logging
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import orjson

from kubepy.storage.interface import CompactedError, Event, EventType, KeyValue, Store

log = logging.getLogger(__name__)

Obj = dict[str, Any]


def decode(kv: KeyValue) -> Obj:
    obj: Obj = orjson.loads(kv.value)
    obj.setdefault("metadata", {})["resourceVersion"] = str(kv.mod_revision)
    return obj


@dataclass(slots=True)
class CachedEvent:
    type: str  # ADDED MODIFIED DELETED
    revision: int
    key: str
    obj: Obj
    prev: Obj | None


class Watcher:
    """A consumer of one ResourceCache: filtered events go into a bounded queue.

    When the queue overflows the watcher is closed (``overflowed``) and its client must
    re-watch: a slow consumer never blocks the hub.
    """

    def __init__(self, prefix: str, accept: Callable[[CachedEvent], bool], capacity: int = 10000):
        self.prefix = prefix
        self.accept = accept
        self.queue: asyncio.Queue[CachedEvent | None] = asyncio.Queue(capacity)
        self.overflowed = False
        self.closed = False

    def push(self, ev: CachedEvent) -> None:
        if self.closed or not ev.key.startswith(self.prefix):
            return
        if not self.accept(ev):
            return
        try:
            self.queue.put_nowait(ev)
        except asyncio.QueueFull:
            self.overflowed = True
            self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.queue.put_nowait(None)
            except asyncio.QueueFull:
                pass  # the consumer will see ``closed`` after draining


class ResourceCache:
    """All objects under one storage prefix, their recent events and their watchers."""

    def __init__(self, prefix: str, event_capacity: int = 20000):
        self.prefix = prefix
        self.objects: dict[str, Obj] = {}
        self.sorted_keys: list[str] = []
        self.events: collections.deque[CachedEvent] = collections.deque(maxlen=event_capacity)
        self.watchers: set[Watcher] = set()
        # events older than this revision may be missing from ``events``
        self.oldest_revision = 0

    def load(self, key: str, obj: Obj) -> None:
        if key not in self.objects:
            bisect.insort(self.sorted_keys, key)
        self.objects[key] = obj

    def apply(self, ev: Event) -> None:
        key = ev.kv.key
        if ev.type is EventType.DELETE:
            prev = self.objects.pop(key, None)
            if prev is None and ev.prev is not None:
                prev = decode(ev.prev)
            i = bisect.bisect_left(self.sorted_keys, key)
            if i < len(self.sorted_keys) and self.sorted_keys[i] == key:
                del self.sorted_keys[i]
            obj = dict(prev) if prev is not None else decode(ev.kv)
            # the DELETED object carries the revision of the deletion, as the apiserver does
            obj["metadata"] = {**obj.get("metadata", {}), "resourceVersion": str(ev.revision)}
            cached = CachedEvent("DELETED", ev.revision, key, obj, prev)
        else:
            obj = decode(ev.kv)
            prev = self.objects.get(key)
            if prev is None:
                bisect.insort(self.sorted_keys, key)
            self.objects[key] = obj
            cached = CachedEvent("ADDED" if prev is None else "MODIFIED", ev.revision, key,
                                 obj, prev)
        if len(self.events) == self.events.maxlen:
            self.oldest_revision = self.events[0].revision + 1
        self.events.append(cached)
        for w in list(self.watchers):
            w.push(cached)
            if w.closed:
                self.watchers.discard(w)

    def keys_under(self, prefix: str, start_after: str = "") -> Iterable[str]:
        """Keys with ``prefix`` in key order, strictly after ``start_after``."""
        lo = bisect.bisect_right(self.sorted_keys, start_after) if start_after > prefix else \
            bisect.bisect_left(self.sorted_keys, prefix)
        keys = self.sorted_keys
        for i in range(lo, len(keys)):
            k = keys[i]
            if not k.startswith(prefix):
                break
            yield k

    def events_since(self, revision: int) -> list[CachedEvent] | None:
        """Events with revision > ``revision``, or None when the window no longer reaches back."""
        if revision + 1 < self.oldest_revision:
            return None
        revs = [e.revision for e in self.events]  # deque: bisect over a snapshot
        i = bisect.bisect_right(revs, revision)
        return list(self.events)[i:]


class CacheHub:
    def __init__(self, store: Store, root: str = "/registry/", *, shared: bool = False):
        self.store = store
        self.root = root
        # other processes write the same store (several apiserver workers): consistent
        # reads ask the store for its revision instead of trusting local commits
        self.shared = shared
        self._revision_query: asyncio.Future[int] | None = None
        self._next_revision_query: asyncio.Future[int] | None = None
        self.caches: dict[str, ResourceCache] = {}
        self.revision = 0
        self._task: asyncio.Task[None] | None = None
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self.ready = asyncio.Event()

    def cache_for(self, prefix: str) -> ResourceCache:
        cache = self.caches.get(prefix)
        if cache is None:
            cache = self.caches[prefix] = ResourceCache(prefix)
            # a late-registered prefix (a new CRD): adopt keys the hub already saw
        return cache

    def _owner(self, key: str) -> ResourceCache | None:
        # prefixes are /registry/<resource>/ or /registry/<group>/<resource>/; try longest first
        parts = key.split("/")
        for n in (4, 3):
            if len(parts) > n:
                cache = self.caches.get("/".join(parts[:n]) + "/")
                if cache is not None:
                    return cache
        return None

    async def start(self) -> None:
        await self._load()
        self._task = asyncio.create_task(self._follow(), name="watchcache")

    async def _load(self) -> None:
        result = await self.store.range(self.root)
        for cache in self.caches.values():
            cache.objects.clear()
            cache.sorted_keys.clear()
            cache.events.clear()
            cache.oldest_revision = result.revision + 1
        self._orphans: dict[str, KeyValue] = {}
        for kv in result.kvs:
            owner = self._owner(kv.key)
            if owner is not None:
                owner.load(kv.key, decode(kv))
            else:
                self._orphans[kv.key] = kv
        self.revision = result.revision
        self.ready.set()

    def adopt(self, prefix: str) -> ResourceCache:
        """Register a prefix after start (custom resources) and load what the hub holds."""
        cache = self.cache_for(prefix)
        for key in [k for k in getattr(self, "_orphans", {}) if k.startswith(prefix)]:
            cache.load(key, decode(self._orphans.pop(key)))
        cache.oldest_revision = self.revision + 1
        return cache

    async def _follow(self) -> None:
        while True:
            try:
                async for ev in self.store.watch(self.root, start_revision=self.revision + 1):
                    cache = self._owner(ev.kv.key)
                    if cache is not None:
                        cache.apply(ev)
                    elif ev.type is EventType.PUT:
                        self._orphans[ev.kv.key] = ev.kv
                    else:
                        self._orphans.pop(ev.kv.key, None)
                    self.revision = ev.revision
                    self._wake()
                return
            except asyncio.CancelledError:
                raise
            except CompactedError:
                log.warning("watch cache fell behind compaction; relisting")
                await self._relist()
            except Exception:  # the store watch ended abnormally (overflow): resume
                log.exception("watch cache stream failed; resuming")
                await asyncio.sleep(0.1)

    async def _relist(self) -> None:
        for cache in self.caches.values():
            for w in list(cache.watchers):
                w.close()
            cache.watchers.clear()
        await self._load()
        self._wake()

    def _wake(self) -> None:
        if not self._waiters:
            return
        keep = []
        for rev, fut in self._waiters:
            if rev <= self.revision:
                if not fut.done():
                    fut.set_result(None)
            else:
                keep.append((rev, fut))
        self._waiters = keep

    async def wait_for(self, revision: int, timeout: float = 3.0) -> None:
        if revision <= self.revision:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((revision, fut))
        await asyncio.wait_for(fut, timeout)

    async def wait_fresh(self) -> None:
        """Wait until the caches reflect every write committed before this call.

        With a store that knows its own commits without I/O (``local_revision``, the SQLite
        backend when this apiserver is its only writer) this costs nothing on the hot path;
        otherwise it asks the store for its current revision."""
        local = getattr(self.store, "local_revision", None)
        if local is not None and not self.shared:
            await self.wait_for(local())
            return
        revision = await self._store_revision()
        if revision > self.revision:
            poke = getattr(self.store, "poke", None)
            if poke is not None:
                poke()
        await self.wait_for(revision)

    async def _store_revision(self) -> int:
        """The store's current revision from a query that started after this call (so it
        covers every write acknowledged before it); concurrent callers share queries."""
        loop = asyncio.get_running_loop()
        if self._revision_query is None:
            fut = self._revision_query = loop.create_future()
            asyncio.ensure_future(self._run_revision_query(fut))
            return await asyncio.shield(fut)
        if self._next_revision_query is None:
            self._next_revision_query = loop.create_future()
        return await asyncio.shield(self._next_revision_query)

    async def _run_revision_query(self, fut: "asyncio.Future[int]") -> None:
        while True:
            try:
                fut.set_result(await self.store.current_revision())
            except Exception as e:  # noqa: BLE001 - handed to the waiters
                fut.set_exception(e)
            nxt = self._next_revision_query
            self._next_revision_query = None
            if nxt is None:
                self._revision_query = None
                return
            fut = self._revision_query = nxt

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        for cache in self.caches.values():
            for w in list(cache.watchers):
                w.close()
