"""The ReplicaSet controller (and, through ``WorkloadKind``, the ReplicationController one):
keep ``spec.replicas`` active pods matching the selector, and report them in status.

One reconcile of ``namespace/name`` (upstream's syncReplicaSet):

1. gone from the cache: forget its expectations;
2. claim pods: the namespace's active pods, adopting matching orphans and releasing owned
   pods that stopped matching (``podcontrol.claim``);
3. if its expectations are satisfied and it is not being deleted, create the missing pods
   (at most ``burst_replicas`` at once, in slow-start batches 1, 2, 4, ...) or delete the
   surplus ones (the best to lose first: ``podcontrol.pods_to_delete``), recording the
   expected creations/deletions so a lagging cache never causes a second round;
4. write status (replicas, fullyLabeledReplicas, readyReplicas, availableReplicas,
   observedGeneration, the ReplicaFailure condition) when it changed; with minReadySeconds,
   come back once pods that are ready become available.

Pure decisions are ``calculate_status`` and ``status_needs_update``; the controller only
reads its caches, calls them and writes through the API.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from kubepy import errors
from kubepy.api.labels import LabelSelector, selector_from_label_selector, selector_from_set
from kubepy.api.registry import Registry, ResourceType
from kubepy.client.controller import Controller
from kubepy.client.informer import Informer
from kubepy.client.store import NAMESPACE_INDEX, ORPHAN_NAMESPACE_INDEX, \
    controller_owner_uid_index, meta_key, orphan_namespace_index
from kubepy.controllers import podcontrol as pc
from kubepy.controllers.context import ControllerContext

log = logging.getLogger("kubepy.controllers.replicaset")

Obj = dict[str, Any]
_REG = Registry()
PODS: ResourceType = _REG.get("", "v1", "pods")  # type: ignore[assignment]
REPLICASETS: ResourceType = _REG.get("apps", "v1", "replicasets")  # type: ignore[assignment]
CONTROLLER_UID_INDEX = pc.CONTROLLER_UID_INDEX
STATUS_UPDATE_RETRIES = 1


@dataclass(frozen=True)
class WorkloadKind:
    """What differs between ReplicaSets and ReplicationControllers."""

    rt: ResourceType
    component: str  # controller name and Event source
    selector: Callable[[Obj], LabelSelector]


def _rs_selector(rs: Obj) -> LabelSelector:
    return selector_from_label_selector((rs.get("spec") or {}).get("selector"))


def rc_selector(rc: Obj) -> LabelSelector:
    """An RC's selector is a plain map; empty selects nothing (validation forbids it)."""
    sel = (rc.get("spec") or {}).get("selector") or {}
    return selector_from_set(sel) if sel else selector_from_label_selector(None)


REPLICASET = WorkloadKind(REPLICASETS, "replicaset-controller", _rs_selector)


# ---------------------------------------------------------------------------- pure

def spec_replicas(obj: Obj) -> int:
    replicas = (obj.get("spec") or {}).get("replicas")
    return 1 if replicas is None else int(replicas)


def calculate_status(rs: Obj, pods: list[Obj], now: datetime,
                     manage_error: str | None = None) -> Obj:
    """The new status of ``rs`` owning the active ``pods`` (observedGeneration excluded:
    ``status_needs_update`` decides and sets it). ``manage_error`` is the message of a
    failed create/delete round: it sets ReplicaFailure (FailedCreate/FailedDelete) unless
    one is already there; no error clears it."""
    status: Obj = copy.deepcopy(rs.get("status") or {})
    spec = rs.get("spec") or {}
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    min_ready = int(spec.get("minReadySeconds") or 0)
    fully_labeled = ready = available = 0
    for pod in pods:
        labels = (pod.get("metadata") or {}).get("labels") or {}
        if all(labels.get(k) == v for k, v in template_labels.items()):
            fully_labeled += 1
        if pc.is_pod_ready(pod):
            ready += 1
            if pc.is_pod_available(pod, min_ready, now):
                available += 1
    conditions = list(status.get("conditions") or [])
    failure = next((c for c in conditions if c.get("type") == "ReplicaFailure"), None)
    if manage_error is not None and failure is None:
        diff = len(pods) - spec_replicas(rs)
        reason = "FailedCreate" if diff < 0 else "FailedDelete" if diff > 0 else ""
        conditions.append({"type": "ReplicaFailure", "status": "True",
                           "lastTransitionTime": pc.format_time(now),
                           "reason": reason, "message": manage_error})
    elif manage_error is None and failure is not None:
        conditions = [c for c in conditions if c.get("type") != "ReplicaFailure"]
    if conditions:
        status["conditions"] = conditions
    else:
        status.pop("conditions", None)
    status["replicas"] = len(pods)
    status["fullyLabeledReplicas"] = fully_labeled
    status["readyReplicas"] = ready
    status["availableReplicas"] = available
    return status


def status_needs_update(rs: Obj, new_status: Obj) -> bool:
    """False in the steady state: same counts, same conditions, generation observed."""
    old = rs.get("status") or {}
    for f in ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas"):
        if int(old.get(f) or 0) != int(new_status.get(f) or 0):
            return True
    if (old.get("conditions") or []) != (new_status.get("conditions") or []):
        return True
    return int(old.get("observedGeneration") or 0) != int(
        (rs.get("metadata") or {}).get("generation") or 0)


# ---------------------------------------------------------------------------- controller

class ReplicaSetController(Controller):
    def __init__(self, ctx: ControllerContext, kind: WorkloadKind = REPLICASET, *,
                 burst_replicas: int = pc.BURST_REPLICAS) -> None:
        self.kind = kind
        self.client = ctx.client
        self.owner_informer: Informer = ctx.informers.informer(kind.rt)
        self.pod_informer: Informer = ctx.informers.informer(PODS)
        self.pod_informer.add_indexer(CONTROLLER_UID_INDEX, controller_owner_uid_index)
        self.pod_informer.add_indexer(ORPHAN_NAMESPACE_INDEX, orphan_namespace_index)
        self.owner_informer.add_indexer(CONTROLLER_UID_INDEX, controller_owner_uid_index)
        super().__init__(name=kind.component, workers=ctx.workers(kind.component, 5),
                         clock=ctx.clock, informers=[self.owner_informer, self.pod_informer])
        self.burst_replicas = burst_replicas
        self.recorder = ctx.recorder_for(kind.component)
        self.pod_control = pc.PodControl(ctx.client, self.recorder, PODS)
        self.expectations = pc.ControllerExpectations(self.clock.monotonic)
        self.owner_informer.add_event_handler(self._owner_added, self._owner_updated,
                                              self._owner_deleted)
        self.pod_informer.add_event_handler(self._pod_added, self._pod_updated,
                                            self._pod_deleted)

    # -- owner events
    def _owner_added(self, obj: Obj) -> None:
        self.enqueue(obj)

    def _owner_updated(self, old: Obj, new: Obj) -> None:
        self.enqueue(new)

    def _owner_deleted(self, obj: Obj) -> None:
        key = getattr(obj, "key", None) or meta_key(obj)
        self.expectations.delete(key)
        self.enqueue_key(key)

    # -- pod events
    def _resolve(self, namespace: str, ref: Obj | None) -> Obj | None:
        if ref is None or ref.get("kind") != self.kind.rt.kind:
            return None
        owner = self.owner_informer.store.get_by_name(namespace, ref.get("name", ""))
        if owner is None or owner["metadata"].get("uid") != ref.get("uid"):
            return None
        return owner

    def _owners_selecting(self, pod: Obj) -> list[Obj]:
        meta = pod.get("metadata") or {}
        labels = meta.get("labels") or {}
        found = []
        for owner in self.owner_informer.store.by_index(NAMESPACE_INDEX, meta.get("namespace", "")):
            try:
                if self.kind.selector(owner).matches(labels):
                    found.append(owner)
            except errors.StatusError:
                continue
        return found

    def _pod_added(self, pod: Obj) -> None:
        meta = pod["metadata"]
        if meta.get("deletionTimestamp"):
            self._pod_deleted(pod)  # a restarted controller may see a pod already terminating
            return
        ref = pc.controller_of(pod)
        if ref is not None:
            owner = self._resolve(meta.get("namespace", ""), ref)
            if owner is not None:
                key = meta_key(owner)
                self.expectations.creation_observed(key)
                self.enqueue_key(key)
            return
        for owner in self._owners_selecting(pod):
            self.enqueue(owner)

    def _pod_updated(self, old: Obj, cur: Obj) -> None:
        if old["metadata"].get("resourceVersion") == cur["metadata"].get("resourceVersion"):
            return
        labels_changed = old["metadata"].get("labels") != cur["metadata"].get("labels")
        if cur["metadata"].get("deletionTimestamp"):
            self._pod_deleted(cur)
            if labels_changed:
                self._pod_deleted(old)
            return
        ns = cur["metadata"].get("namespace", "")
        cur_ref, old_ref = pc.controller_of(cur), pc.controller_of(old)
        ref_changed = cur_ref != old_ref
        if ref_changed and old_ref is not None:
            owner = self._resolve(ns, old_ref)
            if owner is not None:
                self.enqueue(owner)
        if cur_ref is not None:
            owner = self._resolve(ns, cur_ref)
            if owner is None:
                return
            self.enqueue(owner)
            min_ready = int((owner.get("spec") or {}).get("minReadySeconds") or 0)
            if min_ready > 0 and not pc.is_pod_ready(old) and pc.is_pod_ready(cur):
                self.enqueue_after(owner, min_ready + 1.0)
            return
        if labels_changed or ref_changed:
            for owner in self._owners_selecting(cur):
                self.enqueue(owner)

    def _pod_deleted(self, pod: Obj) -> None:
        ref = pc.controller_of(pod)
        if ref is None:
            return
        meta = pod.get("metadata") or {}
        owner = self._resolve(meta.get("namespace", ""), ref)
        if owner is None:
            return
        key = meta_key(owner)
        self.expectations.deletion_observed(key, pc.pod_key(pod))
        self.enqueue_key(key)

    # -- reconcile
    async def reconcile(self, key: str) -> float | None:
        owner = self.owner_informer.store.get(key)
        if owner is None:
            self.expectations.delete(key)
            return None
        needs_sync = self.expectations.satisfied(key)
        try:
            selector = self.kind.selector(owner)
        except errors.StatusError as e:
            log.warning("%s %s has an invalid selector: %s", self.kind.rt.kind, key, e)
            return None
        meta = owner["metadata"]
        ns = meta.get("namespace", "")
        # the pods it controls and the namespace's orphans: a pod another controller owns
        # is never claimed (ControllerRefManager ignores it), so it need not be looked at
        store = self.pod_informer.store
        candidates = [p for p in (store.by_index(CONTROLLER_UID_INDEX, meta["uid"])
                                  + store.by_index(ORPHAN_NAMESPACE_INDEX, ns))
                      if pc.is_pod_active(p)]
        owner_ref = pc.controller_ref(owner, api_version=self.kind.rt.api_version,
                                      kind=self.kind.rt.kind)
        pods = await pc.claim(self.pod_control, PODS, owner, owner_ref, selector, candidates,
                              lambda: self._can_adopt(owner))
        manage_error: BaseException | None = None
        if needs_sync and not meta.get("deletionTimestamp"):
            manage_error = await self._manage_replicas(key, pods, owner, owner_ref)
        now = self.clock.now()
        status = calculate_status(owner, pods, now,
                                  None if manage_error is None else _message(manage_error))
        updated = await self._update_status(owner, status)
        if manage_error is not None:
            raise manage_error
        spec = updated.get("spec") or {}
        st = updated.get("status") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        replicas = spec_replicas(updated)
        if (min_ready > 0 and int(st.get("readyReplicas") or 0) == replicas
                and int(st.get("availableReplicas") or 0) != replicas):
            return float(min_ready)
        return None

    async def _can_adopt(self, owner: Obj) -> bool:
        """RecheckDeletionTimestamp: a fresh read, so a deleted owner adopts nothing."""
        meta = owner["metadata"]
        try:
            fresh = await self.client.get(self.kind.rt, meta["name"], meta.get("namespace"))
        except errors.NotFound:
            return False
        fmeta = fresh.get("metadata") or {}
        return fmeta.get("uid") == meta.get("uid") and not fmeta.get("deletionTimestamp")

    def _related_pods(self, owner: Obj, pods: list[Obj]) -> list[Obj]:
        """getIndirectlyRelatedPods: pods of every sibling under the same controller."""
        ref = pc.controller_of(owner)
        if ref is None:
            return pods
        related: list[Obj] = []
        for sibling in self.owner_informer.store.by_index(CONTROLLER_UID_INDEX, ref["uid"]):
            uid = sibling["metadata"].get("uid", "")
            related.extend(self.pod_informer.store.by_index(CONTROLLER_UID_INDEX, uid))
        return related

    async def _manage_replicas(self, key: str, pods: list[Obj], owner: Obj,
                               owner_ref: Obj) -> BaseException | None:
        diff = len(pods) - spec_replicas(owner)
        if diff < 0:
            count = min(-diff, self.burst_replicas)
            self.expectations.expect_creations(key, count)
            template = (owner.get("spec") or {}).get("template") or {}

            async def create_one() -> None:
                try:
                    await self.pod_control.create_pod(template, owner, owner_ref)
                except errors.StatusError as e:
                    if not pc.is_namespace_terminating(e):
                        raise
            successes, error = await pc.slow_start_batch(count, create_one)
            for _ in range(count - successes):
                self.expectations.creation_observed(key)  # never to be seen in the cache
            return error
        if diff > 0:
            count = min(diff, self.burst_replicas)
            victims = pc.pods_to_delete(pods, self._related_pods(owner, pods), count,
                                        self.clock.now())
            self.expectations.expect_deletions(key, [pc.pod_key(p) for p in victims])

            async def delete_one(pod: Obj) -> BaseException | None:
                meta = pod["metadata"]
                try:
                    await self.pod_control.delete_pod(meta["namespace"], meta["name"], owner)
                except errors.StatusError as e:
                    self.expectations.deletion_observed(key, pc.pod_key(pod))
                    if not isinstance(e, errors.NotFound):
                        return e
                return None
            results = await asyncio.gather(*(delete_one(p) for p in victims))
            return next((r for r in results if r is not None), None)
        return None

    async def _update_status(self, owner: Obj, status: Obj) -> Obj:
        if not status_needs_update(owner, status):
            return owner
        # the generation acted on, also when a retry reads a newer object
        status = {**status, "observedGeneration": int(owner["metadata"].get("generation") or 0)}
        current = owner
        for attempt in range(STATUS_UPDATE_RETRIES + 1):
            body = {**current, "status": status}
            try:
                return await self.client.update_status(self.kind.rt, body)
            except errors.Conflict:
                if attempt >= STATUS_UPDATE_RETRIES:
                    raise
                meta = current["metadata"]
                current = await self.client.get(self.kind.rt, meta["name"], meta.get("namespace"))
        return current


def _message(e: BaseException) -> str:
    return e.message if isinstance(e, errors.StatusError) else str(e)


def new_controllers(ctx: ControllerContext) -> list[Controller]:
    return [ReplicaSetController(ctx, REPLICASET)]
