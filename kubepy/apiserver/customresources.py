"""Serving custom resources: the apiextensions-apiserver's part inside kubepy's apiserver.

``CustomResources`` follows the CustomResourceDefinitions in the watch cache. For each CRD
it registers one ResourceType per served version (discovery, OpenAPI and the handlers
then serve it like any other resource, stored under ``/registry/<group>/<plural>/``),
writes the CRD's status (NamesAccepted, Established, acceptedNames, storedVersions) and
keeps the ``customresourcecleanup`` finalizer on it. When a CRD is deleted, its custom
resources are deleted first, then the finalizer is removed and the types unregistered.

This is the CRD controller of the apiserver process itself (as in Kubernetes, where the
apiextensions-apiserver runs inside kube-apiserver), so it may use the object layer.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import Any, Callable

from kubepy import errors
from kubepy.api import crd as crds
from kubepy.api.registry import Registry, ResourceType
from kubepy.apiserver.objects import DeleteOptions, Objects, WriteOptions, now_rfc3339
from kubepy.apiserver.watchcache import CacheHub, Watcher

log = logging.getLogger("kubepy.apiserver.crd")
Obj = dict[str, Any]
_CRD_PREFIX = "/registry/apiextensions.k8s.io/customresourcedefinitions/"
_OPTS = WriteOptions(field_manager="kube-apiserver")


class CustomResources:
    def __init__(self, registry: Registry, hub: CacheHub, objects: Objects,
                 on_change: Callable[[], None] = lambda: None, *, writer: bool = True):
        self.writer = writer  # False in extra apiserver workers: they only serve
        self.registry = registry
        self.hub = hub
        self.objects = objects
        self.on_change = on_change  # e.g. refresh the OpenAPI documents
        self.crd_type = registry.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        self._served: dict[str, list[ResourceType]] = {}  # CRD name -> its types
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Register what exists now (before the server answers), then follow changes."""
        cache = self.hub.cache_for(_CRD_PREFIX)
        watcher = Watcher(_CRD_PREFIX, lambda ev: True)
        for obj in list(cache.objects.values()):
            self._register(obj)
        cache.watchers.add(watcher)
        self._task = asyncio.create_task(self._follow(watcher), name="crd-controller")
        for obj in list(cache.objects.values()):
            await self._reconcile(obj["metadata"]["name"])

    async def _follow(self, watcher: Watcher) -> None:
        while True:
            ev = await watcher.queue.get()
            if ev is None:
                return
            name = ev.obj["metadata"]["name"]
            try:
                if ev.type == "DELETED":
                    self._unregister(name)
                else:
                    self._register(ev.obj)
                    await self._reconcile(name)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reconciling CustomResourceDefinition %s", name)

    def _register(self, crd: Obj) -> None:
        name = crd["metadata"]["name"]
        if crd["metadata"].get("deletionTimestamp"):
            return  # still served while its resources are cleaned up
        types = crds.resource_types(crd)
        for old in self._served.get(name, []):
            if all(old.version != t.version for t in types):
                self.registry.remove(old.group, old.version, old.plural)
        for rt in types:
            self.registry.add(rt)
            self.hub.adopt(rt.key_prefix)
        self._served[name] = types
        self.on_change()

    def _unregister(self, name: str) -> None:
        for rt in self._served.pop(name, []):
            self.registry.remove(rt.group, rt.version, rt.plural)
        self.on_change()

    async def _reconcile(self, name: str) -> None:
        if not self.writer:
            return
        assert self.crd_type is not None
        crd = self.objects.cached(self.crd_type, None, name)
        if crd is None:
            return
        meta = crd["metadata"]
        if meta.get("deletionTimestamp"):
            if crds.CLEANUP_FINALIZER in (meta.get("finalizers") or []):
                await self._cleanup(crd)
            return
        if crds.CLEANUP_FINALIZER not in (meta.get("finalizers") or []):
            def add_finalizer(current: Obj) -> Obj:
                new = copy.deepcopy(current)
                new["metadata"].setdefault("finalizers", []).append(crds.CLEANUP_FINALIZER)
                return new
            await self.objects.guaranteed_update(self.crd_type, None, name, add_finalizer,
                                                 _OPTS)
        crd = self.objects.cached(self.crd_type, None, name) or crd
        status = crd.get("status") or {}
        wanted = crds.established_status(crd, now_rfc3339())
        if status.get("acceptedNames") != wanted["acceptedNames"] or not _established(status):
            def set_status(current: Obj) -> Obj:
                new = copy.deepcopy(current)
                new["status"] = {**(current.get("status") or {}), **wanted}
                return new
            await self.objects.guaranteed_update(self.crd_type, None, name, set_status, _OPTS,
                                                 subresource="status")

    async def _cleanup(self, crd: Obj) -> None:
        """Delete every custom resource of the CRD, then let the CRD go."""
        name = crd["metadata"]["name"]
        for rt in self._served.get(name, []):
            cache = self.hub.cache_for(rt.key_prefix)
            for key, obj in list(cache.objects.items()):
                meta = obj["metadata"]
                try:
                    await self.objects.delete(rt, meta.get("namespace"), meta["name"],
                                              DeleteOptions())
                except errors.NotFound:
                    pass
            break  # all versions share one storage prefix

        def drop_finalizer(current: Obj) -> Obj:
            new = copy.deepcopy(current)
            new["metadata"]["finalizers"] = [f for f in new["metadata"].get("finalizers") or []
                                             if f != crds.CLEANUP_FINALIZER]
            return new
        assert self.crd_type is not None
        await self.objects.guaranteed_update(self.crd_type, None, name, drop_finalizer, _OPTS)

    def openapi_schemas(self) -> dict[str, Any]:
        """"<group>/<version>/<Kind>" -> openAPIV3Schema of every served custom version."""
        out: dict[str, Any] = {}
        for crd in self.hub.cache_for(_CRD_PREFIX).objects.values():
            spec = crd.get("spec") or {}
            kind = (spec.get("names") or {}).get("kind", "")
            for v in spec.get("versions") or []:
                schema = (v.get("schema") or {}).get("openAPIV3Schema")
                if v.get("served", True) and schema:
                    out[f"{spec.get('group')}/{v['name']}/{kind}"] = schema
        return out

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass


def _established(status: Obj) -> bool:
    return any(c.get("type") == "Established" and c.get("status") == "True"
               for c in status.get("conditions") or [])
