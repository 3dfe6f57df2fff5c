"""Service proxy benchmark (issue 5; root): with S Services of E endpoints each programmed
(default 1,000 and 10: 10,000 endpoints), how long one iptables sync takes, and how long a
new Service takes from its creation to traffic flowing (target p99 <= 1 s).

A real ``kubepy server`` (API only) holds the objects; an in-process ``ServiceProxy``
programs a private network namespace (``ip netns exec``), where ``local 10.250.0.0/16 dev
lo`` makes every endpoint address local and one listener answers on port 8080. Services
have no selector; this script writes their EndpointSlices. A prober thread lives in the
namespace (setns) and connects to the cluster IPs.

Reported: rule generation (pure) and full sync time (iptables-save x2 + one
iptables-restore of every chain + jump checks) with everything in place, and the programming latency of N new Services
created one after another (Service + EndpointSlice created -> a TCP connect to the cluster IP
succeeds; these go through partial syncs), p50/p90/p99/max, with the load average.

Usage: .venv/bin/python bench/proxy_sync.py [--services 1000] [--endpoints 10]
       [--samples 100] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import ctypes
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from kubepy.api.registry import Registry  # noqa: E402
from kubepy.client.factory import SharedInformerFactory  # noqa: E402
from kubepy.client.rest import ApiClient  # noqa: E402
from kubepy.proxy import apply, rules  # noqa: E402
from kubepy.proxy.proxier import ServiceProxy  # noqa: E402
from tests.conftest import start_server  # noqa: E402

REG = Registry()
SERVICES = REG.get("", "v1", "services")
SLICES = REG.get("discovery.k8s.io", "v1", "endpointslices")
NAMESPACES = REG.get("", "v1", "namespaces")
CLONE_NEWNET = 0x40000000
BACKEND_PORT = 8080


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


def endpoint_ips(i: int, n: int) -> list[str]:
    return [f"10.250.{(i * n + j) // 250}.{(i * n + j) % 250 + 1}" for j in range(n)]


def service(name: str) -> dict:
    return {"metadata": {"name": name},
            "spec": {"ports": [{"name": "http", "port": 80, "targetPort": BACKEND_PORT}]}}


def endpoint_slice(name: str, ips: list[str]) -> dict:
    return {"metadata": {"name": name, "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in ips],
            "ports": [{"name": "http", "port": BACKEND_PORT, "protocol": "TCP"}]}


class NetnsThread:
    """One worker thread inside the network namespace (sockets it makes live there)."""

    def __init__(self, netns: str) -> None:
        self.path = f"/run/netns/{netns}"
        self.pool = concurrent.futures.ThreadPoolExecutor(1, initializer=self._enter)

    def _enter(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(self.path, os.O_RDONLY)
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns")
        os.close(fd)

    def listen(self) -> None:
        def serve() -> None:
            srv = socket.socket()
            srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            srv.bind(("0.0.0.0", BACKEND_PORT))
            srv.listen(512)
            def loop() -> None:
                while True:
                    conn, _ = srv.accept()
                    conn.close()
            threading.Thread(target=loop, daemon=True).start()
        self.pool.submit(serve).result()

    def connects(self, ip: str, port: int) -> bool:
        def attempt() -> bool:
            with socket.socket() as s:
                s.settimeout(0.05)
                try:
                    s.connect((ip, port))
                    return True
                except OSError:
                    return False
        return self.pool.submit(attempt).result()


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def scenario(args: argparse.Namespace, kubeconfig: Path, netns: str) -> dict:
    client = ApiClient.from_kubeconfig(kubeconfig)
    ns = "bench"
    await client.create(NAMESPACES, {"metadata": {"name": ns}})
    sem = asyncio.Semaphore(32)

    async def make(i: int) -> None:
        async with sem:
            name = f"s{i}"
            await client.create(SERVICES, service(name), ns)
            await client.create(SLICES, endpoint_slice(name, endpoint_ips(i, args.endpoints)),
                                ns)

    t = time.monotonic()
    await asyncio.gather(*(make(i) for i in range(args.services)))
    create_s = time.monotonic() - t
    informers = SharedInformerFactory(client)
    proxy = ServiceProxy(client, informers, node_name="bench", node_ips=["10.249.0.1"],
                         cluster_cidr="10.42.0.0/16",
                         iptables=apply.Iptables(["ip", "netns", "exec", netns]))
    informers.start()
    await informers.wait_for_cache_sync()
    t = time.perf_counter()
    rs = proxy.ruleset()
    build_s = time.perf_counter() - t
    text = rules.render(rs)
    syncs = []
    for _ in range(5):  # full syncs: every chain written (as the first and periodic ones)
        proxy._last_full = None
        t = time.perf_counter()
        await proxy.sync_once()
        syncs.append(time.perf_counter() - t)
    print(f"full sync of {text.count(chr(10))} lines: "
          f"{', '.join(f'{x * 1000:.0f}' for x in syncs)} ms", flush=True)
    proxy.start()
    prober = NetnsThread(netns)
    prober.listen()
    latencies = []
    for k in range(args.samples):
        name = f"new{k}"
        t = time.monotonic()
        svc = await client.create(SERVICES, service(name), ns)
        await client.create(SLICES, endpoint_slice(name, [f"10.251.0.{k % 250 + 1}"]), ns)
        ip = svc["spec"]["clusterIP"]
        while not await asyncio.to_thread(prober.connects, ip, 80):
            if time.monotonic() - t > 60:
                raise SystemExit(f"{name} ({ip}) not reachable after 60 s")
        latencies.append(time.monotonic() - t)
    await proxy.stop()
    await informers.stop()
    await client.close()
    prober.pool.shutdown(wait=False)
    return {"services": args.services, "endpoints_per_service": args.endpoints,
            "create_seconds": round(create_s, 2),
            "restore_lines": text.count("\n"),
            "rule_build_ms": round(build_s * 1000, 1),
            "full_sync_ms": {"min": round(min(syncs) * 1000, 1),
                        "median": round(statistics.median(syncs) * 1000, 1),
                        "max": round(max(syncs) * 1000, 1)},
            "programming_latency_ms": {p: round(pct(latencies, float(p[1:])) * 1000, 1)
                                       for p in ("p50", "p90", "p99")} |
                                      {"max": round(max(latencies) * 1000, 1),
                                       "samples": len(latencies)}}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--endpoints", type=int, default=10)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root (network namespace, iptables)")
    netns = f"kpybench{os.getpid() % 100000}"
    tmp = Path(tempfile.mkdtemp(prefix="kubepy-bench-proxy-"))
    sh("ip", "netns", "add", netns)
    server = None
    try:
        sh("ip", "netns", "exec", netns, "ip", "link", "set", "lo", "up")
        sh("ip", "netns", "exec", netns, "ip", "route", "add", "local", "10.250.0.0/15",
           "dev", "lo")
        # the node's address, and a default route so cluster IPs pass the routing decision
        sh("ip", "netns", "exec", netns, "ip", "link", "add", "node0", "type", "bridge")
        sh("ip", "netns", "exec", netns, "ip", "addr", "add", "10.249.0.1/24", "dev", "node0")
        sh("ip", "netns", "exec", netns, "ip", "link", "set", "node0", "up")
        sh("ip", "netns", "exec", netns, "ip", "route", "add", "default", "dev", "node0")
        server = start_server(tmp / "data", extra=["--disable-controller-manager",
                                                   "--disable-scheduler", "--disable",
                                                   "coredns", "--log-level", "WARNING"])
        load_before = os.getloadavg()
        result = asyncio.run(scenario(args, server.kubeconfig, netns))
        result["loadavg_before_after"] = [round(load_before[0], 2),
                                          round(os.getloadavg()[0], 2)]
        result["machine"] = f"{platform.processor() or platform.machine()}, " \
                            f"{os.cpu_count()} cores, {platform.platform()}"
        print(json.dumps(result, indent=2))
        if args.json:
            args.json.write_text(json.dumps(result, indent=2))
    finally:
        if server is not None:
            server.stop()
        subprocess.run(["ip", "netns", "delete", netns], capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
