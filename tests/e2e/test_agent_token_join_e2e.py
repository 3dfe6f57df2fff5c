"""``kubepy agent --server URL --token TOKEN`` as a real node (root), joined the k3s way: a
``kubepy server --disable-agent --token S`` (controllers and scheduler on, a private cluster
CIDR) and an agent given only the server URL and a token, no kubeconfig.

- A token whose CA hash is not the server's is refused: the agent exits non-zero saying so,
  registers no node and sets up nothing on the host.
- The server's ``<data-dir>/token`` (``K10<sha256 of /cacerts>::server:S``) joins: the node
  registers Ready with a podCIDR, a pod runs to completion with real kubectl 1.32, and
  ``kubectl logs`` reaches the kubelet API, whose client CA is the CA fetched from /cacerts.

Every host name is this run's (bridge ≤ 15 chars, CNI network, netns dir, cgroup parent,
free kubelet port, no service proxy); the safety net removes the containers, the network,
the mounts and the cgroups even when the test fails.
"""

from __future__ import annotations

import asyncio
import ctypes
import hashlib
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from tests.conftest import VENV_BIN, ServerProcess, kubectl_binaries, start_server
from kubepy.kubelet.network import NetNSManager
from kubepy.kubelet.runtime import cgroups
from kubepy.kubelet.runtime.runc import Runc
from test_kubelet_pods_e2e import _links, _mounts_under, _require
from tests.bundles import remove_runc_containers
from tests.images import IMAGE
from tests.nodes import AgentNode

Obj = dict[str, Any]

CLUSTER_CIDR = "10.219.0.0/16"
SECRET = "e2e-join-secret"
NODE = "join-e2e"
RUN = str(os.getpid())[-6:]


class TokenNode(AgentNode):
    """The agent of ``tests.nodes`` started with ``--token`` in place of ``--kubeconfig``."""

    def __init__(self, tmp: Path, server: ServerProcess) -> None:
        super().__init__(tmp, server, bridge=f"kpyjoin{RUN}", network=f"kubepy-e2e-join-{RUN}",
                         node=NODE, cgroup_parent=f"kubepy-join-e2e-{RUN}",
                         pod_cidr="10.219.0.0/24")

    def command(self, token: str) -> list[str]:
        return [str(VENV_BIN / "kubepy"), "agent", "--server", self.server.url,
                "--token", token, "--node-name", self.node, "--data-dir", str(self.data),
                "--bridge", self.bridge, "--cni-network-name", self.network_name,
                "--netns-dir", str(self.netns_dir), "--cgroup-parent", self.cgroup_parent,
                "--node-ip", "127.0.0.1", "--kubelet-port", "0", "--disable-kube-proxy",
                "--log-level", "DEBUG"]

    def join(self, token: str) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.command(token), stdout=log,
                                         stderr=subprocess.STDOUT)


def kubectl(server: ServerProcess, *args: str, check: bool = True) -> str:
    r = subprocess.run([str(kubectl_binaries()["1.32"]), "--kubeconfig",
                        str(server.kubeconfig), *args],
                       capture_output=True, text=True, timeout=60)
    if check and r.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)}: {r.stderr}")
    return r.stdout


def wait_for(node: TokenNode, what: str, fn: Callable[[], Any], timeout: float = 40) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if node.proc is not None and node.proc.poll() is not None:
            raise AssertionError(f"agent exited {node.proc.returncode}:\n{node.log()}")
        try:
            got = fn()
        except (AssertionError, KeyError, json.JSONDecodeError):
            got = None
        if got:
            return got
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}\n--- agent log:\n"
                         f"{node.log()[-6000:]}\n--- server log:\n"
                         f"{node.server.log()[-3000:]}")


async def _safety_net(n: TokenNode) -> list[str]:
    """What the agent made: containers, network (before the mounts: CNI DEL enters the
    pinned netns), mounts, cgroups; nothing of other runs."""
    problems: list[str] = []
    if (n.agent_dir / "runc").exists():
        problems += await remove_runc_containers(Runc(str(n.agent_dir / "runc")))
    problems += await n.network().cleanup_all(NetNSManager(str(n.netns_dir)))
    for point in reversed(_mounts_under(str(n.tmp))):
        ctypes.CDLL(None, use_errno=True).umount2(point.encode(), 2)
    problems += cgroups.remove_cgroup(n.cgroup_parent)
    return problems


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    _require()
    if "1.32" not in kubectl_binaries():
        pytest.fail("kubectl 1.32 not found")
    s = start_server(tmp_path_factory.mktemp("join-server"),
                     extra=["--cluster-cidr", CLUSTER_CIDR, "--token", SECRET])
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def node(server: ServerProcess, tmp_path: Path) -> Iterator[TokenNode]:
    n = TokenNode(tmp_path, server)
    try:
        n.import_busybox_image()
        yield n
    finally:
        n.stop_agent()
        kubectl(server, "delete", "node", NODE, "--ignore-not-found", check=False)
        problems = asyncio.run(_safety_net(n))
        assert problems == []
        assert n.bridge not in _links()
        assert _mounts_under(str(tmp_path)) == []


def _ready(node_obj: Obj) -> bool:
    return bool(node_obj["spec"].get("podCIDR")) and any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in node_obj["status"].get("conditions") or [])


def test_wrong_ca_hash_is_refused(node: TokenNode) -> None:
    wrong = f"K10{hashlib.sha256(b'not this cluster').hexdigest()}::server:{SECRET}"
    r = subprocess.run(node.command(wrong), capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "refusing to join" in r.stderr and "does not match the token's CA hash" in r.stderr, \
        r.stderr
    assert kubectl(node.server, "get", "nodes", "-o", "name").strip() == ""
    assert node.bridge not in _links()
    assert not (node.agent_dir / "runc").exists()


def test_agent_joins_with_the_server_token_and_runs_a_pod(node: TokenNode) -> None:
    server = node.server
    ca = (server.data_dir / "tls" / "ca.crt").read_bytes()
    token = (server.data_dir / "token").read_text().strip()
    assert token == f"K10{hashlib.sha256(ca).hexdigest()}::server:{SECRET}"
    node.join(token)

    got = wait_for(node, "the node to be Ready with a podCIDR", lambda: (
        lambda n: n if _ready(n) else None)(
        json.loads(kubectl(server, "get", "node", NODE, "-o", "json"))))
    assert got["status"]["addresses"][0] == {"type": "InternalIP", "address": "127.0.0.1"}
    assert "names no CA hash" not in node.log()  # the secure token: no trust-on-first-use

    kubectl(server, "run", "joined", f"--image={IMAGE}", "--restart=Never", "--",
            "sh", "-c", "echo hello from a joined node")
    pod = wait_for(node, "the pod to finish", lambda: (
        lambda p: p if p["status"].get("phase") in ("Succeeded", "Failed") else None)(
        json.loads(kubectl(server, "get", "pod", "joined", "-o", "json"))))
    assert pod["status"]["phase"] == "Succeeded", json.dumps(pod["status"])
    assert pod["spec"]["nodeName"] == NODE
    # the apiserver reaches the kubelet API with its client certificate: the agent trusts
    # the CA it fetched from /cacerts
    assert kubectl(server, "logs", "joined") == "hello from a joined node\n"
    kubectl(server, "delete", "pod", "joined", "--wait=true", "--timeout=30s")
    assert node.stop_agent() == 0, node.log()
