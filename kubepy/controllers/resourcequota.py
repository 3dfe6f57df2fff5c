"""The ResourceQuota controller: keeps every quota's ``status.hard`` equal to ``spec.hard``
and ``status.used`` equal to what the objects in its namespace charge (the counting rules
are ``kubepy.api.quota``'s).

A quota is recomputed when it is created or its ``spec.hard`` changes, when an object it
counts is created or deleted or changes what it charges (a pod finishing, a service
changing type, a claim growing), and every ``FULL_RESYNC_SECONDS`` (5 minutes, as
kube-controller-manager's ``--resource-quota-sync-period``). Informers for the counted
resources are started on demand, the first time some quota names them, so a cluster
without quotas watches nothing extra; resources outside the built-in registry (custom
resources named in ``count/<plural>.<group>``) are found through discovery.

Admission (``kubepy.api.quota.admit`` in the apiserver) charges new objects at once; this
controller corrects the numbers (and returns what deleted objects held).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kubepy import errors
from kubepy.api import quota
from kubepy.api.registry import Registry, ResourceType
from kubepy.client.controller import Controller
from kubepy.client.informer import Informer
from kubepy.client.rest import ApiClient
from kubepy.client.store import NAMESPACE_INDEX
from kubepy.controllers.context import ControllerContext

log = logging.getLogger("kubepy.controllers.resourcequota")

_REG = Registry()
RESOURCE_QUOTAS: ResourceType = _REG.get("", "v1", "resourcequotas")  # type: ignore[assignment]
FULL_RESYNC_SECONDS = 300.0
SYNC_TIMEOUT = 30.0

Obj = dict[str, Any]
GroupResource = tuple[str, str]


def _hard_names(q: Obj) -> list[str]:
    return list(((q.get("spec") or {}).get("hard")) or {})


def status_is_current(q: Obj) -> bool:
    """status.hard matches spec.hard and every hard resource has a usage figure."""
    status = q.get("status") or {}
    hard = ((q.get("spec") or {}).get("hard")) or {}
    used = status.get("used") or {}
    return quota.lists_equal(status.get("hard"), hard) and all(name in used for name in hard)


async def resolve_resource(client: ApiClient, group: str, resource: str) -> ResourceType | None:
    """The ResourceType of group/resource in its preferred version: the built-in registry
    first, then the server's discovery (custom resources); None if not served."""
    versions = _REG.groups().get(group, [])
    for version in versions:
        rt = _REG.get(group, version, resource)
        if rt is not None:
            return rt
    if not group:
        return None
    try:
        doc = await client.request("GET", f"/apis/{group}")
        group_version = ((doc or {}).get("preferredVersion") or {}).get("groupVersion")
        if not group_version:
            return None
        listing = await client.request("GET", f"/apis/{group_version}")
    except errors.StatusError:
        return None
    for r in (listing or {}).get("resources") or []:
        if r.get("name") == resource:
            return ResourceType(group, group_version.split("/", 1)[1], resource, r.get("kind", ""),
                                bool(r.get("namespaced")), custom=True)
    return None


class ResourceQuotaController(Controller):
    name = "resourcequota"

    def __init__(self, ctx: ControllerContext, workers: int | None = None) -> None:
        self.ctx = ctx
        self.quotas: Informer = ctx.informers.informer(RESOURCE_QUOTAS)
        super().__init__(name=self.name, workers=workers or ctx.workers(self.name, 2),
                         clock=ctx.clock, informers=[self.quotas])
        self.quotas.add_event_handler(self.enqueue, self._quota_updated, None)
        self.monitors: dict[GroupResource, Informer] = {}
        self._unresolvable: set[GroupResource] = set()
        self._monitor_lock = asyncio.Lock()

    # -- handlers (enqueue only)
    def _quota_updated(self, old: Obj, new: Obj) -> None:
        if not quota.lists_equal((old.get("spec") or {}).get("hard"),
                                 (new.get("spec") or {}).get("hard")) or not status_is_current(new):
            self.enqueue(new)

    def _quotas_counting(self, gr: GroupResource, obj: Obj) -> list[Obj]:
        """The quotas of obj's namespace that count objects of this kind."""
        namespace = (obj.get("metadata") or {}).get("namespace")
        if not namespace:
            return []
        return [q for q in self.quotas.store.by_index(NAMESPACE_INDEX, namespace)
                if gr in quota.tracked_resources(_hard_names(q))]

    def _replenish(self, gr: GroupResource, obj: Obj) -> None:
        for q in self._quotas_counting(gr, obj):
            self.enqueue(q)

    def _monitor_handlers(self, gr: GroupResource) -> tuple[Any, Any, Any]:
        def changed(old: Obj, new: Obj) -> None:
            affected = self._quotas_counting(gr, new)
            if not affected:
                return
            now = self.clock.now()
            if quota.to_strings(quota.usage(old, *gr, now)) != \
                    quota.to_strings(quota.usage(new, *gr, now)):
                for q in affected:
                    self.enqueue(q)
        return (lambda obj: self._replenish(gr, obj), changed, lambda obj: self._replenish(gr, obj))

    async def _monitor(self, gr: GroupResource) -> Informer | None:
        """The (started) informer counting group/resource, created on first use."""
        if gr in self.monitors:
            return self.monitors[gr]
        if gr in self._unresolvable or gr in quota.IGNORED_RESOURCES:
            return None
        async with self._monitor_lock:
            if gr in self.monitors:
                return self.monitors[gr]
            rt = await resolve_resource(self.ctx.client, *gr)
            if rt is None or not rt.namespaced or "list" not in rt.verbs or "watch" not in rt.verbs:
                self._unresolvable.add(gr)
                return None
            inf = self.ctx.informers.informer(rt)
            inf.add_event_handler(*self._monitor_handlers(gr))
            inf.start()  # a no-op when the factory already runs it
            self.monitors[gr] = inf
            return inf

    # -- reconcile
    async def reconcile(self, key: str) -> float | None:
        q = self.quotas.store.get(key)
        if q is None:
            return None
        namespace = q["metadata"].get("namespace", "")
        objects: dict[GroupResource, list[Obj]] = {}
        for gr in sorted(quota.tracked_resources(_hard_names(q))):
            inf = await self._monitor(gr)
            if inf is None:
                continue
            await asyncio.wait_for(inf.has_synced.wait(), SYNC_TIMEOUT)
            objects[gr] = inf.store.by_index(NAMESPACE_INDEX, namespace)
        try:
            try:
                await self._write_status(q, objects)
            except errors.Conflict:  # the cache lags behind a write (often our own): re-read
                fresh = await self.ctx.client.get(RESOURCE_QUOTAS, q["metadata"]["name"],
                                                  namespace)
                await self._write_status(fresh, objects)
        except errors.NotFound:
            return None
        return FULL_RESYNC_SECONDS

    async def _write_status(self, q: Obj, objects: dict[GroupResource, list[Obj]]) -> None:
        status = quota.quota_status(q, objects, self.clock.now())
        if quota.status_needs_update(q, status):
            await self.ctx.client.update_status(RESOURCE_QUOTAS, {**q, "status": status})


def new_controllers(ctx: ControllerContext) -> list[Controller]:
    return [ResourceQuotaController(ctx)]
