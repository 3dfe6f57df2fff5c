"""The kubelet's per-key back-off (client-go ``flowcontrol.Backoff``): crash-looping
containers and failing image pulls. Pure: every method takes the time (epoch seconds).

Invariants, as in the kubelet:

* ``next(key, event_time, now)`` starts a key at ``initial`` (10 s) and doubles it on each
  later call up to ``maximum`` (300 s); a key whose last ``next`` is more than
  2 × ``maximum`` (10 min) older than *event_time* starts over (a container that ran for
  10 minutes before it failed again restarts after 10 s again);
* ``in_backoff_since(key, event_time, now)``: restarting must wait while less than the
  current back-off has passed since *event_time* (a container's finishedAt);
* ``in_backoff_since_update(key, now)``: the image form, measured from the last ``next``.

Keys: ``container_key`` (pod name, namespace, uid and container name) and ``image_key``.
Durations print as Go's ``time.Duration`` does ("10s", "1m20s", "5m0s") for the kubelet's
messages.
"""

from __future__ import annotations

from dataclasses import dataclass

INITIAL = 10.0
MAXIMUM = 300.0


@dataclass
class _Entry:
    backoff: float
    last_update: float


class Backoff:
    def __init__(self, initial: float = INITIAL, maximum: float = MAXIMUM) -> None:
        self.initial, self.maximum = initial, maximum
        self._entries: dict[str, _Entry] = {}

    def _expired(self, event_time: float, entry: _Entry) -> bool:
        return event_time - entry.last_update > 2 * self.maximum

    def get(self, key: str) -> float:
        """The current back-off of *key* (0 when unknown)."""
        entry = self._entries.get(key)
        return entry.backoff if entry else 0.0

    def next(self, key: str, event_time: float, now: float) -> float:
        """Record one more restart (or failed pull); the new back-off."""
        entry = self._entries.get(key)
        if entry is None or self._expired(event_time, entry):
            entry = self._entries[key] = _Entry(self.initial, now)
        else:
            entry.backoff = min(entry.backoff * 2, self.maximum)
            entry.last_update = now
        return entry.backoff

    def in_backoff_since(self, key: str, event_time: float, now: float) -> bool:
        entry = self._entries.get(key)
        if entry is None or self._expired(event_time, entry):
            return False
        return now - event_time < entry.backoff

    def remaining_since(self, key: str, event_time: float, now: float) -> float:
        """Seconds until ``in_backoff_since`` turns False (0 when it is already)."""
        if not self.in_backoff_since(key, event_time, now):
            return 0.0
        return max(0.0, event_time + self._entries[key].backoff - now)

    def in_backoff_since_update(self, key: str, now: float) -> bool:
        entry = self._entries.get(key)
        return entry is not None and now - entry.last_update < entry.backoff

    def remaining_since_update(self, key: str, now: float) -> float:
        entry = self._entries.get(key)
        if entry is None:
            return 0.0
        return max(0.0, entry.last_update + entry.backoff - now)

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)

    def forget_prefix(self, prefix: str) -> None:
        """Drop every key starting with *prefix* (a deleted pod's keys)."""
        for key in [k for k in self._entries if k.startswith(prefix)]:
            del self._entries[key]

    def gc(self, now: float) -> None:
        """Drop keys untouched for 2 × ``maximum`` (they would start over anyway)."""
        for key in [k for k, e in self._entries.items() if self._expired(now, e)]:
            del self._entries[key]


def pod_key_prefix(pod_uid: str) -> str:
    return f"{pod_uid}/"


def container_key(pod_uid: str, container_name: str) -> str:
    return f"{pod_uid}/c/{container_name}"


def image_key(pod_uid: str, image: str) -> str:
    return f"{pod_uid}/i/{image}"


def go_duration(seconds: float) -> str:
    """Whole seconds as Go prints a ``time.Duration``: 10s, 1m20s, 5m0s, 1h0m0s."""
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
