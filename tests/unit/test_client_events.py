"""Event recording (kubepy.client.events): the Event's shape, aggregation of repeats within
ten minutes, re-creation after expiry, and never failing the caller."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kubepy import errors
from kubepy.client.clock import FakeClock
from kubepy.client.events import EventRecorder, make_event, object_reference

RS = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
      "metadata": {"name": "web-7d4b9", "namespace": "shop", "uid": "u-1", "resourceVersion": "42"},
      "spec": {"replicas": 3}}
NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "uid": "u-n"}}


class EventsEndpoint:
    """Records create/patch calls; ``fail`` maps a verb to the error it raises once."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.fail: dict[str, Exception] = {}

    async def create(self, rt: Any, obj: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        self.calls.append(("create", obj["metadata"]["name"], obj))
        if "create" in self.fail:
            raise self.fail.pop("create")
        return obj

    async def patch(self, rt: Any, name: str, body: Any, *, namespace: str | None = None,
                    patch_type: str = "merge", **kw: Any) -> dict[str, Any]:
        self.calls.append(("patch", name, (patch_type, body)))
        if "patch" in self.fail:
            raise self.fail.pop("patch")
        return body


def test_make_event_shape() -> None:
    from datetime import datetime, timezone
    now = datetime(2026, 11, 23, 10, 40, 0, 250000, tzinfo=timezone.utc)
    ev = make_event(object_reference(RS), "Normal", "SuccessfulCreate",
                    "Created pod: web-7d4b9-abcde", component="replicaset-controller", host="h1",
                    now=now, unix_nanos=0x187A4F0C2D3E5F60)
    assert ev == {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "web-7d4b9.187a4f0c2d3e5f60", "namespace": "shop"},
        "involvedObject": {"kind": "ReplicaSet", "apiVersion": "apps/v1", "namespace": "shop",
                           "name": "web-7d4b9", "uid": "u-1", "resourceVersion": "42"},
        "reason": "SuccessfulCreate", "message": "Created pod: web-7d4b9-abcde", "type": "Normal",
        "source": {"component": "replicaset-controller", "host": "h1"},
        "firstTimestamp": "2026-11-23T10:40:00Z", "lastTimestamp": "2026-11-23T10:40:00Z",
        "count": 1, "eventTime": None,
        "reportingComponent": "replicaset-controller", "reportingInstance": "h1"}


def test_cluster_scoped_objects_get_events_in_default() -> None:
    ev = make_event(object_reference(NODE), "Warning", "NodeNotReady", "m", component="c",
                    host="", now=__import__("datetime").datetime(2026, 1, 1), unix_nanos=1)
    assert ev["metadata"]["namespace"] == "default" and "namespace" not in ev["involvedObject"]
    assert ev["source"] == {"component": "c"}


# each step: (seconds to advance first, reason, message) -> expected verbs and counts
AGGREGATION = [
    ("one event", [(0, "R", "m")], [("create", 1)]),
    ("repeat patches count", [(0, "R", "m"), (5, "R", "m"), (5, "R", "m")],
     [("create", 1), ("patch", 2), ("patch", 3)]),
    ("other message is another event", [(0, "R", "m"), (1, "R", "m2")], [("create", 1), ("create", 1)]),
    ("other reason is another event", [(0, "R", "m"), (1, "Q", "m")], [("create", 1), ("create", 1)]),
    ("after ten quiet minutes, a new event", [(0, "R", "m"), (600, "R", "m")], [("create", 1), ("create", 1)]),
    ("the window slides with each repeat", [(0, "R", "m"), (590, "R", "m"), (590, "R", "m")],
     [("create", 1), ("patch", 2), ("patch", 3)]),
]


@pytest.mark.parametrize("steps,expected", [c[1:] for c in AGGREGATION], ids=[c[0] for c in AGGREGATION])
def test_aggregation(steps: list[tuple[float, str, str]], expected: list[tuple[str, int]]) -> None:
    async def go() -> list[tuple[str, str, Any]]:
        clock = FakeClock()
        api = EventsEndpoint()
        rec = EventRecorder(api, "replicaset-controller", clock=clock)  # type: ignore[arg-type]
        for advance, reason, message in steps:
            clock.advance(advance)
            rec.event(RS, "Normal", reason, message)
        await rec.close()
        return api.calls
    calls = asyncio.run(go())
    got = [(verb, body["count"] if verb == "create" else body[1]["count"]) for verb, _, body in calls]
    assert got == expected
    creates = [name for verb, name, _ in calls if verb == "create"]
    assert len(set(creates)) == len(creates)  # every new Event has its own name
    for verb, name, body in calls:
        if verb == "patch":
            assert body[0] == "strategic" and name == creates[-1]
            assert set(body[1]) == {"count", "lastTimestamp", "message"}


def test_repeat_of_a_vanished_event_creates_it_again_with_the_count() -> None:
    async def go() -> list[Any]:
        clock = FakeClock()
        api = EventsEndpoint()
        rec = EventRecorder(api, "c", clock=clock)  # type: ignore[arg-type]
        rec.event(RS, "Normal", "R", "m")
        clock.advance(30)
        api.fail["patch"] = errors.NotFound("gone")
        rec.event(RS, "Normal", "R", "m")
        await rec.close()
        return [(verb, name) for verb, name, _ in api.calls] + [api.calls[-1][2]["count"],
                                                                api.calls[-1][2]["lastTimestamp"]]
    calls = asyncio.run(go())
    first = calls[0][1]
    assert calls == [("create", first), ("patch", first), ("create", first), 2, "2026-01-01T00:00:30Z"]


def test_failures_never_reach_the_caller() -> None:
    async def go() -> int:
        api = EventsEndpoint()
        api.fail["create"] = errors.Forbidden("no")
        rec = EventRecorder(api, "c", clock=FakeClock())  # type: ignore[arg-type]
        rec.event(RS, "Normal", "R", "m")                 # write fails: logged
        rec.event({"metadata": {}}, "Normal", "R", "m")   # no kind/name: logged, dropped
        rec.event(RS, "Warning", "R2", "m")
        await rec.close()
        return len(api.calls)
    assert asyncio.run(go()) == 2


SPAM_CASES = [
    # (times in seconds of successive events about one object, which are allowed)
    ("burst-of-25", [0.0] * 27, [True] * 25 + [False] * 2),
    ("one-token-per-300s", [0.0] * 25 + [299.0, 300.0, 301.0, 600.0],
     [True] * 25 + [False, True, False, True]),
    ("full-after-long-quiet", [0.0] * 25 + [1e6] * 26, [True] * 25 + [True] * 25 + [False]),
]


@pytest.mark.parametrize("times,want", [c[1:] for c in SPAM_CASES], ids=[c[0] for c in SPAM_CASES])
def test_spam_filter_token_bucket(times: list[float], want: list[bool]) -> None:
    from kubepy.client.events import SpamFilter
    f = SpamFilter()
    assert [f.allow(("ReplicaSet", "shop", "web", "u-1", "apps/v1"), t) for t in times] == want
    assert f.allow(("ReplicaSet", "shop", "other", "u-2", "apps/v1"), times[-1])  # per object


def test_a_replicaset_creating_many_pods_writes_25_events_about_itself() -> None:
    async def go() -> tuple[EventsEndpoint, EventRecorder]:
        api = EventsEndpoint()
        rec = EventRecorder(api, "replicaset-controller", clock=FakeClock())  # type: ignore[arg-type]
        for i in range(40):
            rec.event(RS, "Normal", "SuccessfulCreate", f"Created pod: web-7d4b9-{i:05d}")
        rec.event(NODE, "Normal", "RegisteredNode", "Node n1 event: Registered Node n1")
        await rec.close()
        return api, rec
    api, rec = asyncio.run(go())
    created = [c[2]["message"] for c in api.calls if c[0] == "create"]
    assert created == [f"Created pod: web-7d4b9-{i:05d}" for i in range(25)] + [
        "Node n1 event: Registered Node n1"]
    assert rec.filtered == 15


def test_the_least_recently_seen_event_is_forgotten_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """With room for 3: A B C, A again (a repeat: patched), D forgets B (not A, seen later);
    then A is still a repeat and B is new again (created)."""
    from kubepy.client import events
    monkeypatch.setattr(events, "CACHE_SIZE", 3)

    async def go() -> list[tuple[str, str]]:
        api = EventsEndpoint()
        clock = FakeClock()
        rec = EventRecorder(api, "c", clock=clock)  # type: ignore[arg-type]
        for msg in ["A", "B", "C", "A", "D", "A", "B"]:
            clock.advance(1)
            rec.event(RS, "Normal", "Reason", msg)
        await rec.close()
        return [(verb, (body["message"] if verb == "create" else body[1]["message"]))
                for verb, _, body in api.calls]
    assert asyncio.run(go()) == [("create", "A"), ("create", "B"), ("create", "C"),
                                 ("patch", "A"), ("create", "D"), ("patch", "A"),
                                 ("create", "B")]
