"""The StatefulSet controller: reads the set, its pods, claims and ControllerRevisions from
the shared caches, asks ``logic.plan`` what to do, and does it through the API with the
Events upstream's stateful pod control records (``create Pod web-0 in StatefulSet web
successful``, ``create Claim www-web-0 Pod web-0 in StatefulSet web success``).

Pod names are fixed by ordinal, so a creation the cache has not yet seen comes back as
AlreadyExists and is harmless: no expectations are needed.
"""

from __future__ import annotations

import logging
from typing import Any

from kubepy import errors
from kubepy.api.labels import selector_from_label_selector
from kubepy.api.registry import Registry, ResourceType
from kubepy.client.controller import Controller
from kubepy.client.events import NORMAL, WARNING, EventRecorder
from kubepy.client.store import controller_owner_uid_index, split_key
from kubepy.controllers import history
from kubepy.controllers.podcontrol import (CONTROLLER_UID_INDEX, controller_of, controller_ref,
                                           is_terminating, owner_key, seconds_until_available)
from kubepy.controllers.statefulset import logic

log = logging.getLogger("kubepy.controllers.statefulset")
Obj = dict[str, Any]
_REG = Registry()
STATEFULSETS: ResourceType = _REG.get("apps", "v1", "statefulsets")  # type: ignore[assignment]
PODS: ResourceType = _REG.get("", "v1", "pods")  # type: ignore[assignment]
PVCS: ResourceType = _REG.get("", "v1", "persistentvolumeclaims")  # type: ignore[assignment]


class StatefulSetController(Controller):
    name = "statefulset-controller"

    def __init__(self, client: Any, informers: Any, recorder: EventRecorder, *, clock: Any,
                 workers: int = 2) -> None:
        self.sets = informers.informer(STATEFULSETS)
        self.pods = informers.informer(PODS)
        self.revisions = informers.informer(history.CONTROLLER_REVISIONS)
        self.claims = informers.informer(PVCS)
        super().__init__(workers=workers, clock=clock,
                         informers=[self.sets, self.pods, self.revisions, self.claims])
        self.client, self.recorder = client, recorder
        for inf in (self.pods, self.revisions):
            inf.add_indexer(CONTROLLER_UID_INDEX, controller_owner_uid_index)
        self.sets.add_event_handler(*self.handlers())
        self.pods.add_event_handler(self._on_pod, lambda old, new: self._on_pod(new),
                                    self._on_pod)
        self.revisions.add_event_handler(self._on_pod, lambda old, new: self._on_pod(new),
                                         self._on_pod)

    def _on_pod(self, obj: Obj) -> None:
        key = owner_key(obj, "StatefulSet")
        if key is not None:
            self.enqueue_key(key)
        elif controller_of(obj) is None:  # an orphan: the sets whose selector matches
            ns = obj["metadata"].get("namespace")
            labels = obj["metadata"].get("labels") or {}
            for sts in self.sets.store.list():
                if sts["metadata"].get("namespace") == ns and \
                        selector_from_label_selector(sts["spec"].get("selector")).matches(labels):
                    self.enqueue(sts)

    # ------------------------------------------------------------------ reconcile

    async def reconcile(self, key: str) -> float | None:
        sts = self.sets.store.get(key)
        if sts is None:
            return None
        ns, name = split_key(key)
        uid = sts["metadata"]["uid"]
        pods = await self._claim_pods(sts)
        revisions = history.owned_revisions(
            self.revisions.store.by_index(CONTROLLER_UID_INDEX, uid), uid)
        update_rev, collision = await history.ensure_revision(
            self.client, sts, revisions, api_version=logic.API_VERSION, kind=logic.KIND)
        by_name = {r["metadata"]["name"]: r for r in revisions}
        by_name[update_rev["metadata"]["name"]] = update_rev
        update = update_rev["metadata"]["name"]
        current = (sts.get("status") or {}).get("currentRevision") or ""
        if current not in by_name:
            current = update
        now = self.clock.now()

        if not sts["metadata"].get("deletionTimestamp"):
            plan = logic.plan(sts, pods, current, update, now)
            await self._ensure_claims_of_live_pods(sts, pods)
            for ordinal, revision in plan.create:
                template = history.template_of(by_name[revision])
                await self._create_pod(sts, logic.new_pod(sts, template, ordinal, revision),
                                       ordinal)
            for pod_name in plan.delete:
                await self._delete_pod(sts, pod_name)
            await self._delete_scaled_down_claims(sts, pods)

        status = logic.compute_status(sts, pods, current, update, now, collision)
        if _status_differs(sts.get("status") or {}, status):
            try:
                await self.client.patch(STATEFULSETS, name, {"status": status}, namespace=ns,
                                        subresource="status")
            except errors.NotFound:
                return None
        live = {current, update} | {logic.pod_revision(p) for p in pods}
        await history.prune_revisions(self.client, revisions, live,
                                      int(sts["spec"].get("revisionHistoryLimit", 10)))
        waits = [w for p in pods if (w := seconds_until_available(
            p, logic.min_ready_seconds(sts), now)) is not None]
        return min(waits) if waits else None

    async def _claim_pods(self, sts: Obj) -> list[Obj]:
        """The set's pods: those it controls, plus orphans it adopts (selector match, name of
        the set's shape)."""
        uid = sts["metadata"]["uid"]
        pods = list(self.pods.store.by_index(CONTROLLER_UID_INDEX, uid))
        selector = selector_from_label_selector(sts["spec"].get("selector"))
        if sts["metadata"].get("deletionTimestamp"):
            return pods
        for pod in self.pods.store.by_index("namespace", sts["metadata"]["namespace"]):
            if controller_of(pod) is not None or is_terminating(pod) or \
                    logic.pod_ordinal(sts, pod) is None or \
                    not selector.matches(pod["metadata"].get("labels") or {}):
                continue
            refs = list(pod["metadata"].get("ownerReferences") or [])
            refs.append(controller_ref(sts, api_version=logic.API_VERSION, kind=logic.KIND))
            try:
                adopted = await self.client.patch(
                    PODS, pod["metadata"]["name"],
                    {"metadata": {"ownerReferences": refs, "uid": pod["metadata"]["uid"]}},
                    namespace=sts["metadata"]["namespace"])
                pods.append(adopted)
            except (errors.NotFound, errors.Conflict, errors.Invalid):
                continue
        return pods

    async def _ensure_claims_of_live_pods(self, sts: Obj, pods: list[Obj]) -> None:
        for pod in pods:
            ordinal = logic.pod_ordinal(sts, pod)
            if ordinal is not None and not is_terminating(pod) and \
                    logic.start_ordinal(sts) <= ordinal < \
                    logic.start_ordinal(sts) + logic.replicas_of(sts):
                await self._create_claims(sts, ordinal, pod["metadata"]["name"])

    async def _create_claims(self, sts: Obj, ordinal: int, pod_name: str) -> None:
        ns = sts["metadata"]["namespace"]
        for claim in logic.new_claims(sts, ordinal):
            cname = claim["metadata"]["name"]
            if self.claims.store.get_by_name(ns, cname) is not None:
                continue
            try:
                await self.client.create(PVCS, claim, ns)
            except errors.AlreadyExists:
                continue
            except errors.StatusError as e:
                self.recorder.event(sts, WARNING, "FailedCreate",
                                    f"create Claim {cname} for Pod {pod_name} in StatefulSet "
                                    f"{sts['metadata']['name']} failed error: {e}")
                raise
            self.recorder.event(sts, NORMAL, "SuccessfulCreate",
                                f"create Claim {cname} Pod {pod_name} in StatefulSet "
                                f"{sts['metadata']['name']} success")

    async def _create_pod(self, sts: Obj, pod: Obj, ordinal: int) -> None:
        pod_name, set_name = pod["metadata"]["name"], sts["metadata"]["name"]
        await self._create_claims(sts, ordinal, pod_name)
        try:
            await self.client.create(PODS, pod, sts["metadata"]["namespace"])
        except errors.AlreadyExists:
            return
        except errors.StatusError as e:
            self.recorder.event(sts, WARNING, "FailedCreate",
                                f"create Pod {pod_name} in StatefulSet {set_name} failed "
                                f"error: {e}")
            raise
        self.recorder.event(sts, NORMAL, "SuccessfulCreate",
                            f"create Pod {pod_name} in StatefulSet {set_name} successful")

    async def _delete_pod(self, sts: Obj, pod_name: str) -> None:
        set_name = sts["metadata"]["name"]
        try:
            await self.client.delete(PODS, pod_name, sts["metadata"]["namespace"])
        except errors.NotFound:
            return
        except errors.StatusError as e:
            self.recorder.event(sts, WARNING, "FailedDelete",
                                f"delete Pod {pod_name} in StatefulSet {set_name} failed "
                                f"error: {e}")
            raise
        self.recorder.event(sts, NORMAL, "SuccessfulDelete",
                            f"delete Pod {pod_name} in StatefulSet {set_name} successful")

    async def _delete_scaled_down_claims(self, sts: Obj, pods: list[Obj]) -> None:
        """whenScaled: Delete — claims of ordinals above the replicas go once their pod is
        gone (Retain, the default, keeps them)."""
        policy = sts["spec"].get("persistentVolumeClaimRetentionPolicy") or {}
        if policy.get("whenScaled") != "Delete":
            return
        ns, set_name = sts["metadata"]["namespace"], sts["metadata"]["name"]
        start, replicas = logic.start_ordinal(sts), logic.replicas_of(sts)
        present = {logic.pod_ordinal(sts, p) for p in pods}
        for template in sts["spec"].get("volumeClaimTemplates") or []:
            prefix = f"{template['metadata']['name']}-{set_name}-"
            for claim in self.claims.store.by_index("namespace", ns):
                cname = claim["metadata"]["name"]
                suffix = cname[len(prefix):] if cname.startswith(prefix) else ""
                if not suffix.isdigit() or is_terminating(claim):
                    continue
                ordinal = int(suffix)
                if start <= ordinal < start + replicas or ordinal in present:
                    continue
                try:
                    await self.client.delete(PVCS, cname, ns)
                except errors.NotFound:
                    continue
                self.recorder.event(sts, NORMAL, "SuccessfulDelete",
                                    f"delete Claim {cname} in StatefulSet {set_name} success")


def _status_differs(old: Obj, new: Obj) -> bool:
    return any(old.get(k) != v for k, v in new.items() if not (k == "collisionCount" and
                                                               not v and not old.get(k)))


def new_controllers(ctx: Any) -> list[Controller]:
    return [StatefulSetController(ctx.client, ctx.informers,
                                  ctx.recorder_for("statefulset-controller"),
                                  clock=ctx.clock, workers=ctx.workers("statefulset", 2))]


__all__ = ["StatefulSetController", "new_controllers"]
