"""Endpoints/EndpointSlice, node IPAM, node lifecycle (virtual time) and the disruption
controller against a real ``kubepy server`` started without its own controller-manager and
scheduler; the controllers run in the test's event loop.

The test plays kubelet: it creates Nodes and their Leases, binds pods, writes pod status
(IP, Ready) with ``update_status`` and finishes graceful deletions. Node lifecycle runs on a
``FakeClock`` the test moves by hand (a node's Lease "stops" simply by not being renewed);
``kubectl drain`` is the real kubectl 1.32.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from dataclasses import dataclass
from types import ModuleType
from typing import Any, AsyncIterator, Awaitable, Callable

import pytest

from kubepy import errors
from kubepy.api.registry import Registry
from kubepy.client.clock import REAL_CLOCK, Clock
from kubepy.client.rest import ApiClient
from kubepy.controllers import (disruption, endpoints, endpointslice, nodeipam, nodelifecycle,
                                replicaset)
from kubepy.controllers.context import ControllerConfig
from tests.conftest import ServerProcess
from tests.integration.ctrlharness import (KUBECTL, Cluster, api_only_server, equals,
                                           fake_clock, gone, play_kubelet, run,
                                           running_controllers, timestamp, wait_for)

REG = Registry()
PODS = REG.get("", "v1", "pods")
NODES = REG.get("", "v1", "nodes")
SERVICES = REG.get("", "v1", "services")
ENDPOINTS = REG.get("", "v1", "endpoints")
SLICES = REG.get("discovery.k8s.io", "v1", "endpointslices")
LEASES = REG.get("coordination.k8s.io", "v1", "leases")
PDBS = REG.get("policy", "v1", "poddisruptionbudgets")
RSS = REG.get("apps", "v1", "replicasets")
Obj = dict[str, Any]

server = api_only_server("ctrl-net-nodes")


def micro(clock: Clock) -> str:
    return clock.now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class NodeCluster(Cluster):
    """Also plays the kubelets of Nodes it makes: their status and their Leases."""

    async def make_node(self, base: str, *, ready: bool = True, labels: Obj | None = None,
                        lease: bool = True) -> str:
        name = self.name(base)
        node = await self.create_tracked(NODES, {"metadata": {"name": name,
                                                              "labels": labels or {}}})
        if ready:
            await self.post_node_status(name)
        if lease:
            await self.create_tracked(LEASES, {
                "metadata": {"name": name, "namespace": "kube-node-lease"},
                "spec": {"holderIdentity": name, "leaseDurationSeconds": 40,
                         "renewTime": micro(self.clock)}}, "kube-node-lease")
        return node["metadata"]["name"]

    async def post_node_status(self, name: str, ready: str = "True") -> None:
        node = await self.client.get(NODES, name)
        now = timestamp(self.clock)
        node["status"] = {"conditions": [
            {"type": t, "status": "False", "lastHeartbeatTime": now, "lastTransitionTime": now,
             "reason": f"KubeletHas{r}", "message": "ok"}
            for t, r in (("MemoryPressure", "SufficientMemory"),
                         ("DiskPressure", "NoDiskPressure"), ("PIDPressure", "SufficientPID"))]
            + [{"type": "Ready", "status": ready, "lastHeartbeatTime": now,
                "lastTransitionTime": now, "reason": "KubeletReady",
                "message": "kubelet is posting ready status"}],
            "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}}
        await self.client.update_status(NODES, node)

    async def renew_lease(self, name: str) -> None:
        lease = await self.client.get(LEASES, name, "kube-node-lease")
        lease["spec"]["renewTime"] = micro(self.clock)
        await self.client.update(LEASES, lease)

    async def make_pod(self, name: str, labels: Obj, node: str | None, *,
                       ports: list[Obj] | None = None, tolerations: list[Obj] | None = None,
                       extra_spec: Obj | None = None) -> Obj:
        spec: Obj = {"containers": [{"name": "c", "image": "nginx", "ports": ports or []}]}
        if node:
            spec["nodeName"] = node
        if tolerations:
            spec["tolerations"] = tolerations
        spec.update(extra_spec or {})
        return await self.client.create(PODS, {"metadata": {"name": name, "labels": labels},
                                               "spec": spec}, self.namespace)

    async def set_ready(self, name: str, ready: bool, ip: str) -> None:
        pod = await self.client.get(PODS, name, self.namespace)
        await self.set_pod_state(pod, "ready" if ready else "unready", ip=ip)


@contextlib.asynccontextmanager
async def running(server: ServerProcess, modules: tuple[ModuleType, ...], *,
                  clock: Clock = REAL_CLOCK, config: ControllerConfig | None = None,
                  kubelet: Callable[[NodeCluster], Awaitable[None]] | None = None
                  ) -> AsyncIterator[NodeCluster]:
    async with running_controllers(server, modules, prefix="nn", cluster_type=NodeCluster,
                                   clock=clock, config=config, kubelet=kubelet) as cl:
        yield cl


# ---------------------------------------------------------------------------- endpoints

def test_endpoints_and_slices_follow_pod_readiness(server: ServerProcess) -> None:
    async def go() -> None:
        async with running(server, (endpoints, endpointslice)) as cl:
            c, ns = cl.client, cl.namespace
            node = await cl.make_node("ep", labels={"topology.kubernetes.io/zone": "z1"})
            await c.create(SERVICES, {"metadata": {"name": "web", "labels": {"team": "a"}},
                                      "spec": {"selector": {"app": "web"}, "ports": [
                                          {"name": "http", "port": 80, "targetPort": "http"}]}},
                           ns)
            await c.create(SERVICES, {"metadata": {"name": "web-headless"}, "spec": {
                "clusterIP": "None", "selector": {"app": "web"},
                "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}, ns)
            await c.create(SERVICES, {"metadata": {"name": "external"}, "spec": {
                "ports": [{"port": 80}]}}, ns)
            manual = await c.create(ENDPOINTS, {"metadata": {"name": "external"}, "subsets": [
                {"addresses": [{"ip": "192.0.2.10"}], "ports": [{"port": 80}]}]}, ns)
            http = [{"name": "http", "containerPort": 8080}]
            await cl.make_pod("a", {"app": "web"}, node, ports=http,
                              extra_spec={"hostname": "a", "subdomain": "web-headless"})
            await cl.make_pod("b", {"app": "web"}, node, ports=http)
            await cl.make_pod("other", {"app": "db"}, node, ports=http)
            await cl.set_ready("a", True, "10.42.7.2")
            await cl.set_ready("b", False, "10.42.7.3")
            await cl.set_ready("other", True, "10.42.7.4")

            async def subsets(name: str, want: Callable[[list[Obj]], bool]) -> Any:
                with contextlib.suppress(errors.NotFound):
                    ep = await c.get(ENDPOINTS, name, ns)
                    return ep if want(ep.get("subsets") or []) else None
                return None

            ep = await wait_for(lambda: subsets("web", lambda s: bool(
                s and s[0].get("addresses") and s[0].get("notReadyAddresses"))))
            subset = ep["subsets"][0]
            assert [a["ip"] for a in subset["addresses"]] == ["10.42.7.2"]
            assert [a["ip"] for a in subset["notReadyAddresses"]] == ["10.42.7.3"]
            assert subset["addresses"][0]["nodeName"] == node
            assert subset["addresses"][0]["targetRef"]["name"] == "a"
            assert subset["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
            assert ep["metadata"]["labels"] == {
                "team": "a", "endpointslice.kubernetes.io/skip-mirror": "true"}
            headless = await wait_for(lambda: subsets("web-headless", lambda s: bool(s)))
            assert headless["metadata"]["labels"]["service.kubernetes.io/headless"] == ""
            assert headless["subsets"][0]["addresses"][0]["hostname"] == "a"

            async def slice_of(svc: str, want: Callable[[list[Obj]], bool]) -> Any:
                items = (await c.list(SLICES, ns, label_selector=
                                      f"kubernetes.io/service-name={svc}"))["items"]
                return items if len(items) == 1 and want(items[0].get("endpoints") or []) \
                    else None
            [sl] = await wait_for(lambda: slice_of("web", lambda e: len(e) == 2))
            assert sl["metadata"]["name"].startswith("web-")
            assert sl["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == \
                "endpointslice-controller.k8s.io"
            assert sl["metadata"]["ownerReferences"][0]["kind"] == "Service"
            assert sl["addressType"] == "IPv4"
            assert sl["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
            by_name = {e["targetRef"]["name"]: e for e in sl["endpoints"]}
            assert by_name["a"]["conditions"] == {"ready": True, "serving": True,
                                                  "terminating": False}
            assert by_name["b"]["conditions"]["ready"] is False
            assert by_name["a"]["zone"] == "z1" and by_name["a"]["nodeName"] == node

            # readiness flips, a pod leaves
            await cl.set_ready("b", True, "10.42.7.3")
            await wait_for(lambda: subsets("web", lambda s: len(s[0].get("addresses") or [])
                                           == 2 and not s[0].get("notReadyAddresses")))
            await c.delete(PODS, "a", ns, grace_period_seconds=0)
            ep = await wait_for(lambda: subsets("web", lambda s: [
                a["ip"] for a in s[0].get("addresses") or []] == ["10.42.7.3"]))
            [sl2] = await wait_for(lambda: slice_of("web", lambda e: len(e) == 1))
            assert sl2["metadata"]["name"] == sl["metadata"]["name"]  # updated in place
            assert sl2["endpoints"][0]["conditions"]["ready"] is True

            # the Service without a selector keeps its hand-made Endpoints and gets no slices
            await asyncio.sleep(0.5)
            kept = await c.get(ENDPOINTS, "external", ns)
            assert kept["subsets"] == manual["subsets"]
            assert await slice_of("external", lambda e: True) is None

            # a deleted Service takes its Endpoints along
            await c.delete(SERVICES, "web", ns)

            await wait_for(lambda: gone(c, ENDPOINTS, "web", ns))
    run(go())


# ---------------------------------------------------------------------------- IPAM

def test_node_ipam_allocates_unique_stable_cidrs(server: ServerProcess) -> None:
    config = ControllerConfig(cluster_cidr="10.90.0.0/16")

    async def cidrs(c: ApiClient, names: list[str]) -> dict[str, Any] | None:
        out = {}
        for n in names:
            spec = (await c.get(NODES, n)).get("spec") or {}
            if not spec.get("podCIDR"):
                return None
            assert spec["podCIDRs"] == [spec["podCIDR"]]
            out[n] = spec["podCIDR"]
        return out

    async def go() -> None:
        async with running(server, (nodeipam,), config=config) as cl:
            names = [await cl.make_node(f"ipam{i}", ready=False, lease=False) for i in range(3)]
            got = await wait_for(lambda: cidrs(cl.client, names))
            assert len(set(got.values())) == 3
            assert all(v.startswith("10.90.") and v.endswith(".0/24") for v in got.values())
            await asyncio.sleep(0.3)
            assert await cidrs(cl.client, names) == got  # stable
            await cl.client.delete(NODES, names[0])
            extra = await cl.make_node("ipam3", ready=False, lease=False)
            more = await wait_for(lambda: cidrs(cl.client, [extra]))
            assert more[extra] not in (got[names[1]], got[names[2]])
            held = {**{n: got[n] for n in names[1:]}, **more}
        # a restarted controller sees what nodes hold and never hands it out again
        async with running(server, (nodeipam,), config=config) as cl2:
            new = await cl2.make_node("ipam4", ready=False, lease=False)
            fresh = await wait_for(lambda: cidrs(cl2.client, [new]))
            assert fresh[new] not in held.values()
            for n in held:  # clean up the first cluster's nodes
                with contextlib.suppress(errors.StatusError):
                    await cl2.client.delete(NODES, n)
    run(go())


# ---------------------------------------------------------------------------- node lifecycle

def test_silent_node_is_tainted_and_its_pods_evicted(server: ServerProcess) -> None:
    clock = fake_clock()

    async def go() -> None:
        async with running(server, (nodelifecycle,), clock=clock) as cl:
            c, ns = cl.client, cl.namespace
            lost = await cl.make_node("lost")
            alive = await cl.make_node("alive")
            await cl.make_pod("plain", {"app": "x"}, lost)  # default 300 s tolerations
            await cl.make_pod("forever", {"app": "x"}, lost, tolerations=[
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                 "effect": "NoExecute"}])
            await cl.make_pod("elsewhere", {"app": "x"}, alive)
            for i, p in enumerate(("plain", "forever", "elsewhere")):
                await cl.set_ready(p, True, f"10.42.9.{i + 2}")
            plain = await c.get(PODS, "plain", ns)
            assert {"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                    "effect": "NoExecute", "tolerationSeconds": 300} in plain["spec"]["tolerations"]

            async def step(seconds: float, settle: float = 0.25) -> None:
                await cl.renew_lease(alive)
                await asyncio.sleep(settle)
                clock.advance(seconds)
                await asyncio.sleep(settle)

            async def node(name: str) -> Obj:
                return await c.get(NODES, name)

            def taints(n: Obj) -> set[tuple[str, str]]:
                return {(t["key"], t["effect"]) for t in (n.get("spec") or {}).get("taints") or []}

            async def conditions(name: str) -> dict[str, Obj]:
                return {x["type"]: x for x in (await node(name))["status"]["conditions"]}

            await asyncio.sleep(0.5)  # caches synced, first monitor pass done
            silent = 0
            while (await conditions(lost))["Ready"]["status"] == "True":
                assert silent < 70, "the silent node never became Unknown"
                await step(5)
                silent += 5
            assert silent >= 40  # node_monitor_grace_period
            ready = await conditions(lost)
            assert ready["Ready"]["status"] == "Unknown"
            assert ready["Ready"]["reason"] == "NodeStatusUnknown"
            assert ready["Ready"]["message"] == "Kubelet stopped posting node status."
            assert ready["MemoryPressure"]["status"] == "Unknown"
            assert await wait_for(lambda: _has(node(lost), taints, {
                ("node.kubernetes.io/unreachable", "NoExecute"),
                ("node.kubernetes.io/unreachable", "NoSchedule")}))
            assert taints(await node(alive)) == set()
            assert (await node(alive))["status"]["conditions"][-1]["status"] == "True"

            async def ready_of(pod: str) -> str:
                p = await c.get(PODS, pod, ns)
                return next(x["status"] for x in p["status"]["conditions"] if x["type"] == "Ready")
            assert await wait_for(lambda: equals(ready_of("plain"), "False"))
            assert await ready_of("forever") == "False"
            assert await ready_of("elsewhere") == "True"
            assert (await c.get(PODS, "plain", ns))["metadata"].get("deletionTimestamp") is None

            await step(200)
            assert (await c.get(PODS, "plain", ns))["metadata"].get("deletionTimestamp") is None
            await step(110)  # past the 300 s toleration

            async def deleting(pod: str) -> Obj | None:
                p = await c.get(PODS, pod, ns)
                return p if p["metadata"].get("deletionTimestamp") else None
            evicted = await wait_for(lambda: deleting("plain"))
            assert any(x["type"] == "DisruptionTarget" and x["reason"] == "DeletionByTaintManager"
                       for x in evicted["status"]["conditions"])
            assert await deleting("forever") is None
            assert await deleting("elsewhere") is None
            assert await cl.events(ns, reason="TaintManagerEviction")
            node_events = [e for e in await cl.events("default", reason="NodeNotReady")
                           if e["involvedObject"]["name"] == lost]
            assert node_events and node_events[0]["message"] == \
                f"Node {lost} status is now: NodeNotReady"

            # the kubelet comes back: taints go
            await cl.renew_lease(lost)
            await cl.post_node_status(lost)
            await step(5)
            assert await wait_for(lambda: _has(node(lost), taints, set()))

            # cordon / uncordon with the real kubectl mirror spec.unschedulable as a taint
            assert _kubectl(server, "cordon", alive).returncode == 0
            assert await wait_for(lambda: _has(node(alive), taints, {
                ("node.kubernetes.io/unschedulable", "NoSchedule")}))
            assert _kubectl(server, "uncordon", alive).returncode == 0
            assert await wait_for(lambda: _has(node(alive), taints, set()))
    run(go())


async def _has(node_coro: Any, taints: Callable[[Obj], set[Any]], want: set[Any]) -> bool:
    return taints(await node_coro) == want


def _kubectl(server: ServerProcess, *args: str, timeout: float = 60
             ) -> subprocess.CompletedProcess[str]:
    if not KUBECTL.exists():
        pytest.skip(f"{KUBECTL} not installed")
    return subprocess.run([str(KUBECTL), "--kubeconfig", str(server.kubeconfig), *args],
                          capture_output=True, text=True, timeout=timeout)


# ---------------------------------------------------------------------------- disruption

def web_replicaset() -> Obj:
    return {"metadata": {"name": "web"}, "spec": {
        "replicas": 2, "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
            "containers": [{"name": "c", "image": "nginx"}]}}}}


async def drain(server: ServerProcess, node: str, timeout: str
                ) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(_kubectl, server, "drain", node, "--ignore-daemonsets",
                                   "--delete-emptydir-data", "--timeout", timeout)


def test_pdb_status_and_drain_honours_it(server: ServerProcess) -> None:
    target: list[str] = []  # where the kubelet binds new pods

    async def go() -> None:
        async with running(server, (replicaset, disruption), kubelet=lambda cl: play_kubelet(
                cl, node_for=lambda pod: target[0])) as cl:
            c, ns = cl.client, cl.namespace
            first = await cl.make_node("drain1")
            second = await cl.make_node("drain2")
            target.append(first)
            await c.create(RSS, web_replicaset(), ns)
            await c.create(PDBS, {"metadata": {"name": "web-pdb"}, "spec": {
                "minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}}, ns)
            await c.create(PDBS, {"metadata": {"name": "pct-pdb"}, "spec": {
                "maxUnavailable": "50%", "selector": {"matchLabels": {"app": "web"}}}}, ns)

            async def status(name: str, want: Callable[[Obj], bool]) -> Obj | None:
                st = (await c.get(PDBS, name, ns)).get("status") or {}
                return st if want(st) else None
            st = await wait_for(lambda: status("web-pdb", lambda s: s.get(
                "currentHealthy") == 2))
            assert (st["desiredHealthy"], st["expectedPods"], st["disruptionsAllowed"],
                    st["observedGeneration"]) == (2, 2, 0, 1)
            [cond] = st["conditions"]
            assert (cond["type"], cond["status"], cond["reason"]) == (
                "DisruptionAllowed", "False", "InsufficientPods")
            pct = await wait_for(lambda: status("pct-pdb", lambda s: s.get(
                "currentHealthy") == 2))
            assert (pct["desiredHealthy"], pct["expectedPods"],
                    pct["disruptionsAllowed"]) == (1, 2, 1)
            assert pct["conditions"][0]["reason"] == "SufficientPods"
            await c.delete(PDBS, "pct-pdb", ns)  # one budget per pod for eviction

            # the budget is exhausted: drain is refused until it times out
            target[0] = second
            refused = await drain(server, first, "20s")
            assert refused.returncode != 0
            assert "disruption budget" in refused.stderr, refused.stderr
            on_first = [p for p in (await c.list(PODS, ns))["items"]
                        if p["spec"].get("nodeName") == first]
            assert len(on_first) == 2
            assert (await c.get(NODES, first))["spec"].get("unschedulable") is True

            # with room for one disruption the drain goes through, pods move over
            await c.patch(PDBS, "web-pdb", {"spec": {"minAvailable": 1}}, namespace=ns,
                          patch_type="merge")
            await wait_for(lambda: status("web-pdb", lambda s: s.get(
                "disruptionsAllowed") == 1 and s.get("observedGeneration") == 2))
            drained = await drain(server, first, "20s")
            assert drained.returncode == 0, drained.stderr
            assert "evicted" in drained.stdout

            async def moved() -> bool:
                pods = [p for p in (await c.list(PODS, ns))["items"]
                        if not p["metadata"].get("deletionTimestamp")]
                return len(pods) == 2 and all(p["spec"].get("nodeName") == second
                                              for p in pods)
            await wait_for(moved)
    run(go(), timeout=150)


def test_concurrent_evictions_never_exceed_the_budget(server: ServerProcess) -> None:
    target: list[str] = []  # replacements land on the second node, never Ready there
    ready_on: set[str] = set()

    async def go() -> None:
        async with running(server, (replicaset, disruption), kubelet=lambda cl: play_kubelet(
                cl, node_for=lambda pod: target[0], state_for=lambda pod: "ready"
                if pod["spec"].get("nodeName") in ready_on else None)) as cl:
            c, ns = cl.client, cl.namespace
            first = await cl.make_node("budget1")
            second = await cl.make_node("budget2")
            target.append(first)
            ready_on.add(first)
            await c.create(RSS, web_replicaset(), ns)
            await c.create(PDBS, {"metadata": {"name": "web-pdb"}, "spec": {
                "minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}}, ns)

            async def allowed() -> bool:
                st = (await c.get(PDBS, "web-pdb", ns)).get("status") or {}
                return st.get("currentHealthy") == 2 and st.get("disruptionsAllowed") == 1
            await wait_for(allowed)
            originals = {p["metadata"]["name"] for p in (await c.list(PODS, ns))["items"]}
            target[0] = second
            result = await drain(server, first, "12s")
            left = {p["metadata"]["name"] for p in (await c.list(PODS, ns))["items"]}
            assert len(originals & left) == 1, (originals, left, result.stdout)
            assert result.returncode != 0
    run(go(), timeout=120)
