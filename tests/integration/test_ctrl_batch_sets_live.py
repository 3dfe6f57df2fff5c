"""StatefulSet, DaemonSet, Job and CronJob controllers on a real ``kubepy server`` (started
without its own controller-manager and scheduler), running in the test's event loop.

The test plays kubelet and scheduler through the API: it binds pods (a DaemonSet pod to the
node its affinity names), sets their status (Running+Ready, Succeeded, Failed with an exit
code) and finishes graceful deletions. Nodes are plain Node objects it creates and deletes.

Controllers run on a ``FakeClock`` that a background task moves along with real time, so a
test can also jump ahead (Job back-off, CronJob schedules) without waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from types import ModuleType
from typing import Any, AsyncIterator, Callable

import pytest

from kubepy import errors
from kubepy.api.registry import Registry
from kubepy.client.clock import FakeClock
from kubepy.controllers import cronjob, daemonset, job, statefulset
from tests.conftest import ServerProcess
from tests.integration.ctrlharness import (Cluster, PodState, api_only_server, equals,
                                           fake_clock, play_kubelet, run, running_controllers,
                                           wait_for)

REG = Registry()
PODS = REG.get("", "v1", "pods")
NODES = REG.get("", "v1", "nodes")
PVCS = REG.get("", "v1", "persistentvolumeclaims")
STS = REG.get("apps", "v1", "statefulsets")
DS = REG.get("apps", "v1", "daemonsets")
REVS = REG.get("apps", "v1", "controllerrevisions")
JOBS = REG.get("batch", "v1", "jobs")
CRONJOBS = REG.get("batch", "v1", "cronjobs")
Obj = dict[str, Any]
# what the fake kubelet does with a pod once it is bound (None: leave it Pending)
Behaviour = Callable[[Obj], "PodState | None"]

server = api_only_server("ctrl-batch-sets")


@dataclass
class BatchCluster(Cluster):
    clock: FakeClock  # tests jump ahead (Job back-off, CronJob schedules)


@contextlib.asynccontextmanager
async def running_cluster(server: ServerProcess, modules: tuple[ModuleType, ...],
                          behaviour: Behaviour = lambda pod: "ready"
                          ) -> AsyncIterator[BatchCluster]:
    async with running_controllers(
            server, modules, prefix="bs", cluster_type=BatchCluster, clock=fake_clock(),
            clock_follows_real_time=True, namespaced_informers=True,
            kubelet=lambda cl: play_kubelet(cl, state_for=behaviour, interval=0.03)) as cl:
        yield cl


def pod_template(app: str, image: str = "nginx:1.25", restart: str = "Always") -> Obj:
    return {"metadata": {"labels": {"app": app}},
            "spec": {"restartPolicy": restart, "containers": [{"name": "c", "image": image}]}}


# ---------------------------------------------------------------------------- StatefulSet

def test_statefulset_ordinals_order_claims_and_rolling_update(server: ServerProcess) -> None:
    ready_allowed: set[str] = set()

    def behaviour(pod: Obj) -> str | None:  # pods become Ready only when the test says so
        return "ready" if pod["metadata"]["name"] in ready_allowed else None

    async def go() -> None:
        async with running_cluster(server, (statefulset,), behaviour) as cl:
            c, ns = cl.client, cl.namespace
            await c.create(STS, {"metadata": {"name": "web"}, "spec": {
                "replicas": 3, "serviceName": "nginx",
                "selector": {"matchLabels": {"app": "web"}}, "template": pod_template("web"),
                "volumeClaimTemplates": [{"metadata": {"name": "www"}, "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "1Gi"}}}}]}}, ns)

            async def names() -> list[str]:
                return [p["metadata"]["name"] for p in await cl.pods(live=True)]
            for i in range(3):
                expected = [f"web-{j}" for j in range(i + 1)]
                assert await wait_for(lambda: equals(names(), expected)) is True
                await asyncio.sleep(0.3)  # the next ordinal must not appear before Ready
                assert await names() == expected
                pod = await c.get(PODS, f"web-{i}", ns)
                assert pod["spec"]["hostname"] == f"web-{i}"
                assert pod["spec"]["subdomain"] == "nginx"
                labels = pod["metadata"]["labels"]
                assert labels["statefulset.kubernetes.io/pod-name"] == f"web-{i}"
                assert labels["apps.kubernetes.io/pod-index"] == str(i)
                assert labels["controller-revision-hash"].startswith("web-")
                assert {"name": "www", "persistentVolumeClaim": {"claimName": f"www-web-{i}"}} \
                    in pod["spec"]["volumes"]
                ready_allowed.add(f"web-{i}")

            async def status() -> Obj | None:
                st = (await c.get(STS, "web", ns)).get("status") or {}
                return st if st.get("readyReplicas") == 3 and st.get("currentReplicas") == 3 \
                    else None
            st = await wait_for(status)
            assert st["currentRevision"] == st["updateRevision"]
            claims = sorted(p["metadata"]["name"] for p in
                            (await c.list(PVCS, ns))["items"])
            assert claims == ["www-web-0", "www-web-1", "www-web-2"]

            # rolling update: highest ordinal first, one at a time
            old_rev = st["updateRevision"]
            ready_allowed.clear()
            await c.patch(STS, "web", {"spec": {"template": {"spec": {"containers": [
                {"name": "c", "image": "nginx:1.26"}]}}}}, namespace=ns, patch_type="strategic")

            async def revision_of(name: str) -> str | None:
                with contextlib.suppress(errors.NotFound):
                    p = await c.get(PODS, name, ns)
                    if not p["metadata"].get("deletionTimestamp"):
                        return p["metadata"]["labels"]["controller-revision-hash"]
                return None
            for i in (2, 1, 0):
                await wait_for(lambda: _ne(lambda: revision_of(f"web-{i}"), old_rev, None))
                for j in range(i):
                    assert await revision_of(f"web-{j}") == old_rev
                ready_allowed.add(f"web-{i}")
            st = await wait_for(status)
            assert st["currentRevision"] == st["updateRevision"] != old_rev
            revisions = (await c.list(REVS, ns))["items"]
            assert sorted(r["revision"] for r in revisions) == [1, 2]

            # scale down: highest ordinal first; claims are kept
            await c.patch(STS, "web", {"spec": {"replicas": 1}}, namespace=ns)
            assert await wait_for(lambda: equals(names(), ["web-0"])) is True
            claims = sorted(p["metadata"]["name"] for p in (await c.list(PVCS, ns))["items"])
            assert claims == ["www-web-0", "www-web-1", "www-web-2"]
            messages = [e["message"] for e in await cl.events()]
            for text in ("create Pod web-0 in StatefulSet web successful",
                         "create Claim www-web-1 Pod web-1 in StatefulSet web success",
                         "delete Pod web-2 in StatefulSet web successful"):
                assert text in messages
            deletes = [m for m in messages if m.startswith("delete Pod")]
            assert deletes.index("delete Pod web-2 in StatefulSet web successful") < \
                deletes.index("delete Pod web-1 in StatefulSet web successful")
    run(go())


async def _ne(fn: Any, *unexpected: Any) -> Any:
    value = await fn()
    return value if value not in unexpected else None


# ---------------------------------------------------------------------------- DaemonSet

def node(name: str, taints: list[Obj] | None = None) -> Obj:
    return {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "spec": {"taints": taints or []}}


def test_daemonset_follows_nodes_and_rolls(server: ServerProcess) -> None:
    async def go() -> None:
        suffix = uuid.uuid4().hex[:6]
        names = [f"ds-{suffix}-{i}" for i in range(4)]
        async with running_cluster(server, (daemonset,)) as cl:
            c, ns = cl.client, cl.namespace
            for n in names[:2]:
                await c.create(NODES, node(n))
            await c.create(NODES, node(names[2], taints=[
                {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]))
            try:
                await c.create(DS, {"metadata": {"name": "agent"}, "spec": {
                    "selector": {"matchLabels": {"app": "agent"}},
                    "template": pod_template("agent"),
                    # only this test's nodes
                    }}, ns)
                await c.patch(DS, "agent", {"spec": {"template": {"spec": {"affinity": {
                    "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [{"matchExpressions": [{
                            "key": "kubernetes.io/hostname", "operator": "In",
                            "values": names}]}]}}}}}}}, namespace=ns, patch_type="strategic")

                async def placement() -> dict[str, str]:
                    return {p["spec"].get("nodeName") or "": p["metadata"]["name"]
                            for p in await cl.pods(live=True)}

                async def on_nodes(expected: list[str]) -> bool:
                    return sorted(await placement()) == sorted(expected)
                await wait_for(lambda: on_nodes(names[:2]))

                async def status(desired: int, **want: int) -> Obj | None:
                    cur = await c.get(DS, "agent", ns)
                    st = cur.get("status") or {}
                    ok = st.get("observedGeneration") == cur["metadata"]["generation"] and \
                        st.get("desiredNumberScheduled") == desired and st.get(
                        "numberReady") == desired and all(st.get(k) == v for k, v in want.items())
                    return st if ok else None
                await wait_for(lambda: status(2, updatedNumberScheduled=2))
                pod = (await cl.pods(live=True))[0]
                tolerations = {(t.get("key"), t.get("effect")) for t in pod["spec"]["tolerations"]}
                assert ("node.kubernetes.io/unreachable", "NoExecute") in tolerations
                assert ("node.kubernetes.io/unschedulable", "NoSchedule") in tolerations
                # a node joins, a node leaves
                await c.create(NODES, node(names[3]))
                await wait_for(lambda: on_nodes([names[0], names[1], names[3]]))
                await c.delete(NODES, names[1])
                await wait_for(lambda: on_nodes([names[0], names[3]]))
                await wait_for(lambda: status(2, currentNumberScheduled=2))
                # rolling update, maxUnavailable 1: never more than one node without a pod
                await c.patch(DS, "agent", {"spec": {"template": {"spec": {"containers": [
                    {"name": "c", "image": "nginx:1.26"}]}}}}, namespace=ns,
                    patch_type="strategic")

                async def rolled() -> Obj | None:
                    pods = await cl.pods(live=True)
                    assert len(pods) >= 1
                    return await status(2, updatedNumberScheduled=2, numberAvailable=2)
                st = await wait_for(rolled)
                assert st["numberMisscheduled"] == 0
                images = {p["spec"]["containers"][0]["image"] for p in await cl.pods(live=True)}
                assert images == {"nginx:1.26"}
                # created, affinity patched, image changed: three templates
                assert sorted(r["revision"] for r in (await c.list(REVS, ns))["items"]) == [1, 2, 3]
                reasons = {e["reason"] for e in await cl.events()}
                assert {"SuccessfulCreate", "SuccessfulDelete"} <= reasons
            finally:
                for n in names:
                    with contextlib.suppress(errors.NotFound):
                        await c.delete(NODES, n)
    run(go())


# ---------------------------------------------------------------------------- Job

def test_job_completes_with_parallelism(server: ServerProcess) -> None:
    async def go() -> None:
        async with running_cluster(server, (job,), lambda pod: "succeed") as cl:
            c, ns = cl.client, cl.namespace
            await c.create(JOBS, {"metadata": {"name": "pi"}, "spec": {
                "completions": 3, "parallelism": 2,
                "template": pod_template("pi", "perl", "Never")}}, ns)

            async def complete() -> Obj | None:
                j = await c.get(JOBS, "pi", ns)
                conds = {x["type"]: x for x in (j.get("status") or {}).get("conditions") or []}
                return j if conds.get("Complete", {}).get("status") == "True" else None
            j = await wait_for(complete)
            st = j["status"]
            assert (st["succeeded"], st.get("failed", 0), st.get("active", 0)) == (3, 0, 0)
            assert st["uncountedTerminatedPods"] == {}
            assert st["startTime"] and st["completionTime"]
            conds = {x["type"]: x for x in st["conditions"]}
            assert conds["SuccessCriteriaMet"]["reason"] == "CompletionsReached"
            assert conds["Complete"]["message"] == "Reached expected number of succeeded pods"
            pods = await cl.pods()
            assert len(pods) == 3
            assert all(not p["metadata"].get("finalizers") for p in pods)
            assert all(p["metadata"]["labels"]["batch.kubernetes.io/job-name"] == "pi"
                       for p in pods)
            events = await cl.events()
            assert ("Completed", "Job completed") in {(e["reason"], e["message"]) for e in events}
            assert sum(e["reason"] == "SuccessfulCreate" for e in events) == 3
    run(go())


def test_job_backoff_limit_with_exponential_backoff(server: ServerProcess) -> None:
    async def go() -> None:
        async with running_cluster(server, (job,), lambda pod: "fail") as cl:
            c, ns = cl.client, cl.namespace
            await c.create(JOBS, {"metadata": {"name": "flaky"}, "spec": {
                "backoffLimit": 1, "template": pod_template("flaky", "busybox", "Never")}}, ns)

            async def failed_count() -> int:
                return ((await c.get(JOBS, "flaky", ns)).get("status") or {}).get("failed", 0)
            await wait_for(lambda: equals(failed_count(), 1))
            await asyncio.sleep(0.5)  # back-off: 10 s before the replacement
            assert len(await cl.pods()) == 1
            cl.clock.advance(11)

            async def failed_job() -> Obj | None:
                j = await c.get(JOBS, "flaky", ns)
                conds = {x["type"]: x for x in (j.get("status") or {}).get("conditions") or []}
                return j if conds.get("Failed", {}).get("status") == "True" else None
            j = await wait_for(failed_job)
            conds = {x["type"]: x for x in j["status"]["conditions"]}
            assert conds["Failed"]["reason"] == "BackoffLimitExceeded"
            assert conds["FailureTarget"]["message"] == "Job has reached the specified backoff limit"
            assert j["status"]["failed"] == 2 and "completionTime" not in j["status"]
            assert len(await cl.pods()) == 2
            warnings = {(e["type"], e["reason"]) for e in await cl.events()}
            assert ("Warning", "BackoffLimitExceeded") in warnings
    run(go())


def test_indexed_job(server: ServerProcess) -> None:
    async def go() -> None:
        async with running_cluster(server, (job,), lambda pod: "succeed") as cl:
            c, ns = cl.client, cl.namespace
            await c.create(JOBS, {"metadata": {"name": "idx"}, "spec": {
                "completions": 3, "parallelism": 3, "completionMode": "Indexed",
                "template": pod_template("idx", "busybox", "Never")}}, ns)

            async def done() -> Obj | None:
                j = await c.get(JOBS, "idx", ns)
                return j if (j.get("status") or {}).get("completedIndexes") == "0-2" and any(
                    x["type"] == "Complete" for x in j["status"].get("conditions") or []) else None
            j = await wait_for(done)
            assert j["status"]["succeeded"] == 3
            pods = await cl.pods()
            indexes = sorted(p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
                             for p in pods)
            assert indexes == ["0", "1", "2"]
            for p in pods:
                index = p["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"]
                assert p["spec"]["hostname"] == f"idx-{index}"
                assert p["metadata"]["name"].startswith(f"idx-{index}-")
    run(go())


def test_job_ttl_after_finished(server: ServerProcess) -> None:
    async def go() -> None:
        async with running_cluster(server, (job,), lambda pod: "succeed") as cl:
            c, ns = cl.client, cl.namespace
            await c.create(JOBS, {"metadata": {"name": "short"}, "spec": {
                "ttlSecondsAfterFinished": 30,
                "template": pod_template("short", "busybox", "Never")}}, ns)

            async def finished() -> bool:
                j = await c.get(JOBS, "short", ns)
                return any(x["type"] == "Complete" for x in
                           (j.get("status") or {}).get("conditions") or [])
            await wait_for(finished)
            await asyncio.sleep(0.3)
            assert not (await c.get(JOBS, "short", ns))["metadata"].get("deletionTimestamp")
            cl.clock.advance(31)

            async def deleted() -> bool:
                try:
                    j = await c.get(JOBS, "short", ns)
                except errors.NotFound:
                    return True
                return bool(j["metadata"].get("deletionTimestamp"))  # foreground: GC finishes
            await wait_for(deleted)
    run(go())


# ---------------------------------------------------------------------------- CronJob

def test_cronjob_on_fake_clock(server: ServerProcess) -> None:
    async def go() -> None:
        async with running_cluster(server, (cronjob, job), lambda pod: "succeed") as cl:
            c, ns = cl.client, cl.namespace
            cj = await c.create(CRONJOBS, {"metadata": {"name": "tick"}, "spec": {
                "schedule": "*/5 * * * *", "successfulJobsHistoryLimit": 1,
                "jobTemplate": {"spec": {"template": pod_template("tick", "busybox",
                                                                 "Never")}}}}, ns)
            await asyncio.sleep(0.3)
            assert (await c.list(JOBS, ns))["items"] == []
            created = datetime.fromisoformat(cj["metadata"]["creationTimestamp"]
                                             .replace("Z", "+00:00"))
            names = []
            for _ in range(2):
                now = cl.clock.now()
                to_next = 300 - (now.timestamp() % 300) + 1
                cl.clock.advance(to_next)
                slot = int(cl.clock.now().timestamp()) // 300 * 300
                names.append(f"tick-{slot // 60}")

                scheduled = datetime.fromtimestamp(slot, timezone.utc).strftime(
                    "%Y-%m-%dT%H:%M:%SZ")

                async def saw(name: str) -> Obj | None:
                    cur = await c.get(CRONJOBS, "tick", ns)
                    st = cur.get("status") or {}
                    done = name in {j["metadata"]["name"] for j in (await c.list(JOBS, ns))["items"]}
                    return cur if done and not st.get("active") and st.get(
                        "lastScheduleTime") == scheduled and st.get("lastSuccessfulTime", "") \
                        >= scheduled else None
                await wait_for(lambda: saw(names[-1]))
                assert created < datetime.fromtimestamp(slot, timezone.utc)
            # history limit 1: the first Job goes once the second has completed
            async def history() -> list[str]:
                return sorted(j["metadata"]["name"] for j in (await c.list(JOBS, ns))["items"]
                              if not j["metadata"].get("deletionTimestamp"))
            assert await wait_for(lambda: equals(history(), [names[1]])) is True
            job_obj = await c.get(JOBS, names[1], ns)
            assert job_obj["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
            assert "batch.kubernetes.io/cronjob-scheduled-timestamp" in \
                job_obj["metadata"]["annotations"]
            messages = {(e["reason"], e["message"]) for e in await cl.events()}
            assert ("SuccessfulCreate", f"Created job {names[0]}") in messages
            assert ("SawCompletedJob", f"Saw completed job: {names[0]}, condition: Complete") \
                in messages
            assert ("SuccessfulDelete", f"Deleted job {names[0]}") in messages
    run(go())


@pytest.mark.parametrize("policy", ["Background", "Orphan"],
                         ids=["job-gone-pods-orphaned", "job-deleting-with-finalizer"])
def test_deleted_job_lets_go_of_its_pods(server: ServerProcess, policy: str) -> None:
    """Background: the Job is gone at once (no garbage collector runs here), its pods are
    orphans whose finalizer the controller removes. Orphan: the Job waits for the garbage
    collector with deletionTimestamp set; the controller lets go of its pods meanwhile."""
    async def go() -> None:
        async with running_cluster(server, (job,), lambda pod: None) as cl:
            c, ns = cl.client, cl.namespace
            await c.create(JOBS, {"metadata": {"name": "gone"}, "spec": {
                "parallelism": 2, "completions": 2,
                "template": pod_template("gone", "busybox", "Never")}}, ns)

            async def tracked() -> bool:
                pods = await cl.pods()
                return len(pods) == 2 and all(
                    "batch.kubernetes.io/job-tracking" in p["metadata"].get("finalizers", [])
                    for p in pods)
            await wait_for(tracked)
            await c.delete(JOBS, "gone", ns, propagation_policy=policy)

            async def released() -> bool:
                pods = await cl.pods()
                return len(pods) == 2 and all(not p["metadata"].get("finalizers") for p in pods)
            await wait_for(released)
    run(go())
