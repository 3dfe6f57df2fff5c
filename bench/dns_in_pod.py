"""Cluster DNS benchmark from inside a pod (issue 5; root): lookup latency of cluster names at
a fixed query rate (default 1,000 queries/s for 10 s; target p99 <= 5 ms), sent from a real
pod to the cluster DNS Service IP (10.43.0.10:53) through the service proxy.

``kubepy server`` with its node agent (kubelet, service proxy) and cluster DNS, as
tests/e2e/test_cluster_services_e2e.py starts it (its own bridge, netns dir, cgroup parent,
data dir and ports; the service proxy's chains are the host's, so it first waits until no
other service proxy runs). It holds S Services (default 1,000) in namespace ``bench``. The
load client is bench/dns_load.py's own ``--client`` mode (open-loop A queries for random
``s<i>.bench.svc.cluster.local`` names from one UDP socket, answers matched by id), shipped
to the pod in a configMap volume and run by the python stand-in image of tests/images.py;
its JSON result is written to a hostPath volume. Reported: achieved rate, answered share,
p50/p90/p99/p99.9/max latency, the DNS process's CPU time per 1,000 queries, load average
before and after. ``kubepy killall`` removes everything at the end.

Usage: .venv/bin/python bench/dns_in_pod.py [--services 1000] [--rate 1000] [--seconds 10]
       [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests" / "e2e"), str(REPO / "bench")]

from dns_load import cpu_seconds, make_services  # noqa: E402
from kubepy.dns import wire  # noqa: E402
from kubepy.kubelet.images.archive import import_archive  # noqa: E402
from kubepy.kubelet.images.store import ImageStore  # noqa: E402
from test_cluster_services_e2e import CLUSTER_DNS, NODE, Cluster, dns_query, \
    wait_for_other_proxies  # noqa: E402
from test_services_timing_e2e import PYTHON_IMAGE, build_python_image  # noqa: E402


def client_pod(services: int, rate: int, seconds: float, out_dir: Path) -> dict[str, Any]:
    run = (f"python3 /bench/dns_load.py --client {CLUSTER_DNS}:53 --services {services} "
           f"--rate {rate} --seconds {seconds} > /out/result.json")
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "dns-load"},
            "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "load", "image": PYTHON_IMAGE,
                                     "imagePullPolicy": "Never",
                                     "command": ["sh", "-c", run],
                                     "volumeMounts": [{"name": "script", "mountPath": "/bench"},
                                                      {"name": "out", "mountPath": "/out"}]}],
                     "volumes": [{"name": "script", "configMap": {"name": "dns-client"}},
                                 {"name": "out", "hostPath": {"path": str(out_dir),
                                                              "type": "Directory"}}]}}


def dns_pid(server_log: str) -> int | None:
    m = re.search(r"dns process started \(pid (\d+)\)", server_log)
    return int(m.group(1)) if m else None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root (runc, CNI, iptables)")
    wait_for_other_proxies()
    c = Cluster(Path(tempfile.mkdtemp(prefix="kubepy-bench-dns-pod-")))
    build_python_image(c.tmp / "python")
    import_archive(ImageStore(c.agent_dir / "images"), c.tmp / "python")
    out_dir = c.tmp / "out"
    out_dir.mkdir()
    try:
        c.start_cluster()
        assert c.server is not None
        c.wait_for("the node to be Ready", lambda: any(
            cond["type"] == "Ready" and cond["status"] == "True"
            for cond in c.get("node", NODE)["status"].get("conditions") or []), timeout=90)
        asyncio.run(make_services(c.server.kubeconfig, args.services))
        last = f"s{args.services - 1}.bench.svc.cluster.local"
        c.wait_for(f"{last} to resolve", lambda: dns_query(last, wire.A).answers, timeout=60)
        c.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dns-client"},
                 "data": {"dns_load.py": (REPO / "bench" / "dns_load.py").read_text()}})
        time.sleep(1.0)
        pid = dns_pid(c.server.log())
        load_before = os.getloadavg()[0]
        cpu_before = cpu_seconds(pid) if pid else 0.0
        c.apply(client_pod(args.services, args.rate, args.seconds, out_dir))
        phase = c.wait_for("the load pod to finish", lambda: c.get("pod", "dns-load")[
            "status"].get("phase") in ("Succeeded", "Failed") and c.get(
            "pod", "dns-load")["status"]["phase"], timeout=args.seconds + 120, interval=0.5)
        if phase != "Succeeded":
            raise SystemExit(f"load pod {phase}: {(out_dir / 'result.json').read_text()!r}\n"
                             f"{c.log_tail()}")
        result = {"services": args.services, "rate": args.rate, "seconds": args.seconds,
                  "client": "pod (python image), to the kube-dns Service IP through the "
                            "service proxy",
                  **json.loads((out_dir / "result.json").read_text()),
                  "server_cpu_ms_per_1000_queries": round(
                      (cpu_seconds(pid) - cpu_before) * 1000 / (args.rate * args.seconds)
                      * 1000, 1) if pid else None,
                  "loadavg_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
                  "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                             f"{platform.platform()}"}
        print(json.dumps(result, indent=2))
        if args.json:
            args.json.write_text(json.dumps(result, indent=2))
    finally:
        killed = c.killall()
        if c.server is not None:
            c.server.stop()
        if killed.returncode != 0:
            print(f"kubepy killall failed: {killed.stdout}{killed.stderr}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
