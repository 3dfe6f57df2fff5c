"""Rate limiters for retries (client-go's ``workqueue/default_rate_limiters.go``).

A ``RateLimiter`` answers "how long should this item wait before its next try":

* ``ItemExponentialFailureRateLimiter`` — per item, ``base * 2**failures`` capped at
  ``max_delay`` (5 ms doubling to 1000 s by default); ``forget`` resets the item.
* ``BucketRateLimiter`` — one token bucket for all items (``qps`` tokens a second, ``burst``
  at most): bounds the overall retry rate.
* ``MaxOfRateLimiter`` — the longest delay any of its limiters asks for.

``default_controller_rate_limiter`` is client-go's DefaultControllerRateLimiter: the max of
the exponential limiter (5 ms .. 1000 s) and a 10 qps / 100 burst bucket.
"""

from __future__ import annotations

from typing import Hashable, Protocol

from kubepy.client.clock import REAL_CLOCK, Clock


class RateLimiter(Protocol):
    def when(self, item: Hashable) -> float:
        """Seconds ``item`` should wait now; counts as one more failure/requeue."""
        ...

    def forget(self, item: Hashable) -> None:
        """The item succeeded: stop tracking it."""
        ...

    def num_requeues(self, item: Hashable) -> int:
        ...


class ItemExponentialFailureRateLimiter:
    def __init__(self, base_delay: float = 0.005, max_delay: float = 1000.0) -> None:
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._failures: dict[Hashable, int] = {}

    def when(self, item: Hashable) -> float:
        exp = self._failures.get(item, 0)
        self._failures[item] = exp + 1
        if exp >= 64:  # 2**64 * base overflows any sensible cap
            return self.max_delay
        return min(self.base_delay * 2.0 ** exp, self.max_delay)

    def forget(self, item: Hashable) -> None:
        self._failures.pop(item, None)

    def num_requeues(self, item: Hashable) -> int:
        return self._failures.get(item, 0)


class BucketRateLimiter:
    """A token bucket (golang.org/x/time/rate semantics): each ``when`` reserves one token
    and returns how long until that token exists."""

    def __init__(self, qps: float = 10.0, burst: int = 100, *, clock: Clock | None = None) -> None:
        self.qps = qps
        self.burst = burst
        self.clock: Clock = clock or REAL_CLOCK
        self._tokens = float(burst)
        self._last = self.clock.monotonic()

    def when(self, item: Hashable) -> float:
        now = self.clock.monotonic()
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
        self._last = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    def forget(self, item: Hashable) -> None:
        pass

    def num_requeues(self, item: Hashable) -> int:
        return 0


class MaxOfRateLimiter:
    def __init__(self, *limiters: RateLimiter) -> None:
        self.limiters = limiters

    def when(self, item: Hashable) -> float:
        return max(limiter.when(item) for limiter in self.limiters)

    def forget(self, item: Hashable) -> None:
        for limiter in self.limiters:
            limiter.forget(item)

    def num_requeues(self, item: Hashable) -> int:
        return max(limiter.num_requeues(item) for limiter in self.limiters)


def default_controller_rate_limiter(clock: Clock | None = None) -> RateLimiter:
    return MaxOfRateLimiter(ItemExponentialFailureRateLimiter(0.005, 1000.0),
                            BucketRateLimiter(10.0, 100, clock=clock))
