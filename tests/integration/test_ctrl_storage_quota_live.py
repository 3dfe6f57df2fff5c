"""The PersistentVolume binder and the ResourceQuota controller on a real ``kubepy server``
(started without its own controller-manager and scheduler), running in the test's event
loop. The test plays scheduler where one is needed (pods/binding) and kubelet (pod
status)."""

from __future__ import annotations

import asyncio
import contextlib
from types import ModuleType
from typing import Any, AsyncIterator

from kubepy import errors
from kubepy.api.registry import Registry
from kubepy.controllers import pvbinder, resourcequota
from tests.conftest import ServerProcess
from tests.integration.ctrlharness import (Cluster, api_only_server, equals, fake_clock,
                                           run, running_controllers, wait_for)

REG = Registry()
PODS = REG.get("", "v1", "pods")
NODES = REG.get("", "v1", "nodes")
PVS = REG.get("", "v1", "persistentvolumes")
PVCS = REG.get("", "v1", "persistentvolumeclaims")
SERVICES = REG.get("", "v1", "services")
CONFIGMAPS = REG.get("", "v1", "configmaps")
QUOTAS = REG.get("", "v1", "resourcequotas")
CLASSES = REG.get("storage.k8s.io", "v1", "storageclasses")
DEPLOYMENTS = REG.get("apps", "v1", "deployments")
Obj = dict[str, Any]

server = api_only_server("ctrl-storage-quota")


@contextlib.asynccontextmanager
async def running(server: ServerProcess, modules: tuple[ModuleType, ...]
                  ) -> AsyncIterator[Cluster]:
    async with running_controllers(server, modules, prefix="sq", clock=fake_clock(),
                                   clock_follows_real_time=True,
                                   namespaced_informers=True) as cl:
        yield cl


def volume(name: str, size: str, cls: str, *, modes: tuple[str, ...] = ("ReadWriteOnce",),
           node: str | None = None, policy: str = "Retain") -> Obj:
    spec: Obj = {"capacity": {"storage": size}, "accessModes": list(modes),
                 "storageClassName": cls, "persistentVolumeReclaimPolicy": policy,
                 "hostPath": {"path": f"/data/{name}"}}
    if node is not None:
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
            "spec": spec}


def claim(name: str, size: str, cls: str | None) -> Obj:
    spec: Obj = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if cls is not None:
        spec["storageClassName"] = cls
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
            "spec": spec}


async def phase_of(cl: Cluster, rt: Any, name: str, namespace: str | None = None) -> str | None:
    with contextlib.suppress(errors.NotFound):
        return ((await cl.client.get(rt, name, namespace)).get("status") or {}).get("phase")
    return None


# ------------------------------------------------------------------------ PV binding

def test_claims_bind_smallest_matching_volume_and_release_on_delete(server: ServerProcess) -> None:
    async def go() -> None:
        async with running(server, (pvbinder,)) as cl:
            c, ns, cls = cl.client, cl.namespace, f"manual-{cl.suffix}"
            small, big, other = (f"pv-small-{cl.suffix}", f"pv-big-{cl.suffix}",
                                 f"pv-other-{cl.suffix}")
            await cl.create_tracked(PVS, volume(big, "10Gi", cls))
            await cl.create_tracked(PVS, volume(small, "2Gi", cls, policy="Delete"))
            await cl.create_tracked(PVS, volume(other, "1Gi", f"other-{cl.suffix}"))
            assert await wait_for(lambda: equals(phase_of(cl, PVS, small), "Available"))

            await c.create(PVCS, claim("data", "1Gi", cls), ns)
            assert await wait_for(lambda: equals(phase_of(cl, PVCS, "data", ns), "Bound"))
            pvc = await c.get(PVCS, "data", ns)
            assert pvc["spec"]["volumeName"] == small
            assert pvc["status"]["capacity"] == {"storage": "2Gi"}
            assert pvc["status"]["accessModes"] == ["ReadWriteOnce"]
            ann = pvc["metadata"]["annotations"]
            assert ann["pv.kubernetes.io/bind-completed"] == "yes"
            assert ann["pv.kubernetes.io/bound-by-controller"] == "yes"
            assert await wait_for(lambda: equals(phase_of(cl, PVS, small), "Bound"))
            pv = await c.get(PVS, small)
            assert pv["spec"]["claimRef"]["name"] == "data"
            assert pv["spec"]["claimRef"]["uid"] == pvc["metadata"]["uid"]
            assert await phase_of(cl, PVS, big) == "Available"

            # a claim asking for more than anything offers waits, with the Event saying why
            await c.create(PVCS, claim("huge", "50Gi", None), ns)
            reasons = await wait_for(lambda: cl.reasons_for("huge"))
            assert reasons["FailedBinding"] == \
                "no persistent volumes available for this claim and no storage class is set"
            assert await phase_of(cl, PVCS, "huge", ns) == "Pending"

            # deleting the claim releases its volume; Delete without a deleter is Failed
            await c.delete(PVCS, "data", ns)
            assert await wait_for(lambda: equals(phase_of(cl, PVS, small), "Failed"))
            pv = await c.get(PVS, small)
            assert "no deletable volume plugin matched" in pv["status"]["message"]

            # a Retain volume stays Released, keeping its claimRef
            await c.create(PVCS, claim("keep", "5Gi", cls), ns)
            assert await wait_for(lambda: equals(phase_of(cl, PVCS, "keep", ns), "Bound"))
            assert (await c.get(PVCS, "keep", ns))["spec"]["volumeName"] == big
            await c.delete(PVCS, "keep", ns)
            assert await wait_for(lambda: equals(phase_of(cl, PVS, big), "Released"))
            assert (await c.get(PVS, big))["spec"]["claimRef"]["name"] == "keep"
            # a new claim of the same name does not get the released volume back
            await c.create(PVCS, claim("keep", "5Gi", cls), ns)
            await asyncio.sleep(0.5)
            assert await phase_of(cl, PVCS, "keep", ns) == "Pending"
            assert await phase_of(cl, PVS, big) == "Released"
    run(go())


def test_wait_for_first_consumer_binds_on_the_pods_node(server: ServerProcess) -> None:
    async def go() -> None:
        async with running(server, (pvbinder,)) as cl:
            c, ns, s = cl.client, cl.namespace, cl.suffix
            cls = f"local-{s}"
            await cl.create_tracked(CLASSES, {
                "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                "metadata": {"name": cls}, "provisioner": "kubernetes.io/no-provisioner",
                "volumeBindingMode": "WaitForFirstConsumer"})
            for n in ("a", "b"):
                await cl.create_tracked(NODES, {"metadata": {
                    "name": f"node-{n}-{s}", "labels": {"kubernetes.io/hostname": f"host-{n}-{s}"}}})
                await cl.create_tracked(PVS, volume(f"local-{n}-{s}", "5Gi", cls,
                                                    node=f"host-{n}-{s}"))
            await c.create(PVCS, claim("www", "1Gi", cls), ns)
            reasons = await wait_for(lambda: cl.reasons_for("www"))
            assert reasons["WaitForFirstConsumer"] == \
                "waiting for first consumer to be created before binding"
            await asyncio.sleep(0.5)
            assert await phase_of(cl, PVCS, "www", ns) == "Pending"

            await c.create(PODS, {"metadata": {"name": "web"}, "spec": {
                "containers": [{"name": "c", "image": "nginx"}],
                "volumes": [{"name": "www", "persistentVolumeClaim": {"claimName": "www"}}]}}, ns)

            async def waiting_for_pod() -> bool:
                return (await cl.reasons_for("www")).get("WaitForPodScheduled") == \
                    "waiting for pod web to be scheduled"
            assert await wait_for(waiting_for_pod)
            assert await phase_of(cl, PVCS, "www", ns) == "Pending"

            await c.create_subresource(PODS, "web", "binding", {
                "apiVersion": "v1", "kind": "Binding", "metadata": {"name": "web"},
                "target": {"kind": "Node", "name": f"node-b-{s}"}}, ns)
            assert await wait_for(lambda: equals(phase_of(cl, PVCS, "www", ns), "Bound"))
            assert (await c.get(PVCS, "www", ns))["spec"]["volumeName"] == f"local-b-{s}"
            assert await wait_for(lambda: equals(phase_of(cl, PVS, f"local-b-{s}"), "Bound"))
            assert await phase_of(cl, PVS, f"local-a-{s}") == "Available"
    run(go())


# ------------------------------------------------------------------------ ResourceQuota

def cpu_pod(name: str, cpu: str) -> Obj:
    return {"metadata": {"name": name}, "spec": {"containers": [{
        "name": "c", "image": "nginx",
        "resources": {"requests": {"cpu": cpu, "memory": "64Mi"},
                      "limits": {"cpu": cpu, "memory": "64Mi"}}}]}}


def test_quota_status_tracks_usage(server: ServerProcess) -> None:
    async def go() -> None:
        async with running(server, (resourcequota,)) as cl:
            c, ns = cl.client, cl.namespace
            hard = {"pods": "10", "requests.cpu": "4", "limits.memory": "1Gi",
                    "count/configmaps": "5", "services": "3", "services.nodeports": "2",
                    "persistentvolumeclaims": "2", "requests.storage": "10Gi",
                    "count/deployments.apps": "2"}
            await c.create(QUOTAS, {"metadata": {"name": "compute"}, "spec": {"hard": hard}}, ns)

            async def used() -> Obj | None:
                status = (await c.get(QUOTAS, "compute", ns)).get("status") or {}
                return status.get("used") if status.get("hard") == hard else None
            initial = await wait_for(used)
            assert initial == {"pods": "0", "requests.cpu": "0", "limits.memory": "0",
                               "count/configmaps": "0", "services": "0",
                               "services.nodeports": "0", "persistentvolumeclaims": "0",
                               "requests.storage": "0", "count/deployments.apps": "0"}

            await c.create(PODS, cpu_pod("a", "500m"), ns)
            await c.create(PODS, cpu_pod("b", "1"), ns)
            await c.create(CONFIGMAPS, {"metadata": {"name": "cfg"}, "data": {"k": "v"}}, ns)
            await c.create(SERVICES, {"metadata": {"name": "web"}, "spec": {
                "type": "NodePort", "selector": {"app": "web"},
                "ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}}, ns)
            await c.create(PVCS, claim("data", "3Gi", None), ns)
            await c.create(DEPLOYMENTS, {"metadata": {"name": "web"}, "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                             "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}, ns)
            expected = {"count/deployments.apps": "1", "pods": "2", "requests.cpu": "1500m", "limits.memory": "128Mi",
                        "count/configmaps": "1", "services": "1", "services.nodeports": "2",
                        "persistentvolumeclaims": "1", "requests.storage": "3Gi"}

            async def reaches(want: Obj) -> bool:
                return await used() == want
            assert await wait_for(lambda: reaches(expected))

            # a finished pod no longer holds compute; a deleted object gives its share back
            pod_b = await c.get(PODS, "b", ns)
            await c.update_status(PODS, {**pod_b, "status": {"phase": "Succeeded"}})
            await c.delete(CONFIGMAPS, "cfg", ns)
            expected.update({"pods": "1", "requests.cpu": "500m", "limits.memory": "64Mi",
                             "count/configmaps": "0"})
            assert await wait_for(lambda: reaches(expected))

            # changing spec.hard is mirrored in status.hard at once
            hard = {**hard, "pods": "3"}
            q = await c.get(QUOTAS, "compute", ns)
            await c.update(QUOTAS, {**q, "spec": {"hard": hard}})
            assert await wait_for(lambda: reaches(expected))
    run(go())

