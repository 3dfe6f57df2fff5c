"""The Controller worker loop (kubepy.client.controller) in virtual time: success forgets
the back-off, errors retry with growing delays, a returned number requeues after it, a key
enqueued during its own reconcile runs once more, and never on two workers at once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kubepy.client.clock import FakeClock
from kubepy.client.controller import Controller
from kubepy.client.ratelimit import ItemExponentialFailureRateLimiter


class Scripted(Controller):
    """Each reconcile of a key pops its next outcome: "ok", "fail", or a requeue delay."""

    def __init__(self, outcomes: list[Any], clock: FakeClock, workers: int = 1) -> None:
        super().__init__(name="t", workers=workers, clock=clock,
                         rate_limiter=ItemExponentialFailureRateLimiter(1, 100))
        self.outcomes = outcomes
        self.runs: list[float] = []
        self.active = 0
        self.max_active = 0

    async def reconcile(self, key: str) -> float | None:
        self.runs.append(self.clock.monotonic())
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            await self.clock.sleep(0.1)
            outcome = self.outcomes.pop(0) if self.outcomes else "ok"
            if outcome == "fail":
                raise RuntimeError("boom")
            return None if outcome == "ok" else float(outcome)
        finally:
            self.active -= 1


CASES = [
    ("success once", ["ok"], [0]),
    ("failures back off 1, 2, 4 then succeed", ["fail", "fail", "fail", "ok"], [0, 1.1, 3.2, 7.3]),
    ("requeue after a delay", [5, "ok"], [0, 5.1]),
]


@pytest.mark.parametrize("outcomes,runs", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_outcomes(outcomes: list[Any], runs: list[float]) -> None:
    async def go() -> tuple[list[float], int]:
        clock = FakeClock()
        ctl = Scripted(outcomes, clock)
        ctl.start_workers()
        ctl.enqueue_key("ns/a")
        await clock.tick(30, settle_steps=30)
        requeues = ctl.queue.num_requeues("ns/a")
        await ctl.shutdown()
        return ctl.runs, requeues
    got, requeues = asyncio.run(go())
    assert got == pytest.approx(runs)
    assert requeues == 0  # the final success forgot the back-off


def test_enqueue_during_reconcile_runs_again_never_concurrently() -> None:
    async def go() -> tuple[list[float], int]:
        clock = FakeClock()
        ctl = Scripted([], clock, workers=3)
        ctl.start_workers()
        ctl.enqueue({"metadata": {"name": "a", "namespace": "ns"}})
        await clock.tick(0.05)
        for _ in range(3):  # while "ns/a" is being reconciled
            ctl.enqueue_key("ns/a")
        await clock.tick(5)
        await ctl.shutdown()
        return ctl.runs, ctl.max_active
    runs, max_active = asyncio.run(go())
    assert runs == pytest.approx([0, 0.1]) and max_active == 1
