"""``NamespaceController``: empties a namespace that is being deleted, then releases it.

A Namespace deleted through the API keeps existing while its ``spec.finalizers`` holds
``kubernetes``: the API server sets deletionTimestamp and status.phase Terminating and
refuses new content. For such a namespace, each reconcile (upstream's
``namespacedResourcesDeleter.Delete``):

1. reads the namespace live (a stale cache must not resurrect work), makes sure its phase
   is Terminating, and stops if ``kubernetes`` is no longer among its finalizers;
2. discovers every namespaced resource that can be deleted (custom resources included) and,
   per resource, deletes the collection with propagationPolicy Background (or each item
   when deletecollection is not served), then lists what is left;
3. writes the deletion conditions (``deletion.merge_conditions``) to status;
4. on errors raises (rate-limited retry); with content still terminating returns
   estimate/2+1 seconds to look again; otherwise removes ``kubernetes`` through
   ``PUT /api/v1/namespaces/<name>/finalize`` — the API server deletes the namespace once
   its spec.finalizers and metadata.finalizers are empty.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from kubepy import errors
from kubepy.api.registry import Registry, ResourceType
from kubepy.client.controller import Controller
from kubepy.client.rest import ApiClient
from kubepy.controllers.context import ControllerContext
from kubepy.controllers.discovery import discover, with_verbs
from kubepy.controllers.namespace import deletion

log = logging.getLogger("kubepy.controllers.namespace")

NAMESPACES: ResourceType = Registry().get("", "v1", "namespaces")  # type: ignore[assignment]
PODS: ResourceType = Registry().get("", "v1", "pods")  # type: ignore[assignment]
RESYNC_PERIOD = 300.0  # the namespace informer's resync (upstream: 5 minutes)
WORKERS = 10  # --concurrent-namespace-syncs

Obj = dict[str, Any]


class ContentRemaining(Exception):
    """Some content is still terminating; look again after ``estimate`` seconds."""

    def __init__(self, estimate: int) -> None:
        super().__init__(f"some content remains in the namespace, estimate {estimate} "
                         "seconds before it is removed")
        self.estimate = estimate


class NamespaceController(Controller):
    name = "namespace"

    def __init__(self, ctx: ControllerContext) -> None:
        self.ctx = ctx
        self.client: ApiClient = ctx.client
        self.namespaces = ctx.informers.informer(NAMESPACES, resync_period=RESYNC_PERIOD)
        super().__init__(name=self.name, workers=ctx.workers(self.name, WORKERS),
                         clock=ctx.clock, informers=[self.namespaces])
        self.namespaces.add_event_handler(self._on_namespace,
                                          lambda old, new: self._on_namespace(new), None)

    def _on_namespace(self, ns: Obj) -> None:
        if (ns.get("metadata") or {}).get("deletionTimestamp"):
            self.enqueue(ns)

    async def reconcile(self, key: str) -> float | None:
        try:
            ns = await self.client.get(NAMESPACES, key)
        except errors.NotFound:
            return None
        meta = ns.get("metadata") or {}
        if not meta.get("deletionTimestamp"):
            return None
        if (ns.get("status") or {}).get("phase") != "Terminating":
            new = copy.deepcopy(ns)
            new.setdefault("status", {})["phase"] = "Terminating"
            try:
                ns = await self.client.update_status(NAMESPACES, new)
            except errors.NotFound:
                return None
        if deletion.NAMESPACE_FINALIZER not in ((ns.get("spec") or {}).get("finalizers") or []):
            return None
        try:
            await self.delete_all_content(ns)
        except ContentRemaining as e:
            return deletion.requeue_after(e.estimate)
        await self.finalize(ns)
        return None

    # ------------------------------------------------------------------ content

    async def delete_all_content(self, ns: Obj) -> None:
        """Delete everything in the namespace; raise ContentRemaining or the errors."""
        name = ns["metadata"]["name"]
        deleted_at = ns["metadata"].get("deletionTimestamp")
        found = await discover(self.client)
        resources = with_verbs(found.resources, "delete", namespaced=True)
        errs: list[str] = []
        estimate = 0
        remaining: dict[ResourceType, int] = {}
        finalizers: dict[str, int] = {}
        for rt in resources:
            try:
                outcome = await self.delete_resource_content(rt, name, deleted_at)
            except Exception as e:  # noqa: BLE001 - the other resources still go
                errs.append(str(e) or repr(e))
                continue
            if outcome.error:
                errs.append(outcome.error)
            estimate = max(estimate, outcome.estimate)
            if outcome.remaining:
                remaining[rt] = outcome.remaining
                for fin, n in outcome.finalizers.items():
                    finalizers[fin] = finalizers.get(fin, 0) + n
        now = self.clock.now()
        failing = deletion.deletion_conditions(
            discovery_error=found.error_message(), discovery_failed_groups=len(found.failed),
            content_errors=errs, remaining=remaining, finalizers=finalizers, now=now)
        await self._write_conditions(name, failing)
        problems = ([found.error_message()] if found.failed else []) + errs
        if problems:
            raise RuntimeError("; ".join(problems))
        if estimate > 0:
            raise ContentRemaining(estimate)

    async def delete_resource_content(self, rt: ResourceType, namespace: str,
                                      deleted_at: str | None) -> deletion.ContentOutcome:
        estimate = 0
        if (rt.group, rt.plural) == ("", "pods"):
            pods = (await self.client.list(PODS, namespace)).get("items") or []
            estimate = deletion.remaining_estimate(deletion.pods_grace_estimate(pods),
                                                   deleted_at, self.clock.now())
        if "list" not in rt.verbs:
            return deletion.ContentOutcome(estimate=estimate)
        collection_done = False
        if "deletecollection" in rt.verbs:
            try:
                await self.client.delete_collection(rt, namespace,
                                                    propagation_policy="Background")
                collection_done = True
            except (errors.MethodNotAllowed, errors.NotFound):
                collection_done = False
        if not collection_done:
            for item in (await self.client.list(rt, namespace)).get("items") or []:
                try:
                    await self.client.delete(rt, item["metadata"]["name"], namespace,
                                             propagation_policy="Background")
                except (errors.NotFound, errors.MethodNotAllowed):
                    pass
        try:
            items = (await self.client.list(rt, namespace)).get("items") or []
        except (errors.NotFound, errors.MethodNotAllowed):
            return deletion.ContentOutcome(estimate=estimate)
        return deletion.content_outcome(rt, namespace, items, estimate)

    async def _write_conditions(self, name: str, failing: list[Obj]) -> None:
        for _ in range(3):
            try:
                ns = await self.client.get(NAMESPACES, name)
                conditions, changed = deletion.merge_conditions(
                    (ns.get("status") or {}).get("conditions") or [], failing, self.clock.now())
                if not changed:
                    return
                new = copy.deepcopy(ns)
                new.setdefault("status", {})["conditions"] = conditions
                await self.client.update_status(NAMESPACES, new)
                return
            except errors.Conflict:
                continue
            except errors.NotFound:
                return
            except Exception as e:  # noqa: BLE001 - upstream only logs this failure
                log.warning("couldn't update status condition for namespace %q: %s", name, e)
                return

    # ------------------------------------------------------------------ finalize

    async def finalize(self, ns: Obj) -> None:
        """Remove ``kubernetes`` from spec.finalizers (retrying on conflicts)."""
        uid = ns["metadata"].get("uid")
        while True:
            new = copy.deepcopy(ns)
            new.setdefault("spec", {})["finalizers"] = deletion.finalizers_after(
                (ns.get("spec") or {}).get("finalizers") or [])
            try:
                await self.client.update(NAMESPACES, new, subresource="finalize")
                return
            except errors.NotFound:
                return
            except errors.Conflict:
                try:
                    ns = await self.client.get(NAMESPACES, ns["metadata"]["name"])
                except errors.NotFound:
                    return
                if ns["metadata"].get("uid") != uid:
                    raise RuntimeError("namespace uid has changed across retries")


def new_controllers(ctx: ControllerContext) -> list[Controller]:
    return [NamespaceController(ctx)]
