"""Leader election of the controller-manager: one ``kubepy server`` (its own components
disabled) and two ``kubepy controller-manager`` processes. Only one holds the Lease
kube-system/kube-controller-manager and reconciles; killed (-9), the other takes over once
the lease expires; stopped (SIGTERM), it releases the lease and the standby takes over at
once. Also: ``kubepy server`` runs its components in a child process it restarts."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from kubepy.api.registry import Registry
from kubepy.client.rest import ApiClient
from tests.conftest import ServerProcess, start_server
from tests.integration.ctrlharness import api_only_server, equals, wait_for

Obj = dict[str, Any]
REG = Registry()
LEASES = REG.get("coordination.k8s.io", "v1", "leases")
PODS = REG.get("", "v1", "pods")
REPLICASETS = REG.get("apps", "v1", "replicasets")
HAS_RS = importlib.util.find_spec("kubepy.controllers.replicaset") is not None
LEASE_DURATION = 3.0


class Manager:
    def __init__(self, server: ServerProcess, log: Path, controllers: str) -> None:
        self.log_path = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kubepy.cli.main", "controller-manager",
             "--kubeconfig", str(server.kubeconfig), "--controllers", controllers,
             "--leader-elect-lease-duration", str(LEASE_DURATION),
             "--leader-elect-renew-deadline", "2", "--leader-elect-retry-period", "0.3"],
            stdout=open(log, "ab"), stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def identity(self, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(r"kube-controller-manager: (\S+) is campaigning", self.log())
            if m:
                return m.group(1)
            time.sleep(0.05)
        raise AssertionError(f"no identity in log:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


bare_server = api_only_server("manager-live", name="bare_server", scope="function")


async def holder(c: ApiClient) -> str:
    try:
        lease = await c.get(LEASES, "kube-controller-manager", "kube-system")
    except Exception:  # noqa: BLE001 - not created yet
        return ""
    return lease["spec"].get("holderIdentity") or ""


def replicaset(name: str, replicas: int) -> Obj:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}


async def pod_count(c: ApiClient, app: str) -> int:
    items = (await c.list(PODS, "default", label_selector=f"app={app}"))["items"]
    return sum(1 for p in items if not p["metadata"].get("deletionTimestamp"))


def test_one_leader_reconciles_and_the_standby_takes_over(bare_server: ServerProcess,
                                                          tmp_path: Path) -> None:
    controllers = "replicaset" if HAS_RS else "replicaset,-replicaset"  # none
    a = Manager(bare_server, tmp_path / "a.log", controllers)
    b: Manager | None = None
    c2: Manager | None = None
    try:
        id_a = a.identity()

        async def phase1() -> dict[str, Any]:
            async with ApiClient.from_kubeconfig(bare_server.kubeconfig) as c:
                await wait_for(lambda: equals(holder(c), id_a))
                nonlocal b
                b = Manager(bare_server, tmp_path / "b.log", controllers)
                id_b = b.identity()
                await asyncio.sleep(1.5)  # b campaigns several times
                out: dict[str, Any] = {"holder": await holder(c), "id_b": id_b}
                if HAS_RS:
                    await c.create(REPLICASETS, replicaset("le-web", 3))
                    await wait_for(lambda: equals(pod_count(c, "le-web"), 3))
                    await asyncio.sleep(1.0)
                    out["pods"] = await pod_count(c, "le-web")
                out["b_log"] = b.log()
                # kill -9 the leader: the lease is not released, it must expire
                a.stop(signal.SIGKILL)
                killed = time.monotonic()
                await wait_for(lambda: equals(holder(c), id_b))
                out["takeover"] = time.monotonic() - killed
                lease = await c.get(LEASES, "kube-controller-manager", "kube-system")
                out["transitions"] = lease["spec"]["leaseTransitions"]
                if HAS_RS:
                    await c.patch(REPLICASETS, "le-web", {"spec": {"replicas": 5}},
                                  namespace="default")
                    await wait_for(lambda: equals(pod_count(c, "le-web"), 5))
                # a new standby; SIGTERM the leader: it releases, the standby leads at once
                nonlocal c2
                c2 = Manager(bare_server, tmp_path / "c.log", controllers)
                id_c = c2.identity()
                await asyncio.sleep(1.0)
                out["still_b"] = await holder(c) == id_b
                assert b is not None
                stopped = time.monotonic()
                await asyncio.to_thread(b.stop)
                await wait_for(lambda: equals(holder(c), id_c))
                out["handover"] = time.monotonic() - stopped
                return out

        out = asyncio.run(asyncio.wait_for(phase1(), 90))
    finally:
        for m in (a, b, c2):
            if m is not None:
                m.stop(signal.SIGKILL)
    assert out["holder"] == id_a
    assert "is campaigning" in out["b_log"] and "became leader" not in out["b_log"]
    if HAS_RS:
        assert out["pods"] == 3
    assert out["takeover"] < LEASE_DURATION + 4
    assert out["transitions"] >= 1
    assert out["still_b"]
    assert out["handover"] < LEASE_DURATION


def test_server_runs_and_restarts_its_components_process(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    try:
        async def leader() -> str:
            async with ApiClient.from_kubeconfig(server.kubeconfig) as c:
                return await wait_for(lambda: holder(c))

        first = asyncio.run(leader())
        child = _components_pid(server.proc.pid)
        os.kill(child, signal.SIGKILL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            new = _components_pid(server.proc.pid, missing_ok=True)
            if new and new != child:
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"components not restarted:\n{server.log()}")
        log = server.log()
    finally:
        server.stop()
    assert first
    assert "exited with -9; restarting" in log
    assert _components_pid(server.proc.pid, missing_ok=True) is None


def _components_pid(parent: int, *, missing_ok: bool = False) -> int | None:
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"components" in cmdline:
            return int(entry)
    if missing_ok:
        return None
    raise AssertionError(f"no components child of {parent}")
