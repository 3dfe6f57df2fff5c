"""WATCH over HTTPS: the chunked stream, start points (0, a list's resourceVersion, a
compacted one), selector transitions, bookmarks and timeouts, sendInitialEvents, Table
watches."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import ServerProcess, start_server
from tests.integration.conftest import Api, Watch, assert_status, compact, configmap

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


def cm_path(ns: str, name: str = "") -> str:
    return f"/api/v1/namespaces/{ns}/configmaps" + (f"/{name}" if name else "")


def summary(events: list[dict]) -> list[tuple[str, str]]:
    return [(e["type"], e["object"]["metadata"].get("name", "")) for e in events]


def test_watch_is_a_chunked_json_stream(api: Api, ns: str) -> None:
    with Watch(api, cm_path(ns), {"resourceVersion": "0"}) as w:
        assert w.response.status_code == 200
        assert w.response.headers["Content-Type"].startswith("application/json")
        assert w.response.headers.get("Transfer-Encoding") == "chunked"
        api.create(cm_path(ns), configmap("streamed"))
        ev = w.next()
        assert ev["type"] == "ADDED" and ev["object"]["kind"] == "ConfigMap"
        assert ev["object"]["apiVersion"] == "v1"
        assert ev["object"]["metadata"]["name"] == "streamed"
        assert ev["object"]["metadata"]["resourceVersion"]


def test_watch_from_zero_sends_existing_objects_first(api: Api, ns: str) -> None:
    for name in ("x1", "x2", "x3"):
        api.create(cm_path(ns), configmap(name))
    with Watch(api, cm_path(ns), {"resourceVersion": "0"}) as w:
        initial = w.take(3)
        assert summary(initial) == [("ADDED", "x1"), ("ADDED", "x2"), ("ADDED", "x3")]
        assert w.quiet(0.3) == []
        api.create(cm_path(ns), configmap("x4"))
        assert summary([w.next()]) == [("ADDED", "x4")]


def test_watch_from_list_resource_version_gets_exactly_later_changes(api: Api, ns: str) -> None:
    api.create(cm_path(ns), configmap("keep"))
    api.create(cm_path(ns), configmap("change"))
    api.create(cm_path(ns), configmap("remove"))
    rv = api.read(cm_path(ns))["metadata"]["resourceVersion"]
    # writes before the watch starts: the watch must still replay them, in commit order
    api.create(cm_path(ns), configmap("new"))
    api.ok("PATCH", cm_path(ns, "change"), 200, body={"data": {"k": "changed"}},
           content_type="application/merge-patch+json")
    api.ok("DELETE", cm_path(ns, "remove"), 200)
    with Watch(api, cm_path(ns), {"resourceVersion": rv}) as w:
        events = w.take(3)
        assert summary(events) == [("ADDED", "new"), ("MODIFIED", "change"),
                                   ("DELETED", "remove")]
        assert events[1]["object"]["data"] == {"k": "changed"}
        rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
        assert rvs == sorted(rvs) and rvs[0] > int(rv) and len(set(rvs)) == 3
        # and then live changes, nothing else
        api.ok("PATCH", cm_path(ns, "keep"), 200, body={"data": {"k": "live"}},
               content_type="application/merge-patch+json")
        live = w.next()
        assert summary([live]) == [("MODIFIED", "keep")]
        assert int(live["object"]["metadata"]["resourceVersion"]) > rvs[-1]
        assert w.quiet(0.3) == []


def test_label_selector_watch_sees_objects_enter_and_leave(api: Api, ns: str) -> None:
    api.create(cm_path(ns), configmap("mover", labels={"app": "in"}))
    api.create(cm_path(ns), configmap("other", labels={"app": "out"}))
    rv = api.read(cm_path(ns))["metadata"]["resourceVersion"]
    with Watch(api, cm_path(ns), {"resourceVersion": rv, "labelSelector": "app=in"}) as w:
        api.ok("PATCH", cm_path(ns, "mover"), 200, body={"metadata": {"labels": {"app": "out"}}},
               content_type="application/merge-patch+json")
        left = w.next()
        assert summary([left]) == [("DELETED", "mover")]
        assert left["object"]["metadata"]["labels"] == {"app": "out"}
        api.ok("PATCH", cm_path(ns, "other"), 200, body={"metadata": {"labels": {"app": "in"}}},
               content_type="application/merge-patch+json")
        assert summary([w.next()]) == [("ADDED", "other")]
        api.ok("PATCH", cm_path(ns, "mover"), 200, body={"data": {"k": "unseen"}},
               content_type="application/merge-patch+json")
        api.ok("DELETE", cm_path(ns, "other"), 200)
        assert summary([w.next()]) == [("DELETED", "other")]
        assert w.quiet(0.3) == []


def test_timeout_ends_the_stream(api: Api, ns: str) -> None:
    started = time.monotonic()
    with Watch(api, cm_path(ns), {"timeoutSeconds": "1"}) as w:
        assert w.ended.wait(5), "the watch did not end after timeoutSeconds=1"
        elapsed = time.monotonic() - started
    assert 0.8 <= elapsed <= 3, elapsed


def test_bookmarks_before_timeout(api: Api, ns: str) -> None:
    """With allowWatchBookmarks the apiserver sends a BOOKMARK about 2 s before the watch's
    deadline (cacheWatcher.nextBookmarkTime), so a client resumes from a fresh revision."""
    api.create(cm_path(ns), configmap("bm"))
    rv = api.read(cm_path(ns))["metadata"]["resourceVersion"]
    started = time.monotonic()
    with Watch(api, cm_path(ns), {"resourceVersion": rv, "allowWatchBookmarks": "true",
                                  "timeoutSeconds": "4"}) as w:
        assert w.ended.wait(8), "the watch did not end after timeoutSeconds=4"
        elapsed = time.monotonic() - started
        events = w.quiet(0.1)
    assert 3.5 <= elapsed <= 6, elapsed
    bookmarks = [e for e in events if e["type"] == "BOOKMARK"]
    assert bookmarks, f"no BOOKMARK before the timeout: {events}"
    for b in bookmarks:
        obj = b["object"]
        assert obj["kind"] == "ConfigMap" and obj["apiVersion"] == "v1", obj
        assert int(obj["metadata"]["resourceVersion"]) >= int(rv)
    assert all(e["type"] == "BOOKMARK" for e in events), events


def test_send_initial_events_ends_with_annotated_bookmark(api: Api, ns: str) -> None:
    for name in ("i1", "i2"):
        api.create(cm_path(ns), configmap(name))
    with Watch(api, cm_path(ns), {"sendInitialEvents": "true", "allowWatchBookmarks": "true",
                                  "resourceVersionMatch": "NotOlderThan",
                                  "resourceVersion": ""}) as w:
        events = w.take(3)
        assert summary(events[:2]) == [("ADDED", "i1"), ("ADDED", "i2")]
        end = events[2]
        assert end["type"] == "BOOKMARK", end
        meta = end["object"]["metadata"]
        assert meta["annotations"] == {"k8s.io/initial-events-end": "true"}
        assert int(meta["resourceVersion"]) >= max(
            int(e["object"]["metadata"]["resourceVersion"]) for e in events[:2])
        api.create(cm_path(ns), configmap("i3"))
        assert summary([w.next()]) == [("ADDED", "i3")]


def test_send_initial_events_requires_not_older_than(api: Api, ns: str) -> None:
    with Watch(api, cm_path(ns), {"sendInitialEvents": "true", "allowWatchBookmarks": "true",
                                  "timeoutSeconds": "2"}) as w:
        assert w.response.status_code == 422, "a watch started without resourceVersionMatch"
        status = assert_status(w.response, 422, "Invalid")
        assert ("resourceVersionMatch: Forbidden: sendInitialEvents requires setting "
                "resourceVersionMatch to NotOlderThan") in status["message"], status


def test_table_watch_sends_columns_once(api: Api, ns: str) -> None:
    with Watch(api, cm_path(ns), {"resourceVersion": "0"}, headers={"Accept": TABLE}) as w:
        api.create(cm_path(ns), configmap("t1"))
        api.create(cm_path(ns), configmap("t2"))
        first, second = w.take(2)
    for ev in (first, second):
        assert ev["type"] == "ADDED"
        assert ev["object"]["kind"] == "Table"
        assert ev["object"]["apiVersion"] == "meta.k8s.io/v1"
        assert len(ev["object"]["rows"]) == 1
    assert [c["name"] for c in first["object"]["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert not second["object"].get("columnDefinitions")
    assert first["object"]["rows"][0]["cells"][0] == "t1"
    assert second["object"]["rows"][0]["cells"][0] == "t2"
    assert second["object"]["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


def test_watch_of_a_future_resource_version_waits_or_times_out(api: Api, ns: str) -> None:
    rv = int(api.read(cm_path(ns))["metadata"]["resourceVersion"])
    r = api.get(cm_path(ns), params={"watch": "true", "resourceVersion": str(rv + 10_000_000)},
                timeout=20)
    status = assert_status(r, 504, "Timeout")
    assert status["message"].startswith("Too large resource version"), status


def test_watch_from_a_compacted_revision_is_expired(tmp_path: Path) -> None:
    """Restarted on the same data dir, the watch cache only covers revisions since the
    restart: older ones replay from the store's history, and compacted ones give the
    apiserver's ERROR event with a 410 Expired Status."""
    first = start_server(tmp_path / "data")
    try:
        api = Api(first)
        api.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                          "metadata": {"name": "w"}})
        api.create(cm_path("w"), configmap("early"))
        compacted_away = api.read(cm_path("w"))["metadata"]["resourceVersion"]
        for i in range(3):
            api.create(cm_path("w"), configmap(f"mid{i}"))
        kept = api.read(cm_path("w"))["metadata"]["resourceVersion"]
        compact(first, int(kept))
        api.create(cm_path("w"), configmap("late"))
    finally:
        assert first.stop() == 0
    second = start_server(first.data_dir)
    try:
        api = Api(second)
        with Watch(api, cm_path("w"), {"resourceVersion": compacted_away}) as w:
            ev = w.next()
            assert ev["type"] == "ERROR", ev
            status = ev["object"]
            assert status["kind"] == "Status" and status["status"] == "Failure"
            assert status["code"] == 410 and status["reason"] == "Expired", status
            assert status["message"].startswith(f"too old resource version: {compacted_away}")
            assert w.ended.wait(5), "the stream did not end after the ERROR event"
        # a revision after the compaction but before the restart replays from the store
        with Watch(api, cm_path("w"), {"resourceVersion": kept}) as w:
            assert summary([w.next()]) == [("ADDED", "late")]
            api.create(cm_path("w"), configmap("after-restart"))
            assert summary([w.next()]) == [("ADDED", "after-restart")]
    finally:
        second.stop()


def test_a_burst_of_writes_reaches_each_watcher_complete_and_in_order(api: Api, ns: str) -> None:
    """Events queued together go out in shared writes (up to 256 a write): every one must
    arrive once, in commit order, filtered, each a line of its own; a Table watch still
    gets its column definitions once."""
    from concurrent.futures import ThreadPoolExecutor
    names = [f"burst-{i}" for i in range(600)]
    odd = {"parity": "odd"}
    with Watch(api, cm_path(ns), {"labelSelector": "parity=odd"}) as w, \
            Watch(api, cm_path(ns), {}, headers={"Accept": TABLE}) as t:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: api.create(cm_path(ns), configmap(
                names[i], labels=odd if i % 2 else {"parity": "even"})), range(len(names))))
        events = w.take(300, timeout=15)
        assert w.quiet(0.3) == []
        rows = t.take(600, timeout=15)
    assert {e["type"] for e in events} == {"ADDED"}
    assert sorted(e["object"]["metadata"]["name"] for e in events) == sorted(names[1::2])
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs == sorted(rvs) and len(set(rvs)) == 300
    assert [bool(r["object"]["columnDefinitions"]) for r in rows] == [True] + [False] * 599
