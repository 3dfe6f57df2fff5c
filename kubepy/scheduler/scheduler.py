"""The Scheduler: informers feed the cache and the queue; one loop pops a pod, runs a
scheduling cycle against the cache, assumes the pod on the chosen node and binds it in a
background task, so the next cycle starts at once.

Only pods whose ``spec.schedulerName`` is ``default-scheduler`` (or empty) and that have
no ``spec.nodeName`` are scheduled. A pod that fits nowhere gets a PostFilter (preemption)
attempt, a ``FailedScheduling`` Warning event and a PodScheduled=False condition (reason
Unschedulable) with the same message, and waits in the queue until a cluster event may help
(node added or changed, pod deleted, ...). A bound pod gets a ``Scheduled`` Normal event
``Successfully assigned <ns>/<name> to <node>``.

The cycle itself (``schedule_one``) is synchronous: it never awaits, so the cache is a
consistent snapshot for its whole duration. Everything that talks to the API server goes
through an ``ApiWriter`` in tasks.

``new_scheduler(client, informers, clock, recorder_for)`` wires the default profile to
shared informers; ``await run()`` serves until ``await shutdown()``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any, Callable, Coroutine, Protocol

from kubepy import errors
from kubepy.client.clock import REAL_CLOCK, Clock
from kubepy.client.informer import Informer
from kubepy.scheduler.algorithm import Algorithm, NoNodesAvailable
from kubepy.scheduler.binder import ApiWriter, disruption_condition, status_patch
from kubepy.scheduler.cache import Cache, is_terminal
from kubepy.scheduler.framework import CycleState, Framework
from kubepy.scheduler.messages import FitError, preempted_message, scheduled_message
from kubepy.scheduler.nodeinfo import PodInfo
from kubepy.scheduler.preemption import preempt
from kubepy.scheduler.queue import ClusterEvent, QueuedPodInfo, SchedulingQueue

log = logging.getLogger("kubepy.scheduler")

Obj = dict[str, Any]
SCHEDULER_NAME = "default-scheduler"
NORMAL, WARNING = "Normal", "Warning"


class Recorder(Protocol):
    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None: ...


class NullRecorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, str]] = []
        self.keep = False

    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        if self.keep:
            self.events.append(((obj.get("metadata") or {}).get("name", ""), type_, reason,
                                message))


def _spec(obj: Obj) -> Obj:
    return obj.get("spec") or {}


def _uid(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    return meta.get("uid") or f"{meta.get('namespace')}/{meta.get('name')}"


def node_changed_for_scheduling(old: Obj, new: Obj) -> bool:
    """Labels, taints, unschedulable, allocatable or images changed (heartbeats do not
    matter to the scheduler)."""
    om, nm = old.get("metadata") or {}, new.get("metadata") or {}
    os_, ns_ = old.get("status") or {}, new.get("status") or {}
    return (om.get("labels") != nm.get("labels")
            or _spec(old).get("taints") != _spec(new).get("taints")
            or bool(_spec(old).get("unschedulable")) != bool(_spec(new).get("unschedulable"))
            or os_.get("allocatable") != ns_.get("allocatable")
            or os_.get("images") != ns_.get("images"))


class Scheduler:
    def __init__(self, *, cache: Cache, queue: SchedulingQueue, framework: Framework,
                 writer: ApiWriter, recorder: Recorder, clock: Clock | None = None,
                 rng: random.Random | None = None,
                 pdbs: Callable[[], list[Obj]] = lambda: [],
                 percentage_of_nodes_to_score: int = 0, max_in_flight_binds: int = 256,
                 preemption: bool = True, scheduler_name: str = SCHEDULER_NAME) -> None:
        self.cache = cache
        self.queue = queue
        self.framework = framework
        self.writer = writer
        self.recorder = recorder
        self.clock: Clock = clock or REAL_CLOCK
        self.rng = rng or random.Random()
        self.pdbs = pdbs
        self.preemption = preemption
        self.scheduler_name = scheduler_name
        self.algorithm = Algorithm(framework, rng=self.rng,
                                   percentage_of_nodes_to_score=percentage_of_nodes_to_score,
                                   has_nominated_pods=queue.has_nominated_pods)
        self._bind_slots = asyncio.Semaphore(max_in_flight_binds)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loops: list[asyncio.Task[Any]] = []
        self._informers: list[tuple[Informer, Any]] = []
        self.scheduled = 0  # binds that succeeded
        self.attempts = 0
        self.failures = 0

    # ------------------------------------------------------------------ informer wiring

    def responsible_for(self, pod: Obj) -> bool:
        return (_spec(pod).get("schedulerName") or SCHEDULER_NAME) == self.scheduler_name

    def watch(self, informer: Informer, on_add: Callable[[Obj], None] | None,
              on_update: Callable[[Obj, Obj], None] | None,
              on_delete: Callable[[Obj], None] | None) -> None:
        handler = informer.add_event_handler(on_add, on_update, on_delete)
        self._informers.append((informer, handler))

    def on_pod_add(self, pod: Obj) -> None:
        if _spec(pod).get("nodeName"):
            self.cache.add_pod(pod)
            self.queue.move_all_to_active_or_backoff(ClusterEvent.ASSIGNED_POD_ADD)
        elif self._pending(pod) and not self.cache.is_assumed(_uid(pod)):
            self.queue.add(PodInfo(pod))

    def on_pod_update(self, old: Obj, new: Obj) -> None:
        uid = _uid(new)
        if _spec(new).get("nodeName"):
            was_assigned = bool(_spec(old).get("nodeName")) and self.cache.pod(uid) is not None
            self.queue.delete(uid)
            self.cache.update_pod(old, new)
            if not was_assigned:
                self.queue.move_all_to_active_or_backoff(ClusterEvent.ASSIGNED_POD_ADD)
            elif (old.get("metadata") or {}).get("labels") != (new.get("metadata") or {}).get("labels"):
                self.queue.move_all_to_active_or_backoff(ClusterEvent.ASSIGNED_POD_UPDATE)
            return
        if not self._pending(new):
            self.queue.delete(uid)
            self.cache.remove_pod(new)
            return
        if self.cache.is_assumed(uid):
            return
        self.queue.update(PodInfo(new))

    def on_pod_delete(self, pod: Obj) -> None:
        uid = _uid(pod)
        self.queue.delete(uid)
        if self.cache.pod(uid) is not None:
            self.cache.remove_pod(pod)
            self.queue.move_all_to_active_or_backoff(ClusterEvent.ASSIGNED_POD_DELETE)

    def _pending(self, pod: Obj) -> bool:
        """Ours to schedule now: our schedulerName, not finished, not being deleted, no
        scheduling gates left (gated pods wait outside the queue, as with the
        SchedulingGates PreEnqueue plugin)."""
        return (self.responsible_for(pod) and not is_terminal(pod)
                and not (pod.get("metadata") or {}).get("deletionTimestamp")
                and not _spec(pod).get("schedulingGates"))

    def on_node_add(self, node: Obj) -> None:
        self.cache.add_node(node)
        self.queue.move_all_to_active_or_backoff(ClusterEvent.NODE_ADD)

    def on_node_update(self, old: Obj, new: Obj) -> None:
        if self.cache.get(new["metadata"]["name"]) is None:
            self.on_node_add(new)
        elif node_changed_for_scheduling(old, new):
            self.cache.update_node(new)
            self.queue.move_all_to_active_or_backoff(ClusterEvent.NODE_UPDATE)

    def on_node_delete(self, node: Obj) -> None:
        self.cache.remove_node(node["metadata"]["name"])

    def on_namespace(self, ns: Obj, *, deleted: bool = False) -> None:
        name = ns["metadata"]["name"]
        labels = (ns.get("metadata") or {}).get("labels") or {}
        if deleted:
            self.cache.namespaces.pop(name, None)
        elif self.cache.namespaces.get(name) != labels:
            self.cache.namespaces[name] = labels
            self.queue.move_all_to_active_or_backoff(ClusterEvent.NAMESPACE_CHANGE)

    def on_event(self, event: ClusterEvent) -> Callable[..., None]:
        def handler(*_: Any) -> None:
            self.queue.move_all_to_active_or_backoff(event)
        return handler

    # ------------------------------------------------------------------ the cycle

    def schedule_one(self, q: QueuedPodInfo) -> str | None:
        """One scheduling cycle for a popped pod; the chosen node (binding started) or
        None (failed, requeued)."""
        pod = q.pod
        cycle = self.queue.scheduling_cycle
        if pod.uid not in self.queue or self.cache.pod(pod.uid) is not None:
            self.queue.done(pod.uid)
            return None  # deleted meanwhile, or already assumed/bound
        self.attempts += 1
        state = CycleState()
        try:
            result = self.algorithm.schedule(pod, self.cache, state)
        except FitError as fe:
            self._on_fit_error(q, cycle, state, fe)
            return None
        except NoNodesAvailable as e:
            self._fail(q, cycle, str(e), "Unschedulable", {"NodeName"}, None)
            return None
        except Exception as e:  # noqa: BLE001 - a plugin bug must not stop the scheduler
            log.exception("scheduling %s failed", pod.key)
            self._fail(q, cycle, str(e), "SchedulerError", set(), None)
            return None
        assumed = pod.with_node(result.node)
        self.cache.assume_pod(assumed)
        self.queue.done(pod.uid)
        self.queue.delete_nominated(pod.uid)
        self._spawn(self._bind(q, assumed, result.node))
        return result.node

    def _on_fit_error(self, q: QueuedPodInfo, cycle: int, state: CycleState,
                      fe: FitError) -> None:
        pod = q.pod
        nominated: str | None = None
        if self.preemption:
            res = preempt(self.framework, state, pod, self.cache, fe, self.pdbs(), rng=self.rng)
            if res.candidate is None:
                if res.message:
                    fe.post_filter_msg = "preemption: " + res.message
                if pod.nominated_node_name:
                    nominated = ""
            else:
                nominated = res.candidate.node
                self.queue.add_nominated(pod, nominated)
                self._spawn(self._apply_preemption(pod, res.candidate.node,
                                                   [v.pod for v in res.candidate.victims],
                                                   [p.pod for p in res.lower_priority_nominated]))
                for p in res.lower_priority_nominated:
                    self.queue.delete_nominated(p.uid)
        self._fail(q, cycle, fe.message(), "Unschedulable", fe.unschedulable_plugins, nominated)

    def _fail(self, q: QueuedPodInfo, cycle: int, message: str, reason: str,
              plugins: set[str], nominated: str | None) -> None:
        self.failures += 1
        pod = q.pod
        self.queue.add_unschedulable(q, cycle, plugins=plugins)
        self.recorder.event(pod.pod, WARNING, "FailedScheduling", message)
        patch = status_patch(pod.pod, {"type": "PodScheduled", "status": "False",
                                       "reason": reason, "message": message},
                             nominated, self.clock.now())
        if patch is not None:
            self._spawn(self._write(self.writer.patch_status(pod.pod, patch), pod.key))

    async def _write(self, coro: Coroutine[Any, Any, None], what: str) -> None:
        try:
            await coro
        except errors.NotFound:
            pass
        except Exception as e:  # noqa: BLE001
            log.warning("writing %s failed: %r", what, e)

    async def _apply_preemption(self, preemptor: PodInfo, node: str, victims: list[Obj],
                                lower_nominated: list[Obj]) -> None:
        cond = disruption_condition(self.scheduler_name, self.clock.now())
        for victim in victims:
            await self._write(self.writer.preempt(victim, cond), "preemption")
            self.recorder.event(victim, NORMAL, "Preempted",
                                preempted_message(preemptor.uid, node))
        for p in lower_nominated:
            await self._write(self.writer.patch_status(p, {"status": {"nominatedNodeName": None}}),
                              "nomination")

    async def _bind(self, q: QueuedPodInfo, assumed: PodInfo, node: str) -> None:
        async with self._bind_slots:
            try:
                await self.writer.bind(q.pod.pod, node)
            except Exception as e:  # noqa: BLE001
                self.cache.forget_pod(assumed)
                if isinstance(e, errors.NotFound) or (
                        isinstance(e, errors.Conflict) and "already assigned" in str(e)):
                    return
                log.warning("binding %s to %s failed: %r", assumed.key, node, e)
                self.queue.readd(q)
                self._fail(q, self.queue.scheduling_cycle, f"binding rejected: {e}",
                           "SchedulerError", set(), None)
                return
        self.scheduled += 1
        self.recorder.event(assumed.pod, NORMAL, "Scheduled",
                            scheduled_message(assumed.namespace, assumed.name, node))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ running

    async def run_loop(self) -> None:
        """Pop and schedule until the queue closes."""
        while True:
            q = await self.queue.pop()
            if q is None:
                return
            self.schedule_one(q)
            await asyncio.sleep(0)  # let informer events and binds in

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._loops = [loop.create_task(self.run_loop(), name="scheduler loop"),
                       loop.create_task(self.queue.run(), name="scheduler queue flush")]

    async def run(self, *, sync_timeout: float | None = None) -> None:
        """Wait for the informers' caches, then schedule until ``shutdown``."""
        informers = {id(i): i for i, _ in self._informers}.values()
        for inf in informers:
            inf.start()
        await asyncio.wait_for(asyncio.gather(*(i.has_synced.wait() for i in informers)),
                               sync_timeout)
        self.start()
        await asyncio.gather(*self._loops, return_exceptions=True)

    async def wait_idle(self) -> None:
        """Wait until every bind/status/preemption task started so far has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def shutdown(self) -> None:
        self.queue.close()
        for inf, handler in self._informers:
            try:
                inf.remove_event_handler(handler)
            except ValueError:
                pass
        self._informers = []
        for t in self._loops:
            t.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        await self.wait_idle()
