"""``EventRecorder``: the core/v1 Events a Kubernetes user sees in ``kubectl describe``
(client-go's legacy ``record.EventRecorder`` with its correlator's de-duplication).

``event(obj, type_, reason, message)`` never blocks and never raises: it builds the Event
at once (timestamps from the injected clock) and hands it to a background task that writes
it; a full queue drops the event and write failures are logged, as client-go's broadcaster
does. ``obj`` is an API object (kind, apiVersion and metadata needed) or an ObjectReference.

Shape of a new Event (as client-go's recorder makes it):

* ``metadata.name`` = ``<object name>.<nanoseconds since the epoch, lower-case hex>`` (16
  hex digits today), in the object's namespace (``default`` for cluster-scoped objects);
* ``involvedObject`` = kind, namespace, name, uid, apiVersion, resourceVersion (+fieldPath);
* ``source`` = {component, host}; ``reportingComponent`` = component,
  ``reportingInstance`` = host; ``firstTimestamp`` = ``lastTimestamp`` = now (RFC 3339,
  seconds); ``count`` = 1; ``type`` Normal or Warning.

Aggregation: an event with the same involved object (uid, kind, namespace, name), type,
reason and message as one recorded less than ``aggregation_window`` (10 min) ago is a
repeat: the existing Event is PATCHed (strategic merge) with the new ``count`` and
``lastTimestamp`` instead of creating another. If that Event is gone (404), a new one is
created with the accumulated count.

Spam filter (client-go's ``EventSourceObjectSpamFilter``): each source (component, host)
may write ``SPAM_BURST`` (25) events about one object (kind, namespace, name, uid,
apiVersion), then one more every ``1 / SPAM_QPS`` (300) seconds; the rest are counted in
``filtered`` and not written (a repeat still counts toward the Event's ``count``). So a
ReplicaSet creating 1,000 pods writes 25 SuccessfulCreate Events, as on a real cluster.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from kubepy import errors
from kubepy.api.registry import Registry, ResourceType
from kubepy.client.clock import REAL_CLOCK, Clock
from kubepy.client.rest import ApiClient

log = logging.getLogger("kubepy.client.events")

EVENTS: ResourceType = Registry().get("", "v1", "events")  # type: ignore[assignment]
Obj = dict[str, Any]

NORMAL, WARNING = "Normal", "Warning"
AGGREGATION_WINDOW = 600.0
QUEUE_CAPACITY = 1000
CACHE_SIZE = 4096
SPAM_BURST = 25
SPAM_QPS = 1.0 / 300.0

AggregateKey = tuple[str, str, str, str, str, str, str]


def rfc3339(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def object_reference(obj: Obj) -> Obj:
    """The ObjectReference of an API object (an ObjectReference is returned as it is)."""
    if "metadata" not in obj:
        return dict(obj)
    meta = obj["metadata"]
    ref: Obj = {"kind": obj.get("kind", ""), "apiVersion": obj.get("apiVersion", "")}
    for field, key in (("namespace", "namespace"), ("name", "name"), ("uid", "uid"),
                       ("resourceVersion", "resourceVersion")):
        if meta.get(key):
            ref[field] = meta[key]
    return ref


def make_event(ref: Obj, type_: str, reason: str, message: str, *, component: str,
               host: str, now: datetime, unix_nanos: int) -> Obj:
    """A new core/v1 Event about ``ref`` (pure: time comes in as arguments)."""
    stamp = rfc3339(now)
    return {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": f"{ref.get('name', '')}.{unix_nanos:x}",
                     "namespace": ref.get("namespace") or "default"},
        "involvedObject": ref,
        "reason": reason, "message": message, "type": type_,
        "source": {"component": component, **({"host": host} if host else {})},
        "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
        "eventTime": None,
        "reportingComponent": component, "reportingInstance": host,
    }


def aggregate_key(ref: Obj, type_: str, reason: str, message: str) -> AggregateKey:
    return (ref.get("uid", ""), ref.get("kind", ""), ref.get("namespace", ""),
            ref.get("name", ""), type_, reason, message)


SpamKey = tuple[str, str, str, str, str]


def spam_key(ref: Obj) -> SpamKey:
    """Source + involved object (getSpamKey; the source is the recorder's own)."""
    return (ref.get("kind", ""), ref.get("namespace", ""), ref.get("name", ""),
            ref.get("uid", ""), ref.get("apiVersion", ""))


class SpamFilter:
    """A token bucket per involved object (``burst`` tokens, refilled at ``qps``), the
    least recently used forgotten past ``size`` objects. Pure: time comes in."""

    def __init__(self, burst: int = SPAM_BURST, qps: float = SPAM_QPS,
                 size: int = CACHE_SIZE) -> None:
        self.burst = burst
        self.qps = qps
        self.size = size
        self._buckets: dict[SpamKey, tuple[float, float]] = {}  # key -> (tokens, at)

    def allow(self, key: SpamKey, now: float) -> bool:
        tokens, at = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.qps)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        if len(self._buckets) >= self.size:  # dicts keep insertion order: oldest first
            del self._buckets[next(iter(self._buckets))]
        self._buckets[key] = (tokens, now)
        return allowed


@dataclass
class _Seen:
    name: str
    namespace: str
    count: int
    first_timestamp: str
    last_seen: float  # monotonic
    event: Obj


class EventRecorder:
    def __init__(self, client: ApiClient, component: str, *, host: str | None = None,
                 clock: Clock | None = None, aggregation_window: float = AGGREGATION_WINDOW) -> None:
        self.client = client
        self.component = component
        self.host = host or ""
        self.clock: Clock = clock or REAL_CLOCK
        self.aggregation_window = aggregation_window
        self._seen: dict[AggregateKey, _Seen] = {}
        self._queue: asyncio.Queue[tuple[AggregateKey, Obj, bool] | None] | None = None
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0
        self.filtered = 0
        self.spam_filter = SpamFilter()
        self._last_nanos = 0

    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        """Record an event about ``obj`` (Normal or Warning). Never blocks, never raises."""
        try:
            self._record(obj, type_, reason, message)
        except Exception:  # noqa: BLE001 - events must never break their caller
            log.exception("event %s/%s not recorded", reason, message)

    def _record(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        ref = object_reference(obj)
        if not ref.get("kind") or not ref.get("name"):
            raise ValueError(f"cannot refer to {ref!r}: kind and name are needed")
        now_mono = self.clock.monotonic()
        now = self.clock.now()
        key = aggregate_key(ref, type_, reason, message)
        # ``_seen`` is kept in order of last sighting (a sighting moves its key to the end),
        # so the least recently seen is the first key: evicting it is O(1)
        seen = self._seen.pop(key, None)
        if seen is not None and now_mono - seen.last_seen < self.aggregation_window:
            self._seen[key] = seen
            seen.count += 1
            seen.last_seen = now_mono
            ev = {**seen.event, "count": seen.count, "lastTimestamp": rfc3339(now)}
            seen.event = ev
            if self._spam_allows(ref, now_mono):
                self._enqueue(key, ev, True)
            return
        nanos = int(now.timestamp()) * 1_000_000_000 + now.microsecond * 1000
        nanos = self._last_nanos = max(nanos, self._last_nanos + 1)  # unique names
        ev = make_event(ref, type_, reason, message, component=self.component, host=self.host,
                        now=now, unix_nanos=nanos)
        if len(self._seen) >= CACHE_SIZE:  # forget the least recently seen
            del self._seen[next(iter(self._seen))]
        self._seen[key] = _Seen(ev["metadata"]["name"], ev["metadata"]["namespace"], 1,
                                ev["firstTimestamp"], now_mono, ev)
        if self._spam_allows(ref, now_mono):
            self._enqueue(key, ev, False)

    def _spam_allows(self, ref: Obj, now_mono: float) -> bool:
        if self.spam_filter.allow(spam_key(ref), now_mono):
            return True
        self.filtered += 1
        return False

    def _enqueue(self, key: AggregateKey, ev: Obj, repeat: bool) -> None:
        if self._queue is None:
            self._queue = asyncio.Queue(QUEUE_CAPACITY)
            self._task = asyncio.get_running_loop().create_task(self._writer())
        try:
            self._queue.put_nowait((key, ev, repeat))
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("event queue full, dropping %s %s", ev["reason"], ev["message"])

    async def _writer(self) -> None:
        assert self._queue is not None
        while True:
            item = await self._queue.get()
            try:
                if item is None:
                    return
                await self._write(*item)
            except Exception as e:  # noqa: BLE001
                log.warning("event %s not written: %r", item and item[1].get("reason"), e)
            finally:
                self._queue.task_done()

    async def _write(self, key: AggregateKey, ev: Obj, repeat: bool) -> None:
        meta = ev["metadata"]
        if repeat:
            try:
                await self.client.patch(EVENTS, meta["name"], {
                    "count": ev["count"], "lastTimestamp": ev["lastTimestamp"],
                    "message": ev["message"]}, namespace=meta["namespace"],
                    patch_type="strategic")
                return
            except errors.NotFound:
                pass  # the Event expired or was deleted: create it again with the count
        try:
            await self.client.create(EVENTS, ev, meta["namespace"])
        except errors.AlreadyExists:
            if not repeat:
                raise

    async def flush(self) -> None:
        """Wait until every event recorded so far has been written (or failed)."""
        if self._queue is not None:
            await self._queue.join()

    async def close(self) -> None:
        """Write what is queued, then stop the background task."""
        if self._queue is not None and self._task is not None:
            await self._queue.put(None)
            await self._task
            self._queue, self._task = None, None
