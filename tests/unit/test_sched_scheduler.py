"""The scheduling loop with a recording writer in virtual time: binding and the Scheduled
event, FailedScheduling with the PodScheduled=False condition, retry on cluster events,
assumed pods, binding failures, preemption writes, and which pods are ours."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable

import pytest
from schedtest import framework, node, pod

from kubepy import errors
from kubepy.client.clock import FakeClock
from kubepy.scheduler.binder import NullWriter, status_patch
from kubepy.scheduler.cache import Cache
from kubepy.scheduler.queue import SchedulingQueue
from kubepy.scheduler.scheduler import NullRecorder, Scheduler

Obj = dict[str, Any]
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


class FailingWriter(NullWriter):
    def __init__(self, fails: int) -> None:
        super().__init__()
        self.fails = fails

    async def bind(self, pod: Obj, node: str) -> None:
        if self.fails:
            self.fails -= 1
            raise errors.InternalError("etcd is having a bad day")
        await super().bind(pod, node)


def make(writer: NullWriter | None = None) -> tuple[Scheduler, NullWriter, NullRecorder, FakeClock]:
    clock = FakeClock()
    queue = SchedulingQueue(clock=clock)
    cache = Cache()
    fw = framework(cache)
    fw.nominated_pods = queue.nominated_pods
    w = writer or NullWriter()
    rec = NullRecorder()
    rec.keep = True
    s = Scheduler(cache=cache, queue=queue, framework=fw, writer=w, recorder=rec, clock=clock,
                  rng=random.Random(0))
    return s, w, rec, clock


def run(body: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(body(), 5))


async def drain(s: Scheduler) -> None:
    while (q := s.queue.pop_nowait()) is not None:
        s.schedule_one(q)
    await s.wait_idle()


def test_binds_and_records_scheduled() -> None:
    async def body() -> None:
        s, w, rec, _ = make()
        s.on_node_add(node("node-1"))
        s.on_pod_add(pod("web-1", "100m", uid="u1"))
        await drain(s)
        assert w.binds == [("web-1", "node-1")]
        assert ("web-1", "Normal", "Scheduled",
                "Successfully assigned default/web-1 to node-1") in rec.events
        assert s.cache.is_assumed("u1")
        # the informer confirms the binding
        bound = pod("web-1", "100m", uid="u1", node_name="node-1")
        s.on_pod_update(pod("web-1", "100m", uid="u1"), bound)
        assert not s.cache.is_assumed("u1") and s.cache.pod("u1") is not None
    run(body)


@pytest.mark.parametrize("p", [
    pod("other", schedulerName="my-scheduler"),
    pod("preassigned", node_name="node-1"),
    {**pod("done"), "status": {"phase": "Succeeded"}},
    {**pod("deleting"), "metadata": {**pod("deleting")["metadata"],
                                     "deletionTimestamp": "2026-01-01T00:00:00Z"}},
    pod("gated", schedulingGates=[{"name": "example.com/wait"}]),
], ids=["other-scheduler", "has-node-name", "terminal", "terminating", "gated"])
def test_not_ours(p: Obj) -> None:
    async def body() -> None:
        s, w, _, _ = make()
        s.on_node_add(node("node-1"))
        s.on_pod_add(p)
        await drain(s)
        assert w.binds == []
    run(body)


def test_unschedulable_then_node_added() -> None:
    async def body() -> None:
        s, w, rec, clock = make()
        s.on_node_add(node("small", cpu="1"))
        p = pod("big", "2", uid="big")
        s.on_pod_add(p)
        await drain(s)
        msg = ("0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are "
               "available: 1 No preemption victims found for incoming pod.")
        assert ("big", "Warning", "FailedScheduling", msg) in rec.events
        assert w.patches == [("big", {"status": {"conditions": [{
            "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": msg, "lastProbeTime": None,
            "lastTransitionTime": "2026-01-01T00:00:00Z"}]}})]
        assert s.queue.where("big") == "unschedulable"
        clock.advance(2)
        s.on_node_update(node("small", cpu="1"), node("small", cpu="1"))  # heartbeat only
        assert s.queue.where("big") == "unschedulable"
        s.on_node_add(node("large", cpu="4"))
        assert s.queue.where("big") == "active"
        await drain(s)
        assert w.binds == [("big", "large")]
    run(body)


def test_assumed_pods_take_room_before_confirmation() -> None:
    async def body() -> None:
        s, w, rec, _ = make()
        s.on_node_add(node("a", cpu="1"))
        s.on_node_add(node("b", cpu="1"))
        for i in range(3):
            s.on_pod_add(pod(f"p{i}", "600m", uid=f"p{i}"))
        await drain(s)
        assert sorted(n for _, n in w.binds) == ["a", "b"]
        assert [e[0] for e in rec.events if e[2] == "FailedScheduling"] == ["p2"]
    run(body)


def test_bind_failure_forgets_and_retries() -> None:
    async def body() -> None:
        s, w, rec, clock = make(FailingWriter(1))
        s.on_node_add(node("a"))
        s.on_pod_add(pod("p", "100m", uid="p"))
        await drain(s)
        assert w.binds == [] and s.cache.pod("p") is None
        assert s.queue.where("p") == "backoff"
        assert any(e[2] == "FailedScheduling" and e[3].startswith("binding rejected:")
                   for e in rec.events)
        clock.advance(1.5)
        s.queue.flush()
        await drain(s)
        assert w.binds == [("p", "a")]
    run(body)


def test_preemption_evicts_and_nominates() -> None:
    async def body() -> None:
        s, w, rec, clock = make()
        s.on_node_add(node("a", cpu="1"))
        s.on_pod_add(pod("victim", "1", uid="v", node_name="a"))
        s.on_pod_add(pod("vip", "1", uid="vip", priority=1000))
        await drain(s)
        assert w.preempted == ["victim"]
        assert ("vip", {"status": {"nominatedNodeName": "a"}}) in [
            (n, {"status": {k: v for k, v in p["status"].items() if k == "nominatedNodeName"}})
            for n, p in w.patches]
        assert any(e[0] == "victim" and e[2] == "Preempted" for e in rec.events)
        assert s.queue.nominated_node("vip") == "a"
        # the victim goes away; the preemptor gets the node
        s.on_pod_delete(pod("victim", "1", uid="v", node_name="a"))
        assert s.queue.where("vip") == "backoff"
        clock.advance(1.5)
        s.queue.flush()
        await drain(s)
        assert w.binds == [("vip", "a")]
        assert s.queue.nominated_node("vip") is None
    run(body)


def test_gate_removed_then_scheduled() -> None:
    async def body() -> None:
        s, w, _, _ = make()
        s.on_node_add(node("a"))
        gated = pod("p", uid="p", schedulingGates=[{"name": "example.com/wait"}])
        s.on_pod_add(gated)
        await drain(s)
        assert w.binds == []
        s.on_pod_update(gated, pod("p", uid="p"))
        await drain(s)
        assert w.binds == [("p", "a")]
    run(body)


def test_pod_deleted_while_queued() -> None:
    async def body() -> None:
        s, w, _, _ = make()
        p = pod("p", "100m", uid="p")
        s.on_pod_add(p)
        s.on_pod_delete(p)
        s.on_node_add(node("a"))
        await drain(s)
        assert w.binds == []
    run(body)


STATUS_CASES = [
    ("new-condition", {}, "msg", None,
     {"status": {"conditions": [{"type": "PodScheduled", "status": "False",
                                 "reason": "Unschedulable", "message": "msg",
                                 "lastProbeTime": None,
                                 "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}),
    ("unchanged", {"conditions": [{"type": "PodScheduled", "status": "False",
                                   "reason": "Unschedulable", "message": "msg"}]},
     "msg", None, None),
    ("message-changed-keeps-transition", {"conditions": [{
        "type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "old",
        "lastTransitionTime": "2025-12-31T00:00:00Z"}]}, "msg", None,
     {"status": {"conditions": [{"type": "PodScheduled", "status": "False",
                                 "reason": "Unschedulable", "message": "msg",
                                 "lastProbeTime": None,
                                 "lastTransitionTime": "2025-12-31T00:00:00Z"}]}}),
    ("nominate-only", {"conditions": [{"type": "PodScheduled", "status": "False",
                                       "reason": "Unschedulable", "message": "msg"}]},
     "msg", "node-1", {"status": {"nominatedNodeName": "node-1"}}),
    ("clear-nomination", {"nominatedNodeName": "node-1", "conditions": [{
        "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
        "message": "msg"}]}, "msg", "", {"status": {"nominatedNodeName": None}}),
]


@pytest.mark.parametrize("status,message,nominated,want", [c[1:] for c in STATUS_CASES],
                         ids=[c[0] for c in STATUS_CASES])
def test_status_patch(status: Obj, message: str, nominated: str | None, want: Obj | None) -> None:
    cond = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": message}
    assert status_patch({"status": status}, cond, nominated, NOW) == want
