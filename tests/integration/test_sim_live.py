"""``kubepy simulate`` against a real ``kubepy server``: nodes register Ready with Leases kept
fresh, bound pods go Running with IPs and kubelet-shaped status, run-seconds pods finish or
crash-loop, deletion honours the grace period, and stopping the simulator stops renewing."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from kubepy.api.registry import Registry
from kubepy.client.rest import ApiClient
from tests.conftest import ServerProcess
from tests.integration.ctrlharness import api_only_server, run, wait_for

Obj = dict[str, Any]
REG = Registry()
NODES = REG.get("", "v1", "nodes")
PODS = REG.get("", "v1", "pods")
LEASES = REG.get("coordination.k8s.io", "v1", "leases")
PREFIX = "live-"


sim_server = api_only_server("sim-live", name="sim_server")


def simulate(server: ServerProcess, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "kubepy.cli.main", "simulate", "--nodes", "3",
           "--name-prefix", PREFIX, "--kubeconfig", str(server.kubeconfig),
           "--node-lease-duration-seconds", "4", *extra]
    return subprocess.Popen(cmd, stdout=open(log, "ab"), stderr=subprocess.STDOUT)


def pod(name: str, node: str, annotations: dict[str, str] | None = None, **spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "annotations": annotations or {}},
            "spec": {"nodeName": node, "containers": [{"name": "app", "image": "nginx:1.25"}],
                     **spec}}


@pytest.fixture(scope="module")
def simulator(sim_server: ServerProcess, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[subprocess.Popen[bytes]]:
    proc = simulate(sim_server, tmp_path_factory.mktemp("sim-log") / "simulate.log")
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_nodes_register_ready_with_fresh_leases(sim_server: ServerProcess,
                                                simulator: subprocess.Popen[bytes]) -> None:
    async def go() -> tuple[list[Obj], Obj, Obj]:
        async with ApiClient.from_kubeconfig(sim_server.kubeconfig) as c:
            async def ready() -> list[Obj] | None:
                items = (await c.list(NODES, label_selector="sim.kubepy.io/node=true"))["items"]
                ok = [n for n in items if any(
                    x["type"] == "Ready" and x["status"] == "True"
                    for x in n["status"].get("conditions", []))]
                return items if len(ok) == 3 else None
            nodes = await wait_for(ready)
            first = await wait_for(lambda: _lease(c, f"{PREFIX}0"))
            await asyncio.sleep(1.5)  # renewed every quarter of the 4 s lease
            second = await c.get(LEASES, f"{PREFIX}0", "kube-node-lease")
            return nodes, first, second

    nodes, first, second = run(go())
    assert sorted(n["metadata"]["name"] for n in nodes) == [f"{PREFIX}{i}" for i in range(3)]
    node = next(n for n in nodes if n["metadata"]["name"] == f"{PREFIX}1")
    assert node["status"]["allocatable"]["cpu"] == "4"
    assert node["status"]["addresses"][0] == {"type": "InternalIP", "address": "10.250.0.2"}
    assert first["spec"]["holderIdentity"] == f"{PREFIX}0"
    assert first["spec"]["leaseDurationSeconds"] == 4
    assert second["spec"]["renewTime"] > first["spec"]["renewTime"]


async def _lease(c: ApiClient, name: str) -> Obj | None:
    try:
        return await c.get(LEASES, name, "kube-node-lease")
    except Exception:  # noqa: BLE001
        return None


@pytest.mark.parametrize(
    "annotations,spec,phase,check",
    [({}, {}, "Running", lambda cs: cs["ready"] and "running" in cs["state"]),
     ({"sim.kubepy.io/run-seconds": "0.5"}, {"restartPolicy": "Never"}, "Succeeded",
      lambda cs: cs["state"]["terminated"]["reason"] == "Completed"),
     ({"sim.kubepy.io/run-seconds": "0.3", "sim.kubepy.io/exit-code": "3"}, {}, "Running",
      lambda cs: cs["state"].get("waiting", {}).get("reason") == "CrashLoopBackOff"
      and cs["lastState"]["terminated"]["exitCode"] == 3 and cs["restartCount"] == 1)],
    ids=["running", "completed", "crash-loop"])
def test_bound_pods_run(sim_server: ServerProcess, simulator: subprocess.Popen[bytes],
                        annotations: dict[str, str], spec: Obj, phase: str,
                        check: Callable[[Obj], bool]) -> None:
    name = f"sim-{phase.lower()}-{len(annotations)}"

    async def go() -> Obj:
        async with ApiClient.from_kubeconfig(sim_server.kubeconfig) as c:
            await wait_for(lambda: _lease(c, f"{PREFIX}2"))
            await c.create(PODS, pod(name, f"{PREFIX}2", annotations, **spec), "default")

            async def done() -> Obj | None:
                p = await c.get(PODS, name, "default")
                statuses = p.get("status", {}).get("containerStatuses") or []
                return p if p["status"].get("phase") == phase and statuses and \
                    check(statuses[0]) else None
            try:
                return await wait_for(done)
            finally:
                await c.delete(PODS, name, "default", grace_period_seconds=0)

    p = run(go())
    status = p["status"]
    assert status["podIP"].startswith("10.42.") and status["hostIP"] == "10.250.0.3"
    assert status["containerStatuses"][0]["containerID"].startswith("sim://")
    assert [c["type"] for c in status["conditions"]][:4] == [
        "PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady"]


def test_deletion_honours_the_grace_period(sim_server: ServerProcess,
                                           simulator: subprocess.Popen[bytes]) -> None:
    async def go() -> tuple[float, Obj]:
        async with ApiClient.from_kubeconfig(sim_server.kubeconfig) as c:
            await wait_for(lambda: _lease(c, f"{PREFIX}0"))
            await c.create(PODS, pod("graceful", f"{PREFIX}0"), "default")

            async def running() -> bool:
                return (await c.get(PODS, "graceful", "default"))["status"].get(
                    "phase") == "Running"
            await wait_for(running)
            start = time.monotonic()
            terminating = await c.delete(PODS, "graceful", "default", grace_period_seconds=2)

            async def gone() -> bool:
                try:
                    await c.get(PODS, "graceful", "default")
                    return False
                except Exception:  # noqa: BLE001 - NotFound
                    return True
            await wait_for(gone)
            return time.monotonic() - start, terminating

    elapsed, terminating = run(go())
    assert terminating["metadata"]["deletionGracePeriodSeconds"] == 2
    assert 1.5 <= elapsed < 6


def test_stopped_simulator_stops_renewing(sim_server: ServerProcess, tmp_path: Path) -> None:
    proc = simulate(sim_server, tmp_path / "simulate.log", "--name-prefix", "gone-")

    async def go() -> tuple[Obj, Obj, Obj]:
        async with ApiClient.from_kubeconfig(sim_server.kubeconfig) as c:
            first = await wait_for(lambda: _lease(c, "gone-0"))
            await asyncio.sleep(1.5)
            before = await c.get(LEASES, "gone-0", "kube-node-lease")
            proc.send_signal(signal.SIGTERM)
            await asyncio.to_thread(proc.wait, 10)
            stopped = await c.get(LEASES, "gone-0", "kube-node-lease")
            await asyncio.sleep(2.5)  # more than two renew intervals
            after = await c.get(LEASES, "gone-0", "kube-node-lease")
            assert await c.get(NODES, "gone-0")  # the Node stays, as a lost machine's does
            return first, before, {"stopped": stopped, "after": after}

    try:
        first, before, out = run(go())
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert before["spec"]["renewTime"] > first["spec"]["renewTime"]
    assert out["after"]["spec"]["renewTime"] == out["stopped"]["spec"]["renewTime"]
