"""NodeSimulator's I/O loop on a FakeClock against an in-memory API (registration, lease
renewal every 10 s, pods going Running / Succeeded / CrashLoopBackOff, graceful deletion,
stopping writes nothing)."""

from __future__ import annotations

import asyncio
import copy
import itertools
from typing import Any, AsyncIterator

import pytest

from kubepy import errors
from kubepy.client.clock import FakeClock, settle
from kubepy.kubelet.simulated import NodeSimulator, SimConfig

Obj = dict[str, Any]


class FakeApi:
    """Just enough of ApiClient for the simulator: list/watch with its two selectors,
    create/get/update (optimistic concurrency)/delete."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], Obj] = {}
        self.rv = itertools.count(1)
        self.watchers: list[tuple[str, asyncio.Queue[Obj]]] = []
        self.writes: list[tuple[str, str, str]] = []  # (verb, plural, name)

    @staticmethod
    def _key(rt: Any, obj: Obj, namespace: str | None = None) -> tuple[str, str, str]:
        meta = obj.get("metadata") or {}
        return rt.plural, (namespace or meta.get("namespace") or "") if rt.namespaced else "", \
            meta["name"]

    def _notify(self, plural: str, type_: str, obj: Obj) -> None:
        for watched, queue in self.watchers:
            if watched == plural:
                queue.put_nowait({"type": type_, "object": copy.deepcopy(obj)})

    def _store(self, key: tuple[str, str, str], obj: Obj, type_: str) -> Obj:
        obj["metadata"]["resourceVersion"] = str(next(self.rv))
        self.objects[key] = obj
        self._notify(key[0], type_, obj)
        return copy.deepcopy(obj)

    @staticmethod
    def _selected(obj: Obj, label_selector: str | None, field_selector: str | None) -> bool:
        if label_selector:
            k, _, v = label_selector.partition("=")
            if (obj["metadata"].get("labels") or {}).get(k) != v:
                return False
        if field_selector == "spec.nodeName!=":
            return bool((obj.get("spec") or {}).get("nodeName"))
        return True

    async def list(self, rt: Any, namespace: Any = None, *, label_selector: Any = None,
                   field_selector: Any = None, **_: Any) -> Obj:
        await asyncio.sleep(0)
        items = [copy.deepcopy(o) for (p, _, _), o in self.objects.items()
                 if p == rt.plural and self._selected(o, label_selector, field_selector)]
        return {"items": items, "metadata": {"resourceVersion": str(next(self.rv))}}

    async def watch(self, rt: Any, namespace: Any = None, *, label_selector: Any = None,
                    field_selector: Any = None, **_: Any) -> AsyncIterator[Obj]:
        queue: asyncio.Queue[Obj] = asyncio.Queue()
        entry = (rt.plural, queue)
        self.watchers.append(entry)
        try:
            while True:
                event = await queue.get()
                if self._selected(event["object"], label_selector, field_selector):
                    yield event
        finally:
            self.watchers.remove(entry)

    async def create(self, rt: Any, obj: Obj, namespace: Any = None, **_: Any) -> Obj:
        await asyncio.sleep(0)
        key = self._key(rt, obj, namespace)
        if key in self.objects:
            raise errors.AlreadyExists(f"{key} exists")
        obj = copy.deepcopy(obj)
        obj["metadata"].setdefault("uid", f"uid-{key[2]}")
        self.writes.append(("create", rt.plural, key[2]))
        return self._store(key, obj, "ADDED")

    async def get(self, rt: Any, name: str, namespace: Any = None, **_: Any) -> Obj:
        await asyncio.sleep(0)
        key = (rt.plural, namespace or "", name)
        if key not in self.objects:
            raise errors.NotFound(f"{key} not found")
        return copy.deepcopy(self.objects[key])

    async def update(self, rt: Any, obj: Obj, *, subresource: str | None = None,
                     **_: Any) -> Obj:
        await asyncio.sleep(0)
        key = self._key(rt, obj)
        current = self.objects.get(key)
        if current is None:
            raise errors.NotFound(f"{key} not found")
        if obj["metadata"].get("resourceVersion") != current["metadata"]["resourceVersion"]:
            raise errors.Conflict(f"{key} changed")
        new = copy.deepcopy(current)
        if subresource == "status":
            new["status"] = copy.deepcopy(obj.get("status"))
        else:
            new = copy.deepcopy(obj)
        self.writes.append(("update" + (f"/{subresource}" if subresource else ""), rt.plural,
                            key[2]))
        return self._store(key, new, "MODIFIED")

    async def delete(self, rt: Any, name: str, namespace: Any = None, *,
                     grace_period_seconds: int | None = None,
                     preconditions: Any = None, **_: Any) -> Obj:
        await asyncio.sleep(0)
        key = (rt.plural, namespace or "", name)
        current = self.objects.get(key)
        if current is None:
            raise errors.NotFound(f"{key} not found")
        if preconditions and preconditions.get("uid") != current["metadata"]["uid"]:
            raise errors.Conflict("uid precondition")
        assert grace_period_seconds == 0
        self.writes.append(("delete", rt.plural, name))
        del self.objects[key]
        self._notify(rt.plural, "DELETED", current)
        return current

    # what other actors do ----------------------------------------------------

    def put(self, plural: str, obj: Obj, type_: str = "ADDED") -> None:
        meta = obj["metadata"]
        meta.setdefault("uid", f"uid-{meta['name']}")
        self._store((plural, meta.get("namespace", ""), meta["name"]), obj, type_)

    def obj(self, plural: str, ns: str, name: str) -> Obj | None:
        return self.objects.get((plural, ns, name))


def bound_pod(name: str, node: str, annotations: dict[str, str] | None = None,
              **spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default",
                         "annotations": annotations or {}},
            "spec": {"nodeName": node, "containers": [{"name": "app", "image": "nginx"}],
                     **spec},
            "status": {"phase": "Pending"}}


async def started(api: FakeApi, clock: FakeClock, nodes: int = 2) -> NodeSimulator:
    sim = NodeSimulator(api, SimConfig(count=nodes, workers=2), clock=clock)  # type: ignore[arg-type]
    await sim.start()
    await clock.tick(0.01)
    return sim


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 20))


def test_registration_and_lease_renewal_every_10s() -> None:
    async def go() -> tuple[list[str], list[int], Obj]:
        api, clock = FakeApi(), FakeClock()
        sim = await started(api, clock)
        names = sorted(n for (p, _, n) in api.objects if p == "nodes")
        renewals = []
        for _ in range(3):
            before = sum(1 for w in api.writes if w[:2] == ("update", "leases"))
            await clock.tick(10)
            renewals.append(sum(1 for w in api.writes if w[:2] == ("update", "leases")) - before)
        lease = api.obj("leases", "kube-node-lease", "sim-0")
        await sim.stop()
        assert lease is not None
        return names, renewals, lease

    names, renewals, lease = run(go())
    assert names == ["sim-0", "sim-1"]
    assert renewals == [2, 2, 2]  # each node once per 10 s
    assert lease["spec"]["leaseDurationSeconds"] == 40
    assert lease["spec"]["renewTime"] == "2026-01-01T00:00:30.000000Z"
    assert lease["metadata"]["ownerReferences"][0]["uid"] == "uid-sim-0"


@pytest.mark.parametrize(
    "annotations,policy,after,phase,restarts,state",
    [({}, "Always", 100, "Running", 0, "running"),
     ({"sim.kubepy.io/run-seconds": "5"}, "Never", 6, "Succeeded", 0, "terminated"),
     ({"sim.kubepy.io/run-seconds": "5", "sim.kubepy.io/exit-code": "2"}, "Never", 6,
      "Failed", 0, "terminated"),
     ({"sim.kubepy.io/run-seconds": "5", "sim.kubepy.io/exit-code": "2"}, "Always", 11,
      "Running", 1, "waiting"),
     ({"sim.kubepy.io/run-seconds": "5", "sim.kubepy.io/exit-code": "2"}, "Always", 21,
      "Running", 2, "running")],
    ids=["runs", "succeeds", "fails", "crash-loop-back-off", "restarted-after-back-off"])
def test_pod_lifecycle_through_the_api(annotations: dict[str, str], policy: str, after: float,
                                       phase: str, restarts: int, state: str) -> None:
    async def go() -> Obj:
        api, clock = FakeApi(), FakeClock()
        sim = await started(api, clock)
        node = api.objects[("nodes", "", "sim-1")]
        node = copy.deepcopy(node)
        node["spec"]["podCIDR"] = "10.42.7.0/24"
        api.put("nodes", node, "MODIFIED")
        await clock.tick(0.01)
        api.put("pods", bound_pod("web", "sim-1", annotations, restartPolicy=policy))
        await clock.tick(after)
        pod = copy.deepcopy(api.obj("pods", "default", "web"))
        await sim.stop()
        return pod

    pod = run(go())
    status = pod["status"]
    assert status["phase"] == phase
    assert status["podIP"] == "10.42.7.2" and status["hostIP"] == "10.250.0.2"
    cs = status["containerStatuses"][0]
    assert cs["restartCount"] == restarts and state in cs["state"]


def test_pods_of_other_nodes_are_left_alone() -> None:
    async def go() -> Obj:
        api, clock = FakeApi(), FakeClock()
        sim = await started(api, clock)
        api.put("pods", bound_pod("elsewhere", "real-node"))
        await clock.tick(5)
        await sim.stop()
        return api.obj("pods", "default", "elsewhere") or {}

    assert run(go())["status"] == {"phase": "Pending"}


@pytest.mark.parametrize("grace,gone_after", [(30, 30), (0, 0), (3, 3)],
                         ids=["grace-30", "grace-0", "grace-3"])
def test_deletion_waits_for_the_grace_period(grace: int, gone_after: float) -> None:
    async def go() -> tuple[bool, bool, list[tuple[str, str, str]]]:
        api, clock = FakeApi(), FakeClock()
        sim = await started(api, clock)
        api.put("pods", bound_pod("web", "sim-0"))
        await clock.tick(1)
        pod = copy.deepcopy(api.obj("pods", "default", "web"))
        assert pod is not None and pod["status"]["phase"] == "Running"
        pod["metadata"]["deletionTimestamp"] = "2026-01-01T00:01:00Z"
        pod["metadata"]["deletionGracePeriodSeconds"] = grace
        api.put("pods", pod, "MODIFIED")
        await clock.tick(max(0.0, gone_after - 0.5))
        before = api.obj("pods", "default", "web") is not None
        await clock.tick(1.0)
        after = api.obj("pods", "default", "web") is not None
        await sim.stop()
        return before, after, [w for w in api.writes if w[0] == "delete"]

    before, after, deletes = run(go())
    assert (before, after) == (gone_after > 0, False)
    assert deletes == [("delete", "pods", "web")]


def test_stopping_writes_nothing_more() -> None:
    async def go() -> int:
        api, clock = FakeApi(), FakeClock()
        sim = await started(api, clock)
        api.put("pods", bound_pod("web", "sim-0"))
        await clock.tick(1)
        await sim.stop()
        writes = len(api.writes)
        await clock.tick(120)
        await settle()
        return len(api.writes) - writes

    assert run(go()) == 0


def test_node_marked_unknown_is_reposted_at_once() -> None:
    async def go() -> str:
        api, clock = FakeApi(), FakeClock()
        sim = await started(api, clock)
        node = copy.deepcopy(api.objects[("nodes", "", "sim-0")])
        for cond in node["status"]["conditions"]:
            if cond["type"] == "Ready":
                cond.update(status="Unknown", reason="NodeStatusUnknown")
        api.put("nodes", node, "MODIFIED")
        await clock.tick(0.5)
        ready = next(c for c in api.objects[("nodes", "", "sim-0")]["status"]["conditions"]
                     if c["type"] == "Ready")
        await sim.stop()
        return ready["status"]

    assert run(go()) == "True"
