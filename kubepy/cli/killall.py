"""``kubepy killall``: k3s-killall.sh's role — stop everything kubepy runs on this machine
for one data dir and remove what it set up, so the machine is as before (the data dir's
contents, images and the store, stay).

In order: the kubepy processes of the data dir (``kubepy server`` and its children, or a
``kubepy agent``; SIGTERM, SIGKILL after a grace) — so nothing restarts what follows; every
pod container (the conmon monitors of the data dir, the runc containers in the agent's runc
root, any process left in the pods' cgroup parent); the pod network (CNI DEL of every
cached attachment: veths, portmap chains; the bridge, the host-local leases, the network
namespaces in the netns dir); the mounts under the data dir; the service proxy's KUBEPY-*
chains and jumps; the pods' cgroups. Names come from the same flags and defaults as
``kubepy agent``, so a test can clean exactly what it made. Safe to run repeatedly.

``kubepy_processes`` and ``mounts_under`` are the pure parts (tested by tables).
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import os
import signal
import time
from pathlib import Path
from typing import Iterable, Mapping

from kubepy.cli.common import default_data_dir

MNT_DETACH = 2
STOP_GRACE = 10.0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("killall", help="stop kubepy and remove its containers, mounts, "
                       "network and iptables rules (as k3s-killall.sh)")
    p.add_argument("--data-dir", "-d", type=Path, default=None)
    p.add_argument("--bridge", default="kubepy0")
    p.add_argument("--cni-network-name", default="kubepy")
    p.add_argument("--cni-bin-dir", default="/usr/lib/cni")
    p.add_argument("--netns-dir", default="/run/kubepy/netns")
    p.add_argument("--cgroup-parent", default="kubepy")
    p.add_argument("--keep-processes", action="store_true",
                   help="do not stop the kubepy processes (only clean up)")


# ---------------------------------------------------------------------------- pure

def is_kubepy_command(argv: list[str]) -> bool:
    """``kubepy <sub>`` or ``python -m kubepy.cli.main <sub>`` (not ``kubepy killall``)."""
    if "killall" in argv:
        return False
    return any(a == "kubepy.cli.main" or os.path.basename(a) == "kubepy" for a in argv[:3])


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def kubepy_processes(cmdlines: Mapping[int, list[str]], data_dir: str,
                     default_dir: bool = False) -> list[int]:
    """The pids of kubepy processes of ``data_dir``: an argument names a path in it (the
    ``--data-dir`` or a kubeconfig under it), or — for the default data dir — none names a
    data dir at all."""
    out = []
    for pid, argv in cmdlines.items():
        if not is_kubepy_command(argv):
            continue
        names_dir = any(_under(a, data_dir) for a in argv)
        gives_dir = any(a in ("--data-dir", "-d") or a.startswith("--data-dir=") for a in argv)
        if names_dir or (default_dir and not gives_dir and
                         not any(a == "--kubeconfig" for a in argv)):
            out.append(pid)
    return sorted(out)


def monitors_of(cmdlines: Mapping[int, list[str]], root: str) -> list[int]:
    """conmon processes whose command line names a path under ``root``."""
    return sorted(pid for pid, argv in cmdlines.items()
                  if argv and os.path.basename(argv[0]) == "conmon"
                  and any(_under(a.partition("=")[2] or a, root) for a in argv))


def mounts_under(mountinfo: str, root: str) -> list[str]:
    """Mount points at or below ``root``, deepest (latest) first."""
    points = []
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) > 4:
            point = fields[4].replace("\\040", " ")
            if _under(point, root):
                points.append(point)
    return list(reversed(points))


# ---------------------------------------------------------------------------- I/O

def cmdlines() -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            raw = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if raw:
            out[int(entry)] = [a.decode(errors="replace") for a in raw.rstrip(b"\0").split(b"\0")]
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is as good as gone
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def terminate(pids: Iterable[int], grace: float) -> list[int]:
    """SIGTERM, then SIGKILL what is left after ``grace`` seconds; the pids signalled."""
    pids = list(pids)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in pids:
        if _alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    return pids


def _kill_now(pids: Iterable[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def cgroup_processes(cgroup_parent: str) -> list[int]:
    """Processes whose cgroup (any hierarchy) lies under ``cgroup_parent``."""
    rel = "/" + cgroup_parent.strip("/")
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            lines = Path(f"/proc/{entry}/cgroup").read_text().splitlines()
        except OSError:
            continue
        if any(_under(line.split(":", 2)[-1], rel) for line in lines):
            out.append(int(entry))
    return out


def unmount_all(root: str) -> list[str]:
    """Detach every mount under ``root``; the ones that failed."""
    libc = ctypes.CDLL(None, use_errno=True)
    failed = []
    with open("/proc/self/mountinfo") as f:
        points = mounts_under(f.read(), root)
    for point in points:
        if libc.umount2(point.encode(), MNT_DETACH) != 0 and ctypes.get_errno() not in (22, 2):
            failed.append(f"umount {point}: {os.strerror(ctypes.get_errno())}")
    return failed


async def remove_containers(runc_root: Path) -> list[str]:
    from kubepy.kubelet.runtime.runc import Runc, RuncError

    if not runc_root.is_dir():
        return []
    runc = Runc(str(runc_root))
    problems = []
    for state in await runc.list():
        if state.pid:
            _kill_now([state.pid])
        try:
            await runc.delete(state.id, force=True)
        except RuncError as e:
            problems.append(str(e))
    return problems


async def killall(*, data_dir: Path, bridge: str, network: str, cni_bin_dir: str,
                  netns_dir: str, cgroup_parent: str, stop_processes: bool = True,
                  default_dir: bool = False) -> list[str]:
    """Everything ``kubepy killall`` does; the problems met (empty: all gone)."""
    from kubepy.kubelet.network import NetNSManager, PodNetwork, build_conflist
    from kubepy.kubelet.runtime import cgroups
    from kubepy.proxy import apply

    problems: list[str] = []
    root = str(data_dir)
    agent_dir = data_dir / "agent"
    if stop_processes:
        terminate(kubepy_processes(cmdlines(), root, default_dir), STOP_GRACE)
    _kill_now(monitors_of(cmdlines(), str(agent_dir)))
    problems += await remove_containers(agent_dir / "runc")
    for _ in range(3):  # pods' processes (and what they forked) in our cgroups
        left = cgroup_processes(cgroup_parent)
        if not left:
            break
        _kill_now(left)
        time.sleep(0.2)
    # the network before the mounts: CNI DEL enters the pods' pinned network namespaces
    conf = build_conflist(pod_cidr="10.42.0.0/24", name=network, bridge=bridge,
                          ipam_data_dir=str(agent_dir / "cni" / "ipam"))
    net = PodNetwork(cni_bin_dir, conf, agent_dir / "cni")
    problems += await net.cleanup_all(NetNSManager(netns_dir))
    problems += unmount_all(root)
    await apply.cleanup()
    problems += [f"cgroup {d} still has processes"
                 for d in cgroups.remove_cgroup(cgroup_parent)]
    return problems


def run(args: argparse.Namespace) -> int:
    if os.geteuid() != 0:
        print("kubepy killall: must run as root", flush=True)
        return 1
    data_dir = (args.data_dir or default_data_dir()).resolve()
    problems = asyncio.run(killall(
        data_dir=data_dir, bridge=args.bridge, network=args.cni_network_name,
        cni_bin_dir=args.cni_bin_dir, netns_dir=args.netns_dir,
        cgroup_parent=args.cgroup_parent, stop_processes=not args.keep_processes,
        default_dir=args.data_dir is None))
    for p in problems:
        print(f"kubepy killall: {p}", flush=True)
    print(f"kubepy killall: {'done' if not problems else 'done with problems'} "
          f"({data_dir})", flush=True)
    return 1 if problems else 0
