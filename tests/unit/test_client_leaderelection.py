"""Leader election (kubepy.client.leaderelection): the pure decisions as tables, and whole
electors in virtual time over an in-memory Lease endpoint with resourceVersion checks."""

from __future__ import annotations

import asyncio
import copy
from datetime import datetime, timezone
from typing import Any

import pytest

from kubepy import errors
from kubepy.client.clock import FakeClock
from kubepy.client.leaderelection import (LeaderElectionRecord, LeaderElector, decide,
                                          format_micro_time, lease_spec, next_record,
                                          parse_micro_time, record_from_lease, released_record)

T0 = datetime(2026, 11, 23, 10, 40, tzinfo=timezone.utc)
T1 = datetime(2026, 11, 23, 10, 40, 5, 123456, tzinfo=timezone.utc)


def rec(holder: str, duration: int = 15, transitions: int = 0) -> LeaderElectionRecord:
    return LeaderElectionRecord(holder, duration, T0, T0, transitions)


DECISIONS = [
    ("no lease yet", None, 0, 0, "acquire"),
    ("released lease", rec(""), 0, 1, "acquire"),
    ("own lease", rec("me"), 0, 100, "renew"),
    ("other holder, fresh", rec("other"), 10, 24.9, "wait"),
    ("other holder, expired by our observation", rec("other"), 10, 25, "acquire"),
    ("the record's duration counts, not ours", rec("other", duration=60), 0, 59, "wait"),
]


@pytest.mark.parametrize("record,observed_at,now,decision", [c[1:] for c in DECISIONS],
                         ids=[c[0] for c in DECISIONS])
def test_decide(record: LeaderElectionRecord | None, observed_at: float, now: float,
                decision: str) -> None:
    assert decide(record, observed_at, now, "me") == decision


NEXT = [
    ("create", None, LeaderElectionRecord("me", 15, T1, T1, 0)),
    ("renew keeps acquireTime and transitions", rec("me", transitions=3),
     LeaderElectionRecord("me", 15, T0, T1, 3)),
    ("take over counts a transition", rec("other", transitions=3),
     LeaderElectionRecord("me", 15, T1, T1, 4)),
    ("acquire a released lease counts a transition", rec("", 1, transitions=4),
     LeaderElectionRecord("me", 15, T1, T1, 5)),
]


@pytest.mark.parametrize("current,expected", [c[1:] for c in NEXT], ids=[c[0] for c in NEXT])
def test_next_record(current: LeaderElectionRecord | None, expected: LeaderElectionRecord) -> None:
    assert next_record(current, "me", 15, T1) == expected


def test_release_and_wire_format() -> None:
    released = released_record(rec("me", transitions=2), T1)
    assert lease_spec(released) == {
        "holderIdentity": "", "leaseDurationSeconds": 1, "leaseTransitions": 2,
        "acquireTime": "2026-11-23T10:40:05.123456Z", "renewTime": "2026-11-23T10:40:05.123456Z"}
    assert format_micro_time(T0) == "2026-11-23T10:40:00.000000Z"
    assert parse_micro_time("2026-11-23T10:40:05.123456Z") == T1
    assert record_from_lease({"spec": lease_spec(rec("x", 7, 9))}) == rec("x", 7, 9)
    assert record_from_lease({"spec": {}}) == LeaderElectionRecord()


class LeaseEndpoint:
    """An in-memory Lease REST endpoint with create/update resourceVersion semantics;
    ``down`` makes every call fail as an unreachable server would."""

    def __init__(self) -> None:
        self.lease: dict[str, Any] | None = None
        self.rv = 0
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise ConnectionError("down")

    async def get(self, rt: Any, name: str, namespace: str | None = None) -> dict[str, Any]:
        self._check()
        if self.lease is None:
            raise errors.NotFound(f'leases "{name}" not found')
        return copy.deepcopy(self.lease)

    async def create(self, rt: Any, obj: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        self._check()
        if self.lease is not None:
            raise errors.AlreadyExists("exists")
        return self._store(obj)

    async def update(self, rt: Any, obj: dict[str, Any]) -> dict[str, Any]:
        self._check()
        assert self.lease is not None
        if obj["metadata"].get("resourceVersion") != self.lease["metadata"]["resourceVersion"]:
            raise errors.Conflict("the object has been modified")
        return self._store(obj)

    def _store(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.rv += 1
        self.lease = copy.deepcopy(obj)
        self.lease["metadata"]["resourceVersion"] = str(self.rv)
        return copy.deepcopy(self.lease)


def elector(api: LeaseEndpoint, identity: str, clock: FakeClock) -> LeaderElector:
    return LeaderElector(api, "kube-controller-manager", identity=identity, clock=clock,  # type: ignore[arg-type]
                         lease_duration=15, renew_deadline=10, retry_period=2)


def test_only_one_leads_and_the_other_takes_over_after_expiry() -> None:
    async def go() -> list[tuple[float, str]]:
        clock = FakeClock()
        api = LeaseEndpoint()
        log: list[tuple[float, str]] = []

        def callbacks(name: str) -> tuple[Any, Any]:
            async def started() -> None:
                log.append((clock.monotonic(), f"{name} leads"))
                await asyncio.Event().wait()

            def stopped() -> None:
                log.append((clock.monotonic(), f"{name} stopped"))
            return started, stopped
        a, b = elector(api, "a", clock), elector(api, "b", clock)
        a.release_on_cancel = False  # a crashes: b must wait for the lease to expire
        run_a = asyncio.ensure_future(a.run(*callbacks("a")))
        await clock.tick(1)
        run_b = asyncio.ensure_future(b.run(*callbacks("b")))
        await clock.tick(30)
        assert (a.is_leader, b.is_leader, b.leader) == (True, False, "a")
        run_a.cancel()  # a dies at t=31, last renewal at t=30
        await clock.tick(30)
        assert b.is_leader and api.lease is not None
        assert api.lease["spec"]["holderIdentity"] == "b"
        assert api.lease["spec"]["leaseTransitions"] == 1
        run_b.cancel()
        await asyncio.gather(run_a, run_b, return_exceptions=True)
        return log
    log = asyncio.run(go())
    # b observed a's last renewal at t=31 (its poll after a's t=30 write) and waits 15s from then
    assert [e for _, e in log] == ["a leads", "a stopped", "b leads", "b stopped"]
    assert log[2][0] == pytest.approx(47)


def test_release_on_cancel_hands_over_at_once() -> None:
    async def go() -> tuple[float, str, int]:
        clock = FakeClock()
        api = LeaseEndpoint()
        a, b = elector(api, "a", clock), elector(api, "b", clock)
        ran_a = asyncio.ensure_future(a.run(asyncio.Event().wait))
        await clock.tick(1)
        took_over: list[float] = []

        async def b_leads() -> None:
            took_over.append(clock.monotonic())
            await asyncio.Event().wait()
        ran_b = asyncio.ensure_future(b.run(b_leads))
        await clock.tick(10)
        ran_a.cancel()
        await clock.tick(10)
        assert api.lease is not None
        result = (took_over[0], api.lease["spec"]["holderIdentity"],
                  api.lease["spec"]["leaseTransitions"])
        ran_b.cancel()
        await asyncio.gather(ran_a, ran_b, return_exceptions=True)
        return result
    at, holder, transitions = asyncio.run(go())
    assert at <= 13 and holder == "b" and transitions == 1  # release keeps the count; b adds one


def test_leader_steps_down_when_it_cannot_renew_within_the_deadline() -> None:
    async def go() -> tuple[float, bool]:
        clock = FakeClock()
        api = LeaseEndpoint()
        a = elector(api, "a", clock)
        stopped: list[float] = []
        work_cancelled: list[bool] = []

        async def work() -> None:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                work_cancelled.append(True)
                raise
        run_a = asyncio.ensure_future(a.run(work, lambda: stopped.append(clock.monotonic())))
        await clock.tick(6)   # renewed at 2, 4, 6
        api.down = True
        await clock.tick(20)
        assert run_a.done() and not a.is_leader
        return stopped[0], bool(work_cancelled)
    at, cancelled = asyncio.run(go())
    assert at == pytest.approx(16) and cancelled  # last renewal at 6, deadline 10


def test_a_leader_that_sees_another_holder_steps_down_at_once() -> None:
    async def go() -> float:
        clock = FakeClock()
        api = LeaseEndpoint()
        a = elector(api, "a", clock)
        run_a = asyncio.ensure_future(a.run(asyncio.Event().wait))
        await clock.tick(3)
        assert api.lease is not None
        api._store({**api.lease, "spec": {**api.lease["spec"], "holderIdentity": "intruder"}})
        await clock.tick(5)
        assert run_a.done()
        return clock.monotonic()
    assert asyncio.run(go()) == 8


def test_invalid_timings_are_refused() -> None:
    with pytest.raises(ValueError):
        LeaderElector(LeaseEndpoint(), "x", identity="a", lease_duration=10,  # type: ignore[arg-type]
                      renew_deadline=10, retry_period=2)
