"""Leader election on a coordination.k8s.io/v1 Lease (client-go's ``leaderelection`` with a
``LeaseLock``), so two servers never run two active controller-managers or schedulers.

The Lease's spec is the election record: ``holderIdentity``, ``leaseDurationSeconds``,
``acquireTime``, ``renewTime`` (MicroTime, ``2026-11-23T10:40:00.000000Z``) and
``leaseTransitions``. Every write is an update carrying the resourceVersion that was read
(or a create when there is no Lease), so of two candidates racing only one wins.

Rules (the pure part, ``decide`` and ``next_record``, is tested by tables):

* A candidate judges expiry by its own clock: a holder's lease is expired when
  ``leaseDurationSeconds`` have passed since this candidate *observed* the record change
  (never by comparing ``renewTime`` with local time — clocks differ between machines).
* The holder renews every ``retry_period``; if it has not renewed within ``renew_deadline``
  of its last success, or it sees another holder, it steps down: ``on_started_leading``'s
  task is cancelled, ``on_stopped_leading`` is called and ``run`` returns. Because
  ``renew_deadline < lease_duration``, a leader stops before anyone may take over.
* When ``run`` ends while the Lease still names this elector (cancelled, or stepping down
  after failed renewals) and ``release_on_cancel``, the Lease is released (empty
  holderIdentity, leaseDurationSeconds 1) so a standby takes over at once.
* Taking over from another holder (or from a released lease) increments ``leaseTransitions``;
  the holder renewing keeps ``acquireTime`` and ``leaseTransitions``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Literal

from kubepy import errors
from kubepy.api.registry import ResourceType, Registry
from kubepy.client.clock import REAL_CLOCK, Clock, with_deadline
from kubepy.client.rest import ApiClient

log = logging.getLogger("kubepy.client.leaderelection")

LEASE: ResourceType = Registry().get("coordination.k8s.io", "v1", "leases")  # type: ignore[assignment]
Obj = dict[str, Any]


# ---------------------------------------------------------------------- pure part

@dataclass(frozen=True)
class LeaderElectionRecord:
    holder_identity: str = ""
    lease_duration_seconds: int = 0
    acquire_time: datetime | None = None
    renew_time: datetime | None = None
    lease_transitions: int = 0


def format_micro_time(dt: datetime) -> str:
    """metav1.MicroTime on the wire: RFC 3339, UTC, six fractional digits."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_micro_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


def record_from_lease(lease: Obj) -> LeaderElectionRecord:
    spec = lease.get("spec") or {}
    return LeaderElectionRecord(
        holder_identity=spec.get("holderIdentity") or "",
        lease_duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
        acquire_time=parse_micro_time(spec.get("acquireTime")),
        renew_time=parse_micro_time(spec.get("renewTime")),
        lease_transitions=int(spec.get("leaseTransitions") or 0))


def lease_spec(record: LeaderElectionRecord) -> Obj:
    spec: Obj = {"holderIdentity": record.holder_identity,
                 "leaseDurationSeconds": record.lease_duration_seconds,
                 "leaseTransitions": record.lease_transitions}
    if record.acquire_time is not None:
        spec["acquireTime"] = format_micro_time(record.acquire_time)
    if record.renew_time is not None:
        spec["renewTime"] = format_micro_time(record.renew_time)
    return spec


Decision = Literal["acquire", "renew", "wait"]


def decide(record: LeaderElectionRecord | None, observed_at: float, now: float,
           identity: str) -> Decision:
    """What ``identity`` may do with the lease whose record it observed change at
    ``observed_at`` (monotonic seconds): renew its own, acquire a free or expired one, or
    wait for another holder's to expire."""
    if record is None or not record.holder_identity:
        return "acquire"
    if record.holder_identity == identity:
        return "renew"
    if observed_at + record.lease_duration_seconds <= now:
        return "acquire"
    return "wait"


def next_record(current: LeaderElectionRecord | None, identity: str, lease_duration: int,
                now: datetime) -> LeaderElectionRecord:
    """The record ``identity`` writes to hold the lease from ``now``."""
    if current is not None and current.holder_identity == identity:
        return replace(current, lease_duration_seconds=lease_duration, renew_time=now)
    transitions = 0 if current is None else current.lease_transitions + 1
    return LeaderElectionRecord(identity, lease_duration, now, now, transitions)


def released_record(current: LeaderElectionRecord, now: datetime) -> LeaderElectionRecord:
    return LeaderElectionRecord("", 1, now, now, current.lease_transitions)


# ---------------------------------------------------------------------- the elector

class LeaderElector:
    def __init__(self, client: ApiClient, lease_name: str, *, identity: str,
                 namespace: str = "kube-system", lease_duration: float = 15.0,
                 renew_deadline: float = 10.0, retry_period: float = 2.0,
                 clock: Clock | None = None, release_on_cancel: bool = True) -> None:
        if not lease_duration > renew_deadline > retry_period > 0:
            raise ValueError("need lease_duration > renew_deadline > retry_period > 0")
        self.client = client
        self.lease_name = lease_name
        self.namespace = namespace
        self.identity = identity
        self.lease_duration = max(1, math.ceil(lease_duration))
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.clock: Clock = clock or REAL_CLOCK
        self.release_on_cancel = release_on_cancel
        self.observed: LeaderElectionRecord | None = None
        self.observed_at = 0.0
        self._leading = False
        self.on_new_leader: Callable[[str], None] | None = None

    @property
    def is_leader(self) -> bool:
        return self._leading

    @property
    def leader(self) -> str:
        """The holder this elector last observed ("" when none)."""
        return self.observed.holder_identity if self.observed else ""

    def _observe(self, lease: Obj) -> None:
        record = record_from_lease(lease)
        if record != self.observed:
            if self.on_new_leader and record.holder_identity != self.leader:
                self.on_new_leader(record.holder_identity)
            self.observed = record
            self.observed_at = self.clock.monotonic()

    async def try_acquire_or_renew(self) -> bool:
        """One attempt: True when this elector holds the lease afterwards."""
        now = self.clock.now()
        try:
            lease = await self.client.get(LEASE, self.lease_name, self.namespace)
        except errors.NotFound:
            record = next_record(None, self.identity, self.lease_duration, now)
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.lease_name, "namespace": self.namespace},
                    "spec": lease_spec(record)}
            try:
                self._observe(await self.client.create(LEASE, body, self.namespace))
            except (errors.AlreadyExists, errors.Conflict):
                return False
            return True
        self._observe(lease)
        decision = decide(self.observed, self.observed_at, self.clock.monotonic(), self.identity)
        if decision == "wait":
            return False
        record = next_record(self.observed, self.identity, self.lease_duration, now)
        body = {**lease, "spec": {**(lease.get("spec") or {}), **lease_spec(record)}}
        try:
            self._observe(await self.client.update(LEASE, body))
        except errors.Conflict:
            return False
        return True

    async def release(self) -> bool:
        """Give the lease up if this elector holds it (re-read first: a renewal cut short
        by cancellation may have landed without this elector seeing the answer)."""
        for _ in range(3):
            try:
                lease = await self.client.get(LEASE, self.lease_name, self.namespace)
                self._observe(lease)
                if self.leader != self.identity:
                    return False
                assert self.observed is not None
                record = released_record(self.observed, self.clock.now())
                body = {**lease, "spec": {**(lease.get("spec") or {}), **lease_spec(record)}}
                self._observe(await self.client.update(LEASE, body))
                return True
            except errors.Conflict:
                continue
            except (errors.StatusError, ConnectionError) as e:
                log.warning("leader election %s: releasing the lease failed: %r",
                            self.lease_name, e)
                return False
        return False

    async def _attempt(self, deadline: float) -> bool:
        try:
            return await with_deadline(self.clock, self.try_acquire_or_renew(), max(deadline, 1e-3))
        except (errors.StatusError, ConnectionError, TimeoutError) as e:
            log.info("leader election %s: %s could not reach the lease: %r",
                     self.lease_name, self.identity, e)
            return False

    async def _acquire(self) -> None:
        while not await self._attempt(self.renew_deadline):
            await self.clock.sleep(self.retry_period)

    async def _renew(self) -> None:
        """Renew every retry_period until a renewal fails past renew_deadline."""
        last_renew = self.clock.monotonic()
        while True:
            await self.clock.sleep(self.retry_period)
            remaining = last_renew + self.renew_deadline - self.clock.monotonic()
            if await self._attempt(remaining):
                last_renew = self.clock.monotonic()
                continue
            if self.leader and self.leader != self.identity:
                log.warning("leader election %s: %s lost the lease to %s",
                            self.lease_name, self.identity, self.leader)
                return
            if self.clock.monotonic() - last_renew >= self.renew_deadline:
                log.warning("leader election %s: %s failed to renew within %ss",
                            self.lease_name, self.identity, self.renew_deadline)
                return

    async def run(self, on_started_leading: Callable[[], Awaitable[None]],
                  on_stopped_leading: Callable[[], Any] | None = None) -> None:
        """Wait to become leader, run ``on_started_leading()`` as a task while leading, and
        return once leadership is lost (after cancelling that task and calling
        ``on_stopped_leading``, which may be sync or async)."""
        work: asyncio.Task[None] | None = None
        try:
            await self._acquire()
            self._leading = True
            log.info("leader election %s: %s became leader", self.lease_name, self.identity)
            work = asyncio.ensure_future(on_started_leading())
            await self._renew()
        finally:
            was_leading = self._leading
            if work is not None and not work.done():
                work.cancel()
                try:
                    await work
                except (asyncio.CancelledError, Exception):
                    pass
            if was_leading and self.release_on_cancel and self.leader == self.identity:
                await self.release()
            self._leading = False
            if was_leading and on_stopped_leading is not None:
                result = on_stopped_leading()
                if inspect.isawaitable(result):
                    await result
