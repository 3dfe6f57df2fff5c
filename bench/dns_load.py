"""Cluster DNS benchmark (issue 5; root): lookup latency of cluster names at a fixed query
rate (default 1,000 queries/s for 10 s; target p99 <= 5 ms) from a network namespace.

A real ``kubepy server`` (API only, ``--disable coredns``) holds S Services (default 1,000);
``kubepy dns`` — the process ``kubepy server`` runs — listens on the host end of a veth
pair; the client runs in the namespace at the other end (``ip netns exec``, this script with
``--client``), sends A queries for random ``<svc>.bench.svc.cluster.local`` names open-loop
(one every 1/rate s, not waiting for answers) from one UDP socket and matches answers by
id. Reported: achieved rate, answered share, p50/p90/p99/p99.9/max latency, the DNS
process's CPU time per 1,000 queries (load-independent), load average. The same client
(``--client``, standard library only) runs inside a real pod against the cluster DNS Service
IP in bench/dns_in_pod.py.

Usage: .venv/bin/python bench/dns_load.py [--services 1000] [--rate 1000] [--seconds 10]
       [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

HOST_IP, NS_IP = "10.248.77.1", "10.248.77.2"


def query_bytes(qid: int, name: str) -> bytes:
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + labels + struct.pack("!HH", 1, 1)


def client(server: tuple[str, int], services: int, rate: int, seconds: float) -> dict:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    sock.connect(server)
    sent: dict[int, float] = {}
    latencies: list[float] = []
    errors = 0
    done = threading.Event()

    def receive() -> None:
        nonlocal errors
        sock.settimeout(0.5)
        while not done.is_set() or len(latencies) + errors < len(sent):
            try:
                data = sock.recv(4096)
            except socket.timeout:
                if done.is_set():
                    return
                continue
            now = time.perf_counter()
            qid, flags = struct.unpack_from("!HH", data)
            start = sent.get(qid)
            if start is None:
                continue
            if flags & 0xF:
                errors += 1
            else:
                latencies.append(now - start)

    receiver = threading.Thread(target=receive, daemon=True)
    receiver.start()
    interval = 1.0 / rate
    total = int(rate * seconds)
    begin = time.perf_counter()
    for i in range(total):
        target = begin + i * interval
        now = time.perf_counter()
        if target > now:  # sleep, never spin: a spinning client would starve the server
            time.sleep(target - now)
        qid = i & 0xFFFF
        name = f"s{random.randrange(services)}.bench.svc.cluster.local"
        sent[qid] = time.perf_counter()
        sock.send(query_bytes(qid, name))
    elapsed = time.perf_counter() - begin
    time.sleep(1.0)
    done.set()
    receiver.join(2)
    latencies.sort()

    def p(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(q * (len(latencies) - 1)))] * 1000, 3)

    return {"queries": total, "achieved_rate": round(total / elapsed), "answered":
            len(latencies), "errors": errors,
            "latency_ms": {"p50": p(0.5), "p90": p(0.9), "p99": p(0.99), "p99.9": p(0.999),
                           "max": round(latencies[-1] * 1000, 3)}}


async def make_services(kubeconfig: Path, count: int) -> None:
    from kubepy.api.registry import Registry
    from kubepy.client.rest import ApiClient

    reg = Registry()
    services, namespaces = reg.get("", "v1", "services"), reg.get("", "v1", "namespaces")
    client = ApiClient.from_kubeconfig(kubeconfig)
    await client.create(namespaces, {"metadata": {"name": "bench"}})
    sem = asyncio.Semaphore(32)

    async def one(i: int) -> None:
        async with sem:
            await client.create(services, {"metadata": {"name": f"s{i}"},
                                           "spec": {"ports": [{"port": 80}]}}, "bench")
    await asyncio.gather(*(one(i) for i in range(count)))
    await client.close()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--client", default=None, help=argparse.SUPPRESS)  # HOST:PORT
    args = ap.parse_args()
    if args.client:
        host, port = args.client.rsplit(":", 1)
        print(json.dumps(client((host, int(port)), args.services, args.rate, args.seconds)))
        return 0
    if os.geteuid() != 0:
        raise SystemExit("needs root (network namespace, veth)")
    from tests.conftest import free_port, start_server

    tag = os.getpid() % 100000
    netns, veth = f"kpydns{tag}", f"kpyd{tag}"
    tmp = Path(tempfile.mkdtemp(prefix="kubepy-bench-dns-"))
    server = dns = None
    sh("ip", "netns", "add", netns)
    try:
        sh("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns)
        sh("ip", "addr", "add", f"{HOST_IP}/30", "dev", veth)
        sh("ip", "link", "set", veth, "up")
        for cmd in (["ip", "addr", "add", f"{NS_IP}/30", "dev", "eth0"],
                    ["ip", "link", "set", "eth0", "up"], ["ip", "link", "set", "lo", "up"]):
            sh("ip", "netns", "exec", netns, *cmd)
        server = start_server(tmp / "data", extra=["--disable-controller-manager",
                                                   "--disable-scheduler", "--disable",
                                                   "coredns", "--log-level", "WARNING"])
        asyncio.run(make_services(server.kubeconfig, args.services))
        port = free_port()
        dns = subprocess.Popen([str(REPO / ".venv/bin/kubepy"), "dns", "--kubeconfig",
                                str(server.kubeconfig), "--listen", f"{HOST_IP}:{port}",
                                "--upstream", "127.0.0.1:9", "--log-level", "WARNING"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert dns.stdout is not None
        line = dns.stdout.readline()
        if "serving" not in line:
            raise SystemExit(f"kubepy dns did not start: {line}")
        time.sleep(1.0)
        load_before = os.getloadavg()[0]
        cpu_before = cpu_seconds(dns.pid)
        out = subprocess.run(["ip", "netns", "exec", netns, sys.executable, __file__,
                              "--client", f"{HOST_IP}:{port}", "--services",
                              str(args.services), "--rate", str(args.rate), "--seconds",
                              str(args.seconds)], capture_output=True, text=True, check=True)
        result = {"services": args.services, "rate": args.rate, "seconds": args.seconds,
                  **json.loads(out.stdout),
                  "server_cpu_ms_per_1000_queries": round(
                      (cpu_seconds(dns.pid) - cpu_before) * 1000 / (args.rate * args.seconds)
                      * 1000, 1),
                  "loadavg_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
                  "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                             f"{platform.platform()}"}
        print(json.dumps(result, indent=2))
        if args.json:
            args.json.write_text(json.dumps(result, indent=2))
    finally:
        if dns is not None:
            dns.terminate()
            dns.wait(10)
        if server is not None:
            server.stop()
        subprocess.run(["ip", "link", "delete", veth], capture_output=True)
        subprocess.run(["ip", "netns", "delete", netns], capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
