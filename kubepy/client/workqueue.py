"""The controller work queue: de-duplicating, delaying and rate-limited (client-go's
``RateLimitingInterface``), on an injected clock.

Usage in a worker (``Controller`` does this for you)::

    key = await queue.get()          # raises ShutDown when the queue is shut down
    try:
        await reconcile(key)
        queue.forget(key)            # success: reset the key's back-off
    except Exception:
        queue.add_rate_limited(key)  # failure: retry after the key's next back-off
    finally:
        queue.done(key)              # always

``add_rate_limited`` asks the rate limiter for a delay (by default the max of a per-item
5 ms x 2**n back-off capped at 1000 s and a 10 qps / 100 burst bucket) and ``add_after``s the
item; ``forget`` only resets the back-off, it does not remove a queued item.
"""

from __future__ import annotations

from typing import Hashable, TypeVar

from kubepy.client.clock import REAL_CLOCK, Clock
from kubepy.client.delaying import DelayingQueue
from kubepy.client.queue import Queue, ShutDown
from kubepy.client.ratelimit import RateLimiter, default_controller_rate_limiter

T = TypeVar("T", bound=Hashable)

__all__ = ["WorkQueue", "Queue", "DelayingQueue", "ShutDown"]


class WorkQueue(DelayingQueue[T]):
    def __init__(self, *, clock: Clock | None = None, rate_limiter: RateLimiter | None = None,
                 name: str = "") -> None:
        clock = clock or REAL_CLOCK
        super().__init__(clock=clock)
        self.name = name
        self.rate_limiter: RateLimiter = rate_limiter or default_controller_rate_limiter(clock)

    def add_rate_limited(self, item: T) -> None:
        """Add ``item`` once the rate limiter says it may be retried."""
        self.add_after(item, self.rate_limiter.when(item))

    def forget(self, item: T) -> None:
        """Stop tracking ``item``'s failures (call after it was processed successfully)."""
        self.rate_limiter.forget(item)

    def num_requeues(self, item: T) -> int:
        return self.rate_limiter.num_requeues(item)
