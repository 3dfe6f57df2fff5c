"""Work queue, delaying queue and rate limiters (kubepy.client.queue/delaying/ratelimit/
workqueue), in virtual time."""

from __future__ import annotations

import asyncio
from typing import Any, Callable

import pytest

from kubepy.client.clock import FakeClock, settle
from kubepy.client.delaying import DelayingQueue
from kubepy.client.queue import Queue, ShutDown
from kubepy.client.ratelimit import (BucketRateLimiter, ItemExponentialFailureRateLimiter,
                                     MaxOfRateLimiter, default_controller_rate_limiter)
from kubepy.client.workqueue import WorkQueue


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 5))


async def drain(q: Queue[str]) -> list[str]:
    """Every item queued now, each marked done at once."""
    out = []
    while len(q):
        item = await q.get()
        out.append(item)
        q.done(item)
    return out


# ops: "+x" add x, "g" get (the item got is recorded), "d" done of the last item got
QUEUE_CASES = [
    ("dedup", ["+a", "+b", "+a", "+a"], [], ["a", "b"]),
    ("fifo", ["+c", "+a", "+b"], [], ["c", "a", "b"]),
    ("re-add after get, before done: held back", ["+a", "g", "+a"], ["a"], []),
    ("re-add while processing: queued once on done", ["+a", "g", "+a", "+a", "d"], ["a"], ["a"]),
    ("done without re-add: gone", ["+a", "g", "d"], ["a"], []),
    ("other items unaffected by processing", ["+a", "g", "+b", "+a"], ["a"], ["b"]),
]


@pytest.mark.parametrize("ops,got,remaining", [c[1:] for c in QUEUE_CASES],
                         ids=[c[0] for c in QUEUE_CASES])
def test_queue_semantics(ops: list[str], got: list[str], remaining: list[str]) -> None:
    async def go() -> tuple[list[str], list[str]]:
        q: Queue[str] = Queue()
        taken: list[str] = []
        for op in ops:
            if op.startswith("+"):
                q.add(op[1:])
            elif op == "g":
                taken.append(await q.get())
            elif op == "d":
                q.done(taken[-1])
        return taken, await drain(q)
    assert run(go()) == (got, remaining)


def test_get_waits_for_an_add_and_shutdown_releases_waiters() -> None:
    async def go() -> list[Any]:
        q: Queue[str] = Queue()
        getter = asyncio.ensure_future(q.get())
        await settle()
        assert not getter.done()
        q.add("x")
        first = await getter
        blocked = asyncio.ensure_future(q.get())
        await settle()
        q.shutdown()
        q.add("ignored")
        with pytest.raises(ShutDown):
            await blocked
        return [first, len(q)]
    assert run(go()) == ["x", 0]


def test_shutdown_hands_out_queued_items_first() -> None:
    async def go() -> list[str]:
        q: Queue[str] = Queue()
        q.add("a")
        q.add("b")
        q.shutdown()
        got = [await q.get(), await q.get()]
        with pytest.raises(ShutDown):
            await q.get()
        return got
    assert run(go()) == ["a", "b"]


def test_shutdown_with_drain_waits_for_processing() -> None:
    async def go() -> list[str]:
        q: Queue[str] = Queue()
        q.add("a")
        item = await q.get()
        drained = asyncio.ensure_future(q.shutdown_with_drain())
        await settle()
        log = ["drained" if drained.done() else "waiting"]
        q.done(item)
        await drained
        return log + ["drained"]
    assert run(go()) == ["waiting", "drained"]


def test_cancelled_waiter_passes_its_wakeup_on() -> None:
    async def go() -> str:
        q: Queue[str] = Queue()
        w1 = asyncio.ensure_future(q.get())
        w2 = asyncio.ensure_future(q.get())
        await settle()
        q.add("x")      # wakes w1 ...
        w1.cancel()     # ... which is cancelled before it runs
        await settle()
        return await asyncio.wait_for(w2, 1)
    assert run(go()) == "x"


# ---------------------------------------------------------------- delaying queue

# (item, delay) added in order; then (advance, expected items added so far, in order)
DELAY_CASES = [
    ("earliest first", [("a", 3), ("b", 1), ("c", 2)], [(5, ["b", "c", "a"])]),
    ("only due items", [("a", 3), ("b", 1)], [(1.5, ["b"]), (2, ["b", "a"])]),
    ("ties keep add order", [("x", 2), ("y", 2), ("z", 2)], [(2, ["x", "y", "z"])]),
    ("zero delay is immediate", [("now", 0), ("later", 1)], [(0, ["now"]), (1, ["now", "later"])]),
    ("earlier ready time wins", [("a", 5), ("a", 1)], [(1, ["a"]), (10, ["a"])]),
    ("later ready time ignored", [("a", 1), ("a", 5)], [(1, ["a"]), (10, ["a"])]),
    ("not before its time", [("a", 10)], [(9.999, []), (0.001, ["a"])]),
]


@pytest.mark.parametrize("adds,steps", [c[1:] for c in DELAY_CASES],
                         ids=[c[0] for c in DELAY_CASES])
def test_add_after(adds: list[tuple[str, float]], steps: list[tuple[float, list[str]]]) -> None:
    async def go() -> None:
        clock = FakeClock()
        q: DelayingQueue[str] = DelayingQueue(clock=clock)
        for item, delay in adds:
            q.add_after(item, delay)
        seen: list[str] = []
        for advance, expected in steps:
            await clock.tick(advance)
            seen += await drain(q)
            assert seen == expected, f"after {clock.monotonic()}s"
        q.shutdown()
    run(go())


def test_add_after_is_deduplicated_against_the_queue() -> None:
    async def go() -> list[str]:
        clock = FakeClock()
        q: DelayingQueue[str] = DelayingQueue(clock=clock)
        q.add("a")
        q.add_after("a", 1)
        await clock.tick(2)
        out = await drain(q)
        q.shutdown()
        return out
    assert run(go()) == ["a"]


def test_shutdown_drops_waiting_items() -> None:
    async def go() -> int:
        clock = FakeClock()
        q: DelayingQueue[str] = DelayingQueue(clock=clock)
        q.add_after("a", 1)
        q.shutdown()
        await clock.tick(5)
        return len(q) + q.waiting
    assert run(go()) == 0


# ---------------------------------------------------------------- rate limiters

EXPONENTIAL = [
    ("first failure", 1, [0.005]),
    ("doubling", 5, [0.005, 0.01, 0.02, 0.04, 0.08]),
    ("capped at 1000s", 20, [0.005 * 2 ** n for n in range(18)] + [1000.0, 1000.0]),
]


@pytest.mark.parametrize("n,delays", [c[1:] for c in EXPONENTIAL], ids=[c[0] for c in EXPONENTIAL])
def test_exponential_growth(n: int, delays: list[float]) -> None:
    rl = ItemExponentialFailureRateLimiter()
    assert [rl.when("k") for _ in range(n)] == pytest.approx(delays)
    assert rl.num_requeues("k") == n


def test_exponential_is_per_item_and_forget_resets() -> None:
    rl = ItemExponentialFailureRateLimiter(0.005, 1000)
    rl.when("a"), rl.when("a"), rl.when("a")
    assert rl.when("b") == 0.005
    rl.forget("a")
    assert (rl.num_requeues("a"), rl.when("a"), rl.num_requeues("b")) == (0, 0.005, 1)


def test_exponential_survives_huge_failure_counts() -> None:
    rl = ItemExponentialFailureRateLimiter(0.005, 1000)
    for _ in range(2000):
        last = rl.when("k")
    assert last == 1000.0


BUCKET = [
    # qps, burst, [(advance before the call, expected delay)]
    ("burst is free", 1.0, 3, [(0, 0), (0, 0), (0, 0)]),
    ("then one per 1/qps", 1.0, 2, [(0, 0), (0, 0), (0, 1), (0, 2)]),
    ("refills with time", 10.0, 1, [(0, 0), (0, 0.1), (1, 0)]),
    ("refill capped at burst", 1.0, 1, [(0, 0), (100, 0), (0, 1)]),
]


@pytest.mark.parametrize("qps,burst,calls", [c[1:] for c in BUCKET], ids=[c[0] for c in BUCKET])
def test_bucket(qps: float, burst: int, calls: list[tuple[float, float]]) -> None:
    clock = FakeClock()
    rl = BucketRateLimiter(qps, burst, clock=clock)
    got = []
    for advance, _ in calls:
        clock.advance(advance)
        got.append(rl.when("any"))
    assert got == pytest.approx([d for _, d in calls])


def test_max_of_and_default_controller_limiter() -> None:
    clock = FakeClock()
    rl = MaxOfRateLimiter(ItemExponentialFailureRateLimiter(1, 100), BucketRateLimiter(1, 1, clock=clock))
    assert [rl.when("a"), rl.when("a"), rl.when("a")] == [1, 2, 4]
    default = default_controller_rate_limiter(clock)
    delays = [default.when("x") for _ in range(3)]
    assert delays == pytest.approx([0.005, 0.01, 0.02])
    default.forget("x")
    assert default.num_requeues("x") == 0


# ---------------------------------------------------------------- the controller queue

def test_add_rate_limited_waits_the_backoff_and_forget_resets_it() -> None:
    async def go() -> list[Any]:
        clock = FakeClock()
        q: WorkQueue[str] = WorkQueue(clock=clock,
                                      rate_limiter=ItemExponentialFailureRateLimiter(1, 60))
        log: list[Any] = []
        for _ in range(3):  # fail three times: waits 1, 2, 4
            q.add_rate_limited("k")
            before = clock.monotonic()
            while not len(q):
                await clock.tick(0.5)
            log.append(clock.monotonic() - before)
            q.done(await q.get())
        log.append(q.num_requeues("k"))
        q.forget("k")
        log.append(q.num_requeues("k"))
        q.shutdown()
        return log
    assert run(go()) == [1, 2, 4, 3, 0]


WAKE_ORDER: list[tuple[str, list[float], list[int]]] = [
    ("in deadline order", [3, 1, 2], [1, 2, 0]),
    ("ties in sleep order", [1, 1, 1], [0, 1, 2]),
]


@pytest.mark.parametrize("delays,order", [c[1:] for c in WAKE_ORDER], ids=[c[0] for c in WAKE_ORDER])
def test_fake_clock_wakes_sleepers_in_order(delays: list[float], order: list[int]) -> None:
    async def go() -> list[int]:
        clock = FakeClock()
        woke: list[int] = []

        async def sleeper(i: int, d: float) -> None:
            await clock.sleep(d)
            woke.append(i)
        tasks = [asyncio.ensure_future(sleeper(i, d)) for i, d in enumerate(delays)]
        await settle()
        clock.advance(min(delays) - 0.001)
        await settle()
        assert woke == []
        clock.advance(max(delays))
        await asyncio.gather(*tasks)
        return woke
    assert run(go()) == order


def test_with_deadline_times_out_on_the_injected_clock() -> None:
    from kubepy.client.clock import with_deadline

    async def go() -> list[str]:
        clock = FakeClock()
        never = asyncio.get_running_loop().create_future()
        guarded = asyncio.ensure_future(with_deadline(clock, never, 5))
        await clock.tick(4.9)
        states = ["pending" if not guarded.done() else "done"]
        await clock.tick(0.2)
        with pytest.raises(TimeoutError):
            await guarded
        states.append("cancelled" if never.cancelled() else "running")
        ok = await with_deadline(clock, asyncio.sleep(0, "fast"), 5)
        return states + [ok, str(clock.sleepers)]
    assert run(go()) == ["pending", "cancelled", "fast", "0"]


CLOCK_ADVANCE: list[tuple[str, Callable[[FakeClock], None], float]] = [
    ("advance moves monotonic", lambda c: c.advance(2.5), 2.5),
    ("two advances add up", lambda c: (c.advance(1), c.advance(2)) and None, 3.0),
]


@pytest.mark.parametrize("act,expected", [c[1:] for c in CLOCK_ADVANCE],
                         ids=[c[0] for c in CLOCK_ADVANCE])
def test_fake_clock_time(act: Callable[[FakeClock], None], expected: float) -> None:
    clock = FakeClock()
    wall = clock.now()
    act(clock)
    assert clock.monotonic() == expected
    assert (clock.now() - wall).total_seconds() == expected
    with pytest.raises(ValueError):
        clock.advance(-1)
