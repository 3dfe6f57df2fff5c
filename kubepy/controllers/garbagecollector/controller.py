"""``GarbageCollector``: deletes objects whose owners are gone, and carries out foreground
and orphan deletion (kube-controller-manager's garbage collector).

Monitors: discovery (``kubepy.controllers.discovery``) names every preferred-version
resource that supports list, watch and delete (core and events.k8s.io Events excepted,
as upstream); each gets an informer — the shared one from ``ctx.informers`` for built-in
types, one of its own for custom resources, started and stopped as CRDs come and go.
Discovery is refreshed every ``RESYNC_PERIOD`` seconds. Informer events feed the ``Graph``
(``graph.py``; its bookkeeping happens in the handlers, synchronously, since it is this
controller's own index like the informer store) and the work it returns goes to one
work queue as ``delete/<uid>`` and ``orphan/<uid>`` keys.

``delete/<uid>`` (upstream attemptToDeleteItem):
* a virtual node: GET its owner coordinates; absent or another uid → the graph drops it and
  its dependents are examined;
* an object in foreground deletion: remove ``foregroundDeletion`` once no dependent with
  blockOwnerDeletion remains, else push those dependents;
* an object with owners: each owner's state comes from the graph (observed), the
  absent-owner cache, or a live GET (a cache may lag behind a just-created owner, so
  absence is never concluded from the graph alone); then ``graph.decide``. Deletes carry
  uid and resourceVersion preconditions, so an object changed since the cache read
  (adopted, re-owned) is never deleted on stale grounds: the conflict retries.

``orphan/<uid>``: remove the owner's uid from every dependent's ownerReferences, then the
``orphan`` finalizer from the owner.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from typing import Any

from kubepy import errors
from kubepy.api.registry import ResourceType
from kubepy.client.controller import Controller
from kubepy.client.events import WARNING
from kubepy.client.informer import EventHandler, Informer
from kubepy.client.store import meta_key
from kubepy.controllers.context import ControllerContext
from kubepy.controllers.discovery import discover, kind_index, with_verbs
from kubepy.controllers.garbagecollector import graph as g

log = logging.getLogger("kubepy.controllers.garbagecollector")

Obj = dict[str, Any]
ResourceKey = tuple[str, str, str]

IGNORED_RESOURCES = {("", "events"), ("events.k8s.io", "events")}
RESYNC_PERIOD = 30.0  # discovery refresh (upstream's GC resync period)
RESYNC_SOON = 0.5  # after a CRD changes or an ownerReference names an unknown kind
CRD_RESOURCE = ("apiextensions.k8s.io", "v1", "customresourcedefinitions")
SYNC_TIMEOUT = 60.0
WORKERS = 20  # --concurrent-gc-syncs
ABSENT_CACHE_SIZE = 2048
ORPHAN_CONCURRENCY = 50
COMPONENT = "garbage-collector-controller"


class UnresolvableOwner(Exception):
    """An ownerReference names a kind discovery does not know (yet)."""


class AbsentCache:
    """A bounded LRU set of uids known not to exist."""

    def __init__(self, size: int = ABSENT_CACHE_SIZE) -> None:
        self.size = size
        self._uids: OrderedDict[str, None] = OrderedDict()

    def add(self, uid: str) -> None:
        self._uids[uid] = None
        self._uids.move_to_end(uid)
        while len(self._uids) > self.size:
            self._uids.popitem(last=False)

    def __contains__(self, uid: object) -> bool:
        return uid in self._uids


def _key(rt: ResourceType) -> ResourceKey:
    return (rt.group, rt.version, rt.plural)


class GarbageCollector(Controller):
    name = "garbagecollector"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(name=self.name, workers=ctx.workers(self.name, WORKERS),
                         clock=ctx.clock)
        self.ctx = ctx
        self.client = ctx.client
        self.graph = g.Graph()
        self.absent = AbsentCache()
        self.kinds: dict[tuple[str, str], ResourceType] = {}
        self.resources: dict[ResourceKey, ResourceType] = {}
        self.monitors: dict[ResourceKey, tuple[Informer, EventHandler, bool]] = {}
        self.recorder = ctx.recorder_for(COMPONENT)
        self._resync_task: asyncio.Task[None] | None = None
        self._resync_wanted = asyncio.Event()

    # ------------------------------------------------------------------ monitors

    async def sync_monitors(self) -> None:
        """Watch every deletable resource discovery reports; drop vanished ones."""
        found = await discover(self.client)
        if not found.resources:
            raise RuntimeError(found.error_message() or "discovery found no resources")
        kinds = kind_index(found.resources)
        self.kinds = {**self.kinds, **kinds} if found.failed else kinds
        wanted = {_key(rt): rt for rt in with_verbs(found.resources, "list", "watch", "delete")
                  if (rt.group, rt.plural) not in IGNORED_RESOURCES}
        for key, rt in wanted.items():
            if key not in self.monitors:
                self._add_monitor(key, rt)
        failed_groups = {gv.split("/")[0] if "/" in gv else "" for gv in found.failed}
        for key in list(self.monitors):
            if key not in wanted and key[0] not in failed_groups:
                await self._remove_monitor(key)

    def _add_monitor(self, key: ResourceKey, rt: ResourceType) -> None:
        own = rt.custom
        inf = Informer(self.client, rt, clock=self.clock) if own else \
            self.ctx.informers.informer(rt)
        handler = inf.add_event_handler(
            lambda obj: self._observe(obj, key), lambda old, new: self._observe(new, key),
            self._forget)
        inf.start()  # no-op when the factory already runs it
        self.resources[key] = rt
        self.monitors[key] = (inf, handler, own)

    async def _remove_monitor(self, key: ResourceKey) -> None:
        inf, handler, own = self.monitors.pop(key)
        self.resources.pop(key, None)
        inf.remove_event_handler(handler)
        if own:
            await inf.stop()

    async def wait_for_monitors(self, timeout: float = SYNC_TIMEOUT) -> bool:
        waits = [inf.has_synced.wait() for inf, _, _ in self.monitors.values()]
        try:
            await asyncio.wait_for(asyncio.gather(*waits), timeout)
            return True
        except TimeoutError:
            pending = [k for k, (inf, _, _) in self.monitors.items() if not inf.has_synced.is_set()]
            log.warning("garbage collector: not all resource monitors are synced: %s", pending)
            return False

    # ------------------------------------------------------------------ graph events

    def _observe(self, obj: Obj, key: ResourceKey) -> None:
        if key == CRD_RESOURCE:
            self._resync_wanted.set()  # a new or changed CRD: new types to watch
        self._schedule(self.graph.observe(obj, key))

    def _forget(self, obj: Obj) -> None:
        if obj.get("kind") == "CustomResourceDefinition":
            self._resync_wanted.set()
        self._schedule(self.graph.forget(obj))

    def _schedule(self, work: g.Work) -> None:
        for uid in work.absent:
            self.absent.add(uid)
        for uid in work.delete:
            self.queue.add(f"delete/{uid}")
        for uid in work.orphan:
            self.queue.add(f"orphan/{uid}")

    # ------------------------------------------------------------------ running

    async def run(self) -> None:
        while True:
            try:
                await self.sync_monitors()
                break
            except Exception as e:  # noqa: BLE001 - the API server may still be starting
                log.warning("garbage collector: discovery failed, retrying: %r", e)
                await self.clock.sleep(1.0)
        await self.wait_for_monitors()
        self._resync_task = asyncio.get_running_loop().create_task(self._resync())
        self.start_workers()
        try:
            await asyncio.gather(*self._worker_tasks)
        finally:
            await self.shutdown()

    async def _resync(self) -> None:
        """Refresh the monitors every RESYNC_PERIOD, and soon after a CRD event."""
        while True:
            period = asyncio.ensure_future(self.clock.sleep(RESYNC_PERIOD))
            wanted = asyncio.ensure_future(self._resync_wanted.wait())
            try:
                await asyncio.wait({period, wanted}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                period.cancel()
                wanted.cancel()
            if self._resync_wanted.is_set():
                await self.clock.sleep(RESYNC_SOON)  # let a burst of events settle
                self._resync_wanted.clear()
            try:
                await self.sync_monitors()
            except Exception as e:  # noqa: BLE001 - next period tries again
                log.warning("garbage collector: resyncing monitors failed: %r", e)

    async def shutdown(self) -> None:
        if self._resync_task is not None:
            self._resync_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._resync_task
            self._resync_task = None
        await super().shutdown()
        for key in list(self.monitors):
            await self._remove_monitor(key)

    async def reconcile(self, key: str) -> float | None:
        kind, _, uid = key.partition("/")
        if kind == "delete":
            await self.attempt_to_delete(uid)
        elif kind == "orphan":
            await self.attempt_to_orphan(uid)
        return None

    # ------------------------------------------------------------------ helpers

    def cached(self, node: g.Node) -> Obj | None:
        """The node's object from its informer's cache (None if gone or replaced)."""
        monitor = self.monitors.get(node.resource) if node.resource else None
        if monitor is None:
            return None
        ident = node.identity
        obj = monitor[0].store.get_by_name(ident.namespace or None, ident.name)
        if obj is None or (obj.get("metadata") or {}).get("uid") != ident.uid:
            return None
        return obj

    def resource_for(self, ident: g.Identity) -> ResourceType:
        rt = self.kinds.get((ident.group, ident.kind))
        if rt is None:
            self._resync_wanted.set()
            raise UnresolvableOwner(f"unable to get REST mapping for {ident.api_version}/"
                                    f"{ident.kind}")
        return rt

    async def _live(self, rt: ResourceType, ident: g.Identity) -> Obj | None:
        """The live object at ``ident``'s coordinates if it has ``ident``'s uid."""
        try:
            obj = await self.client.get(rt, ident.name, ident.namespace if rt.namespaced else None)
        except errors.NotFound:
            return None
        return obj if (obj.get("metadata") or {}).get("uid") == ident.uid else None

    # ------------------------------------------------------------------ attempt to delete

    async def attempt_to_delete(self, uid: str) -> None:
        node = self.graph.nodes.get(uid)
        if node is None:
            return
        if not node.observed:
            await self.verify_virtual(node)
            return
        item = self.cached(node)
        if item is None:
            return  # gone: its delete event does the rest
        if node.deleting_dependents:
            decision = g.decide_deleting_dependents(self.graph, uid)
        else:
            refs = g.owner_references(item)
            if not refs or (item.get("metadata") or {}).get("deletionTimestamp"):
                return
            states = {ref["uid"]: await self.owner_state(ref, item) for ref in refs}
            dependents = self.graph.dependents(uid)
            decision = g.decide(item, states, has_dependents=bool(dependents),
                                dependent_deleting_dependents=any(
                                    d.deleting_dependents for d in dependents))
        await self.carry_out(node, item, decision)

    async def verify_virtual(self, node: g.Node) -> None:
        ident = node.identity
        rt = self.resource_for(ident)
        if rt.namespaced and not ident.namespace:
            live = None
        else:
            live = await self._live(rt, ident)
        if live is None:
            self._schedule(self.graph.forget_virtual(ident.uid))

    async def owner_state(self, ref: Obj, item: Obj) -> g.OwnerState:
        uid = ref["uid"]
        owner = self.graph.nodes.get(uid)
        if owner is not None and owner.observed:
            return g.OwnerState.WAITING if owner.deleting_dependents else g.OwnerState.SOLID
        if uid in self.absent:
            return g.OwnerState.DANGLING
        namespace = str((item.get("metadata") or {}).get("namespace") or "")
        ident = g.owner_identity(ref, namespace)
        rt = self.resource_for(ident)
        if rt.namespaced and not namespace:
            self.recorder.event(item, WARNING, "OwnerRefInvalidNamespace",
                                f"ownerRef [{ident.api_version}/{ident.kind}, namespace: , "
                                f"name: {ident.name}, uid: {uid}] does not exist in namespace "
                                f'""')
            self.absent.add(uid)
            return g.OwnerState.DANGLING
        live = await self._live(rt, ident)
        if live is None:
            self.absent.add(uid)
            return g.OwnerState.DANGLING
        meta = live.get("metadata") or {}
        if meta.get("deletionTimestamp") and g.FOREGROUND in (meta.get("finalizers") or []):
            return g.OwnerState.WAITING
        return g.OwnerState.SOLID

    async def carry_out(self, node: g.Node, item: Obj, decision: g.Decision) -> None:
        rt = self.resources.get(node.resource)
        if rt is None or decision.action == "none":
            return
        meta = item["metadata"]
        ns = meta.get("namespace") if rt.namespaced else None
        if decision.action == "attempt":
            for uid in decision.uids:
                self.queue.add(f"delete/{uid}")
        elif decision.action == "remove-finalizer":
            await self.remove_finalizer(rt, item, decision.finalizer)
        elif decision.action == "remove-owners":
            await self.patch_owner_references(rt, item, lambda refs: g.without_owners(
                refs, decision.uids))
        elif decision.action == "delete":
            if decision.unblock:
                await self.patch_owner_references(rt, item, g.unblocked)
            log.debug("garbage collector: deleting %s %s (%s)", rt.kind, meta_key(item),
                     decision.policy)
            try:
                await self.client.delete(rt, meta["name"], ns,
                                         propagation_policy=decision.policy,
                                         preconditions={"uid": meta["uid"],
                                                        "resourceVersion": meta[
                                                            "resourceVersion"]}
                                         if not decision.unblock else {"uid": meta["uid"]})
            except errors.NotFound:
                pass

    # ------------------------------------------------------------------ writes

    async def patch_owner_references(self, rt: ResourceType, item: Obj, change: Any) -> None:
        """Rewrite the live object's ownerReferences with ``change(refs)`` (optimistic
        concurrency on resourceVersion; a conflict raises and the key is retried)."""
        meta = item["metadata"]
        ns = meta.get("namespace") if rt.namespaced else None
        try:
            live = await self.client.get(rt, meta["name"], ns)
        except errors.NotFound:
            return
        lmeta = live.get("metadata") or {}
        if lmeta.get("uid") != meta["uid"]:
            return
        refs = lmeta.get("ownerReferences") or []
        new_refs = change(refs)
        if new_refs == refs:
            return
        try:
            await self.client.patch(rt, meta["name"], {"metadata": {
                "ownerReferences": new_refs or None,
                "resourceVersion": lmeta.get("resourceVersion")}}, namespace=ns)
        except errors.NotFound:
            pass

    async def remove_finalizer(self, rt: ResourceType, item: Obj, finalizer: str) -> None:
        meta = item["metadata"]
        ns = meta.get("namespace") if rt.namespaced else None
        for _ in range(5):
            try:
                live = await self.client.get(rt, meta["name"], ns)
            except errors.NotFound:
                return
            lmeta = live.get("metadata") or {}
            if lmeta.get("uid") != meta["uid"]:
                return
            finalizers = lmeta.get("finalizers") or []
            if finalizer not in finalizers:
                return
            kept = [f for f in finalizers if f != finalizer]
            try:
                await self.client.patch(rt, meta["name"], {"metadata": {
                    "finalizers": kept or None,
                    "resourceVersion": lmeta.get("resourceVersion")}}, namespace=ns)
                return
            except errors.Conflict:
                continue
            except errors.NotFound:
                return
        raise errors.Conflict(f"removing the {finalizer} finalizer from {meta_key(item)} "
                              "kept conflicting")

    # ------------------------------------------------------------------ orphan

    async def attempt_to_orphan(self, uid: str) -> None:
        node = self.graph.nodes.get(uid)
        if node is None or not node.observed or not node.orphaning:
            return
        item = self.cached(node)
        rt = self.resources.get(node.resource)
        if item is None or rt is None:
            return
        dependents = [(self.resources.get(d.resource), self.cached(d))
                      for d in self.graph.dependents(uid) if d.observed]
        semaphore = asyncio.Semaphore(ORPHAN_CONCURRENCY)

        async def orphan(dep_rt: ResourceType | None, dep: Obj | None) -> None:
            if dep_rt is None or dep is None:
                return
            async with semaphore:
                await self.patch_owner_references(dep_rt, dep,
                                                  lambda refs: g.without_owners(refs, [uid]))

        results = await asyncio.gather(*(orphan(r, d) for r, d in dependents),
                                       return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            raise RuntimeError(f"orphaning {len(failures)} dependents of {uid} failed: "
                               f"{failures[0]!r}")
        await self.remove_finalizer(rt, item, g.ORPHAN)


def new_controllers(ctx: ControllerContext) -> list[Controller]:
    return [GarbageCollector(ctx)]
