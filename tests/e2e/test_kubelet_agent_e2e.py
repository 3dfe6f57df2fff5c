"""``kubepy agent`` as a real node (root): a ``kubepy server`` (controllers and scheduler on,
no agent) with a private cluster CIDR, the agent started as a process with its own bridge,
and real kubectl 1.32: a run-to-completion pod reaches Succeeded with exit code 0 and a pod IP
from the node's podCIDR; a long-running pod reaches Running and Ready, and ``kubectl delete``
stops its containers and tears its network down. At the end nothing is left: no runc
container, mount, netns, veth or pod iptables chain; after the agent stops, the network
cleanup (killall's part) removes the bridge and the nat rules are as before.

The image is built from busybox-static (``tests.images.build_busybox_image``) and
imported into the agent's image store before the agent starts.
"""

from __future__ import annotations

import asyncio
import ctypes
import ipaddress
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

import pytest

from tests.conftest import ServerProcess, kubectl_binaries, start_server
from kubepy.kubelet.network import NetNSManager
from kubepy.kubelet.runtime import cgroups
from kubepy.kubelet.runtime.runc import Runc
from test_kubelet_pods_e2e import _links, _mounts_under, _nat_state, _require
from tests.bundles import remove_runc_containers
from tests.images import IMAGE
from tests.nodes import AgentNode

Obj = dict[str, Any]

CLUSTER_CIDR = "10.247.0.0/16"
BRIDGE = "kpyagent0"
NETWORK = "kubepy-e2e-agent"
NODE = "agent-e2e"


def cni_nat_state(network: str = NETWORK) -> set[str]:
    """The nat rules the CNI plugins made for pods of *network* (their comment names it);
    rules of other networks and the service proxy's, which concurrently running servers and
    agents own, are left out."""
    tag = f'name: \\"{network}\\"'
    return {r for r in _nat_state() if tag in r}


def bridge_ports(bridge: str) -> list[str]:
    """The veths still attached to *bridge* (empty when it is gone)."""
    r = subprocess.run(["ip", "-o", "link", "show", "master", bridge], capture_output=True,
                       text=True)
    return [line.split(":")[1].strip().split("@")[0] for line in r.stdout.splitlines()]


class Cluster(AgentNode):
    """The node of ``tests.nodes`` (this file's names by default) with kubectl 1.32."""

    def __init__(self, tmp: Path, server: ServerProcess, *, bridge: str = BRIDGE,
                 network: str = NETWORK, node: str = NODE, pod_cidr: str = "10.247.0.0/24",
                 cgroup_parent: str | None = None, agent_args: Sequence[str] = ()) -> None:
        super().__init__(tmp, server, bridge=bridge, network=network, node=node,
                         cgroup_parent=cgroup_parent or f"kubepy-agent-e2e-{os.getpid()}",
                         pod_cidr=pod_cidr, agent_args=agent_args)
        versions = kubectl_binaries()
        if "1.32" not in versions:
            pytest.fail(f"kubectl 1.32 not found (have {sorted(versions)})")
        self.kubectl_bin = str(versions["1.32"])

    def kubectl(self, *args: str, check: bool = True) -> str:
        r = subprocess.run([self.kubectl_bin, "--kubeconfig", str(self.server.kubeconfig),
                            *args], capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)}: {r.stderr}\n--- agent log:\n"
                                 f"{self.log()[-4000:]}")
        return r.stdout

    def get(self, *args: str) -> Obj:
        return json.loads(self.kubectl("get", *args, "-o", "json"))

    def wait_for(self, what: str, fn: Any, timeout: float = 30,
                 describe: Any = None) -> Any:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"agent exited {self.proc.returncode}:\n{self.log()}")
            try:
                last = fn()
            except AssertionError:
                last = None
            if last:
                return last
            time.sleep(0.2)
        if describe is not None:
            what = f"{what} ({describe()})"
        raise AssertionError(f"timed out waiting for {what}\n--- agent log:\n"
                             f"{self.log()[-6000:]}\n--- server log:\n"
                             f"{self.server.log()[-3000:]}")


async def _safety_net(c: Cluster) -> list[str]:
    """killall for what the test made: containers, mounts, network, cgroups."""
    problems: list[str] = []
    if (c.agent_dir / "runc").exists():
        problems += await remove_runc_containers(Runc(str(c.agent_dir / "runc")))
    # the network first: its CNI DEL needs the pinned netns mounts still in place
    problems += await c.network().cleanup_all(NetNSManager(c.netns_dir))
    for point in reversed(_mounts_under(str(c.tmp))):
        ctypes.CDLL(None, use_errno=True).umount2(point.encode(), 2)
    problems += cgroups.remove_cgroup(c.cgroup_parent)
    return problems


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    _require()
    nat_before = cni_nat_state()
    ip_forward_before = Path("/proc/sys/net/ipv4/ip_forward").read_text()
    server = start_server(tmp_path / "server", extra=["--cluster-cidr", CLUSTER_CIDR])
    c = Cluster(tmp_path, server)
    try:
        c.import_busybox_image()
        yield c
    finally:
        c.stop_agent()
        server.stop()
        problems = asyncio.run(_safety_net(c))
        assert problems == []
        assert cni_nat_state() == nat_before
        assert BRIDGE not in _links()
        assert Path("/proc/sys/net/ipv4/ip_forward").read_text() == ip_forward_before
        assert _mounts_under(str(tmp_path)) == []


def _conditions(pod: Obj) -> dict[str, str]:
    return {c["type"]: c["status"] for c in pod["status"].get("conditions") or []}


def test_agent_runs_pods_for_kubectl(cluster: Cluster) -> None:
    c = cluster
    nat_before = cni_nat_state()
    c.start_agent()

    node = c.wait_for("the node to be Ready with a podCIDR", lambda: (
        lambda n: n if n["spec"].get("podCIDR") and _conditions(n).get("Ready") == "True"
        else None)(c.get("node", NODE)))
    pod_cidr = ipaddress.ip_network(node["spec"]["podCIDR"])
    assert pod_cidr.subnet_of(ipaddress.ip_network(CLUSTER_CIDR))
    info = node["status"]["nodeInfo"]
    assert info["containerRuntimeVersion"].startswith("runc://")
    assert info["kernelVersion"] == os.uname().release
    assert node["status"]["capacity"]["pods"] == "110"
    assert any(IMAGE in i["names"] and i["sizeBytes"] > 0 for i in node["status"]["images"])
    assert int(node["status"]["capacity"]["cpu"]) >= 1
    assert node["status"]["addresses"][0] == {"type": "InternalIP", "address": "127.0.0.1"}
    lease = c.get("lease", NODE, "-n", "kube-node-lease")
    assert lease["spec"]["holderIdentity"] == NODE

    # a pod that runs to completion
    c.kubectl("run", "bb", f"--image={IMAGE}", "--restart=Never", "--",
              "sh", "-c", "echo hello; sleep 1")
    bb = c.wait_for("bb to succeed", lambda: (
        lambda p: p if p["status"].get("phase") in ("Succeeded", "Failed") else None)(
        c.get("pod", "bb")), timeout=40)
    assert bb["status"]["phase"] == "Succeeded", json.dumps(bb["status"])
    term = bb["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (0, "Completed")
    assert ipaddress.ip_address(bb["status"]["podIP"]) in pod_cidr
    assert bb["status"]["hostIP"] == "127.0.0.1"
    conds = _conditions(bb)
    assert conds["PodScheduled"] == "True" and conds["Initialized"] == "True"
    assert conds["Ready"] == "False" and conds["ContainersReady"] == "False"
    assert conds["PodReadyToStartContainers"] == "False"  # sandbox released once finished
    want_events = {("Pulled", 'Container image "docker.io/library/busybox:e2e" already present '
                              'on machine'), ("Created", "Created container: bb"),
                   ("Started", "Started container bb")}
    c.wait_for("bb's kubelet events", lambda: want_events <= {
        (e["reason"], e["message"]) for e in c.get(
            "events", "--field-selector", "involvedObject.name=bb")["items"]
        if e["source"].get("component") == "kubelet"})
    log_files = list((c.agent_dir / "logs").glob(f"default_bb_*/bb/0.log"))
    assert len(log_files) == 1
    # the CRI log format conmon writes: <RFC3339Nano> <stream> <P|F> <text>
    lines = [line.split(" ", 3) for line in log_files[0].read_text().splitlines()]
    assert [(stream, tag, text) for _, stream, tag, text in lines] == [
        ("stdout", "F", "hello")]
    assert lines[0][0].endswith("Z") or "+" in lines[0][0]

    # a long-running pod: Running and Ready, then deleted
    c.kubectl("run", "sleeper", f"--image={IMAGE}", "--restart=Never", "--",
              "sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait")
    sl = c.wait_for("sleeper to be Ready", lambda: (
        lambda p: p if _conditions(p).get("Ready") == "True" else None)(
        c.get("pod", "sleeper")), timeout=40)
    assert sl["status"]["phase"] == "Running"
    assert set(_conditions(sl).values()) == {"True"}
    assert ipaddress.ip_address(sl["status"]["podIP"]) in pod_cidr
    runc = Runc(str(c.agent_dir / "runc"))
    assert len(asyncio.run(runc.list())) == 2  # the sandbox and the container
    assert len(NetNSManager(c.netns_dir).names()) == 1

    started = time.monotonic()
    c.kubectl("delete", "pod", "sleeper", "--wait=true", "--timeout=30s")
    assert time.monotonic() - started < 15
    assert "sleeper" not in c.kubectl("get", "pods", "-o", "name")
    c.kubectl("delete", "pod", "bb", "--wait=true", "--timeout=30s")
    assert c.kubectl("get", "pods", "-o", "name").strip() == ""

    # nothing of the pods is left while the agent still runs
    assert asyncio.run(runc.list()) == []
    assert _mounts_under(str(c.tmp)) == []
    assert NetNSManager(c.netns_dir).names() == []
    assert not list((c.agent_dir / "pods").iterdir())
    assert bridge_ports(BRIDGE) == [], "veths left behind"
    nat_now = cni_nat_state()
    assert [r for r in nat_now - nat_before if "CNI-" in r and "HOSTPORT" not in r] == []

    assert c.stop_agent() == 0, c.log()
    # killall's network part: the bridge (node-level, kept by a stopping agent) goes
    problems = asyncio.run(c.network().cleanup_all(NetNSManager(c.netns_dir)))
    assert problems == []
    assert BRIDGE not in _links()
    assert cgroups.remove_cgroup(c.cgroup_parent) == []
