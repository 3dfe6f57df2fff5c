"""A real node for the root e2e tests and benches, in two shapes:

- ``AgentNode``: ``kubepy agent`` as a process of its own beside a ``kubepy server
  --disable-agent`` (``tests.conftest.start_server``);
- ``ServerNode``: ``kubepy server`` with its own agent, its host names given as the
  isolation flags (bridge, netns dir, cgroup parent) that ``kubepy killall`` takes too.

Every name the agent shares with the host is the caller's, so that tests of several engineers
run side by side: the bridge, the CNI network name, the node name, the cgroup parent; the data
dir (``<tmp>/agent-data``), netns dir (``<tmp>/netns``) and log (``<tmp>/agent.log``) live
under the caller's temp dir. The agent listens for the kubelet API on a free port
(``--kubelet-port 0``), says 127.0.0.1 is its node IP and runs no service proxy; *agent_args*
adds flags (e.g. ``--cluster-cidr``). ``network()`` is the agent's CNI network, for the
cleanup of what the agent leaves (``PodNetwork.cleanup_all``); the caller removes the rest.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from kubepy.kubelet.agent.node import default_node_ip
from kubepy.kubelet.images.archive import import_archive
from kubepy.kubelet.images.store import ImageStore
from kubepy.kubelet.network import PodNetwork, build_conflist
from tests.conftest import VENV_BIN, ServerProcess, start_server
from tests.images import build_busybox_image

CNI_BIN = "/usr/lib/cni"


class AgentNode:
    """One ``kubepy agent`` process of *server* and the host names it uses."""

    def __init__(self, tmp: Path, server: ServerProcess, *, bridge: str, network: str,
                 node: str, cgroup_parent: str, pod_cidr: str,
                 agent_args: Sequence[str] = ()) -> None:
        self.tmp, self.server = tmp, server
        self.bridge, self.network_name, self.node, self.pod_cidr = bridge, network, node, pod_cidr
        self.cgroup_parent = cgroup_parent
        self.agent_args = list(agent_args)
        self.data = tmp / "agent-data"
        self.agent_dir = self.data / "agent"
        self.netns_dir = tmp / "netns"
        self.log_path = tmp / "agent.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def import_busybox_image(self) -> ImageStore:
        """Build ``tests.images.IMAGE`` at ``<tmp>/layout`` and import it into the agent's
        image store (before the agent starts); returns the store."""
        layout = self.tmp / "layout"
        build_busybox_image(layout)
        store = ImageStore(self.agent_dir / "images")
        import_archive(store, layout)
        return store

    def start_agent(self, *, log_level: str = "DEBUG",
                    program: Sequence[str] | None = None) -> None:
        """Start the agent (*program* in place of the venv's ``kubepy``), its output appended
        to the log."""
        cmd = [*(program or [str(VENV_BIN / "kubepy")]), "agent", "--server", self.server.url,
               "--kubeconfig", str(self.server.kubeconfig), "--node-name", self.node,
               "--data-dir", str(self.data), "--bridge", self.bridge,
               "--cni-network-name", self.network_name, "--netns-dir", str(self.netns_dir),
               "--cgroup-parent", self.cgroup_parent, "--node-ip", "127.0.0.1",
               "--kubelet-port", "0", *self.agent_args,
               "--disable-kube-proxy", "--log-level", log_level]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)

    def stop_agent(self) -> int | None:
        """SIGTERM, SIGKILL after 15 s; the exit code (None if it never started)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return None if self.proc is None else self.proc.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def network(self) -> PodNetwork:
        """The agent's CNI network (the pod CIDR only finds the bridge and the IPAM dir)."""
        conf = build_conflist(pod_cidr=self.pod_cidr, name=self.network_name, bridge=self.bridge,
                              ipam_data_dir=str(self.agent_dir / "cni" / "ipam"))
        return PodNetwork(CNI_BIN, conf, self.agent_dir / "cni")


class ServerNode:
    """``kubepy server`` with its own agent under ``<tmp>/data``, on *bridge* and
    *cgroup_parent*; its node IP the host's default (``default_node_ip``)."""

    def __init__(self, tmp: Path, *, bridge: str, cgroup_parent: str) -> None:
        self.tmp = tmp
        self.data = tmp / "data"
        self.agent_dir = self.data / "agent"
        self.bridge = bridge
        self.netns_dir = str(tmp / "netns")
        self.cgroup_parent = cgroup_parent
        self.node_ip = default_node_ip("127.0.0.1")
        self.server: ServerProcess | None = None

    def isolation_flags(self) -> list[str]:
        return ["--bridge", self.bridge, "--netns-dir", self.netns_dir,
                "--cgroup-parent", self.cgroup_parent]

    def start(self, extra: Sequence[str]) -> ServerProcess:
        """Start the server (40 s to be ready) with *extra* flags and the isolation flags."""
        self.server = start_server(self.data, agent=True, timeout=40,
                                   extra=[*extra, *self.isolation_flags()])
        return self.server

    def killall(self) -> subprocess.CompletedProcess[str]:
        """``kubepy killall`` of the data dir and the isolation flags."""
        return subprocess.run([str(VENV_BIN / "kubepy"), "killall", "--data-dir",
                               str(self.data), *self.isolation_flags()],
                              capture_output=True, text=True, timeout=120)

    def log_tail(self) -> str:
        return "" if self.server is None else f"--- server log:\n{self.server.log()[-6000:]}"

    def wait_for(self, what: str, fn: Callable[[], Any], timeout: float = 60,
                 interval: float = 0.2) -> Any:
        """The first truthy result of *fn*, polled every *interval*; an assertion, a failed
        command or an OS error counts as not yet. Fails after *timeout* with the last result
        and the server log's tail."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = fn()
            except (AssertionError, subprocess.SubprocessError, OSError) as e:
                last = e
            else:
                if last:
                    return last
            time.sleep(interval)
        raise AssertionError(f"timed out waiting for {what} (last: {last!r})\n"
                             f"{self.log_tail()}")
