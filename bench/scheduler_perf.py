"""Scheduler throughput in the shape of kube-scheduler's scheduler_perf SchedulingBasic.

Workload (test/integration/scheduler_perf, ``SchedulingBasic/5000Nodes_10000Pods``):
5,000 nodes (4 CPU, 32Gi, 110 pods), 1,000 pods already placed, then 10,000 pods
(100m CPU, 500Mi) measured. Upstream's threshold for that case is 680 pods/s.

What upstream measures: scheduler_perf starts a real kube-apiserver (with etcd) in the test
process, creates Node objects (no kubelets), runs the real scheduler against it, creates
the pods through the API and samples every second how many pods are bound (the
SchedulingThroughput metric is the average of those samples). Binding therefore goes
through the apiserver and etcd.

Modes here:
* ``inprocess`` (default): the scheduling algorithm and loop alone — nodes and the placed
  pods go straight into the scheduler cache, the measured pods straight into the queue, and
  binding is a no-op writer that counts binds. This isolates what the scheduler itself
  costs (queue, cycle, assume, bind task), i.e. an upper bound for the end-to-end number.
* ``e2e``: against a running kubepy server (``--kubeconfig``): create the nodes and pods
  through the API, run ``new_scheduler`` in this process, and count bound pods from a pod
  informer, as scheduler_perf does.

``--replicasets K`` (inprocess) gives the pods owners' labels, so the default topology
spreading (hostname maxSkew 3, zone maxSkew 5) scores them as it does Deployment pods.

Usage: ``python bench/scheduler_perf.py [--mode inprocess|e2e] [--nodes 5000]
[--init-pods 1000] [--pods 10000] [--replicasets K] [--kubeconfig F]``; prints one JSON
line.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kubepy.api.labels import selector_from_label_selector  # noqa: E402
from kubepy.scheduler.binder import NullWriter  # noqa: E402
from kubepy.scheduler.cache import Cache  # noqa: E402
from kubepy.scheduler.framework import Framework  # noqa: E402
from kubepy.scheduler.nodeinfo import PodInfo  # noqa: E402
from kubepy.scheduler.plugins import DEFAULT_WEIGHTS, default_plugins  # noqa: E402
from kubepy.scheduler.queue import SchedulingQueue  # noqa: E402
from kubepy.scheduler.scheduler import NullRecorder, Scheduler  # noqa: E402

Obj = dict[str, Any]


def make_node(i: int) -> Obj:
    name = f"scheduler-perf-node-{i}"
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "spec": {},
            "status": {"capacity": {"cpu": "4", "memory": "32Gi", "pods": "110"},
                       "allocatable": {"cpu": "4", "memory": "32Gi", "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "True"}],
                       "phase": "Running"}}


def make_pod(i: int, prefix: str = "pod", namespace: str = "default",
             labels: dict[str, str] | None = None) -> Obj:
    # the shape of scheduler_perf's templates/pod-default.yaml
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"{prefix}-{i}", "namespace": namespace,
                         "uid": f"{prefix}-uid-{i}", "labels": labels or {}},
            "spec": {"schedulerName": "default-scheduler", "priority": 0,
                     "containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10",
                                     "ports": [{"containerPort": 80}],
                                     "resources": {"requests": {"cpu": "100m",
                                                                "memory": "500Mi"},
                                                   "limits": {"cpu": "100m",
                                                              "memory": "500Mi"}}}]}}


def owner_selectors(replicasets: int) -> Any:
    """The DefaultSelector of pods owned by ``replicasets`` ReplicaSets selecting
    ``app=rs-<k>`` (None: no owners, as scheduler_perf's pods)."""
    if not replicasets:
        return None
    selectors = {f"rs-{k}": selector_from_label_selector({"matchLabels": {"app": f"rs-{k}"}})
                 for k in range(replicasets)}
    return lambda pod: selectors.get(pod.labels.get("app", ""))


def owned_labels(i: int, replicasets: int) -> dict[str, str] | None:
    return {"app": f"rs-{i % replicasets}"} if replicasets else None


async def inprocess(nodes: int, init_pods: int, pods: int, seed: int,
                    replicasets: int = 0) -> dict[str, Any]:
    cache = Cache()
    queue = SchedulingQueue()
    fw = Framework(default_plugins(default_selector=owner_selectors(replicasets)),
                   DEFAULT_WEIGHTS, nominated_pods=queue.nominated_pods)
    writer = NullWriter()
    sched = Scheduler(cache=cache, queue=queue, framework=fw, writer=writer,
                      recorder=NullRecorder(), rng=random.Random(seed))
    for i in range(nodes):
        sched.on_node_add(make_node(i))
    # initial pods: scheduled by the scheduler too, as scheduler_perf's createPods op does
    for i in range(init_pods):
        queue.add(PodInfo(make_pod(i, "init-pod", labels=owned_labels(i, replicasets))))
    sched.start()
    while sched.scheduled < init_pods:
        await asyncio.sleep(0.01)
    gc.collect()
    gc.freeze()
    for i in range(pods):
        queue.add(PodInfo(make_pod(i, "measured-pod", labels=owned_labels(i, replicasets))))
    start = time.perf_counter()
    cpu0 = time.process_time()
    samples: list[int] = []
    last, last_t = sched.scheduled, start
    target = init_pods + pods
    while sched.scheduled < target:
        await asyncio.sleep(0.05)
        now = time.perf_counter()
        if now - last_t >= 1.0:
            samples.append(sched.scheduled - last)
            last, last_t = sched.scheduled, now
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    await sched.shutdown()
    per_node: dict[str, int] = {}
    for _, node in writer.binds:
        per_node[node] = per_node.get(node, 0) + 1
    return {"mode": "inprocess", "nodes": nodes, "init_pods": init_pods, "pods": pods,
            "replicasets": replicasets,
            "seconds": round(elapsed, 3), "pods_per_second": round(pods / elapsed, 1),
            "cpu_seconds": round(cpu, 3), "pods_per_cpu_second": round(pods / cpu, 1),
            "per_second_samples": samples,
            "max_pods_on_a_node": max(per_node.values()), "nodes_used": len(per_node),
            "failures": sched.failures}


async def e2e(kubeconfig: str, nodes: int, init_pods: int, pods: int,
              seed: int) -> dict[str, Any]:
    from kubepy.api.registry import Registry
    from kubepy.client.clock import REAL_CLOCK
    from kubepy.client.factory import SharedInformerFactory
    from kubepy.client.rest import ApiClient
    from kubepy.scheduler.setup import new_scheduler

    reg = Registry()
    rt_nodes, rt_pods = reg.get("", "v1", "nodes"), reg.get("", "v1", "pods")
    assert rt_nodes is not None and rt_pods is not None
    ns = f"sched-perf-{int(time.time())}"
    async with ApiClient.from_kubeconfig(kubeconfig) as client:
        await client.create(reg.get("", "v1", "namespaces"),  # type: ignore[arg-type]
                            {"metadata": {"name": ns}})
        sem = asyncio.Semaphore(64)

        async def create(rt: Any, obj: Obj, namespace: str | None = None) -> None:
            async with sem:
                try:
                    await client.create(rt, obj, namespace)
                except Exception as e:  # noqa: BLE001 - nodes may exist from a previous run
                    if "already exists" not in str(e):
                        raise
        t0 = time.perf_counter()
        await asyncio.gather(*(create(rt_nodes, make_node(i)) for i in range(nodes)))
        setup_nodes = time.perf_counter() - t0

        class _Quiet:
            def event(self, *a: Any) -> None:
                pass
        factory = SharedInformerFactory(client, clock=REAL_CLOCK)
        sched = new_scheduler(client, factory, REAL_CLOCK, lambda c: _Quiet())
        run = asyncio.get_running_loop().create_task(sched.run())

        def strip(p: Obj) -> Obj:
            p = dict(p)
            p["metadata"] = {k: v for k, v in p["metadata"].items() if k != "uid"}
            return p
        await asyncio.gather(*(create(rt_pods, strip(make_pod(i, "init-pod", ns)), ns)
                               for i in range(init_pods)))
        pod_inf = factory.informer(rt_pods)
        await pod_inf.has_synced.wait()

        def bound() -> int:
            return sum(1 for p in pod_inf.store.list()
                       if p["metadata"].get("namespace") == ns and p["spec"].get("nodeName"))
        while bound() < init_pods:
            await asyncio.sleep(0.2)
        start = time.perf_counter()
        creating = asyncio.ensure_future(asyncio.gather(
            *(create(rt_pods, strip(make_pod(i, "measured-pod", ns)), ns) for i in range(pods))))
        samples: list[int] = []
        last = bound()
        while last < init_pods + pods:
            await asyncio.sleep(1.0)
            now = bound()
            samples.append(now - last)
            last = now
        elapsed = time.perf_counter() - start
        await creating
        await sched.shutdown()
        run.cancel()
        await factory.stop()
        return {"mode": "e2e", "nodes": nodes, "init_pods": init_pods, "pods": pods,
                "node_setup_seconds": round(setup_nodes, 1), "seconds": round(elapsed, 3),
                "pods_per_second": round(pods / elapsed, 1), "per_second_samples": samples,
                "namespace": ns}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mode", choices=["inprocess", "e2e"], default="inprocess")
    ap.add_argument("--nodes", type=int, default=5000)
    ap.add_argument("--init-pods", type=int, default=1000)
    ap.add_argument("--pods", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--replicasets", type=int, default=0,
                    help="inprocess: pods owned by this many ReplicaSets (app=rs-<k>), so "
                         "default topology spreading scores them, as Deployment pods")
    ap.add_argument("--kubeconfig")
    args = ap.parse_args()
    if args.mode == "inprocess":
        result = asyncio.run(inprocess(args.nodes, args.init_pods, args.pods, args.seed,
                                       args.replicasets))
    else:
        if not args.kubeconfig:
            ap.error("--kubeconfig is needed for e2e")
        result = asyncio.run(e2e(args.kubeconfig, args.nodes, args.init_pods, args.pods,
                                 args.seed))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
