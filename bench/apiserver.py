"""API server benchmark: start time, idle memory, GET and create throughput, latency at a
fixed half load, and LIST of 10,000 pods, against a real ``kubepy server`` over HTTPS.

The server runs as its own process in a temp dir (``--disable-agent``, a static bearer
token so the load tools need no client certificate). Load comes from C tools so the client
does not eat the CPU being measured: ``wrk`` (closed loop, keep-alive, lua scripts in
bench/wrk/) for maximum throughput, ``h2load --h1 --rps`` for fixed-rate runs with a
per-request latency log (Debian has no wrk2). Server CPU is read from /proc/PID/stat, so
every run also reports CPU-microseconds per request and what the rest of the machine used.

Usage: .venv/bin/python bench/apiserver.py [--duration 10] [--connections 64]
                                           [--json results.json] [--only get,create,...]
Needs the Debian packages wrk and nghttp2-client (h2load).
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parent.parent
SERVER_ARGS: list[str] = []  # extra `kubepy server` flags (--server-arg)
WRK_DIR = Path(__file__).resolve().parent / "wrk"
TOKEN = "bench-token"
AUTH = f"Authorization: Bearer {TOKEN}"
CLK_TCK = os.sysconf("SC_CLK_TCK")
NICE = 0  # niceness increment for the server and the load tools (--nice)


def _prioritize() -> None:
    """Run in each child before exec: lower its niceness so that other work on a shared
    machine disturbs the measurement less (needs root for a negative increment)."""
    if NICE:
        try:
            os.nice(NICE)
        except OSError:
            pass

TARGETS = {  # name -> (target value, unit, "<=" or ">=")
    "start_to_readyz": (2.0, "s", "<="),
    "idle_rss": (150.0, "MB", "<="),
    "get_throughput": (3000.0, "req/s", ">="),
    "create_throughput": (1000.0, "req/s", ">="),
    "get_p99_half_load": (20.0, "ms", "<="),
    "create_p99_half_load": (50.0, "ms", "<="),
    "list_10k_pods": (1.0, "s", "<="),
}


# ---------------------------------------------------------------------------- machine

def machine() -> dict[str, str]:
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "kubepy"],
                           capture_output=True, text=True).stdout.strip()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit + (" (kubepy/ has uncommitted changes)" if dirty else ""),
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "priority": "",
        "loadavg_at_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "wrk": _tool_version(["wrk", "-v"]),
        "h2load": _tool_version(["h2load", "--version"]),
    }


def _tool_version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True)
    except FileNotFoundError:
        return "missing"
    return (out.stdout + out.stderr).strip().splitlines()[0][:60]


def busy_jiffies() -> int:
    """All CPUs' non-idle time so far (user+nice+system+irq+softirq+steal)."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    return sum(values) - values[3] - values[4]  # minus idle, iowait


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------- server

@dataclass
class Server:
    data_dir: Path
    token_file: Path
    port: int = 0
    gc_mode: str = ""  # "", or a bench/gc_pauses.py --gc mode to run the server under
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    _log_offset: int = 0

    def start(self) -> float:
        """Start the server; return seconds from exec to the first 200 from /readyz."""
        self.port = free_port()
        self.log_path = self.data_dir.parent / f"server-{self.port}.log"
        started = time.perf_counter()
        command = [str(REPO / ".venv/bin/kubepy"), "server"]
        if self.gc_mode:
            command = [str(REPO / ".venv/bin/python"), str(REPO / "bench/gc_pauses.py"),
                       "--gc", self.gc_mode, "--"]
        self._log_offset = 0
        self.proc = subprocess.Popen(
            command + ["--data-dir", str(self.data_dir),
                       "--https-listen-port", str(self.port), "--bind-address", "127.0.0.1",
                       "--disable-agent", "--token-auth-file", str(self.token_file),
                       "--log-level", "WARNING", *SERVER_ARGS],
            stdout=self.log_path.open("wb"), stderr=subprocess.STDOUT, cwd=REPO,
            preexec_fn=_prioritize)
        ctx = insecure_context()
        while time.perf_counter() - started < 60:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            try:
                conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx,
                                                   timeout=2)
                conn.request("GET", "/readyz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return time.perf_counter() - started
                conn.close()
            except OSError:
                pass
            time.sleep(0.01)
        raise RuntimeError("server not ready after 60 s")

    def gc_pauses(self) -> dict[str, str]:
        """GC pauses since the last call (only when run under bench/gc_pauses.py)."""
        if not self.gc_mode or self.proc is None or self.log_path is None:
            return {}
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 2
        lines: list[str] = []
        while time.monotonic() < deadline and len(lines) < 3:
            time.sleep(0.05)
            with self.log_path.open() as f:
                f.seek(self._log_offset)
                text = f.read()
            lines = [ln for ln in text.splitlines() if ln.startswith("gc gen")]
        self._log_offset += len(text.encode())
        return {ln.split(":")[0].removeprefix("gc "): ln.split(": ", 1)[1] for ln in lines}

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def rss_mb(self) -> float:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"


def insecure_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Client:
    """A keep-alive HTTPS client for setup and for timing LISTs (the body is read, not parsed)."""

    def __init__(self, server: Server):
        self.conn = http.client.HTTPSConnection("127.0.0.1", server.port,
                                                context=insecure_context(), timeout=120)

    def request(self, method: str, path: str, body: Any = None,
                accept: str = "application/json") -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {TOKEN}", "Accept": accept}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        self.conn.request(method, path, body=data, headers=headers)
        response = self.conn.getresponse()
        return response.status, response.read()

    def create(self, path: str, body: Any) -> None:
        status, data = self.request("POST", path, body)
        if status not in (200, 201, 409):
            raise RuntimeError(f"POST {path}: {status} {data[:300]!r}")


def pod(name: str = "", generate_name: str = "") -> dict[str, Any]:
    """A typical small pod: labels, one container with a port, resources, env, a probe."""
    meta: dict[str, Any] = {"labels": {"app": "bench", "tier": "web"},
                            "annotations": {"bench.kubepy.io/owner": "apiserver-bench"}}
    if name:
        meta["name"] = name
    if generate_name:
        meta["generateName"] = generate_name
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {"containers": [{
        "name": "web", "image": "nginx:1.25",
        "ports": [{"containerPort": 80, "name": "http"}],
        "env": [{"name": "MODE", "value": "bench"}],
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                      "limits": {"cpu": "500m", "memory": "128Mi"}},
        "readinessProbe": {"httpGet": {"path": "/", "port": 80}, "periodSeconds": 5}}]}}


CONFIGMAP_GENERATE = {"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"generateName": "cm-", "labels": {"app": "bench"}},
                      "data": {"key": "value", "config.yaml": "a: 1\nb: two\n"}}


# ---------------------------------------------------------------------------- load tools

def run_wrk(url: str, script: str, *, connections: int, duration: float,
            args: tuple[str, ...] = ()) -> dict[str, Any]:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", "--timeout", "10s",
           "-s", str(WRK_DIR / script), "-H", AUTH, url]
    if args:
        cmd += ["--", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         preexec_fn=_prioritize).stdout
    for line in out.splitlines():
        if line.startswith("WRK_JSON "):
            result = json.loads(line[len("WRK_JSON "):])
            result["rate"] = result["requests"] / (result["duration_us"] / 1e6)
            return result
    raise RuntimeError(f"wrk printed no summary:\n{out}")


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    rank = max(0, min(len(sorted_values) - 1, int(round(p / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[rank]


def start_h2load(url: str, workdir: Path, tag: str, *, rate: int, clients: int,
                 duration: float, body: Any = None) -> tuple[subprocess.Popen[str], Path]:
    """Fixed-rate load: ``clients`` keep-alive connections each sending rate/clients req/s,
    rate*duration requests in all. The connections open 1 ms apart (``-r 1 --rate-period
    1ms``) so that the clients' send timers are out of phase: without that every client
    fires at the same instant and the server sees bursts of ``clients`` requests."""
    log = workdir / f"h2load-{tag}.log"
    cmd = ["h2load", "--h1", "-c", str(clients), "-t", "1", "--rps", f"{rate / clients:g}",
           "-n", str(int(rate * duration)), "-r", "1", "--rate-period", "1ms",
           "--log-file", str(log), "-H", AUTH, url]
    if body is not None:
        body_path = workdir / f"h2load-{tag}.json"
        body_path.write_text(json.dumps(body))
        cmd += ["-d", str(body_path), "-H", "Content-Type: application/json"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, preexec_fn=_prioritize), log


def finish_h2load(proc: subprocess.Popen[str], log: Path, duration: float) -> dict[str, Any]:
    out, _ = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"h2load failed:\n{out}")
    latencies: list[float] = []
    codes: dict[str, int] = {}
    first = last = 0
    for line in log.read_text().splitlines():
        start, code, micros = line.split("\t")
        codes[code] = codes.get(code, 0) + 1
        latencies.append(int(micros) / 1000)
        first = min(first or int(start), int(start))
        last = max(last, int(start))
    latencies.sort()
    ok = sum(n for c, n in codes.items() if c.startswith("2"))
    return {"requests": len(latencies), "ok": ok, "codes": codes,
            "rate": len(latencies) / max((last - first) / 1e6, duration / 10),
            "latency_ms": {f"p{p:g}": percentile(latencies, p) for p in (50, 90, 99, 99.9)}
            | {"max": latencies[-1] if latencies else float("nan")}}


def h2load_bulk(url: str, workdir: Path, tag: str, *, count: int, clients: int,
                body: Any) -> float:
    """Send exactly ``count`` POSTs as fast as possible; return the achieved rate."""
    body_path = workdir / f"bulk-{tag}.json"
    body_path.write_text(json.dumps(body))
    started = time.perf_counter()
    out = subprocess.run(["h2load", "--h1", "-n", str(count), "-c", str(clients), "-t", "1",
                          "-d", str(body_path), "-H", AUTH,
                          "-H", "Content-Type: application/json", url],
                         capture_output=True, text=True, check=True,
                         preexec_fn=_prioritize).stdout
    elapsed = time.perf_counter() - started
    if f"{count} succeeded" not in out.replace("  ", " "):
        status = [ln for ln in out.splitlines() if ln.startswith(("requests:", "status"))]
        print(f"  note: bulk {tag}: {' / '.join(status)}", file=sys.stderr)
    return count / elapsed


# ---------------------------------------------------------------------------- benchmarks

@dataclass
class Measured:
    """One benchmark's result, with the server CPU it used."""
    name: str
    value: float
    unit: str
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class CpuMeter:
    """Server CPU and whole-machine CPU over one run, in cores (1.0 = one core busy)."""

    def __init__(self, server: Server):
        self.server = server

    def __enter__(self) -> "CpuMeter":
        self.server.gc_pauses()  # start GC counts afresh
        self.t0 = time.perf_counter()
        self.s0 = self.server.cpu_seconds()
        self.m0 = busy_jiffies()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.wall = time.perf_counter() - self.t0
        self.server_cpu = self.server.cpu_seconds() - self.s0
        self.machine_cpu = (busy_jiffies() - self.m0) / CLK_TCK
        self.gc = self.server.gc_pauses()

    def describe(self, requests: int) -> dict[str, Any]:
        return {"server_cores": round(self.server_cpu / self.wall, 2),
                "other_cores": round((self.machine_cpu - self.server_cpu) / self.wall, 2),
                "server_cpu_us_per_request": round(self.server_cpu / max(requests, 1) * 1e6),
                **({"gc_pauses": self.gc} if self.gc else {})}


def bench_get(server: Server, args: argparse.Namespace) -> Measured:
    url = f"{server.url}/api/v1/namespaces/bench/pods/get-target"
    run_wrk(url, "get.lua", connections=args.connections, duration=2)  # warm up
    with CpuMeter(server) as cpu:
        r = run_wrk(url, "get.lua", connections=args.connections, duration=args.duration)
    lat = r["latency_us"]
    return Measured("get_throughput", r["rate"], "req/s",
                    f"wrk -c{args.connections}, {r['requests']} GETs of one pod, "
                    f"errors {sum(r['errors'].values())}",
                    {"latency_ms": {k: v / 1000 for k, v in lat.items()},
                     **cpu.describe(r["requests"])})


def bench_create(server: Server, args: argparse.Namespace) -> Measured:
    url = f"{server.url}/api/v1/namespaces/bench/configmaps"
    run_wrk(url, "create_configmap.lua", connections=args.connections, duration=2,
            args=("warm",))
    with CpuMeter(server) as cpu:
        r = run_wrk(url, "create_configmap.lua", connections=args.connections,
                    duration=args.duration, args=(f"run{int(time.time())}",))
    lat = r["latency_us"]
    return Measured("create_throughput", r["rate"], "req/s",
                    f"wrk -c{args.connections}, {r['requests']} ConfigMap POSTs, "
                    f"errors {sum(r['errors'].values())}",
                    {"latency_ms": {k: v / 1000 for k, v in lat.items()},
                     **cpu.describe(r["requests"])})


def bench_half_load(server: Server, args: argparse.Namespace, workdir: Path,
                    *, mixed: bool) -> list[Measured]:
    """GETs at 1,500/s and creates at 500/s (half the targets): apart, or together."""
    get = ("get", f"{server.url}/api/v1/namespaces/bench/pods/get-target",
           int(TARGETS["get_throughput"][0] / 2), None)
    create = ("create", f"{server.url}/api/v1/namespaces/bench/configmaps",
              int(TARGETS["create_throughput"][0] / 2), CONFIGMAP_GENERATE)
    groups = [[get, create]] if mixed else [[get], [create]]
    d = args.half_duration
    results = []
    for group in groups:
        with CpuMeter(server) as cpu:
            started = [(verb, rate, start_h2load(url, workdir, f"{verb}-{len(group)}",
                                                 rate=rate, clients=50, duration=d, body=body))
                       for verb, url, rate, body in group]
            runs = [(verb, rate, finish_h2load(*h, d)) for verb, rate, h in started]
        total = sum(r["requests"] for _, _, r in runs)
        for verb, rate, r in runs:
            results.append(Measured(
                f"{verb}_p99_half_load" + ("_mixed" if mixed else ""),
                r["latency_ms"]["p99"], "ms",
                f"h2load --rps, 50 conns, {rate}/s asked, {r['rate']:.0f}/s done, "
                f"{r['requests'] - r['ok']} non-2xx" + (", GET+create together" if mixed else ""),
                {"latency_ms": r["latency_ms"], "codes": r["codes"], **cpu.describe(total)}))
    return results


def bench_list(server: Server, args: argparse.Namespace, workdir: Path) -> list[Measured]:
    client = Client(server)
    client.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                         "metadata": {"name": "bench-list"}})
    url = f"{server.url}/api/v1/namespaces/bench-list/pods"
    with CpuMeter(server) as cpu:
        rate = h2load_bulk(url, workdir, "pods", count=args.pods, clients=32,
                           body=pod(generate_name="pod-"))
    status, data = client.request("GET", "/api/v1/namespaces/bench-list/pods?limit=1")
    results = [Measured("pod_create_bulk", rate, "req/s",
                        f"h2load -n {args.pods} -c32 pod POSTs (generateName)",
                        cpu.describe(args.pods))]

    def timed(path: str, accept: str = "application/json") -> tuple[float, int, int]:
        """Median curl time_total (new TLS connection each time, ~2 ms on loopback)."""
        times = []
        size = 0
        for _ in range(args.list_repeats):
            out = subprocess.run(
                ["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code} %{time_total} "
                 "%{size_download}", "-H", AUTH, "-H", f"Accept: {accept}",
                 server.url + path], capture_output=True, text=True, check=True,
                preexec_fn=_prioritize).stdout.split()
            if out[0] != "200":
                raise RuntimeError(f"LIST {path}: {out}")
            times.append(float(out[1]))
            size = int(out[2])
        status, data = client.request("GET", path, accept=accept)
        doc = orjson.loads(data)
        items = len(doc.get("items", doc.get("rows", [])))
        times.sort()
        return times[len(times) // 2], size, items

    table = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    for name, path, accept in (
            ("list_10k_pods", "/api/v1/namespaces/bench-list/pods", "application/json"),
            ("list_10k_pods_table", "/api/v1/namespaces/bench-list/pods", table),
            ("list_10k_pods_selector",
             "/api/v1/namespaces/bench-list/pods?labelSelector=app%3Dbench,tier%3Dweb",
             "application/json")):
        with CpuMeter(server) as cpu:
            median, size, items = timed(path, accept)
        results.append(Measured(name, median, "s",
                                f"median of {args.list_repeats}, {items} items, "
                                f"{size / 1e6:.1f} MB, accept "
                                f"{'Table' if 'Table' in accept else 'JSON'}",
                                cpu.describe(args.list_repeats)))
    # kubectl get pods: Table pages of 500 until the continue token runs out
    times = []
    for _ in range(args.list_repeats):
        started = time.perf_counter()
        token, pages = "", 0
        while True:
            path = "/api/v1/namespaces/bench-list/pods?limit=500"
            if token:
                path += f"&continue={token}"
            status, data = client.request("GET", path, accept=table)
            pages += 1
            token = orjson.loads(data)["metadata"].get("continue", "")
            if not token:
                break
        times.append(time.perf_counter() - started)
    times.sort()
    results.append(Measured("list_10k_pods_kubectl_pages", times[len(times) // 2], "s",
                            f"median of {args.list_repeats}, {pages} Table pages of 500 "
                            "(what kubectl get pods does), one keep-alive connection"))
    return results


# ---------------------------------------------------------------------------- report

def verdict(m: Measured) -> str:
    base = m.name.removesuffix("_mixed")
    if base not in TARGETS:
        return ""
    target, unit, op = TARGETS[base]
    ratio = m.value / target
    ok = ratio <= 1 if op == "<=" else ratio >= 1
    return f"{op} {target:g} {unit}  {'PASS' if ok else 'FAIL'} ({ratio:.2f}x)"


def print_table(info: dict[str, str], results: list[Measured]) -> None:
    print()
    for k, v in info.items():
        print(f"{k:>18}: {v}")
    print()
    print(f"{'benchmark':<30} {'value':>12}  {'target':<28} detail")
    for m in results:
        value = f"{m.value:,.3f} {m.unit}" if m.unit in ("s",) else f"{m.value:,.1f} {m.unit}"
        print(f"{m.name:<30} {value:>12}  {verdict(m):<28} {m.detail}")
        if m.extra:
            print(f"{'':<30} {'':>12}  {'':<28} {json.dumps(m.extra)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10, help="seconds per wrk run")
    parser.add_argument("--half-duration", type=float, default=15,
                        help="seconds per fixed-rate run")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections")
    parser.add_argument("--pods", type=int, default=10_000, help="pods for the LIST test")
    parser.add_argument("--list-repeats", type=int, default=5)
    parser.add_argument("--only", default="",
                        help="comma list of: start,rss,get,create,half,mixed,list,restart")
    parser.add_argument("--nice", type=int, default=-10,
                        help="niceness increment for server and load tools (0: leave it)")
    parser.add_argument("--gc", choices=("default", "threshold", "freeze"), default=None,
                        help="run the server under bench/gc_pauses.py with this GC setting "
                             "and report GC pauses per benchmark")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    parser.add_argument("--server-arg", action="append", default=[],
                        help="extra kubepy server flag, e.g. --server-arg=--apiserver-workers=2")
    args = parser.parse_args()
    SERVER_ARGS.extend(args.server_arg)
    global NICE
    NICE = args.nice
    only = set(filter(None, args.only.split(","))) or {
        "start", "rss", "get", "create", "half", "mixed", "list", "restart"}
    for tool in ("wrk", "h2load"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing: apt-get install wrk nghttp2-client")

    info = machine()
    info["priority"] = (f"server and load tools at nice {args.nice}" if args.nice
                        else "default")
    workdir = Path(tempfile.mkdtemp(prefix="kubepy-bench-"))
    token_file = workdir / "tokens.csv"
    token_file.write_text(f'{TOKEN},bench,1000,"system:masters"\n')
    server = Server(workdir / "data", token_file, gc_mode=args.gc or "")
    if args.gc:
        info["gc"] = f"server run under bench/gc_pauses.py --gc {args.gc}"
    results: list[Measured] = []
    try:
        ready = server.start()
        results.append(Measured("start_to_readyz", ready, "s",
                                "fresh data dir: PKI generation, empty store, bootstrap"))
        print(f"server pid {server.pid} at {server.url}, ready in {ready:.2f}s",
              file=sys.stderr)
        if "rss" in only or "start" in only:
            time.sleep(5)
            results.append(Measured("idle_rss", server.rss_mb(), "MB",
                                    "VmRSS 5 s after ready, no clients"))
        client = Client(server)
        client.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                             "metadata": {"name": "bench"}})
        client.create("/api/v1/namespaces/bench/pods", pod("get-target"))
        steps = [("get", lambda: [bench_get(server, args)]),
                 ("create", lambda: [bench_create(server, args)]),
                 ("half", lambda: bench_half_load(server, args, workdir, mixed=False)),
                 ("mixed", lambda: bench_half_load(server, args, workdir, mixed=True)),
                 ("list", lambda: bench_list(server, args, workdir))]
        for key, step in steps:
            if key in only:
                print(f"running {key} (load average {os.getloadavg()[0]:.2f})",
                      file=sys.stderr)
                results.extend(step())
        rss_loaded = server.rss_mb()
        results.append(Measured("rss_after_load", rss_loaded, "MB",
                                "VmRSS after the runs above (objects in the watch cache)"))
        if "restart" in only:
            server.stop()
            ready = server.start()
            results.append(Measured("restart_to_readyz", ready, "s",
                                    "same data dir, with every object created above"))
            time.sleep(5)
            results.append(Measured("rss_after_restart", server.rss_mb(), "MB",
                                    "VmRSS 5 s after the restart, no clients"))
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    info["loadavg_at_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print_table(info, results)
    if args.json:
        args.json.write_text(json.dumps(
            {"machine": info, "results": [m.__dict__ | {"verdict": verdict(m)} for m in results]},
            indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
