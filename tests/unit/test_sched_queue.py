"""The scheduling queue in virtual time: back-off, priority order, moves on cluster events,
move requests during an attempt, the unschedulable timeout, the nominator."""

from __future__ import annotations

import asyncio

import pytest
from schedtest import pod

from kubepy.client.clock import FakeClock
from kubepy.scheduler.nodeinfo import PodInfo
from kubepy.scheduler.queue import ClusterEvent, SchedulingQueue, backoff_duration


@pytest.mark.parametrize("attempts,want", [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0),
                                           (20, 10.0)],
                         ids=["first", "second", "third", "fourth", "capped", "long-capped"])
def test_backoff_duration(attempts: int, want: float) -> None:
    assert backoff_duration(attempts) == want


def P(name: str, priority: int = 0) -> PodInfo:
    return PodInfo(pod(name, priority=priority, uid=name))


def test_pop_order_priority_then_time() -> None:
    asyncio.run(_pop_order())


async def _pop_order() -> None:
    clock = FakeClock()
    q = SchedulingQueue(clock=clock)
    q.add(P("low"))
    clock.advance(1)
    q.add(P("high", 100))
    clock.advance(1)
    q.add(P("low2"))
    order = [(await q.pop()).uid for _ in range(3)]  # type: ignore[union-attr]
    assert order == ["high", "low", "low2"]


def fail(q: SchedulingQueue, plugins: set[str]) -> str:
    qp = q.pop_nowait()
    assert qp is not None
    q.add_unschedulable(qp, q.scheduling_cycle, plugins=plugins)
    return q.where(qp.uid) or ""


MOVE_CASES = [
    ("resources-on-node-add", {"NodeResourcesFit"}, ClusterEvent.NODE_ADD, "active"),
    ("resources-on-pod-delete", {"NodeResourcesFit"}, ClusterEvent.ASSIGNED_POD_DELETE, "active"),
    ("taint-ignores-pod-delete", {"TaintToleration"}, ClusterEvent.ASSIGNED_POD_DELETE,
     "unschedulable"),
    ("affinity-on-pod-add", {"InterPodAffinity"}, ClusterEvent.ASSIGNED_POD_ADD, "active"),
    ("selector-ignores-pod-add", {"NodeAffinity"}, ClusterEvent.ASSIGNED_POD_ADD,
     "unschedulable"),
    ("force", {"NodeAffinity"}, ClusterEvent.FORCE, "active"),
]


@pytest.mark.parametrize("plugins,event,want", [c[1:] for c in MOVE_CASES],
                         ids=[c[0] for c in MOVE_CASES])
def test_move_on_cluster_event(plugins: set[str], event: ClusterEvent, want: str) -> None:
    clock = FakeClock()
    q = SchedulingQueue(clock=clock)
    q.add(P("p"))
    assert fail(q, plugins) == "unschedulable"
    clock.advance(5)  # past the first back-off (1 s)
    q.move_all_to_active_or_backoff(event)
    assert q.where("p") == want


def test_moved_inside_backoff_waits_in_backoff() -> None:
    clock = FakeClock()
    q = SchedulingQueue(clock=clock)
    q.add(P("p"))
    fail(q, {"NodeResourcesFit"})
    clock.advance(0.5)
    q.move_all_to_active_or_backoff(ClusterEvent.NODE_ADD)
    assert q.where("p") == "backoff"
    q.flush()
    assert q.where("p") == "backoff"
    clock.advance(0.6)
    q.flush()
    assert q.where("p") == "active"


def test_event_during_attempt_retries_instead_of_parking() -> None:
    clock = FakeClock()
    q = SchedulingQueue(clock=clock)
    q.add(P("p"))
    qp = q.pop_nowait()
    assert qp is not None
    cycle = q.scheduling_cycle
    q.move_all_to_active_or_backoff(ClusterEvent.NODE_ADD)  # while "p" is being scheduled
    q.add_unschedulable(qp, cycle, plugins={"NodeResourcesFit"})
    assert q.where("p") == "backoff"


def test_backoff_doubles_with_attempts() -> None:
    clock = FakeClock()
    q = SchedulingQueue(clock=clock)
    q.add(P("p"))
    waits = []
    for _ in range(5):
        qp = q.pop_nowait()
        assert qp is not None
        q.add_unschedulable(qp, q.scheduling_cycle, plugins=set())  # errors go to backoff
        start = clock.monotonic()
        while q.where("p") != "active":
            clock.advance(0.25)
            q.flush()
        waits.append(clock.monotonic() - start)
    assert waits == [1.0, 2.0, 4.0, 8.0, 10.0]


def test_unschedulable_timeout() -> None:
    clock = FakeClock()
    q = SchedulingQueue(clock=clock)
    q.add(P("p"))
    fail(q, {"NodeAffinity"})
    clock.advance(299)
    q.flush()
    assert q.where("p") == "unschedulable"
    clock.advance(2)
    q.flush()
    assert q.where("p") == "active"


def test_delete_and_update() -> None:
    q = SchedulingQueue(clock=FakeClock())
    q.add(P("p"))
    q.add(P("gone"))
    q.delete("gone")
    assert "gone" not in q
    fail(q, {"NodeAffinity"})
    q.update(PodInfo(pod("p", uid="p")))  # no change: stays parked
    assert q.where("p") == "unschedulable"
    q.update(PodInfo(pod("p", uid="p", labels={"new": "label"})))  # a change -> retried
    assert q.where("p") == "backoff"  # still inside its 1 s back-off


def test_nominator() -> None:
    q = SchedulingQueue(clock=FakeClock())
    q.add(PodInfo({**pod("p", uid="p"), "status": {"nominatedNodeName": "n1"}}))
    assert [p.uid for p in q.nominated_pods("n1")] == ["p"]
    assert q.has_nominated_pods()
    q.delete("p")
    assert q.nominated_pods("n1") == [] and not q.has_nominated_pods()


def test_pop_waits_and_close_ends() -> None:
    asyncio.run(asyncio.wait_for(_pop_waits(), 5))


async def _pop_waits() -> None:
    q = SchedulingQueue(clock=FakeClock())
    waiter = asyncio.ensure_future(q.pop())
    await asyncio.sleep(0)
    assert not waiter.done()
    q.add(P("p"))
    assert (await waiter).uid == "p"  # type: ignore[union-attr]
    q.close()
    assert await q.pop() is None
