"""Simulation benchmark in the shape of kwok's own: N simulated nodes Ready (target: 5,000
within 60 s), then P pods of Deployments Running (10,000 within 60 s), then all of them
deleted (within 90 s), and the control plane's memory with them all in place.

A real ``kubepy server`` (with its components child: controller-manager and scheduler) and
one ``kubepy simulate --nodes N`` run as processes; this script only creates the
Deployments and watches (an informer on Nodes, one on the namespace's Pods) to time each
phase. What exists of the control plane decides the pod path, and the report says which:

* ``deployments``: Deployment -> ReplicaSet -> Pods by the controllers, bound by the scheduler;
* ``deployments+bench-binder``: no scheduler yet: this script binds each Pending pod of the
  namespace round-robin through ``pods/binding`` (what the scheduler would do, minus the
  decision);
* ``direct``: no Deployment controller: this script creates the pods already bound.

Deletion deletes the Deployments and ReplicaSets, then each of the namespace's pods (as
``kubectl delete pods --all`` does; default grace period 30 s: the simulated kubelet removes
each pod when its grace period ends), and waits until none is left.

RSS (VmRSS from /proc) is reported for the API server, its components child and the
simulator, with every node and pod in place. CPU seconds (utime + stime from /proc) each
process spent per 1,000 pods are reported for the pod phase and the deletion phase, with the
load average around them: on a shared machine wall time is noisy, CPU per pod is not.

Usage: .venv/bin/python bench/simulate.py [--nodes 5000] [--pods 10000]
       [--deployments 10] [--json out.json] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from kubepy.api.registry import Registry  # noqa: E402
from kubepy.client.informer import Informer  # noqa: E402
from kubepy.client.rest import ApiClient  # noqa: E402

Obj = dict[str, Any]
REG = Registry()
NODES = REG.get("", "v1", "nodes")
PODS = REG.get("", "v1", "pods")
NAMESPACES = REG.get("", "v1", "namespaces")
DEPLOYMENTS = REG.get("apps", "v1", "deployments")
REPLICASETS = REG.get("apps", "v1", "replicasets")
NAMESPACE = "bench-sim"
TARGETS = {"nodes_ready_s": 60.0, "pods_running_s": 60.0, "pods_deleted_s": 90.0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int | None) -> float:
    if not pid:
        return 0.0
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid: int | None) -> float:
    """utime + stime of ``pid`` (its own threads; children are counted apart)."""
    if not pid:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_processes(server_pid: int) -> tuple[list[int], list[int]]:
    """(API server processes: the server and its extra workers, the components child)."""
    api, comps = [server_pid], []
    for pid in children(server_pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        (comps if b"components" in cmdline else api).append(pid)
    return api, comps


def cpu_snapshot(server_pid: int, sim_pid: int, own_pid: int) -> dict[str, float]:
    """CPU seconds so far of each process of the benchmark."""
    api, comps = server_processes(server_pid)
    return {"apiserver": sum(cpu_seconds(p) for p in api),
            "components": sum(cpu_seconds(p) for p in comps),
            "simulate": cpu_seconds(sim_pid), "bench": cpu_seconds(own_pid)}


def cpu_per_1000(before: dict[str, float], after: dict[str, float],
                 pods: int) -> dict[str, float]:
    """CPU seconds each process spent per 1,000 pods between two snapshots."""
    out = {k: round((after[k] - before[k]) * 1000 / max(pods, 1), 2) for k in after}
    out["total"] = round(sum(out.values()), 2)
    return out


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry))
    return out


def has(module: str, attr: str) -> bool:
    try:
        return callable(getattr(importlib.import_module(module), attr, None))
    except Exception:  # noqa: BLE001
        return False


class Counter:
    """An informer whose handlers keep a count of objects passing a predicate."""

    def __init__(self, client: ApiClient, rt: Any, predicate: Any, **kw: Any) -> None:
        self.predicate = predicate
        self.matching: set[str] = set()
        self.total: set[str] = set()
        self.changed = asyncio.Event()
        self.informer = Informer(client, rt, page_size=1000, **kw)
        self.informer.add_event_handler(self._put, lambda _, new: self._put(new), self._del)

    def _key(self, obj: Obj) -> str:
        m = obj["metadata"]
        return f"{m.get('namespace', '')}/{m['name']}"

    def _put(self, obj: Obj) -> None:
        key = self._key(obj)
        self.total.add(key)
        if self.predicate(obj):
            self.matching.add(key)
        else:
            self.matching.discard(key)
        self.changed.set()

    def _del(self, obj: Obj) -> None:
        key = self._key(obj)
        self.total.discard(key)
        self.matching.discard(key)
        self.changed.set()

    async def until(self, test: Any, timeout: float, label: str) -> float | None:
        """Seconds until ``test(self)`` holds (None on timeout), printing progress."""
        start = time.monotonic()
        last_print = 0.0
        while True:
            now = time.monotonic()
            if test(self):
                return now - start
            if now - start > timeout:
                print(f"  {label}: timed out after {timeout:.0f}s "
                      f"({len(self.matching)}/{len(self.total)})", flush=True)
                return None
            if now - last_print >= 5:
                print(f"  {label}: {now - start:5.1f}s matching={len(self.matching)} "
                      f"total={len(self.total)}", flush=True)
                last_print = now
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), 0.5)
            except TimeoutError:
                pass


def node_ready(node: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [])


def pod_running(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and \
        not pod["metadata"].get("deletionTimestamp")


def deployment(name: str, replicas: int) -> Obj:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{
                                      "name": "app", "image": "registry.k8s.io/pause:3.9",
                                      "resources": {"requests": {"cpu": "10m",
                                                                 "memory": "16Mi"}}}]}}}}


async def bind_pending(client: ApiClient, nodes: list[str], stop: asyncio.Event) -> None:
    """Stand-in scheduler: bind the namespace's Pending pods round-robin."""
    informer = Informer(client, PODS, namespace=NAMESPACE, field_selector="spec.nodeName=")
    queue: asyncio.Queue[Obj] = asyncio.Queue()
    informer.add_event_handler(queue.put_nowait, lambda _, new: queue.put_nowait(new))
    informer.start()
    turn = 0

    async def worker() -> None:
        nonlocal turn
        while True:
            pod = await queue.get()
            meta = pod["metadata"]
            node = nodes[turn % len(nodes)]
            turn += 1
            try:
                await client.create_subresource(PODS, meta["name"], "binding", {
                    "apiVersion": "v1", "kind": "Binding",
                    "metadata": {"name": meta["name"], "namespace": NAMESPACE},
                    "target": {"apiVersion": "v1", "kind": "Node", "name": node}}, NAMESPACE)
            except Exception:  # noqa: BLE001 - already bound or gone
                pass

    workers = [asyncio.create_task(worker()) for _ in range(16)]
    await stop.wait()
    for w in workers:
        w.cancel()
    await informer.stop()


async def create_bound_pods(client: ApiClient, count: int, nodes: list[str]) -> None:
    sem = asyncio.Semaphore(32)

    async def one(i: int) -> None:
        async with sem:
            body = deployment("direct", 1)["spec"]["template"]
            await client.create(PODS, {"apiVersion": "v1", "kind": "Pod",
                                       "metadata": {"name": f"direct-{i}",
                                                    "labels": body["metadata"]["labels"]},
                                       "spec": {**body["spec"],
                                                "nodeName": nodes[i % len(nodes)]}},
                                NAMESPACE)

    await asyncio.gather(*(one(i) for i in range(count)))


async def delete_each(client: ApiClient, names: list[str]) -> None:
    """DELETE every pod by name, 32 at a time (what ``kubectl delete pods --all`` does)."""
    sem = asyncio.Semaphore(32)

    async def one(name: str) -> None:
        async with sem:
            try:
                await client.delete(PODS, name, NAMESPACE)
            except Exception:  # noqa: BLE001 - already gone
                pass

    await asyncio.gather(*(one(n) for n in names))


async def delete_phase(client: ApiClient, pods: Counter, have_deploy: bool, count: int,
                       server_pid: int, sim_pid: int, result: dict[str, Any]) -> None:
    print("deleting", flush=True)
    cpu_before = cpu_snapshot(server_pid, sim_pid, os.getpid())
    start = time.monotonic()
    if have_deploy:
        await client.delete_collection(DEPLOYMENTS, NAMESPACE)
        await client.delete_collection(REPLICASETS, NAMESPACE)
    await delete_each(client, [k.split("/", 1)[1] for k in pods.total])
    t = await pods.until(lambda c: not c.total, 300, "pods gone")
    result["pods_deleted_s"] = t
    result["pods_deleted_wall_s"] = time.monotonic() - start
    result["cpu_s_per_1000_pods_deleted"] = cpu_per_1000(
        cpu_before, cpu_snapshot(server_pid, sim_pid, os.getpid()), count)
    print(f"  CPU s per 1,000 pods deleted: {result['cpu_s_per_1000_pods_deleted']}",
          flush=True)


async def bench(args: argparse.Namespace, kubeconfig: Path, server_pid: int,
                sim_cmd: list[str], log_dir: Path) -> dict[str, Any]:
    result: dict[str, Any] = {}
    async with ApiClient.from_kubeconfig(kubeconfig, connection_limit=64) as client:
        nodes = Counter(client, NODES, node_ready,
                        label_selector=f"sim.kubepy.io/node=true")
        nodes.informer.start()
        await nodes.informer.wait_for_sync()
        print(f"starting {args.nodes} simulated nodes", flush=True)
        sim = subprocess.Popen(sim_cmd, stdout=open(log_dir / "simulate.log", "wb"),
                               stderr=subprocess.STDOUT)
        result["simulate_pid"] = sim.pid
        try:
            t = await nodes.until(lambda c: len(c.matching) >= args.nodes, 300, "nodes Ready")
            result["nodes_ready_s"] = t
            names = sorted(n.rsplit("/", 1)[1] for n in nodes.matching)
            if args.idle_seconds > 0:  # the nodes' own upkeep: Leases, heartbeats
                await asyncio.sleep(5)
                before = cpu_snapshot(server_pid, sim.pid, os.getpid())
                await asyncio.sleep(args.idle_seconds)
                after = cpu_snapshot(server_pid, sim.pid, os.getpid())
                result["idle_cpu_per_s"] = {
                    k: round((after[k] - before[k]) / args.idle_seconds, 3) for k in after}
                print(f"  idle CPU s per s with {args.nodes} nodes: "
                      f"{result['idle_cpu_per_s']} (load {load_average()})", flush=True)
            await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace",
                                             "metadata": {"name": NAMESPACE}})
            pods = Counter(client, PODS, pod_running, namespace=NAMESPACE)
            pods.informer.start()
            await pods.informer.wait_for_sync()
            stop_binder = asyncio.Event()
            binder = None
            have_deploy = has("kubepy.controllers.deployment", "new_controllers") and \
                has("kubepy.controllers.replicaset", "new_controllers") and \
                not args.direct
            have_sched = has("kubepy.scheduler", "new_scheduler") and not args.bench_binder
            if have_deploy:
                mode = "deployments" if have_sched else "deployments+bench-binder"
                if not have_sched:
                    binder = asyncio.create_task(bind_pending(client, names, stop_binder))
            else:
                mode = "direct"
            result["mode"] = mode
            print(f"creating {args.pods} pods ({mode})", flush=True)
            result["load_before_pods"] = load_average()
            cpu_before = cpu_snapshot(server_pid, sim.pid, os.getpid())
            start = time.monotonic()
            if have_deploy:
                per = args.pods // args.deployments
                for i in range(args.deployments):
                    await client.create(DEPLOYMENTS, deployment(f"sim-{i}", per))
            else:
                await create_bound_pods(client, args.pods, names)
            result["pods_created_s"] = time.monotonic() - start if not have_deploy else None
            t = await pods.until(lambda c: len(c.matching) >= args.pods, 300, "pods Running")
            result["pods_running_s"] = None if t is None else time.monotonic() - start
            result["cpu_s_per_1000_pods"] = cpu_per_1000(
                cpu_before, cpu_snapshot(server_pid, sim.pid, os.getpid()), args.pods)
            result["load_after_pods"] = load_average()
            print(f"  CPU s per 1,000 pods: {result['cpu_s_per_1000_pods']} "
                  f"(load {result['load_before_pods']} -> {result['load_after_pods']})",
                  flush=True)
            await asyncio.sleep(2)
            api, comps = server_processes(server_pid)
            result["rss_mb"] = {"apiserver": round(sum(rss_mb(p) for p in api), 1),
                                "components": round(sum(rss_mb(p) for p in comps), 1),
                                "simulate": round(rss_mb(sim.pid), 1)}
            result["rss_mb"]["control_plane"] = round(result["rss_mb"]["apiserver"] +
                                                      result["rss_mb"]["components"], 1)
            print(f"  RSS: {result['rss_mb']}", flush=True)
            stop_binder.set()
            if binder is not None:
                await binder
            if not args.no_delete:
                await delete_phase(client, pods, have_deploy, args.pods, server_pid,
                                   sim.pid, result)
            await pods.informer.stop()
        finally:
            sim.send_signal(signal.SIGTERM)
            try:
                sim.wait(15)
            except subprocess.TimeoutExpired:
                sim.kill()
            await nodes.informer.stop()
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, default=5000)
    ap.add_argument("--pods", type=int, default=10000)
    ap.add_argument("--deployments", type=int, default=10)
    ap.add_argument("--direct", action="store_true", help="create bound pods directly")
    ap.add_argument("--bench-binder", action="store_true",
                    help="bind pods from this script even if a scheduler exists")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    ap.add_argument("--node-status-frequency", type=float, default=300.0,
                    help="the simulator's seconds between node status posts")
    ap.add_argument("--apiserver-workers", type=int, default=1,
                    help="API server processes (kubepy server --apiserver-workers)")
    ap.add_argument("--idle-seconds", type=float, default=0.0,
                    help="before the pods, measure the CPU the Ready nodes cost for this long")
    ap.add_argument("--no-delete", action="store_true", help="skip the deletion phase")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kubepy-bench-sim-"))
    port = free_port()
    data = tmp / "data"
    server = subprocess.Popen(
        [str(REPO / ".venv/bin/kubepy"), "server", "--data-dir", str(data),
         "--https-listen-port", str(port), "--bind-address", "127.0.0.1", "--disable-agent",
         "--cluster-cidr", "10.96.0.0/11", "--log-level", "WARNING",
         "--apiserver-workers", str(args.apiserver_workers)],
        stdout=open(tmp / "server.log", "wb"), stderr=subprocess.STDOUT, cwd=REPO)
    kubeconfig = data / "admin.kubeconfig"
    try:
        deadline = time.monotonic() + 60
        while not kubeconfig.exists():
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"server did not start:\n{(tmp / 'server.log').read_text()}")
            time.sleep(0.1)
        time.sleep(1.0)
        # node status every 300 s: the kubelet's nodeStatusReportFrequency (its Lease,
        # renewed every 10 s, is the heartbeat; kwok's node-heartbeat-with-lease stage
        # waits 600 s)
        sim_cmd = [str(REPO / ".venv/bin/kubepy"), "simulate", "--nodes", str(args.nodes),
                   "--kubeconfig", str(kubeconfig), "--log-level", "WARNING",
                   "--node-status-update-frequency", str(args.node_status_frequency)]
        result = asyncio.run(bench(args, kubeconfig, server.pid, sim_cmd, tmp))
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    result.update(nodes=args.nodes, pods=args.pods, machine=f"{platform.machine()} "
                  f"{os.cpu_count()} cpus", python=platform.python_version())
    print("\nresult:")
    for key, target in TARGETS.items():
        value = result.get(key)
        verdict = "MISSED" if value is None or value > target else "ok"
        shown = "timeout" if value is None else f"{value:.1f}s"
        print(f"  {key:16} {shown:>9}  (target <= {target:.0f}s) {verdict}")
    print(f"  mode             {result.get('mode')}")
    print(f"  rss_mb           {result.get('rss_mb')}")
    print(f"  idle cpu s/s     {result.get('idle_cpu_per_s')}")
    print(f"  cpu_s/1000 pods  {result.get('cpu_s_per_1000_pods')} (running), "
          f"{result.get('cpu_s_per_1000_pods_deleted')} (deleted)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
