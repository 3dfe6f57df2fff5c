"""Workload controllers on a real ``kubepy server``: the ReplicaSet, ReplicationController and
Deployment controllers run in the test's event loop, the test plays kubelet (binds pods
to a node, reports them Running and Ready, finishes their graceful deletion), and real
kubectl drives rollouts as a user would.

The rollout test watches every pod state change and checks that the number of available
pods (Ready, not terminating) never drops below replicas - maxUnavailable.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import ModuleType
from typing import Any, AsyncIterator

import pytest

from kubepy.api.registry import Registry
from kubepy.client.informer import Informer
from kubepy.controllers import deployment, replicaset, replicationcontroller
from tests.conftest import ServerProcess
from tests.integration.ctrlharness import (KUBECTL, Cluster, api_only_server, play_kubelet,
                                           run, running_controllers, wait_for)

REG = Registry()
PODS = REG.get("", "v1", "pods")
RCS = REG.get("", "v1", "replicationcontrollers")
RSS = REG.get("apps", "v1", "replicasets")
DEPLOYS = REG.get("apps", "v1", "deployments")

Obj = dict[str, Any]

server = api_only_server("ctrl-workloads")


@contextlib.asynccontextmanager
async def running_cluster(server: ServerProcess, *, ready_delay: float = 0.0,
                          modules: tuple[ModuleType, ...] = (replicaset, replicationcontroller,
                                                             deployment)
                          ) -> AsyncIterator[Cluster]:
    """Pods bound to node-1 become Running and Ready ``ready_delay`` after binding."""
    async with running_controllers(
            server, modules, prefix="wl",
            kubelet=lambda cl: play_kubelet(cl, start_delay=ready_delay)) as cl:
        yield cl


def template(app: str, image: str = "nginx:1.25") -> Obj:
    return {"metadata": {"labels": {"app": app}},
            "spec": {"containers": [{"name": "c", "image": image}]}}


# ---------------------------------------------------------------------------- ReplicaSet

def test_replicaset_creates_adopts_releases_and_reports(server: ServerProcess) -> None:
    async def go() -> None:
        async with running_cluster(server) as cl:
            c, ns = cl.client, cl.namespace
            await c.create(PODS, {"metadata": {"name": "orphan", "labels": {"app": "a"}},
                                  "spec": template("a")["spec"]}, ns)
            rs = await c.create(RSS, {"metadata": {"name": "a"}, "spec": {
                "replicas": 3, "selector": {"matchLabels": {"app": "a"}},
                "template": template("a")}}, ns)

            async def settled() -> Obj | None:
                cur = await c.get(RSS, "a", ns)
                st = cur.get("status") or {}
                return cur if st.get("availableReplicas") == 3 and st.get(
                    "observedGeneration") == cur["metadata"]["generation"] else None
            cur = await wait_for(settled)
            assert cur["status"]["readyReplicas"] == 3
            assert cur["status"]["fullyLabeledReplicas"] == 3
            pods = await cl.pods()
            assert len(pods) == 3 and "orphan" in {p["metadata"]["name"] for p in pods}
            for p in pods:
                (ref,) = p["metadata"]["ownerReferences"]
                assert ref == {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "a",
                               "uid": rs["metadata"]["uid"], "controller": True,
                               "blockOwnerDeletion": True}
                name = p["metadata"]["name"]
                if name != "orphan":
                    assert name.startswith("a-") and len(name) == len("a-") + 5
            # relabel one pod: released, and replaced
            victim = next(p for p in pods if p["metadata"]["name"] != "orphan")
            await c.patch(PODS, victim["metadata"]["name"],
                          {"metadata": {"labels": {"app": "other"}}}, namespace=ns)

            async def released() -> bool:
                p = await c.get(PODS, victim["metadata"]["name"], ns)
                owned = [q for q in await cl.pods() if q["metadata"].get("ownerReferences")]
                return not p["metadata"].get("ownerReferences") and len(owned) == 3
            await wait_for(released)
            # scale down to 1: the released pod stays, two owned pods go
            await c.patch(RSS, "a", {"spec": {"replicas": 1}}, namespace=ns)

            async def scaled_down() -> bool:
                live = [p for p in await cl.pods() if not p["metadata"].get("deletionTimestamp")]
                owned = [p for p in live if p["metadata"].get("ownerReferences")]
                return len(owned) == 1 and len(live) == 2
            await wait_for(scaled_down)
            events = await cl.events()
            reasons = {(e["reason"], e["involvedObject"]["name"]) for e in events}
            assert ("SuccessfulCreate", "a") in reasons and ("SuccessfulDelete", "a") in reasons
            created = [e for e in events if e["reason"] == "SuccessfulCreate"]
            assert all(e["message"].startswith("Created pod: a-") for e in created)
            assert created[0]["source"]["component"] == "replicaset-controller"
    run(go())


def test_replicationcontroller_keeps_replicas(server: ServerProcess) -> None:
    async def go() -> None:
        async with running_cluster(server, modules=(replicationcontroller,)) as cl:
            c, ns = cl.client, cl.namespace
            await c.create(RCS, {"metadata": {"name": "rc"}, "spec": {
                "replicas": 2, "selector": {"app": "rc"}, "template": template("rc")}}, ns)

            async def ready() -> bool:
                st = (await c.get(RCS, "rc", ns)).get("status") or {}
                return st.get("readyReplicas") == 2 and st.get("availableReplicas") == 2
            await wait_for(ready)
            pods = await cl.pods()
            assert {p["metadata"]["ownerReferences"][0]["kind"] for p in pods} == {
                "ReplicationController"}
            await c.delete(PODS, pods[0]["metadata"]["name"], ns, grace_period_seconds=0)

            async def replaced() -> bool:
                names = {p["metadata"]["name"] for p in await cl.pods()
                         if not p["metadata"].get("deletionTimestamp")}
                return len(names) == 2 and pods[0]["metadata"]["name"] not in names
            await wait_for(replaced)
    run(go())


# ---------------------------------------------------------------------------- Deployment

def _available(pods: dict[str, Obj]) -> int:
    def ok(p: Obj) -> bool:
        return not p["metadata"].get("deletionTimestamp") and any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in (p.get("status") or {}).get("conditions") or [])
    return sum(1 for p in pods.values() if ok(p))


@pytest.mark.skipif(not KUBECTL.exists(), reason="kubectl 1.32 not installed")
def test_deployment_rollout_with_kubectl(server: ServerProcess) -> None:
    async def go() -> None:
        async with running_cluster(server, ready_delay=0.2) as cl:
            c, ns = cl.client, cl.namespace
            await c.create(DEPLOYS, {"metadata": {"name": "web"}, "spec": {
                "replicas": 10, "selector": {"matchLabels": {"app": "web"}},
                "strategy": {"type": "RollingUpdate",
                             "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                "template": template("web")}}, ns)

            async def complete(replicas: int = 10) -> Obj | None:
                d = await c.get(DEPLOYS, "web", ns)
                st = d.get("status") or {}
                done = (st.get("observedGeneration", 0) >= d["metadata"]["generation"]
                        and st.get("updatedReplicas") == replicas
                        and st.get("availableReplicas") == replicas
                        and st.get("replicas") == replicas)
                return d if done else None
            d = await wait_for(complete, 30)
            assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
            conds = {x["type"]: x for x in d["status"]["conditions"]}
            assert conds["Available"]["reason"] == "MinimumReplicasAvailable"
            assert conds["Progressing"]["reason"] == "NewReplicaSetAvailable"
            (rs1,) = (await c.list(RSS, ns))["items"]
            pod_hash = rs1["metadata"]["labels"]["pod-template-hash"]
            assert rs1["metadata"]["name"] == f"web-{pod_hash}"
            assert rs1["spec"]["selector"]["matchLabels"] == {"app": "web",
                                                              "pod-template-hash": pod_hash}
            assert rs1["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "10"
            assert rs1["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] == "13"

            # watch every pod change during the rollout; check the availability floor
            seen: dict[str, Obj] = {p["metadata"]["name"]: p for p in await cl.pods()}
            floor = [_available(seen)]
            watcher = Informer(c, PODS, namespace=ns)

            def observe(p: Obj) -> None:
                seen[p["metadata"]["name"]] = p
                floor.append(_available(seen))

            def forget(p: Obj) -> None:
                seen.pop(p["metadata"]["name"], None)
                floor.append(_available(seen))
            watcher.add_event_handler(observe, lambda _o, n: observe(n), forget)
            watcher.start()
            await watcher.wait_for_sync(10)
            try:
                rc, out = await cl.kubectl("set", "image", "deployment/web", "c=nginx:1.26")
                assert rc == 0, out
                rc, out = await cl.kubectl("rollout", "status", "deployment/web",
                                           "--timeout=60s", timeout=70)
                assert rc == 0, out
                assert 'deployment "web" successfully rolled out' in out
            finally:
                await watcher.stop()
            assert min(floor) >= 10 - 2, f"availability fell to {min(floor)}"
            d = await wait_for(complete, 30)
            assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
            images = {p["spec"]["containers"][0]["image"] for p in await cl.pods()
                      if not p["metadata"].get("deletionTimestamp")}
            assert images == {"nginx:1.26"}
            rss = {rs["metadata"]["name"]: rs for rs in (await c.list(RSS, ns))["items"]}
            assert rss[rs1["metadata"]["name"]]["spec"]["replicas"] == 0

            rc, out = await cl.kubectl("rollout", "history", "deployment/web")
            assert rc == 0 and "REVISION" in out, out
            rc, out = await cl.kubectl("rollout", "undo", "deployment/web")
            assert rc == 0 and "rolled back" in out, out
            rc, out = await cl.kubectl("rollout", "status", "deployment/web", "--timeout=60s",
                                       timeout=70)
            assert rc == 0, out
            d = await wait_for(complete, 30)
            assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
            assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
            rs1 = await c.get(RSS, rs1["metadata"]["name"], ns)
            assert rs1["spec"]["replicas"] == 10
            assert rs1["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
            assert rs1["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"

            rc, out = await cl.kubectl("scale", "deployment/web", "--replicas=4")
            assert rc == 0, out
            await wait_for(lambda: complete(4), 30)
            rc, out = await cl.kubectl("scale", "deployment/web", "--replicas=12")
            assert rc == 0, out
            await wait_for(lambda: complete(12), 30)
            live = [p for p in await cl.pods() if not p["metadata"].get("deletionTimestamp")]
            assert len(live) == 12

            events = [e for e in await cl.events() if e["reason"] == "ScalingReplicaSet"]
            messages = [e["message"] for e in events]
            assert any(m.startswith("Scaled up replica set web-") and m.endswith(" to 10")
                       for m in messages), messages
            assert any(" from " in m and m.startswith("Scaled down replica set ")
                       for m in messages), messages
    run(go(), 240)


def test_deployment_pause_resume_recreate(server: ServerProcess) -> None:
    async def go() -> None:
        async with running_cluster(server) as cl:
            c, ns = cl.client, cl.namespace
            await c.create(DEPLOYS, {"metadata": {"name": "db"}, "spec": {
                "replicas": 3, "selector": {"matchLabels": {"app": "db"}},
                "strategy": {"type": "Recreate"}, "paused": True,
                "template": template("db")}}, ns)

            async def paused_cond() -> bool:
                d = await c.get(DEPLOYS, "db", ns)
                conds = {x["type"]: x for x in (d.get("status") or {}).get("conditions") or []}
                return conds.get("Progressing", {}).get("reason") == "DeploymentPaused"
            await wait_for(paused_cond)
            await asyncio.sleep(0.5)
            assert (await c.list(RSS, ns))["items"] == []  # no rollout while paused
            await c.patch(DEPLOYS, "db", {"spec": {"paused": False}}, namespace=ns)

            async def available(image: str) -> bool:
                d = await c.get(DEPLOYS, "db", ns)
                st = d.get("status") or {}
                pods = [p for p in await cl.pods() if not p["metadata"].get("deletionTimestamp")]
                return (st.get("availableReplicas") == 3 and st.get("updatedReplicas") == 3
                        and st.get("replicas") == 3
                        and {p["spec"]["containers"][0]["image"] for p in pods} == {image})
            await wait_for(lambda: available("nginx:1.25"))
            await c.patch(DEPLOYS, "db", {"spec": {"template": {"spec": {"containers": [
                {"name": "c", "image": "nginx:1.26"}]}}}}, namespace=ns, patch_type="strategic")
            await wait_for(lambda: available("nginx:1.26"))
            rss = (await c.list(RSS, ns))["items"]
            assert sorted(rs["spec"]["replicas"] for rs in rss) == [0, 3]
    run(go())
