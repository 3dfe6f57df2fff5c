"""The DaemonSet controller: per DaemonSet, reads nodes, its pods and ControllerRevisions
from the shared caches, asks ``logic.plan`` what to create and delete, and writes through
the API with the Events upstream records (``Created pod: fluentd-x7k2p`` SuccessfulCreate,
``Deleted pod: ...`` SuccessfulDelete, ``Found failed daemon pod ns/p on node n, will try to
kill it`` FailedDaemonPod).

Pods are created with generateName, so ``ControllerExpectations`` (podcontrol) hold the
DaemonSet back until the cache has seen its own creations and deletions. Node changes re-check every DaemonSet.
"""

from __future__ import annotations

import logging
from typing import Any

from kubepy import errors
from kubepy.api.labels import selector_from_label_selector
from kubepy.api.registry import Registry, ResourceType
from kubepy.client.controller import Controller
from kubepy.client.events import NORMAL, WARNING, EventRecorder
from kubepy.client.informer import DeletedFinalStateUnknown
from kubepy.client.store import controller_owner_uid_index, split_key
from kubepy.controllers import history
from kubepy.controllers.daemonset import logic
from kubepy.controllers.podcontrol import (CONTROLLER_UID_INDEX, ControllerExpectations,
                                           owner_key, seconds_until_available)

log = logging.getLogger("kubepy.controllers.daemonset")
Obj = dict[str, Any]
_REG = Registry()
DAEMONSETS: ResourceType = _REG.get("apps", "v1", "daemonsets")  # type: ignore[assignment]
PODS: ResourceType = _REG.get("", "v1", "pods")  # type: ignore[assignment]
NODES: ResourceType = _REG.get("", "v1", "nodes")  # type: ignore[assignment]


class DaemonSetController(Controller):
    name = "daemonset-controller"

    def __init__(self, client: Any, informers: Any, recorder: EventRecorder, *, clock: Any,
                 workers: int = 2) -> None:
        self.sets = informers.informer(DAEMONSETS)
        self.pods = informers.informer(PODS)
        self.nodes = informers.informer(NODES)
        self.revisions = informers.informer(history.CONTROLLER_REVISIONS)
        super().__init__(workers=workers, clock=clock,
                         informers=[self.sets, self.pods, self.nodes, self.revisions])
        self.client, self.recorder = client, recorder
        self.expectations = ControllerExpectations(self.clock.monotonic)
        for inf in (self.pods, self.revisions):
            inf.add_indexer(CONTROLLER_UID_INDEX, controller_owner_uid_index)
        self.sets.add_event_handler(*self.handlers())
        self.pods.add_event_handler(self._on_pod_add, lambda old, new: self._on_owned(new),
                                    self._on_pod_delete)
        self.revisions.add_event_handler(self._on_owned, lambda old, new: self._on_owned(new),
                                         self._on_owned)
        self.nodes.add_event_handler(self._on_node, self._on_node_update, self._on_node)

    def _on_owned(self, obj: Obj) -> None:
        key = owner_key(obj, "DaemonSet")
        if key is not None:
            self.enqueue_key(key)

    def _on_pod_add(self, pod: Obj) -> None:
        key = owner_key(pod, "DaemonSet")
        if key is not None:
            self.expectations.creation_observed(key)
            self.enqueue_key(key)

    def _on_pod_delete(self, pod: Obj) -> None:
        key = owner_key(pod, "DaemonSet")
        if key is not None:
            self.expectations.deletion_observed(key, pod["metadata"]["name"])
            self.enqueue_key(key)

    def _on_node(self, node: Obj) -> None:
        for ds in self.sets.store.list():
            self.enqueue(ds)

    def _on_node_update(self, old: Obj, new: Obj) -> None:
        if isinstance(old, DeletedFinalStateUnknown) or \
                old.get("metadata", {}).get("labels") != new["metadata"].get("labels") or \
                (old.get("spec") or {}).get("taints") != (new.get("spec") or {}).get("taints"):
            self._on_node(new)

    # ------------------------------------------------------------------ reconcile

    async def reconcile(self, key: str) -> float | None:
        ds = self.sets.store.get(key)
        if ds is None:
            self.expectations.delete(key)
            return None
        ns, name = split_key(key)
        uid = ds["metadata"]["uid"]
        selector = selector_from_label_selector(ds["spec"].get("selector"))
        pods = [p for p in self.pods.store.by_index(CONTROLLER_UID_INDEX, uid)
                if selector.matches(p["metadata"].get("labels") or {})]
        revisions = history.owned_revisions(
            self.revisions.store.by_index(CONTROLLER_UID_INDEX, uid), uid)
        revision, collision = await history.ensure_revision(
            self.client, ds, revisions, api_version=logic.API_VERSION, kind=logic.KIND,
            hash_label=history.POD_REVISION_LABEL)
        hash_ = revision["metadata"]["labels"][history.POD_REVISION_LABEL]
        nodes = self.nodes.store.list()
        now = self.clock.now()

        if self.expectations.satisfied(key) and not ds["metadata"].get("deletionTimestamp"):
            plan = logic.plan(ds, nodes, pods, hash_, now)
            for pod_name, node in plan.failed:
                self.recorder.event(ds, WARNING, "FailedDaemonPod",
                                    f"Found failed daemon pod {ns}/{pod_name} on node {node}, "
                                    "will try to kill it")
            await self._create(ds, key, plan.create, hash_)
            await self._delete(ds, key, plan.delete)

        status = logic.compute_status(ds, nodes, pods, hash_, now, collision)
        old = ds.get("status") or {}
        if any(old.get(k) != v for k, v in status.items()):
            try:
                await self.client.patch(DAEMONSETS, name, {"status": status}, namespace=ns,
                                        subresource="status")
            except errors.NotFound:
                return None
        live = {revision["metadata"]["name"]} | {
            r["metadata"]["name"] for r in revisions
            if r["metadata"].get("labels", {}).get(history.POD_REVISION_LABEL) in
            {p["metadata"].get("labels", {}).get(history.POD_REVISION_LABEL) for p in pods}}
        await history.prune_revisions(self.client, revisions, live,
                                      int(ds["spec"].get("revisionHistoryLimit", 10)))
        min_ready = int(ds["spec"].get("minReadySeconds") or 0)
        waits = [w for p in pods if (w := seconds_until_available(p, min_ready, now))
                 is not None]
        return min(waits) if waits else None

    async def _create(self, ds: Obj, key: str, nodes: list[str], hash_: str) -> None:
        if not nodes:
            return
        self.expectations.raise_expectations(key, adds=len(nodes))
        template = ds["spec"].get("template") or {}
        for node in nodes:
            pod = logic.new_pod(ds, template, node, hash_)
            try:
                created = await self.client.create(PODS, pod, ds["metadata"]["namespace"])
            except errors.StatusError as e:
                self.expectations.lower_expectations(key, adds=1)
                self.recorder.event(ds, WARNING, "FailedCreate", f"Error creating: {e}")
                if isinstance(e, errors.NotFound):  # namespace going away
                    return
                raise
            self.recorder.event(ds, NORMAL, "SuccessfulCreate",
                                f"Created pod: {created['metadata']['name']}")

    async def _delete(self, ds: Obj, key: str, names: list[str]) -> None:
        if not names:
            return
        self.expectations.raise_expectations(key, deletes=names)
        for pod_name in names:
            try:
                await self.client.delete(PODS, pod_name, ds["metadata"]["namespace"])
            except errors.NotFound:
                self.expectations.deletion_observed(key, pod_name)
                continue
            except errors.StatusError as e:
                self.expectations.lower_expectations(key, deletes=[pod_name])
                self.recorder.event(ds, WARNING, "FailedDelete", f"Error deleting: {e}")
                raise
            self.recorder.event(ds, NORMAL, "SuccessfulDelete", f"Deleted pod: {pod_name}")


def new_controllers(ctx: Any) -> list[Controller]:
    return [DaemonSetController(ctx.client, ctx.informers,
                                ctx.recorder_for("daemonset-controller"),
                                clock=ctx.clock, workers=ctx.workers("daemonset", 2))]


__all__ = ["DaemonSetController", "new_controllers"]
