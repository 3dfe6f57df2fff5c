"""The Deployment controller's I/O: caches in, ReplicaSet and Deployment writes out.

One reconcile of ``namespace/name`` (upstream's syncDeployment), each step deciding with
the pure modules ``util``, ``rollout`` and ``status``:

1. an empty selector selects everything: Warning SelectingAll, nothing else;
2. claim ReplicaSets (adopt matching orphans, release non-matching ones);
3. being deleted: status only; paused, or a scaling event: ``plan_scale`` (and, paused,
   revisionHistoryLimit cleanup); otherwise roll out (RollingUpdate or Recreate);
4. the new ReplicaSet is found (template equal ignoring pod-template-hash) or created as
   ``<name>-<pod-template-hash>`` with the next revision; a name taken by someone else's
   ReplicaSet bumps ``status.collisionCount``;
5. status and conditions; a rollout without progress is looked at again when its
   progress deadline passes.

ScalingReplicaSet Events use upstream's messages (``Scaled up replica set web-6b9c to 3``
on creation, ``Scaled down replica set web-5d8f to 1 from 2`` afterwards).
The deployment's revision annotation is written with a merge patch of the main resource
(kube-controller-manager sets it through the status write, which kubepy's apiserver
does not let change metadata).
"""

from __future__ import annotations

import copy
import logging
from typing import Any, Sequence, overload

from kubepy import errors
from kubepy.api.labels import selector_from_label_selector
from kubepy.api.registry import Registry, ResourceType
from kubepy.client.controller import Controller
from kubepy.client.informer import Informer
from kubepy.client.store import NAMESPACE_INDEX, controller_owner_uid_index, meta_key
from kubepy.controllers import podcontrol as pc
from kubepy.controllers.context import ControllerContext
from kubepy.controllers.deployment import rollout, status as dstatus, util
from kubepy.controllers.deployment.rollout import ScaleAction

log = logging.getLogger("kubepy.controllers.deployment")

Obj = dict[str, Any]
_REG = Registry()
DEPLOYMENTS: ResourceType = _REG.get("apps", "v1", "deployments")  # type: ignore[assignment]
REPLICASETS: ResourceType = _REG.get("apps", "v1", "replicasets")  # type: ignore[assignment]
PODS: ResourceType = _REG.get("", "v1", "pods")  # type: ignore[assignment]
CONTROLLER_UID_INDEX = pc.CONTROLLER_UID_INDEX
COMPONENT = "deployment-controller"


def omit_zero(status: Obj) -> Obj:
    """DeploymentStatus fields are all omitempty on the wire."""
    return {k: v for k, v in status.items() if v not in (0, None, [])}


class DeploymentController(Controller):
    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        self.d_informer: Informer = ctx.informers.informer(DEPLOYMENTS)
        self.rs_informer: Informer = ctx.informers.informer(REPLICASETS)
        self.pod_informer: Informer = ctx.informers.informer(PODS)
        self.rs_informer.add_indexer(CONTROLLER_UID_INDEX, controller_owner_uid_index)
        self.pod_informer.add_indexer(CONTROLLER_UID_INDEX, controller_owner_uid_index)
        super().__init__(name=COMPONENT, workers=ctx.workers(COMPONENT, 5), clock=ctx.clock,
                         informers=[self.d_informer, self.rs_informer, self.pod_informer])
        self.recorder = ctx.recorder_for(COMPONENT)
        # key -> (resourceVersions our writes replaced, the deployment as last written)
        self._written: dict[str, tuple[set[str], Obj]] = {}
        self.control = pc.PodControl(ctx.client, self.recorder, PODS)
        self.d_informer.add_event_handler(*self.handlers())
        self.rs_informer.add_event_handler(self._rs_added, self._rs_updated, self._rs_deleted)
        self.pod_informer.add_event_handler(None, None, self._pod_deleted)

    # ------------------------------------------------------------------ events

    def _resolve(self, namespace: str, ref: Obj | None) -> Obj | None:
        if ref is None or ref.get("kind") != "Deployment":
            return None
        d = self.d_informer.store.get_by_name(namespace, ref.get("name", ""))
        if d is None or d["metadata"].get("uid") != ref.get("uid"):
            return None
        return d

    def _deployments_selecting(self, rs: Obj) -> list[Obj]:
        meta = rs.get("metadata") or {}
        labels = meta.get("labels") or {}
        found = []
        for d in self.d_informer.store.by_index(NAMESPACE_INDEX, meta.get("namespace", "")):
            sel = (d.get("spec") or {}).get("selector")
            try:
                if sel and selector_from_label_selector(sel).matches(labels):
                    found.append(d)
            except errors.StatusError:
                continue
        return found

    def _rs_added(self, rs: Obj) -> None:
        if rs["metadata"].get("deletionTimestamp"):
            self._rs_deleted(rs)
            return
        ref = pc.controller_of(rs)
        if ref is not None:
            d = self._resolve(rs["metadata"].get("namespace", ""), ref)
            if d is not None:
                self.enqueue(d)
            return
        for d in self._deployments_selecting(rs):
            self.enqueue(d)

    def _rs_updated(self, old: Obj, cur: Obj) -> None:
        if old["metadata"].get("resourceVersion") == cur["metadata"].get("resourceVersion"):
            return
        ns = cur["metadata"].get("namespace", "")
        cur_ref, old_ref = pc.controller_of(cur), pc.controller_of(old)
        ref_changed = cur_ref != old_ref
        if ref_changed and old_ref is not None:
            d = self._resolve(ns, old_ref)
            if d is not None:
                self.enqueue(d)
        if cur_ref is not None:
            d = self._resolve(ns, cur_ref)
            if d is not None:
                self.enqueue(d)
            return
        if ref_changed or old["metadata"].get("labels") != cur["metadata"].get("labels"):
            for d in self._deployments_selecting(cur):
                self.enqueue(d)

    def _rs_deleted(self, rs: Obj) -> None:
        d = self._resolve((rs.get("metadata") or {}).get("namespace", ""), pc.controller_of(rs))
        if d is not None:
            self.enqueue(d)

    def _pod_deleted(self, pod: Obj) -> None:
        """Recreate waits for old pods to go: their deletion wakes the deployment."""
        ns = (pod.get("metadata") or {}).get("namespace", "")
        ref = pc.controller_of(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        rs = self.rs_informer.store.get_by_name(ns, ref.get("name", ""))
        if rs is None or rs["metadata"].get("uid") != ref.get("uid"):
            return
        d = self._resolve(ns, pc.controller_of(rs))
        if d is not None and util.strategy_type(d) == "Recreate":
            self.enqueue(d)

    # ------------------------------------------------------------------ reconcile

    async def reconcile(self, key: str) -> float | None:
        cached = self.d_informer.store.get(key)
        if cached is None:
            self._written.pop(key, None)
            return None
        return await self._sync_deployment(copy.deepcopy(self._latest(key, cached)))

    def _latest(self, key: str, cached: Obj) -> Obj:
        """What this controller last wrote, while the cache still shows a version that
        write replaced (client-go's mutation cache): saves a conflict per lagging event."""
        written = self._written.get(key)
        if written is not None and cached["metadata"].get("resourceVersion") in written[0]:
            return written[1]
        self._written.pop(key, None)
        return cached

    def _remember(self, d: Obj, replaced_rv: str) -> None:
        key = meta_key(d)
        superseded, _ = self._written.get(key, (set(), d))
        superseded.add(replaced_rv)
        self._written[key] = (superseded, d)

    async def _sync_deployment(self, d: Obj) -> float | None:
        selector = (d.get("spec") or {}).get("selector")
        if not selector or (not selector.get("matchLabels") and not selector.get("matchExpressions")):
            self.recorder.event(d, "Warning", "SelectingAll",
                                "This deployment is selecting all pods. A non-empty selector is required.")
            if util.status_int(d, "observedGeneration") < int(d["metadata"].get("generation") or 0):
                await self._write_status(d, {**(d.get("status") or {}),
                                             "observedGeneration": d["metadata"]["generation"]})
            return None
        rs_list = await self._claim_replica_sets(d)
        if d["metadata"].get("deletionTimestamp"):
            new_rs, old_rss = await self._get_all_and_sync_revision(d, rs_list, create=False)
            await self._sync_status(d, [*old_rss, new_rs], new_rs)
            return None
        paused_status = dstatus.paused_condition_status(d, self.clock.now())
        if paused_status is not None:
            await self._write_status(d, paused_status)
        if (d.get("spec") or {}).get("paused"):
            return await self._sync(d, rs_list)
        new_rs, old_rss = await self._get_all_and_sync_revision(d, rs_list, create=False)
        if rollout.is_scaling_event(d, old_rss + [new_rs]):
            return await self._sync(d, rs_list)
        if util.strategy_type(d) == "Recreate":
            return await self._rollout_recreate(d, rs_list)
        return await self._rollout_rolling(d, rs_list)

    async def _claim_replica_sets(self, d: Obj) -> list[Obj]:
        ns = d["metadata"].get("namespace", "")
        selector = selector_from_label_selector(d["spec"]["selector"])
        owner_ref = pc.controller_ref(d, api_version="apps/v1", kind="Deployment")

        async def can_adopt() -> bool:
            try:
                fresh = await self.client.get(DEPLOYMENTS, d["metadata"]["name"], ns)
            except errors.NotFound:
                return False
            meta = fresh.get("metadata") or {}
            return meta.get("uid") == d["metadata"]["uid"] and not meta.get("deletionTimestamp")
        candidates = self.rs_informer.store.by_index(NAMESPACE_INDEX, ns)
        return await pc.claim(self.control, REPLICASETS, d, owner_ref, selector, candidates,
                              can_adopt)

    # ------------------------------------------------------------------ strategies

    async def _sync(self, d: Obj, rs_list: list[Obj]) -> float | None:
        new_rs, old_rss = await self._get_all_and_sync_revision(d, rs_list, create=False)
        _, latest = await self._apply(d, rollout.plan_scale(d, new_rs, old_rss),
                                      [*old_rss, new_rs])
        new_rs, old_rss = _refresh(new_rs, latest), [_refresh(rs, latest) for rs in old_rss]
        if (d.get("spec") or {}).get("paused"):
            await self._cleanup(d, old_rss)
        await self._sync_status(d, [*old_rss, new_rs], new_rs)
        return None

    async def _rollout_rolling(self, d: Obj, rs_list: list[Obj]) -> float | None:
        new_rs, old_rss = await self._get_all_and_sync_revision(d, rs_list, create=True)
        assert new_rs is not None
        all_rss: list[Obj] = old_rss + [new_rs]
        action = rollout.plan_new_replica_set(d, all_rss, new_rs)
        if action is not None:
            scaled, _ = await self._apply(d, [action], all_rss)
            if scaled:
                return await self._sync_rollout_status(d, all_rss, new_rs)
        actions = rollout.plan_old_replica_sets(d, all_rss, util.filter_active(old_rss), new_rs)
        if actions:
            scaled, _ = await self._apply(d, actions, all_rss)
            if scaled:
                return await self._sync_rollout_status(d, all_rss, new_rs)
        if dstatus.deployment_complete(d, d.get("status") or {}):
            await self._cleanup(d, old_rss)
        return await self._sync_rollout_status(d, all_rss, new_rs)

    async def _rollout_recreate(self, d: Obj, rs_list: list[Obj]) -> float | None:
        new_rs, old_rss = await self._get_all_and_sync_revision(d, rs_list, create=False)
        all_rss: list[Obj | None] = [*old_rss, new_rs]
        down = rollout.plan_recreate_scale_down(util.filter_active(old_rss))
        if down:
            scaled, _ = await self._apply(d, down, all_rss)
            if scaled:
                return await self._sync_rollout_status(d, all_rss, new_rs)
        ns = d["metadata"].get("namespace", "")
        selector = selector_from_label_selector(d["spec"]["selector"])
        pods = [p for p in self.pod_informer.store.by_index(NAMESPACE_INDEX, ns)
                if selector.matches((p.get("metadata") or {}).get("labels") or {})]
        pod_map = rollout.pods_by_replica_set(rs_list, pods)
        if rollout.old_pods_running(new_rs, old_rss, pod_map):
            return await self._sync_rollout_status(d, all_rss, new_rs)
        if new_rs is None:
            new_rs, old_rss = await self._get_all_and_sync_revision(d, rs_list, create=True)
            assert new_rs is not None
            all_rss = [*old_rss, new_rs]
        if util.replicas(new_rs) != util.replicas(d):
            await self._apply(d, [ScaleAction(rollout._name(new_rs), util.replicas(d),
                                              "up" if util.replicas(new_rs) < util.replicas(d)
                                              else "down")], all_rss)
        if dstatus.deployment_complete(d, d.get("status") or {}):
            await self._cleanup(d, old_rss)
        return await self._sync_rollout_status(d, all_rss, new_rs)

    # ------------------------------------------------------------------ replica sets

    async def _get_all_and_sync_revision(self, d: Obj, rs_list: list[Obj], *,
                                         create: bool) -> tuple[Obj | None, list[Obj]]:
        _, all_old = util.find_old_replica_sets(d, rs_list)
        new_rs = await self._get_new_replica_set(d, rs_list, all_old, create=create)
        return new_rs, all_old

    async def _get_new_replica_set(self, d: Obj, rs_list: list[Obj], old_rss: list[Obj], *,
                                   create: bool) -> Obj | None:
        existing = util.find_new_replica_set(d, rs_list)
        new_revision = str(util.max_revision(old_rss) + 1)
        now = self.clock.now()
        if existing is not None:
            rs = copy.deepcopy(existing)
            changed = util.set_new_replica_set_annotations(d, rs, new_revision, exists=True)
            min_ready = int(d["spec"].get("minReadySeconds") or 0)
            if changed or int(rs["spec"].get("minReadySeconds") or 0) != min_ready:
                rs["spec"]["minReadySeconds"] = min_ready
                return await self.client.update(REPLICASETS, rs)
            await self._set_revision(d, util.annotations_of(rs).get(util.REVISION, ""))
            if util.has_progress_deadline(d) and dstatus.get_condition(
                    d.get("status") or {}, dstatus.PROGRESSING) is None:
                st = copy.deepcopy(d.get("status") or {})
                dstatus.set_condition(st, dstatus.new_condition(
                    dstatus.PROGRESSING, "True", dstatus.FOUND_NEW_RS,
                    f'Found new replica set "{rs["metadata"]["name"]}"', now))
                await self._write_status(d, st)
            return rs
        if not create:
            return None
        collision = (d.get("status") or {}).get("collisionCount")
        pod_hash = util.compute_hash(d["spec"]["template"], collision)
        owner_ref = pc.controller_ref(d, api_version="apps/v1", kind="Deployment")
        new_rs = util.new_replica_set(d, pod_template_hash=pod_hash, revision_=new_revision,
                                      replicas_=0, owner_ref=owner_ref)
        count = util.new_rs_new_replicas(d, old_rss + [new_rs], new_rs)
        new_rs["spec"]["replicas"] = count
        name, ns = new_rs["metadata"]["name"], d["metadata"].get("namespace")
        already_exists = False
        try:
            created = await self.client.create(REPLICASETS, new_rs, ns)
        except errors.AlreadyExists:
            found = self.rs_informer.store.get_by_name(ns, name)
            if found is None:
                found = await self.client.get(REPLICASETS, name, ns)
            if util.is_controlled_by(found, d) and util.equal_ignore_hash(
                    d["spec"]["template"], found["spec"].get("template")):
                created, already_exists = found, True
            else:
                st = copy.deepcopy(d.get("status") or {})
                st["collisionCount"] = int(st.get("collisionCount") or 0) + 1
                await self._write_status(d, st)
                raise
        except errors.StatusError as e:
            if pc.is_namespace_terminating(e):
                raise
            msg = f'Failed to create new replica set "{name}": {e.message}'
            if util.has_progress_deadline(d):
                st = copy.deepcopy(d.get("status") or {})
                dstatus.set_condition(st, dstatus.new_condition(
                    dstatus.PROGRESSING, "False", dstatus.FAILED_RS_CREATE, msg, now))
                try:
                    await self._write_status(d, st)
                except errors.StatusError:
                    pass
            self.recorder.event(d, "Warning", dstatus.FAILED_RS_CREATE, msg)
            raise
        if not already_exists and count > 0:
            self.recorder.event(d, "Normal", "ScalingReplicaSet",
                                f"Scaled up replica set {name} to {count}")
        await self._set_revision(d, new_revision)
        if not already_exists and util.has_progress_deadline(d):
            st = copy.deepcopy(d.get("status") or {})
            dstatus.set_condition(st, dstatus.new_condition(
                dstatus.PROGRESSING, "True", dstatus.NEW_REPLICA_SET,
                f'Created new replica set "{name}"', now))
            await self._write_status(d, st)
        return created

    async def _apply(self, d: Obj, actions: list[ScaleAction],
                     rss: Sequence[Obj | None]) -> tuple[bool, dict[str, Obj]]:
        """Apply scale actions in order: (any size changed, {name: latest ReplicaSet})."""
        latest: dict[str, Obj] = {rs["metadata"]["name"]: rs for rs in rss if rs is not None}
        scaled = False
        for action in actions:
            rs = latest.get(action.name)
            if rs is None:
                continue
            if not action.force and util.replicas(rs) == action.replicas:
                continue
            did, latest[action.name] = await self._scale_replica_set(rs, action.replicas, d,
                                                                     action.operation)
            scaled = scaled or did
        return scaled, latest

    async def _scale_replica_set(self, rs: Obj, new_scale: int, d: Obj,
                                 operation: str) -> tuple[bool, Obj]:
        want, maximum = util.replicas(d), util.replicas(d) + util.max_surge(d)
        size_changed = util.replicas(rs) != new_scale
        if not size_changed and not util.replicas_annotations_need_update(rs, want, maximum):
            return False, rs
        old_scale = util.replicas(rs)
        body = copy.deepcopy(rs)
        body["spec"]["replicas"] = new_scale
        util.set_replicas_annotations(body, want, maximum)
        updated = await self.client.update(REPLICASETS, body)
        if size_changed:
            self.recorder.event(d, "Normal", "ScalingReplicaSet",
                                f"Scaled {operation} replica set {rs['metadata']['name']} "
                                f"to {new_scale} from {old_scale}")
        return size_changed, updated

    async def _cleanup(self, d: Obj, old_rss: list[Obj]) -> None:
        for rs in rollout.plan_cleanup(d, old_rss):
            meta = rs["metadata"]
            try:
                await self.client.delete(REPLICASETS, meta["name"], meta.get("namespace"))
            except errors.NotFound:
                pass

    # ------------------------------------------------------------------ deployment writes

    async def _set_revision(self, d: Obj, revision: str) -> None:
        if not revision or util.annotations_of(d).get(util.REVISION) == revision:
            return
        updated = await self.client.patch(
            DEPLOYMENTS, d["metadata"]["name"],
            {"metadata": {"annotations": {util.REVISION: revision}}},
            namespace=d["metadata"].get("namespace"))
        self._remember(d, d["metadata"].get("resourceVersion", ""))
        d["metadata"] = updated["metadata"]

    async def _write_status(self, d: Obj, st: Obj) -> None:
        body = {**d, "status": omit_zero(st)}
        updated = await self.client.update_status(DEPLOYMENTS, body)
        self._remember(d, d["metadata"].get("resourceVersion", ""))
        d["metadata"] = updated["metadata"]
        d["status"] = updated.get("status") or {}

    async def _sync_status(self, d: Obj, all_rss: Sequence[Obj | None], new_rs: Obj | None) -> None:
        st = dstatus.calculate_status(all_rss, new_rs, d, self.clock.now())
        if not dstatus.status_equal(d.get("status") or {}, st):
            await self._write_status(d, st)

    async def _sync_rollout_status(self, d: Obj, all_rss: Sequence[Obj | None],
                                   new_rs: Obj | None) -> float | None:
        now = self.clock.now()
        st = dstatus.rollout_status(all_rss, new_rs, d, now)
        if dstatus.status_equal(d.get("status") or {}, st):
            after = dstatus.progress_requeue_after(d, st, now)
            return None if after is None else max(after, 1.0)
        await self._write_status(d, st)
        return None


@overload
def _refresh(rs: Obj, latest: dict[str, Obj]) -> Obj: ...
@overload
def _refresh(rs: None, latest: dict[str, Obj]) -> None: ...
@overload
def _refresh(rs: Obj | None, latest: dict[str, Obj]) -> Obj | None: ...


def _refresh(rs: Obj | None, latest: dict[str, Obj]) -> Obj | None:
    if rs is None:
        return None
    return latest.get(rs["metadata"]["name"], rs)


def new_controllers(ctx: ControllerContext) -> list[Controller]:
    return [DeploymentController(ctx)]
