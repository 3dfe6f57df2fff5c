"""A real node for the root e2e tests and benches: ``kubepy agent`` as a process of its own
beside a ``kubepy server --disable-agent`` (``tests.conftest.start_server``).

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
from pathlib import Path
from typing import Sequence

from kubepy.kubelet.images.archive import import_archive
from kubepy.kubelet.images.store import ImageStore
from kubepy.kubelet.network import PodNetwork, build_conflist
from tests.conftest import VENV_BIN, ServerProcess
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
