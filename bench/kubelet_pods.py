"""Kubelet speed: pod start latency and node agent memory on a real node (root).

Targets (issue 4, Speed): with the image present, one pod created -> Running (seen by a
watch) p50 <= 0.6 s; 30 pods created at once all Running with p99 <= 3 s; the node agent's
RSS with 30 pods; each step of the kubelet's path compared with a bare ``runc run``.

Phases (each prints the load average it ran under):

1. ``steps``: with no agent running, the pieces of the kubelet's pod start path timed
   separately in this process on uvloop (the agent's loop), each ``--runs`` times, wall time
   and CPU (this process + its reaped children): a bare ``runc run -d`` of the busybox
   rootfs (the baseline), netns pinning with lo up, CNI ADD (``PodNetwork.setup``, plugins
   timed one by one), the sandbox's ``runc create`` + ``runc start``, the overlay rootfs
   mount, ``conmon`` + ``runc create`` and ``runc start`` of the app container
   (``ConmonRunner``), one ``PUT pods/status``, and the teardown steps; then the cost of one
   exec from this process, the loop's way and ``network.process.run_process``'s.
2. ``single``: a real ``kubepy server --disable-agent`` and ``kubepy agent`` (own bridge,
   netns dir, cgroup parent, CIDR and data dir); ``--runs`` times: create a busybox
   ``sleep 3600`` pod, time to Running as a watch sees it (also to bound, to the agent's
   first status, to Ready); delete it and wait until the watch says DELETED.
3. ``burst``: ``--burst`` pods created at once; per pod time to Running, the CPU the agent
   (with its reaped children), the API server and the whole machine used until all ran; then
   the RSS of the agent, of its conmon processes and of the API server while they all run.

``--agent-loop asyncio`` runs the same agent with ``uvloop.install`` disabled (an experiment:
asyncio's subprocesses vfork, uvloop's fork the whole agent in the loop's thread).

Everything made is removed at the end, also on failure or Ctrl-C: runc containers of our own
runc roots, mounts under the temp dir, the CNI networks (veths, nat rules, bridges), netns
files, cgroups. ``--profile DIR`` records the agent with py-spy during the single runs and the
burst (raw collapsed stacks, ``DIR/agent-{single,burst}.txt``).

Usage: .venv/bin/python bench/kubelet_pods.py [--runs 20] [--burst 30] [--json out.json]
                                               [--only steps,single,burst] [--profile DIR]
                                               [--agent-loop uvloop|asyncio]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import os
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests" / "e2e")]

from kubepy.api.registry import Registry  # noqa: E402
from kubepy.client.rest import ApiClient  # noqa: E402
from kubepy.kubelet.images.store import ImageStore  # noqa: E402
from kubepy.kubelet.network import NetNSManager, PodNetwork, build_conflist  # noqa: E402
from kubepy.cli.common import install_uvloop  # noqa: E402
from kubepy.kubelet.network.invoke import PluginRunner  # noqa: E402
from kubepy.kubelet.network.process import run_process  # noqa: E402
from kubepy.kubelet.pods import snapshot  # noqa: E402
from kubepy.kubelet.runtime import cgroups  # noqa: E402
from kubepy.kubelet.runtime.bundle import write_bundle  # noqa: E402
from kubepy.kubelet.runtime.conmon import ConmonRunner  # noqa: E402
from kubepy.kubelet.runtime.runc import Runc, oom_score_adj_floor, stop  # noqa: E402
from kubepy.kubelet.runtime.sandbox import prepare_pause_rootfs  # noqa: E402
from kubepy.kubelet.runtime.spec import container_spec, sandbox_spec  # noqa: E402
from kubepy.kubelet.pods.worker import image_config_for_spec  # noqa: E402
from tests.conftest import VENV_BIN, ServerProcess, start_server  # noqa: E402
from tests.bundles import remove_runc_containers  # noqa: E402
from tests.images import IMAGE  # noqa: E402
from tests.nodes import AgentNode  # noqa: E402

Obj = dict[str, Any]
PODS = Registry().get("", "v1", "pods")
TAG = os.getpid()
CLUSTER_CIDR = "10.229.0.0/16"      # the agent's pods (node IPAM gives it a /24 of this)
STEPS_CIDR = "10.228.0.0/24"        # phase 1's own network
LABEL = {"bench": f"kubelet-{TAG}"}
CLK_TCK = os.sysconf("SC_CLK_TCK")


def load() -> str:
    return "load %.2f %.2f %.2f" % os.getloadavg()


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))
    return s[k]


def summary(values: list[float]) -> Obj:
    if not values:
        return {}
    return {"n": len(values), "p50": pct(values, 50), "p90": pct(values, 90),
            "p99": pct(values, 99), "max": max(values), "min": min(values),
            "mean": statistics.fmean(values)}


def fmt(s: Obj, unit: float = 1000.0, suffix: str = "ms") -> str:
    if not s:
        return "-"
    return (f"p50 {s['p50'] * unit:7.1f} p90 {s['p90'] * unit:7.1f} p99 {s['p99'] * unit:7.1f}"
            f" max {s['max'] * unit:7.1f} min {s['min'] * unit:7.1f} {suffix} (n={s['n']})")


def rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def agent_program(loop: str) -> list[str]:
    """The agent's program: the venv's ``kubepy`` (uvloop), or for loop "asyncio" the same
    agent with uvloop.install made a no-op (an experiment for the spawn cost: asyncio's
    subprocesses vfork, uvloop's fork)."""
    return [str(VENV_BIN / "kubepy")] if loop == "uvloop" else [
        sys.executable, "-c", "import sys, kubepy.cli.common as c; "
        "c.install_uvloop = lambda: None; from kubepy.cli.main import main; "
        "sys.exit(main())"]


def processes(match: Callable[[str, list[str]], bool]) -> list[int]:
    """Pids whose (comm, argv) match."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            comm = Path(f"/proc/{d}/comm").read_text().strip()
            argv = Path(f"/proc/{d}/cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if match(comm, argv):
            out.append(int(d))
    return out


def descendants(pid: int) -> list[int]:
    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                ppid = int(Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for k in kids.get(p, []):
            out.append(k)
            todo.append(k)
    return out


def mounts_under(path: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return [p for p in points if p == path or p.startswith(path + "/")]


def umount_all(path: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    for point in reversed(mounts_under(path)):
        libc.umount2(point.encode(), 2)


async def kill_runc_root(root: str) -> list[str]:
    """Stop and delete every container of one of *our* runc roots."""
    if not os.path.isdir(root):
        return []
    return await remove_runc_containers(Runc(root))
    return problems


# ---------------------------------------------------------------------------- phase 1

def cpu_seconds() -> float:
    """CPU time of this process and of its children waited for so far."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def proc_cpu(pid: int) -> float:
    """CPU seconds of *pid* plus its waited-for children (utime, stime, cutime, cstime)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / CLK_TCK


def machine_busy() -> float:
    """Busy CPU seconds of the whole machine (all cores) since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / CLK_TCK   # minus idle and iowait


@dataclass
class Steps:
    """Wall time and CPU time (this process and its reaped children: the runc, CNI plugin
    and iptables processes; not conmon's own child runc, which is not ours) per step."""

    samples: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)

    def add(self, name: str, seconds: float, cpu: float | None = None) -> None:
        self.samples.setdefault(name, []).append(seconds)
        if cpu is not None:
            self.cpu.setdefault(name, []).append(cpu)

    @contextlib.asynccontextmanager
    async def timed(self, name: str) -> AsyncIterator[None]:
        c, t = cpu_seconds(), time.perf_counter()
        yield
        self.add(name, time.perf_counter() - t, cpu_seconds() - c)


class TimedRunner(PluginRunner):
    """A PluginRunner that times each plugin exec."""

    def __init__(self, steps: Steps, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.steps = steps

    async def run(self, plugin_type: str, command: str, **kw: Any) -> Obj | None:
        t = time.perf_counter()
        try:
            return await super().run(plugin_type, command, **kw)
        finally:
            self.steps.add(f"cni {command} {plugin_type}", time.perf_counter() - t)


def bench_pod(name: str, uid: str | None = None) -> Obj:
    """The measured pod: busybox ``sleep 3600`` (with *uid* for the step-by-step phase,
    which plays the kubelet without an API object)."""
    meta: Obj = {"name": name, "namespace": "default", "labels": dict(LABEL)}
    if uid:
        meta["uid"] = uid
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"terminationGracePeriodSeconds": 1, "containers": [
                {"name": "c", "image": IMAGE, "command": ["sleep", "3600"]}]}}


async def phase_steps(tmp: Path, store: ImageStore, runs: int, server: ServerProcess) -> Obj:
    steps = Steps()
    image = store.get(IMAGE)
    assert image is not None, "image not imported"
    layers = [str(store.layer_dir(c)) for c in image["layers"]]
    runc = Runc(str(tmp / "steps-runc"))
    cg = f"kubepy-bench-steps-{TAG}"
    netns = NetNSManager(tmp / "steps-netns")
    conf = build_conflist(pod_cidr=STEPS_CIDR, name=f"kubepy-bench-s{TAG}",
                          bridge=f"kpbs{TAG % 100000}",
                          ipam_data_dir=str(tmp / "steps-cni" / "ipam"))
    network = PodNetwork("/usr/lib/cni", conf, tmp / "steps-cni",
                         runner=TimedRunner(steps, "/usr/lib/cni"))
    conmon = ConmonRunner(runc, str(tmp / "steps-conmon"))
    pause = prepare_pause_rootfs(str(tmp / "steps-pause"))
    client = ApiClient.from_kubeconfig(server.kubeconfig)
    oom_floor = oom_score_adj_floor()
    problems: list[str] = []
    try:
        # the status PUT target: a pod bound to a node nobody runs
        pod = bench_pod(f"status-{TAG}")
        pod["spec"]["nodeName"] = f"nobody-{TAG}"
        pod = await client.create(PODS, pod)
        for i in range(runs):
            # baseline: bare runc run -d of the same rootfs
            bdir = tmp / f"bare{i}"
            rootfs = snapshot.mount_rootfs(str(bdir), layers)
            spec = bare_spec(rootfs, f"/{cg}/bare{i}")
            write_bundle(str(bdir), spec)
            cid = f"bench-bare-{TAG}-{i}"
            # the container inherits stdio: a file, not a pipe that would never see EOF;
            # spawned with subprocess (vfork) so that only runc's own cost is measured
            with open(bdir / "out", "wb") as out:
                c, t = cpu_seconds(), time.perf_counter()
                r = await asyncio.to_thread(
                    subprocess.run, ["runc", "--root", runc.root_dir, "run", "-d",
                                     "--pid-file", str(bdir / "pid"), cid],
                    cwd=str(bdir), stdin=subprocess.DEVNULL, stdout=out, stderr=out)
                steps.add("bare runc run -d", time.perf_counter() - t, cpu_seconds() - c)
            if r.returncode:
                raise RuntimeError(f"runc run: {(bdir / 'out').read_text()}")
            await stop(runc, cid, int((bdir / "pid").read_text()), grace=0)
            await runc.delete(cid, force=True)
            snapshot.unmount(rootfs)

            # the kubelet's path, step by step
            uid = str(uuid.uuid4())
            p = bench_pod(f"steps{i}", uid)
            async with steps.timed("netns create + lo up"):
                ns_path = await netns.create(f"kubepy-{uid}")
            async with steps.timed("CNI ADD total (PodNetwork.setup)"):
                await network.setup(uid, "default", p["metadata"]["name"], ns_path, [])
            sid = secrets.token_hex(32)
            sb_dir = tmp / f"sb{i}"
            sb = sandbox_spec(p, sandbox_id=sid, rootfs=pause, cgroup_parent=cg,
                              oom_score_adj_floor=oom_floor)
            for ns in sb["linux"]["namespaces"]:
                if ns["type"] == "network":
                    ns["path"] = ns_path
            async with steps.timed("sandbox spec + bundle write"):
                write_bundle(str(sb_dir), sb)
            async with steps.timed("sandbox runc create"):
                sb_pid = await runc.create(sid, str(sb_dir), stdout_path=str(sb_dir / "log"),
                                           stderr_path=str(sb_dir / "log"))
            async with steps.timed("sandbox runc start"):
                await runc.start(sid)
            cid = secrets.token_hex(32)
            c_dir = tmp / f"c{i}"
            async with steps.timed("overlay rootfs mount"):
                os.makedirs(c_dir)
                rootfs = snapshot.mount_rootfs(str(c_dir), layers)
            async with steps.timed("container spec + bundle write"):
                cspec = container_spec(p, p["spec"]["containers"][0], container_id=cid,
                                       sandbox_id=sid, sandbox_pid=sb_pid,
                                       image_config=image_config_for_spec(image["config"]),
                                       rootfs=rootfs, cgroup_parent=cg,
                                       oom_score_adj_floor=oom_floor)
                write_bundle(str(c_dir), cspec)
            async with steps.timed("conmon + runc create"):
                await conmon.create(cid, str(c_dir), log_path=str(tmp / f"c{i}.log"))
            async with steps.timed("runc start (container)"):
                await conmon.start(cid)
            async with steps.timed("status PUT"):
                pod["status"] = {"phase": "Running", "message": f"run {i}"}
                pod = await client.update(PODS, pod, subresource="status")
            # teardown (timed too: it is on the delete path)
            async with steps.timed("teardown: conmon stop + remove"):
                await conmon.stop(cid, 0)
                await conmon.remove(cid)
            snapshot.unmount(rootfs)
            async with steps.timed("teardown: sandbox stop + delete"):
                await stop(runc, sid, sb_pid, grace=0)
                await runc.delete(sid, force=True)
            async with steps.timed("teardown: CNI DEL total"):
                await network.teardown(uid, "default", p["metadata"]["name"], ns_path)
            await netns.delete(f"kubepy-{uid}")
            shutil.rmtree(c_dir, ignore_errors=True)
            shutil.rmtree(sb_dir, ignore_errors=True)
            shutil.rmtree(bdir, ignore_errors=True)
        await client.delete(PODS, pod["metadata"]["name"], "default", grace_period_seconds=0)
    finally:
        await client.close()
        problems += await kill_runc_root(runc.root_dir)
        problems += await network.cleanup_all(netns)   # before the netns mounts go
        umount_all(str(tmp))
        problems += cgroups.remove_cgroup(cg)
        if problems:
            print("steps cleanup problems:", problems, file=sys.stderr)
    return {k: {**summary(v), "cpu_p50": pct(steps.cpu[k], 50) if k in steps.cpu else None}
            for k, v in steps.samples.items()}


def bare_spec(rootfs: str, cgroups_path: str) -> Obj:
    """``runc spec``'s default, running ``sleep 3600`` detached."""
    d = Path(tempfile.mkdtemp())
    try:
        subprocess.run(["runc", "spec"], cwd=d, check=True)
        spec = json.loads((d / "config.json").read_text())
    finally:
        shutil.rmtree(d)
    spec["root"] = {"path": rootfs, "readonly": False}
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["sleep", "3600"]
    spec["process"]["env"] = ["PATH=/bin"]
    spec["linux"]["cgroupsPath"] = cgroups_path
    return spec


# ---------------------------------------------------------------------------- phases 2, 3

class Node(AgentNode):
    """A real server plus a real agent (``tests.nodes``), with names of their own."""

    def __init__(self, tmp: Path, server: ServerProcess) -> None:
        super().__init__(tmp, server, bridge=f"kpb{TAG % 100000}",
                         network=f"kubepy-bench-{TAG}", node=f"bench-{TAG}",
                         cgroup_parent=f"kubepy-bench-{TAG}", pod_cidr="10.229.0.0/24",
                         agent_args=["--cluster-cidr", CLUSTER_CIDR])

    async def cleanup(self) -> list[str]:
        problems = await kill_runc_root(str(self.agent_dir / "runc"))
        for pid in processes(lambda comm, argv: comm == "conmon"
                             and any(str(self.agent_dir) in a for a in argv)):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        problems += await self.network().cleanup_all(NetNSManager(self.netns_dir))
        umount_all(str(self.tmp))
        problems += cgroups.remove_cgroup(self.cgroup_parent)
        return problems


class PodWatch:
    """One watch over the bench's pods: for each pod name, the monotonic time of the first
    event in which it was bound, had the agent's first status, was Running, was Ready, and
    was DELETED."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self.seen: dict[str, dict[str, float]] = {}
        self.changed = asyncio.Condition()
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        listing = await self.client.list(PODS, "default",
                                         label_selector=f"bench={LABEL['bench']}")
        rv = listing["metadata"]["resourceVersion"]
        self.task = asyncio.ensure_future(self._run(rv))

    async def _run(self, rv: str) -> None:
        async for ev in self.client.watch(PODS, "default", resource_version=rv,
                                          label_selector=f"bench={LABEL['bench']}"):
            now = time.monotonic()
            obj = ev.get("object") or {}
            name = (obj.get("metadata") or {}).get("name")
            if not name or ev.get("type") == "BOOKMARK":
                continue
            marks = self.seen.setdefault(name, {})
            status = obj.get("status") or {}
            if ev["type"] == "DELETED":
                marks.setdefault("deleted", now)
            if (obj.get("spec") or {}).get("nodeName"):
                marks.setdefault("bound", now)
            if status.get("hostIP") or status.get("containerStatuses"):
                marks.setdefault("agent", now)
            if status.get("phase") == "Running":
                marks.setdefault("running", now)
            if any(c.get("type") == "Ready" and c.get("status") == "True"
                   for c in status.get("conditions") or []):
                marks.setdefault("ready", now)
            async with self.changed:
                self.changed.notify_all()

    async def wait(self, names: list[str], mark: str, timeout: float) -> None:
        async def done() -> None:
            async with self.changed:
                await self.changed.wait_for(
                    lambda: all(mark in self.seen.get(n, {}) for n in names))
        await asyncio.wait_for(done(), timeout)

    def forget(self, names: list[str]) -> None:
        for n in names:
            self.seen.pop(n, None)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task


def marks_since(watch: PodWatch, name: str, t0: float) -> dict[str, float]:
    return {k: v - t0 for k, v in watch.seen.get(name, {}).items()}


@contextlib.contextmanager
def profiled(pid: int, out: Path | None) -> Any:
    if out is None:
        yield
        return
    proc = subprocess.Popen([str(VENV_BIN / "py-spy"), "record", "-p", str(pid), "-r", "200",
                             "--format", "raw", "-o", str(out), "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    try:
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def phase_single(node: Node, client: ApiClient, watch: PodWatch, runs: int) -> Obj:
    rows: list[dict[str, float]] = []
    deletes: list[float] = []
    for i in range(runs):
        name = f"single-{i}"
        t0 = time.monotonic()
        await client.create(PODS, bench_pod(name))
        await watch.wait([name], "running", 60)
        with contextlib.suppress(asyncio.TimeoutError):
            await watch.wait([name], "ready", 5)
        rows.append(marks_since(watch, name, t0))
        t1 = time.monotonic()
        await client.delete(PODS, name, "default")
        await watch.wait([name], "deleted", 60)
        deletes.append(time.monotonic() - t1)
        watch.forget([name])
    out = {m: summary([r[m] for r in rows if m in r])
           for m in ("bound", "agent", "running", "ready")}
    out["delete_to_gone"] = summary(deletes)
    return out


async def phase_burst(node: Node, server: ServerProcess, client: ApiClient, watch: PodWatch,
                      n: int) -> Obj:
    names = [f"burst-{i}" for i in range(n)]
    starts: dict[str, float] = {}

    async def create(name: str) -> None:
        starts[name] = time.monotonic()
        await client.create(PODS, bench_pod(name))

    assert node.proc is not None
    cpu0 = (proc_cpu(node.proc.pid), proc_cpu(server.proc.pid), machine_busy())
    t0 = time.monotonic()
    await asyncio.gather(*(create(n_) for n_ in names))
    await watch.wait(names, "running", 120)
    all_running = time.monotonic() - t0
    cpu1 = (proc_cpu(node.proc.pid), proc_cpu(server.proc.pid), machine_busy())
    with contextlib.suppress(asyncio.TimeoutError):
        await watch.wait(names, "ready", 10)
    rows = {nm: marks_since(watch, nm, starts[nm]) for nm in names}
    await asyncio.sleep(2)   # let the agent settle before reading memory
    assert node.proc is not None
    agent_rss = rss_kb(node.proc.pid)
    conmons = processes(lambda comm, argv: comm == "conmon"
                        and any(str(node.agent_dir) in a for a in argv))
    conmon_rss = sum(rss_kb(p) for p in conmons)
    server_pids = [server.proc.pid, *descendants(server.proc.pid)]
    server_rss = sum(rss_kb(p) for p in server_pids)
    agent_kids = [p for p in descendants(node.proc.pid) if p not in conmons]
    out: Obj = {m: summary([r[m] for r in rows.values() if m in r])
                for m in ("bound", "agent", "running", "ready")}
    out["all_running_s"] = all_running
    out["agent_cpu_s"] = cpu1[0] - cpu0[0]      # incl. its reaped children (runc, CNI, ...)
    out["server_cpu_s"] = cpu1[1] - cpu0[1]
    out["machine_busy_s"] = cpu1[2] - cpu0[2]   # all cores, everyone's
    out["agent_rss_mb"] = agent_rss / 1024
    out["conmon_count"] = len(conmons)
    out["conmon_rss_mb"] = conmon_rss / 1024
    out["agent_other_children"] = len(agent_kids)
    out["server_rss_mb"] = server_rss / 1024
    out["server_processes"] = len(server_pids)
    t1 = time.monotonic()
    await client.delete_collection(PODS, "default", label_selector=f"bench={LABEL['bench']}")
    await watch.wait(names, "deleted", 120)
    out["delete_all_s"] = time.monotonic() - t1
    watch.forget(names)
    return out


async def wait_node_ready(client: ApiClient, node: Node, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if node.proc is not None and node.proc.poll() is not None:
            raise RuntimeError(f"agent exited {node.proc.returncode}:\n"
                               f"{node.log_path.read_text()[-4000:]}")
        try:
            n = await client.get(Registry().get("", "v1", "nodes"), node.node)
            ready = any(c["type"] == "Ready" and c["status"] == "True"
                        for c in n.get("status", {}).get("conditions") or [])
            if ready and n["spec"].get("podCIDR"):
                return
        except Exception:  # noqa: BLE001 - not registered yet
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError("node not Ready in time")


async def phase_node(node: Node, runs: int, burst: int, only: set[str],
                     profile: Path | None) -> Obj:
    client = ApiClient.from_kubeconfig(node.server.kubeconfig)
    watch = PodWatch(client)
    out: Obj = {}
    try:
        await wait_node_ready(client, node)
        await watch.start()
        assert node.proc is not None
        # one warm-up pod (first pause rootfs copy, first bridge creation)
        await phase_single(node, client, watch, 1)
        if "single" in only:
            out["single_load_before"] = load()
            with profiled(node.proc.pid, profile / "agent-single.txt" if profile else None):
                out["single"] = await phase_single(node, client, watch, runs)
            out["single_load_after"] = load()
        if "burst" in only:
            out["burst_load_before"] = load()
            with profiled(node.proc.pid, profile / "agent-burst.txt" if profile else None):
                out["burst"] = await phase_burst(node, node.server, client, watch, burst)
            out["burst_load_after"] = load()
            out["agent_rss_idle_mb"] = rss_kb(node.proc.pid) / 1024
    finally:
        await watch.stop()
        await client.close()
    return out


# ---------------------------------------------------------------------------- main

def print_report(res: Obj) -> None:
    print(f"\n== kubelet pods bench ({res['when']}, {os.cpu_count()} cores, agent on "
          f"{res['args']['agent_loop']}) ==")
    base = None
    if "steps" in res:
        st = res["steps"]
        base = st["bare runc run -d"]["p50"]
        print(f"-- steps (no agent running; {res['steps_load']})  [x = p50 / bare runc run p50;"
              f" cpu = p50 CPU ms of this process + reaped children]")
        for name, s in st.items():
            cpu = f"cpu {s['cpu_p50'] * 1000:6.1f}" if s.get("cpu_p50") is not None else ""
            print(f"  {name:36s} {fmt(s)}  x{s['p50'] / base:5.2f} {cpu}")
    if "spawn" in res:
        sp = res["spawn"]
        print(f"-- one exec of /bin/true from a {sp['rss_mb']:.0f} MB process on "
              f"{res.get('loop')}")
        for name in ("loop create_subprocess_exec", "run_process (vfork, thread)"):
            print(f"  {name:36s} {fmt(sp[name])}  cpu {sp[name]['cpu_p50'] * 1000:5.2f}")
    if "single" in res:
        print(f"-- single pod, created -> watch ({res['single_load_before']} .. "
              f"{res['single_load_after']})")
        for m, s in res["single"].items():
            extra = f"  x{s['p50'] / base:5.1f} bare" if base and s else ""
            print(f"  {m:16s} {fmt(s)}{extra}")
    if "burst" in res:
        b = res["burst"]
        print(f"-- burst of {b['running'].get('n')} pods ({res['burst_load_before']} .. "
              f"{res['burst_load_after']})")
        for m in ("bound", "agent", "running", "ready"):
            print(f"  {m:16s} {fmt(b[m])}")
        print(f"  all Running after {b['all_running_s']:.2f} s; all deleted after "
              f"{b['delete_all_s']:.2f} s")
        print(f"  CPU until all Running: agent+children {b['agent_cpu_s']:.2f} s, API server "
              f"{b['server_cpu_s']:.2f} s; machine busy {b['machine_busy_s']:.2f} of "
              f"{b['all_running_s'] * (os.cpu_count() or 1):.2f} core-s")
        print(f"  agent RSS {b['agent_rss_mb']:.1f} MB + {b['conmon_count']} conmon "
              f"{b['conmon_rss_mb']:.1f} MB; API server RSS {b['server_rss_mb']:.1f} MB "
              f"({b['server_processes']} processes); agent RSS after delete "
              f"{res['agent_rss_idle_mb']:.1f} MB")


async def phase_spawn(n: int = 100) -> Obj:
    """The cost of starting one short program from this process, the loop's way
    (``asyncio.create_subprocess_exec``: a fork under uvloop) and the pod network's way
    (``network.process.run_process``: subprocess's vfork in a thread)."""
    out: Obj = {"rss_mb": rss_kb(os.getpid()) / 1024}

    async def loop_spawn() -> None:
        p = await asyncio.create_subprocess_exec("/bin/true", stdin=subprocess.DEVNULL,
                                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        await p.communicate()

    async def vfork_spawn() -> None:
        await run_process(["/bin/true"])

    for name, fn in (("loop create_subprocess_exec", loop_spawn),
                     ("run_process (vfork, thread)", vfork_spawn)):
        walls, cpus = [], []
        for _ in range(n):
            me = resource.getrusage(resource.RUSAGE_SELF)
            c, t = me.ru_utime + me.ru_stime, time.perf_counter()
            await fn()
            me = resource.getrusage(resource.RUSAGE_SELF)
            walls.append(time.perf_counter() - t)
            cpus.append(me.ru_utime + me.ru_stime - c)
        out[name] = {**summary(walls), "cpu_p50": pct(cpus, 50)}
    return out


async def run_steps(tmp: Path, runs: int, server: ServerProcess, store: ImageStore) -> Obj:
    return {"steps": await phase_steps(tmp, store, runs, server), "spawn": await phase_spawn()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--burst", type=int, default=30)
    ap.add_argument("--only", default="steps,single,burst")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--profile", type=Path, default=None,
                    help="directory for py-spy raw profiles of the agent")
    ap.add_argument("--log-level", default="INFO", help="the agent's log level")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    ap.add_argument("--agent-loop", choices=("uvloop", "asyncio"), default="uvloop",
                    help="the agent's event loop (asyncio: uvloop.install disabled)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root (runc, CNI, mounts)", file=sys.stderr)
        return 2
    only = set(args.only.split(","))
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="kpy-kbench-"))
    res: Obj = {"when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                "args": vars(args) | {"json": str(args.json), "profile": str(args.profile)}}
    server: ServerProcess | None = None
    node: Node | None = None
    problems: list[str] = []

    def on_term(*_: Any) -> None:
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    try:
        server = start_server(tmp / "server", extra=["--cluster-cidr", CLUSTER_CIDR])
        node = Node(tmp, server)
        store = node.import_busybox_image()
        if "steps" in only:
            res["steps_load"] = load()
            # on the agent's event loop (uvloop), so the runtime's execs cost what they cost
            # there; the baseline runc run is spawned with subprocess either way
            install_uvloop()
            res.update(asyncio.run(run_steps(tmp, args.runs, server, store)))
            res["loop"] = type(asyncio.get_event_loop_policy()).__module__
        if only & {"single", "burst"}:
            node.start_agent(log_level=args.log_level, program=agent_program(args.agent_loop))
            res.update(asyncio.run(phase_node(node, args.runs, args.burst, only,
                                              args.profile)))
    finally:
        if node is not None:
            node.stop_agent()
        if server is not None:
            server.stop()
        if node is not None:
            problems = asyncio.run(node.cleanup())
        umount_all(str(tmp))
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if problems:
        print("cleanup problems:", problems, file=sys.stderr)
    print_report(res)
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
