"""The persistent-volume controller: two level-triggered loops over one set of caches.

``ClaimBinder`` (keys ``ns/name``) binds claims to volumes and keeps bound claims honest
(Lost when their volume is gone or taken); ``VolumeBinder`` (keys = volume names) keeps
volume phases right (Available, Bound, Released, Failed) and releases volumes whose claim
went away. Decisions come from ``logic``; these classes read caches, write through the
API and record Events as ``persistentvolume-controller``.

Binding writes, in order, the volume's claimRef, its Bound phase, the claim's volumeName
and annotations, the claim's Bound status; each step is skipped when already done, so a
retry after a conflict resumes where it stopped. Objects this process just wrote are
remembered (``_Assumed``) until the informer catches up, so back-to-back claims never
choose the same volume from a stale cache.

WaitForFirstConsumer: a claim of such a class waits until a pod using it is on a node
(its ``spec.nodeName``, or the claim's ``volume.kubernetes.io/selected-node``), then binds
a volume whose node affinity admits that node. Pending claims are re-examined every
``RESYNC_SECONDS``.
"""

from __future__ import annotations

import logging
from typing import Any

from kubepy import errors
from kubepy.api.quota import claim_class
from kubepy.api.registry import Registry, ResourceType
from kubepy.client.controller import Controller
from kubepy.client.informer import Informer
from kubepy.client.store import split_key
from kubepy.controllers.context import ControllerContext
from kubepy.controllers.pvbinder import logic

log = logging.getLogger("kubepy.controllers.pvbinder")

_REG = Registry()
PVS: ResourceType = _REG.get("", "v1", "persistentvolumes")  # type: ignore[assignment]
PVCS: ResourceType = _REG.get("", "v1", "persistentvolumeclaims")  # type: ignore[assignment]
PODS: ResourceType = _REG.get("", "v1", "pods")  # type: ignore[assignment]
NODES: ResourceType = _REG.get("", "v1", "nodes")  # type: ignore[assignment]
STORAGE_CLASSES: ResourceType = _REG.get(  # type: ignore[assignment]
    "storage.k8s.io", "v1", "storageclasses")

COMPONENT = "persistentvolume-controller"
RESYNC_SECONDS = 15.0
POD_CLAIMS_INDEX = "pvbinder.claims"
CLAIM_REF_INDEX = "pvbinder.claimref"

Obj = dict[str, Any]


def pod_claim_keys(pod: Obj) -> list[str]:
    """``ns/claim`` of every claim a pod mounts (generic ephemeral ones included)."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    ns, out = meta.get("namespace", ""), []
    for v in spec.get("volumes") or []:
        name = (v.get("persistentVolumeClaim") or {}).get("claimName")
        if name:
            out.append(f"{ns}/{name}")
        elif v.get("ephemeral") is not None:
            out.append(f"{ns}/{meta.get('name', '')}-{v.get('name', '')}")
    return out


def _claim_ref_index(pv: Obj) -> list[str]:
    key = logic.claim_ref_key(pv)
    return [key] if key else []


def _rv(obj: Obj) -> int:
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


class _Assumed:
    """Objects this controller wrote, newer than the informer's copy until it catches up
    (the controller only updates, so an object missing from the cache is gone)."""

    def __init__(self, informer: Informer) -> None:
        self.informer = informer
        self.written: dict[str, Obj] = {}

    def remember(self, key: str, obj: Obj) -> None:
        self.written[key] = obj

    def get(self, key: str) -> Obj | None:
        cached = self.informer.store.get(key)
        mine = self.written.get(key)
        if mine is None:
            return cached
        if cached is None or _rv(cached) >= _rv(mine):
            del self.written[key]
            return cached
        return mine

    def list(self) -> list[Obj]:
        return [obj for key in self.informer.store.keys() if (obj := self.get(key)) is not None]


class _Shared:
    """Informers and caches both loops use."""

    def __init__(self, ctx: ControllerContext) -> None:
        self.ctx = ctx
        self.client = ctx.client
        self.recorder = ctx.recorder_for(COMPONENT)
        self.pvs = ctx.informers.informer(PVS)
        self.pvcs = ctx.informers.informer(PVCS)
        self.pods = ctx.informers.informer(PODS)
        self.classes = ctx.informers.informer(STORAGE_CLASSES)
        self.nodes = ctx.informers.informer(NODES)
        self.pods.add_indexer(POD_CLAIMS_INDEX, pod_claim_keys)
        self.pvs.add_indexer(CLAIM_REF_INDEX, _claim_ref_index)
        self.volumes = _Assumed(self.pvs)
        self.claims = _Assumed(self.pvcs)

    @property
    def informer_list(self) -> list[Informer]:
        return [self.pvs, self.pvcs, self.pods, self.classes, self.nodes]

    def pending_claim_keys(self) -> list[str]:
        return [logic.claim_key(c) for c in self.pvcs.store.list()
                if not logic.is_bind_completed(c)]

    async def update_volume(self, pv: Obj, *, status: bool = False) -> Obj:
        written = await (self.client.update_status(PVS, pv) if status
                         else self.client.update(PVS, pv))
        self.volumes.remember(written["metadata"]["name"], written)
        return written

    async def update_claim(self, claim: Obj, *, status: bool = False) -> Obj:
        written = await (self.client.update_status(PVCS, claim) if status
                         else self.client.update(PVCS, claim))
        self.claims.remember(logic.claim_key(written), written)
        return written


class ClaimBinder(Controller):
    name = "persistentvolume-binder-claims"

    def __init__(self, shared: _Shared, workers: int = 1) -> None:
        self.s = shared
        super().__init__(name=self.name, workers=workers, clock=shared.ctx.clock,
                         informers=shared.informer_list)
        shared.pvcs.add_event_handler(self.enqueue, lambda old, new: self.enqueue(new),
                                      self.enqueue)
        shared.pvs.add_event_handler(self._volume_changed,
                                     lambda old, new: self._volume_changed(new),
                                     self._volume_changed)
        shared.pods.add_event_handler(self._pod_changed, lambda old, new: self._pod_changed(new),
                                      None)
        shared.classes.add_event_handler(self._class_changed,
                                         lambda old, new: self._class_changed(new), None)

    # -- handlers (enqueue only)
    def _volume_changed(self, pv: Obj) -> None:
        key = logic.claim_ref_key(pv)
        if key:
            self.enqueue_key(key)
        elif (pv.get("status") or {}).get("phase") == "Available":
            for claim_key in self.s.pending_claim_keys():  # new capacity: retry waiting claims
                self.enqueue_key(claim_key)

    def _pod_changed(self, pod: Obj) -> None:
        for key in pod_claim_keys(pod):
            claim = self.s.pvcs.store.get(key)
            if claim is not None and not logic.is_bind_completed(claim):
                self.enqueue_key(key)

    def _class_changed(self, sc: Obj) -> None:
        for key in self.s.pending_claim_keys():
            self.enqueue_key(key)

    # -- reconcile
    def _storage_class(self, claim: Obj) -> Obj | None:
        name = claim_class(claim)
        return self.s.classes.store.get(name) if name else None

    def _node_for(self, claim: Obj,
                  storage_class: Obj | None) -> tuple[logic.Node | None, list[str]]:
        """The node a WaitForFirstConsumer claim binds for, and the unscheduled pods
        waiting on it."""
        selected = ((claim.get("metadata") or {}).get("annotations") or {}).get(
            logic.ANN_SELECTED_NODE)
        node_name = selected
        waiting: list[str] = []
        if logic.is_delay_binding(storage_class):
            for pod in sorted(self.s.pods.store.by_index(POD_CLAIMS_INDEX, logic.claim_key(claim)),
                              key=lambda p: p["metadata"].get("creationTimestamp") or ""):
                if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed") or \
                        pod["metadata"].get("deletionTimestamp"):
                    continue
                on = (pod.get("spec") or {}).get("nodeName")
                if on and node_name is None:
                    node_name = on
                elif not on:
                    waiting.append(pod["metadata"]["name"])
        if node_name is None:
            return None, waiting
        node = self.s.nodes.store.get(node_name) or {}
        labels = dict((node.get("metadata") or {}).get("labels") or {})
        return logic.Node(node_name, labels), waiting

    async def reconcile(self, key: str) -> float | None:
        claim = self.s.claims.get(key)
        if claim is None:
            return None
        storage_class = self._storage_class(claim)
        node, waiting = self._node_for(claim, storage_class)
        volumes = {v["metadata"]["name"]: v for v in self.s.volumes.list()}
        decision = logic.decide_claim(claim, volumes, storage_class, node=node,
                                      waiting_pods=waiting)
        if decision.event is not None:
            self.s.recorder.event(claim, *decision.event)
        if decision.action == "bind" and decision.volume is not None:
            await self._bind(claim, decision.volume)
            return None
        if decision.action == "provision" and decision.provisioner:
            annotated = logic.provisioning_claim(claim, decision.provisioner,
                                                 decision.selected_node)
            if annotated is not None:
                claim = await self.s.update_claim(annotated)
        phase = "Lost" if decision.action == "lost" else "Pending"
        await self._set_phase(claim, phase)
        return RESYNC_SECONDS if phase == "Pending" else None

    async def _set_phase(self, claim: Obj, phase: str) -> None:
        status = claim.get("status") or {}
        if status.get("phase") == phase:
            return
        new_status = {**status, "phase": phase}
        if phase == "Lost":  # a lost claim no longer reports the volume's size and modes
            new_status.pop("capacity", None)
            new_status.pop("accessModes", None)
        await self.s.update_claim({**claim, "status": new_status}, status=True)

    async def _bind(self, claim: Obj, pv: Obj) -> None:
        new_pv = logic.bind_volume(pv, claim)
        if new_pv is not None:
            pv = await self.s.update_volume(new_pv)
        if (pv.get("status") or {}).get("phase") != "Bound":
            pv = await self.s.update_volume(
                {**pv, "status": {**(pv.get("status") or {}), "phase": "Bound"}}, status=True)
        new_claim = logic.bind_claim(claim, pv)
        if new_claim is not None:
            claim = await self.s.update_claim(new_claim)
        status = logic.bound_claim_status(claim, pv)
        if status is not None:
            await self.s.update_claim({**claim, "status": status}, status=True)


class VolumeBinder(Controller):
    name = "persistentvolume-binder-volumes"

    def __init__(self, shared: _Shared, claims: ClaimBinder, workers: int = 1) -> None:
        self.s = shared
        self.claim_loop = claims
        super().__init__(name=self.name, workers=workers, clock=shared.ctx.clock,
                         informers=shared.informer_list)
        shared.pvs.add_event_handler(*self.handlers())
        shared.pvcs.add_event_handler(self._claim_changed,
                                      lambda old, new: self._claim_changed(new),
                                      self._claim_changed)

    def _claim_changed(self, claim: Obj) -> None:
        name = (claim.get("spec") or {}).get("volumeName")
        if name:
            self.enqueue_key(name)
        for pv in self.s.pvs.store.by_index(CLAIM_REF_INDEX, logic.claim_key(claim)):
            self.enqueue(pv)

    async def _claim_of(self, pv: Obj) -> Obj | None:
        key = logic.claim_ref_key(pv)
        if key is None:
            return None
        claim = self.s.claims.get(key)
        phase = (pv.get("status") or {}).get("phase")
        if claim is None and phase not in ("Released", "Failed"):
            ns, name = split_key(key)
            try:  # the cache may lag behind a claim just created: ask before releasing
                claim = await self.s.client.get(PVCS, name, ns)
            except errors.NotFound:
                claim = None
        return claim

    async def reconcile(self, key: str) -> float | None:
        pv = self.s.volumes.get(key)
        if pv is None:
            return None
        decision = logic.decide_volume(pv, await self._claim_of(pv))
        if decision.unbind:
            pv = await self.s.update_volume(logic.unbind_volume(pv))
        if decision.phase is not None:
            status = {**(pv.get("status") or {}), "phase": decision.phase}
            status.pop("message", None)
            if decision.message:
                status["message"] = decision.message
            await self.s.update_volume({**pv, "status": status}, status=True)
        if decision.event is not None:
            self.s.recorder.event(pv, *decision.event)
        if decision.enqueue_claim:
            ref_key = logic.claim_ref_key(pv)
            if ref_key:
                self.claim_loop.enqueue_key(ref_key)
        return None


def new_controllers(ctx: ControllerContext) -> list[Controller]:
    shared = _Shared(ctx)
    claims = ClaimBinder(shared)
    return [claims, VolumeBinder(shared, claims)]


__all__ = ["ClaimBinder", "VolumeBinder", "new_controllers", "pod_claim_keys"]
