"""The scheduler against a real ``kubepy server`` (its own scheduler and controllers off):
Node objects created through the API (allocatable, Ready), the scheduler running in this
test's event loop, and placement read back from the API — taints and tolerations,
nodeSelector, node affinity, pod anti-affinity and affinity, topology spread, resource fit,
preemption with PriorityClasses, a pod that fits nowhere staying Pending with
Kubernetes' message, and a retry when a node joins."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator

import pytest

from kubepy import errors
from kubepy.api.registry import Registry
from kubepy.client.clock import REAL_CLOCK
from kubepy.client.events import EventRecorder
from kubepy.client.factory import SharedInformerFactory
from kubepy.client.rest import ApiClient
from kubepy.scheduler import new_scheduler
from tests.conftest import ServerProcess, start_server

Obj = dict[str, Any]
REG = Registry()
NODES = REG.get("", "v1", "nodes")
PODS = REG.get("", "v1", "pods")
NAMESPACES = REG.get("", "v1", "namespaces")
EVENTS = REG.get("", "v1", "events")
PRIORITY_CLASSES = REG.get("scheduling.k8s.io", "v1", "priorityclasses")
ZONE = "topology.kubernetes.io/zone"
CP_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    s = start_server(tmp_path_factory.mktemp("sched-live"),
                     extra=["--disable-scheduler", "--disable-controller-manager"])
    try:
        yield s
    finally:
        s.stop()


def node_obj(name: str, cpu: str = "4", *, labels: dict[str, str] | None = None,
             taints: list[Obj] | None = None) -> Obj:
    alloc = {"cpu": cpu, "memory": "8Gi", "pods": "110"}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name,
                                                  **(labels or {})}},
            "spec": {"taints": taints} if taints else {},
            "status": {"capacity": alloc, "allocatable": alloc,
                       "conditions": [{"type": "Ready", "status": "True", "reason":
                                       "KubeletReady", "message": "kubelet is posting ready "
                                       "status"}]}}


def pod_obj(name: str, cpu: str = "100m", **spec: Any) -> Obj:
    labels = spec.pop("labels", {})
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10",
                                     "resources": {"requests": {"cpu": cpu}}}],
                     "terminationGracePeriodSeconds": 0, **spec}}


class Cluster:
    """One test's world: a namespace, its nodes, a running scheduler."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self.ns = f"sched-{uuid.uuid4().hex[:8]}"
        self.nodes: list[str] = []

    async def add_node(self, obj: Obj) -> None:
        created = await self.client.create(NODES, obj)  # type: ignore[arg-type]
        self.nodes.append(obj["metadata"]["name"])
        if not (created.get("status") or {}).get("allocatable"):
            await self.client.update_status(NODES, {**created, "status": obj["status"]})  # type: ignore[arg-type]

    async def create(self, obj: Obj) -> Obj:
        return await self.client.create(PODS, obj, self.ns)  # type: ignore[arg-type]

    async def get(self, name: str) -> Obj:
        return await self.client.get(PODS, name, self.ns)  # type: ignore[arg-type]

    async def until(self, what: str, check: Callable[[], Awaitable[Any]],
                    timeout: float = 10) -> Any:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            value = await check()
            if value:
                return value
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.05)

    async def node_of(self, name: str, timeout: float = 10) -> str:
        async def check() -> str:
            return (await self.get(name))["spec"].get("nodeName") or ""
        return await self.until(f"{name} to be bound", check, timeout)

    async def events_for(self, name: str) -> list[Obj]:
        items = (await self.client.list(EVENTS, self.ns))["items"]  # type: ignore[arg-type]
        return [e for e in items if e["involvedObject"].get("name") == name]

    async def kubelet(self) -> None:
        """Play the kubelets' part in deletion: terminating pods go away at once."""
        while True:
            for p in (await self.client.list(PODS, self.ns))["items"]:  # type: ignore[arg-type]
                if p["metadata"].get("deletionTimestamp"):
                    try:
                        await self.client.delete(PODS, p["metadata"]["name"], self.ns,  # type: ignore[arg-type]
                                                 grace_period_seconds=0)
                    except errors.NotFound:
                        pass
            await asyncio.sleep(0.1)


def live(server: ServerProcess, body: Callable[[Cluster], Awaitable[None]]) -> None:
    async def go() -> None:
        async with ApiClient.from_kubeconfig(server.kubeconfig) as client:
            c = Cluster(client)
            await client.create(NAMESPACES, {"metadata": {"name": c.ns}})  # type: ignore[arg-type]
            factory = SharedInformerFactory(client, clock=REAL_CLOCK)
            recorders: list[EventRecorder] = []

            def recorder_for(component: str) -> EventRecorder:
                r = EventRecorder(client, component, clock=REAL_CLOCK)
                recorders.append(r)
                return r
            sched = new_scheduler(client, factory, REAL_CLOCK, recorder_for)
            task = asyncio.get_running_loop().create_task(sched.run(sync_timeout=10))
            kubelet = asyncio.get_running_loop().create_task(c.kubelet())
            try:
                await body(c)
            finally:
                kubelet.cancel()
                await sched.shutdown()
                task.cancel()
                await asyncio.gather(task, kubelet, return_exceptions=True)
                await factory.stop()
                for r in recorders:
                    await r.close()
                for name in c.nodes:
                    try:
                        await client.delete(NODES, name)  # type: ignore[arg-type]
                    except errors.NotFound:
                        pass
                await client.delete(NAMESPACES, c.ns)  # type: ignore[arg-type]
    asyncio.run(asyncio.wait_for(go(), 60))


UNFIT = ("0/3 nodes are available: 1 node(s) had untolerated taint "
         "{node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. preemption: 0/3 nodes "
         "are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims "
         "found for incoming pod.")


def test_pending_with_kubernetes_message_then_retried_on_new_node(server: ServerProcess) -> None:
    async def body(c: Cluster) -> None:
        await c.add_node(node_obj("cp", taints=[CP_TAINT]))
        await c.add_node(node_obj("node-1", cpu="1"))
        await c.add_node(node_obj("node-2", cpu="1"))
        await c.create(pod_obj("web-1", cpu="2"))

        async def condition() -> Obj | None:
            conds = (await c.get("web-1")).get("status", {}).get("conditions") or []
            return next((x for x in conds if x["type"] == "PodScheduled"), None)
        cond = await c.until("PodScheduled=False", condition)
        assert (cond["status"], cond["reason"], cond["message"]) == ("False", "Unschedulable",
                                                                   UNFIT)
        assert (await c.get("web-1"))["status"]["phase"] == "Pending"

        async def failed() -> list[Obj]:
            return [e for e in await c.events_for("web-1") if e["reason"] == "FailedScheduling"]
        ev = (await c.until("a FailedScheduling event", failed))[0]
        assert (ev["type"], ev["message"], ev["source"]["component"]) == (
            "Warning", UNFIT, "default-scheduler")
        await c.add_node(node_obj("node-3", cpu="4"))
        assert await c.node_of("web-1") == "node-3"

        async def scheduled() -> list[Obj]:
            return [e for e in await c.events_for("web-1") if e["reason"] == "Scheduled"]
        ev = (await c.until("a Scheduled event", scheduled))[0]
        assert ev["message"] == f"Successfully assigned {c.ns}/web-1 to node-3"
        assert ev["type"] == "Normal"
    live(server, body)


def test_placement_rules(server: ServerProcess) -> None:
    async def body(c: Cluster) -> None:
        await c.add_node(node_obj("cp", taints=[CP_TAINT], labels={
            "node-role.kubernetes.io/control-plane": ""}))
        await c.add_node(node_obj("a1", labels={ZONE: "a", "disk": "ssd"}))
        await c.add_node(node_obj("b1", labels={ZONE: "b"}))
        await c.add_node(node_obj("b2", cpu="8", labels={ZONE: "b"}))
        # nodeSelector
        await c.create(pod_obj("ssd", nodeSelector={"disk": "ssd"}))
        # toleration + required node affinity onto the control plane
        await c.create(pod_obj("on-cp", tolerations=[
            {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists",
             "effect": "NoSchedule"}], affinity={"nodeAffinity": {
                 "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{
                     "matchExpressions": [{"key": "node-role.kubernetes.io/control-plane",
                                           "operator": "Exists"}]}]}}}))
        # resource fit: only b2 has 6 cpu free
        await c.create(pod_obj("big", cpu="6"))
        assert await c.node_of("ssd") == "a1"
        assert await c.node_of("on-cp") == "cp"
        assert await c.node_of("big") == "b2"
        # anti-affinity: three replicas on three different (untainted) nodes
        anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
            "labelSelector": {"matchLabels": {"app": "web"}},
            "topologyKey": "kubernetes.io/hostname"}]}}
        for i in range(3):
            await c.create(pod_obj(f"web-{i}", labels={"app": "web"}, affinity=anti))
        hosts = {await c.node_of(f"web-{i}") for i in range(3)}
        assert hosts == {"a1", "b1", "b2"}
        # a fourth replica has nowhere to go
        await c.create(pod_obj("web-3", labels={"app": "web"}, affinity=anti))

        async def msg() -> str:
            conds = (await c.get("web-3")).get("status", {}).get("conditions") or []
            return next((x["message"] for x in conds if x["type"] == "PodScheduled"), "")
        assert await c.until("web-3 unschedulable", msg) == (
            "0/4 nodes are available: 1 node(s) had untolerated taint "
            "{node-role.kubernetes.io/control-plane: }, 3 node(s) didn't match pod "
            "anti-affinity rules. preemption: 0/4 nodes are available: 1 Preemption is not "
            "helpful for scheduling, 3 No preemption victims found for incoming pod.")
        # pod affinity: follow the ssd pod's zone
        await c.create(pod_obj("near-ssd", affinity={"podAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [{
                "labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": ZONE}]}},
            nodeSelector={ZONE: "a"}))
        assert await c.node_of("near-ssd") == "a1"
        # topology spread across zones: 4 pods, maxSkew 1 -> 2 in a, 2 in b
        spread = [{"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule",
                   "labelSelector": {"matchLabels": {"app": "spread"}}}]
        zones = []
        for i in range(4):
            await c.create(pod_obj(f"spread-{i}", labels={"app": "spread"},
                                   topologySpreadConstraints=spread))
            zones.append({"a1": "a", "b1": "b", "b2": "b"}[await c.node_of(f"spread-{i}")])
        assert sorted(zones) == ["a", "a", "b", "b"]
    live(server, body)


def test_preemption(server: ServerProcess) -> None:
    async def body(c: Cluster) -> None:
        for name, value in ((f"{c.ns}-low", 10), (f"{c.ns}-high", 1000)):
            await c.client.create(PRIORITY_CLASSES, {  # type: ignore[arg-type]
                "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                "metadata": {"name": name}, "value": value})
        try:
            await c.add_node(node_obj("n1", cpu="1"))
            await c.add_node(node_obj("n2", cpu="1"))
            for i in range(2):
                await c.create(pod_obj(f"low-{i}", cpu="800m",
                                       priorityClassName=f"{c.ns}-low"))
            placed = {await c.node_of(f"low-{i}"): f"low-{i}" for i in range(2)}
            assert set(placed) == {"n1", "n2"}
            await c.create(pod_obj("vip", cpu="900m", priorityClassName=f"{c.ns}-high"))
            node = await c.node_of("vip", timeout=20)
            victim = placed[node]
            with pytest.raises(errors.NotFound):
                await c.get(victim)
            survivor = placed["n2" if node == "n1" else "n1"]
            assert (await c.get(survivor))["spec"]["nodeName"] != node

            async def preempted() -> list[Obj]:
                return [e for e in await c.events_for(victim) if e["reason"] == "Preempted"]
            ev = (await c.until("a Preempted event", preempted))[0]
            assert ev["message"].startswith("Preempted by pod ") and ev["message"].endswith(
                f" on node {node}")
            failed = [e for e in await c.events_for("vip") if e["reason"] == "FailedScheduling"]
            assert failed and failed[0]["message"] == (
                "0/2 nodes are available: 2 Insufficient cpu.")
        finally:
            for name in (f"{c.ns}-low", f"{c.ns}-high"):
                await c.client.delete(PRIORITY_CLASSES, name)  # type: ignore[arg-type]
    live(server, body)
