"""Informers: a local, indexed cache of one resource kept current by list + watch, and the
add/update/delete notifications controllers react to (client-go's reflector, DeltaFIFO and
shared index informer in one small loop).

The loop, as client-go's reflector runs it:

1. LIST in pages of ``page_size`` (limit + continue); if a continue token expires (410),
   list again in one piece. The list's resourceVersion is the starting point. The store is
   replaced by the list and handlers hear the difference (see below). ``has_synced`` is set
   after the first complete list.
2. WATCH from that resourceVersion with bookmarks, for ``watch_timeout`` seconds at a time,
   each new watch starting from the last resourceVersion seen (an event's or a bookmark's).
3. A 410 Gone (compacted history, or an overflowed server-side watch channel) or a 504
   "too large resource version" goes back to 1 at once. A connection failure, 429 or 503
   re-watches from the last resourceVersion after a back-off (``min_backoff`` doubling to
   ``max_backoff``, reset by any event). Any other failure goes back to 1 after a back-off.

Notifications (handlers are plain callables run in the informer's task, in order; an
exception in one is logged and does not stop the informer):

* ``on_add(obj)``; ``on_update(old, new)``; ``on_delete(obj)``.
* A watch DELETED event gives ``on_delete`` the object as the server last sent it.
* A relist gives ``on_add`` for new keys, ``on_update(old, new)`` for every key still present
  (also when unchanged — as client-go's Replace does), and ``on_delete`` for keys that
  vanished: the deletion was not observed, so ``on_delete`` receives a
  ``DeletedFinalStateUnknown`` — a dict copy of the last state this cache held (use it like
  the object; ``isinstance`` tells the case apart; ``.key`` is its store key).
* Every ``resync_period`` seconds (0: never) after sync, ``on_update(obj, obj)`` for every
  cached object, so level-triggered controllers re-check their world.
* A handler added after the informer synced first gets ``on_add`` for every cached object.

Cached objects are immutable by contract (see ``kubepy.client.store``): handlers and
controllers must not change them. List items get ``kind`` and ``apiVersion`` filled in, so
every cached object carries its type as watch events do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Protocol

from kubepy import errors
from kubepy.api.registry import ResourceType
from kubepy.client.clock import REAL_CLOCK, Clock
from kubepy.client.store import NAMESPACE_INDEX, IndexFunc, Store, meta_key, namespace_index

log = logging.getLogger("kubepy.client.informer")

Obj = dict[str, Any]


class ListWatcher(Protocol):
    """What an informer needs of ``ApiClient`` (fakes in tests implement just this)."""

    async def list(self, rt: ResourceType, namespace: str | None = None, *,
                   label_selector: str | None = None, field_selector: str | None = None,
                   limit: int | None = None, continue_: str | None = None,
                   resource_version: str | None = None) -> Obj: ...

    def watch(self, rt: ResourceType, namespace: str | None = None, *,
              resource_version: str | None = None, label_selector: str | None = None,
              field_selector: str | None = None, timeout_seconds: int | None = None,
              allow_bookmarks: bool = True) -> AsyncIterator[Obj]: ...


class DeletedFinalStateUnknown(dict):  # type: ignore[type-arg]
    """The last known state of an object found gone on relist (its deletion was not seen)."""

    def __init__(self, key: str, obj: Obj) -> None:
        super().__init__(obj)
        self.key = key


@dataclass
class EventHandler:
    on_add: Callable[[Obj], None] | None = None
    on_update: Callable[[Obj, Obj], None] | None = None
    on_delete: Callable[[Obj], None] | None = None


class _Relist(Exception):
    """The watch cannot continue from its resourceVersion: list again."""


class Informer:
    def __init__(self, client: ListWatcher, rt: ResourceType, *, namespace: str | None = None,
                 label_selector: str | None = None, field_selector: str | None = None,
                 resync_period: float = 0.0, clock: Clock | None = None,
                 indexers: dict[str, IndexFunc] | None = None, page_size: int = 500,
                 watch_timeout: int = 300, min_backoff: float = 0.8,
                 max_backoff: float = 30.0) -> None:
        self.client = client
        self.rt = rt
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.resync_period = resync_period
        self.clock: Clock = clock or REAL_CLOCK
        self.page_size = page_size
        self.watch_timeout = watch_timeout
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.store = Store(indexers if indexers is not None else {NAMESPACE_INDEX: namespace_index})
        self.has_synced = asyncio.Event()
        self.last_sync_resource_version = ""
        self.list_count = 0  # complete lists done, the first one included
        self._handlers: list[EventHandler] = []
        self._tasks: list[asyncio.Task[None]] = []

    # ------------------------------------------------------------------ public

    def add_event_handler(self, on_add: Callable[[Obj], None] | None = None,
                          on_update: Callable[[Obj, Obj], None] | None = None,
                          on_delete: Callable[[Obj], None] | None = None) -> EventHandler:
        handler = EventHandler(on_add, on_update, on_delete)
        self._handlers.append(handler)
        if self.has_synced.is_set() and on_add is not None:
            for obj in self.store.list():
                self._call(on_add, obj)
        return handler

    def remove_event_handler(self, handler: EventHandler) -> None:
        self._handlers.remove(handler)

    def add_indexer(self, name: str, fn: IndexFunc) -> None:
        self.store.add_indexer(name, fn)

    @property
    def running(self) -> bool:
        return any(not t.done() for t in self._tasks)

    def start(self) -> None:
        """Start list+watch (and resync) as background tasks of the running loop."""
        if self.running:
            return
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self.run(), name=f"informer {self.rt.qualified}")]
        if self.resync_period > 0:
            self._tasks.append(loop.create_task(self._resync_loop()))

    async def wait_for_sync(self, timeout: float | None = None) -> bool:
        try:
            await asyncio.wait_for(self.has_synced.wait(), timeout)
            return True
        except TimeoutError:
            return False

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []

    # ------------------------------------------------------------------ loop

    async def run(self) -> None:
        """List and watch until cancelled."""
        backoff = self.min_backoff
        while True:
            try:
                resource_version = await self._list_and_replace()
                backoff = self.min_backoff
                await self._watch(resource_version)
            except _Relist as e:
                log.info("%s: relisting: %s", self.rt.qualified, e)
            except Exception as e:  # noqa: BLE001 - every failure is retried
                log.warning("%s: list/watch failed, retrying in %.1fs: %r",
                            self.rt.qualified, backoff, e)
                await self.clock.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)

    async def _list_all(self, limit: int | None) -> tuple[list[Obj], str]:
        items: list[Obj] = []
        continue_: str | None = None
        while True:
            page = await self.client.list(
                self.rt, self.namespace, label_selector=self.label_selector,
                field_selector=self.field_selector, limit=limit, continue_=continue_)
            items.extend(page.get("items") or [])
            meta = page.get("metadata") or {}
            continue_ = meta.get("continue")
            if not continue_:
                return items, str(meta.get("resourceVersion", ""))

    async def _list_and_replace(self) -> str:
        try:
            items, resource_version = await self._list_all(self.page_size)
        except errors.Gone:  # a continue token expired between pages
            items, resource_version = await self._list_all(None)
        fresh: dict[str, Obj] = {}
        for item in items:
            if "kind" not in item or "apiVersion" not in item:
                item = {"apiVersion": self.rt.api_version, "kind": self.rt.kind, **item}
            fresh[meta_key(item)] = item
        previous = {key: self.store.get(key) for key in self.store.keys()}
        self.store.replace(fresh.items())
        self.last_sync_resource_version = resource_version
        self.list_count += 1
        for key, obj in fresh.items():
            old = previous.pop(key, None)
            if old is None:
                self._notify_add(obj)
            else:
                self._notify_update(old, obj)
        for key, old in previous.items():
            assert old is not None
            self._notify_delete(DeletedFinalStateUnknown(key, old))
        self.has_synced.set()
        return resource_version

    async def _watch(self, resource_version: str) -> None:
        """Watch (and re-watch) from ``resource_version``; raises ``_Relist`` when the
        history is gone; other API errors propagate."""
        backoff = self.min_backoff
        while True:
            try:
                stream = self.client.watch(
                    self.rt, self.namespace, resource_version=resource_version,
                    label_selector=self.label_selector, field_selector=self.field_selector,
                    timeout_seconds=self.watch_timeout, allow_bookmarks=True)
                async with contextlib.aclosing(stream):  # type: ignore[type-var]
                    async for event in stream:
                        resource_version = self._apply(event) or resource_version
                        self.last_sync_resource_version = resource_version
                        backoff = self.min_backoff
            except errors.Gone as e:
                raise _Relist(f"watch from {resource_version}: {e}") from e
            except errors.Timeout as e:  # "Too large resource version": the server lost history
                raise _Relist(f"watch from {resource_version}: {e}") from e
            except (ConnectionError, errors.TooManyRequests, errors.ServiceUnavailable) as e:
                log.info("%s: watch interrupted, re-watching from %s in %.1fs: %r",
                         self.rt.qualified, resource_version, backoff, e)
                await self.clock.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)

    def _apply(self, event: Obj) -> str | None:
        """Apply one watch event to the store; the resourceVersion it brings."""
        type_ = event.get("type")
        obj = event.get("object") or {}
        rv = (obj.get("metadata") or {}).get("resourceVersion")
        if type_ == "BOOKMARK":
            return rv
        if type_ in ("ADDED", "MODIFIED"):
            old = self.store.put(meta_key(obj), obj)
            if old is None:
                self._notify_add(obj)
            else:
                self._notify_update(old, obj)
        elif type_ == "DELETED":
            if self.store.delete(meta_key(obj)) is not None:
                self._notify_delete(obj)
        else:
            log.warning("%s: unknown watch event type %r", self.rt.qualified, type_)
            return None
        return rv

    async def _resync_loop(self) -> None:
        await self.has_synced.wait()
        while True:
            await self.clock.sleep(self.resync_period)
            for obj in self.store.list():
                self._notify_update(obj, obj)

    # ------------------------------------------------------------------ dispatch

    def _notify_add(self, obj: Obj) -> None:
        for h in list(self._handlers):
            if h.on_add is not None:
                self._call(h.on_add, obj)

    def _notify_update(self, old: Obj, new: Obj) -> None:
        for h in list(self._handlers):
            if h.on_update is not None:
                self._call(h.on_update, old, new)

    def _notify_delete(self, obj: Obj) -> None:
        for h in list(self._handlers):
            if h.on_delete is not None:
                self._call(h.on_delete, obj)

    def _call(self, fn: Callable[..., None], *args: Obj) -> None:
        try:
            fn(*args)
        except Exception:  # noqa: BLE001 - a broken handler must not stop the cache
            log.exception("%s: event handler %r failed", self.rt.qualified, fn)
