"""The CronJob controller: reads the CronJob and its Jobs from the caches (confirming with a
GET any active Job the cache does not show, so a slow watch does not make it "missing"),
asks ``logic.sync`` what to do, deletes (background propagation) and creates Jobs, writes
the status (guarded by resourceVersion) and the Events (``Created job hello-29000000``
SuccessfulCreate, ``Saw completed job: ...`` SawCompletedJob, ``Deleted job ...``
SuccessfulDelete, MissSchedule...). It wakes itself at the next scheduled time on the
injected clock.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from kubepy import errors
from kubepy.api.registry import Registry, ResourceType
from kubepy.client.controller import Controller
from kubepy.client.events import NORMAL, WARNING, EventRecorder
from kubepy.client.store import controller_owner_uid_index, split_key
from kubepy.controllers.cronjob import logic
from kubepy.controllers.podcontrol import CONTROLLER_UID_INDEX, format_time, owner_key

log = logging.getLogger("kubepy.controllers.cronjob")
Obj = dict[str, Any]
_REG = Registry()
CRONJOBS: ResourceType = _REG.get("batch", "v1", "cronjobs")  # type: ignore[assignment]
JOBS: ResourceType = _REG.get("batch", "v1", "jobs")  # type: ignore[assignment]


class CronJobController(Controller):
    name = "cronjob-controller"

    def __init__(self, client: Any, informers: Any, recorder: EventRecorder, *, clock: Any,
                 workers: int = 1) -> None:
        self.cronjobs = informers.informer(CRONJOBS)
        self.jobs = informers.informer(JOBS)
        super().__init__(workers=workers, clock=clock, informers=[self.cronjobs, self.jobs])
        self.client, self.recorder = client, recorder
        self.jobs.add_indexer(CONTROLLER_UID_INDEX, controller_owner_uid_index)
        self.cronjobs.add_event_handler(*self.handlers())
        self.jobs.add_event_handler(self._on_job, lambda old, new: self._on_job(new),
                                    self._on_job)

    def _on_job(self, job: Obj) -> None:
        key = owner_key(job, "CronJob")
        if key is not None:
            self.enqueue_key(key)

    async def reconcile(self, key: str) -> float | None:
        cronjob = self.cronjobs.store.get(key)
        if cronjob is None:
            return None
        ns, name = split_key(key)
        jobs = list(self.jobs.store.by_index(CONTROLLER_UID_INDEX, cronjob["metadata"]["uid"]))
        known = {j["metadata"].get("uid") for j in jobs}
        for ref in (cronjob.get("status") or {}).get("active") or []:
            if ref.get("uid") in known:
                continue
            try:
                job = await self.client.get(JOBS, ref["name"], ns)
            except errors.NotFound:
                continue
            if job["metadata"].get("uid") == ref.get("uid"):
                jobs.append(job)
        plan = logic.sync(cronjob, jobs, self.clock.now())
        status = plan.status
        for job_name in plan.delete:
            try:
                await self.client.delete(JOBS, job_name, ns, propagation_policy="Background")
            except errors.NotFound:
                pass
            except errors.StatusError as e:
                self.recorder.event(cronjob, WARNING, "FailedDelete",
                                    f"Deleted job: {e}")
                raise
            self.recorder.event(cronjob, NORMAL, "SuccessfulDelete", f"Deleted job {job_name}")
        if plan.create is not None and plan.scheduled_time is not None:
            created = await self._create(cronjob, plan.create)
            if created is not None:
                status = copy.deepcopy(status)
                status["active"] = [*status.get("active", []), logic.job_reference(created)]
                status["lastScheduleTime"] = format_time(plan.scheduled_time)
        if status != (cronjob.get("status") or {}):
            body = copy.deepcopy(cronjob)
            body["status"] = status
            try:
                await self.client.update_status(CRONJOBS, body)
            except errors.NotFound:
                return None
        for type_, reason, message in plan.events:
            self.recorder.event(cronjob, type_, reason, message)
        return plan.requeue_after

    async def _create(self, cronjob: Obj, job: Obj) -> Obj | None:
        ns = cronjob["metadata"]["namespace"]
        try:
            created: Obj = await self.client.create(JOBS, job, ns)
        except errors.AlreadyExists:
            # made by an earlier pass whose status write was lost: adopt it if it is ours
            existing = await self.client.get(JOBS, job["metadata"]["name"], ns)
            ref = next((r for r in existing["metadata"].get("ownerReferences") or []
                        if r.get("controller")), None)
            return existing if ref and ref.get("uid") == cronjob["metadata"]["uid"] else None
        except errors.StatusError as e:
            self.recorder.event(cronjob, WARNING, "FailedCreate", f"Error creating job: {e}")
            raise
        self.recorder.event(cronjob, NORMAL, "SuccessfulCreate",
                            f"Created job {created['metadata']['name']}")
        return created


def new_controllers(ctx: Any) -> list[Controller]:
    return [CronJobController(ctx.client, ctx.informers, ctx.recorder_for("cronjob-controller"),
                              clock=ctx.clock, workers=ctx.workers("cronjob", 1))]
