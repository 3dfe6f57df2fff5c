"""The Job controller and the TTL-after-finished controller.

``JobController.reconcile`` reads the Job and its pods from the caches, asks
``logic.sync`` what to do, and does it in the order that keeps the pod accounting exact:
record the newly finished pods as uncounted (a status write guarded by resourceVersion, so a
stale cache makes it fail and retry rather than count twice), remove their tracking
finalizers, delete and create pods, then write the counted status and the Events
(``Created pod: pi-x7k2p`` SuccessfulCreate, ``Job completed`` Completed, the failure reason
and message as a Warning, Suspended/Resumed).

``TTLAfterFinishedController`` deletes a finished Job ``ttlSecondsAfterFinished`` after it
finished (foreground propagation, uid precondition), as ttl-after-finished-controller does.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from kubepy import errors
from kubepy.api.labels import selector_from_label_selector
from kubepy.api.registry import Registry, ResourceType
from kubepy.client.controller import Controller
from kubepy.client.events import NORMAL, WARNING, EventRecorder
from kubepy.client.store import controller_owner_uid_index, split_key
from kubepy.controllers.job import logic
from kubepy.controllers.job import pods as jp
from kubepy.controllers.podcontrol import (CONTROLLER_UID_INDEX, ControllerExpectations,
                                           controller_of, owner_key)

log = logging.getLogger("kubepy.controllers.job")
Obj = dict[str, Any]
_REG = Registry()
JOBS: ResourceType = _REG.get("batch", "v1", "jobs")  # type: ignore[assignment]
PODS: ResourceType = _REG.get("", "v1", "pods")  # type: ignore[assignment]
ORPHAN_PREFIX = "orphan-pod:"
REMOVE_FINALIZER = {"metadata": {"$deleteFromPrimitiveList/finalizers": [jp.TRACKING_FINALIZER]}}


class JobController(Controller):
    name = "job-controller"

    def __init__(self, client: Any, informers: Any, recorder: EventRecorder, *, clock: Any,
                 workers: int = 2) -> None:
        self.jobs = informers.informer(JOBS)
        self.pods = informers.informer(PODS)
        super().__init__(workers=workers, clock=clock, informers=[self.jobs, self.pods])
        self.client, self.recorder = client, recorder
        self.expectations = ControllerExpectations(self.clock.monotonic)
        # uids whose finalizer this controller removed (counted), per Job key, until the
        # pod cache shows it
        self.counted: dict[str, set[str]] = {}
        self.pods.add_indexer(CONTROLLER_UID_INDEX, controller_owner_uid_index)
        self.jobs.add_event_handler(self.enqueue, lambda old, new: self.enqueue(new),
                                    self._on_job_delete)
        self.pods.add_event_handler(self._on_pod_add, lambda old, new: self._on_pod(new),
                                    self._on_pod_delete)

    def _on_pod(self, pod: Obj) -> None:
        key = owner_key(pod, "Job")
        if key is not None:
            self.enqueue_key(key)
        if jp.has_tracking_finalizer(pod) and self._owner(pod) is None:
            self.enqueue_key(ORPHAN_PREFIX + f"{pod['metadata']['namespace']}/"
                             f"{pod['metadata']['name']}")

    def _on_job_delete(self, job: Obj) -> None:
        self.enqueue(job)
        for pod in self.pods.store.by_index(CONTROLLER_UID_INDEX, job["metadata"]["uid"]):
            if jp.has_tracking_finalizer(pod):
                self.enqueue_key(ORPHAN_PREFIX + f"{pod['metadata']['namespace']}/"
                                 f"{pod['metadata']['name']}")

    def _owner(self, pod: Obj) -> Obj | None:
        """The Job controlling the pod, if the cache has it (same uid)."""
        ref = controller_of(pod)
        if ref is None or ref.get("kind") != "Job":
            return None
        found = self.jobs.store.get_by_name(pod["metadata"].get("namespace"), ref["name"])
        return found if found is not None and found["metadata"]["uid"] == ref.get("uid") \
            else None

    def _on_pod_add(self, pod: Obj) -> None:
        key = owner_key(pod, "Job")
        if key is not None:
            self.expectations.creation_observed(key)
        self._on_pod(pod)

    def _on_pod_delete(self, pod: Obj) -> None:
        key = owner_key(pod, "Job")
        if key is not None:
            self.expectations.deletion_observed(key, pod["metadata"]["name"])
            self.enqueue_key(key)

    # ------------------------------------------------------------------ reconcile

    async def reconcile(self, key: str) -> float | None:
        if key.startswith(ORPHAN_PREFIX):  # a pod whose Job is gone keeps no finalizer
            pod = self.pods.store.get(key[len(ORPHAN_PREFIX):])
            if pod is not None and jp.has_tracking_finalizer(pod) and self._owner(pod) is None:
                await self._remove_finalizer(pod, set())
            return None
        job = self.jobs.store.get(key)
        if job is None:
            self.expectations.delete(key)
            self.counted.pop(key, None)
            return None
        uid = job["metadata"]["uid"]
        selector = selector_from_label_selector((job.get("spec") or {}).get("selector"))
        pods = [p for p in self.pods.store.by_index(CONTROLLER_UID_INDEX, uid)
                if selector.matches(p["metadata"].get("labels") or {})]
        counted = self.counted.setdefault(key, set())
        counted &= {p["metadata"]["uid"] for p in pods if jp.has_tracking_finalizer(p)}
        if job["metadata"].get("deletionTimestamp"):
            for pod in pods:  # a deleted Job lets go of its pods
                if jp.has_tracking_finalizer(pod) and pod["metadata"]["uid"] not in counted:
                    await self._remove_finalizer(pod, counted)
            return None
        if not self.expectations.satisfied(key):
            return None
        now = self.clock.now()
        plan = logic.sync(job, pods, now, frozenset(counted))
        current = job
        if plan.finalize:
            current = await self._write_status(current, {
                **(current.get("status") or {}), "uncountedTerminatedPods": plan.uncounted})
            for pod in plan.finalize:
                await self._remove_finalizer(pod, counted)
        for pod in plan.remove:
            await self._remove_finalizer(pod, counted)
        await self._delete(job, key, plan.remove + plan.delete)
        created = await self._create(job, key, plan.create)
        status = dict(plan.status, active=plan.status.get("active", 0) + created)
        if status != (current.get("status") or {}):
            await self._write_status(current, status)
        for type_, reason, message in plan.events:
            self.recorder.event(job, type_, reason, message)
        return plan.requeue_after

    async def _write_status(self, job: Obj, status: Obj) -> Obj:
        body = copy.deepcopy(job)
        body["status"] = status
        updated: Obj = await self.client.update_status(JOBS, body)
        return updated

    async def _remove_finalizer(self, pod: Obj, counted: set[str]) -> None:
        try:
            await self.client.patch(PODS, pod["metadata"]["name"], REMOVE_FINALIZER,
                                    namespace=pod["metadata"]["namespace"],
                                    patch_type="strategic")
        except errors.NotFound:
            pass
        counted.add(pod["metadata"]["uid"])

    async def _delete(self, job: Obj, key: str, pods: list[Obj]) -> None:
        if not pods:
            return
        names = [p["metadata"]["name"] for p in pods]
        self.expectations.raise_expectations(key, deletes=names)
        for name in names:
            try:
                await self.client.delete(PODS, name, job["metadata"]["namespace"])
            except errors.NotFound:
                self.expectations.deletion_observed(key, name)
                continue
            except errors.StatusError as e:
                self.expectations.lower_expectations(key, deletes=[name])
                self.recorder.event(job, WARNING, "FailedDelete", f"Error deleting: {e}")
                raise
            self.recorder.event(job, NORMAL, "SuccessfulDelete", f"Deleted pod: {name}")

    async def _create(self, job: Obj, key: str, indexes: list[int | None]) -> int:
        if not indexes:
            return 0
        self.expectations.raise_expectations(key, adds=len(indexes))
        created = 0
        for index in indexes:
            try:
                pod = await self.client.create(PODS, jp.new_pod(job, index),
                                               job["metadata"]["namespace"])
            except errors.StatusError as e:
                self.expectations.lower_expectations(key, adds=1)
                self.recorder.event(job, WARNING, "FailedCreate", f"Error creating: {e}")
                if isinstance(e, (errors.Forbidden, errors.NotFound)):
                    continue  # quota or a namespace going away: retried on the next sync
                raise
            created += 1
            self.recorder.event(job, NORMAL, "SuccessfulCreate",
                                f"Created pod: {pod['metadata']['name']}")
        return created


class TTLAfterFinishedController(Controller):
    name = "ttl-after-finished-controller"

    def __init__(self, client: Any, informers: Any, *, clock: Any, workers: int = 1) -> None:
        self.jobs = informers.informer(JOBS)
        super().__init__(workers=workers, clock=clock, informers=[self.jobs])
        self.client = client
        self.jobs.add_event_handler(self.enqueue, lambda old, new: self.enqueue(new))

    async def reconcile(self, key: str) -> float | None:
        job = self.jobs.store.get(key)
        if job is None:
            return None
        expiry = logic.ttl_expiry(job)
        if expiry is None:
            return None
        left = (expiry - self.clock.now()).total_seconds()
        if left > 0:
            return left
        ns, name = split_key(key)
        try:
            await self.client.delete(JOBS, name, ns, propagation_policy="Foreground",
                                     preconditions={"uid": job["metadata"]["uid"]})
        except (errors.NotFound, errors.Conflict):
            pass
        return None


def new_controllers(ctx: Any) -> list[Controller]:
    return [JobController(ctx.client, ctx.informers, ctx.recorder_for("job-controller"),
                          clock=ctx.clock, workers=ctx.workers("job", 2)),
            TTLAfterFinishedController(ctx.client, ctx.informers, clock=ctx.clock,
                                       workers=ctx.workers("ttl-after-finished", 1))]
