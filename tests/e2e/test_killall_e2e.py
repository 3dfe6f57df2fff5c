"""``kubepy killall`` (root): a ``kubepy server`` with its agent runs a pod (with a hostPort,
so portmap made chains) behind a Service (so the proxy made rules); after killall none of
it is left — no kubepy process of the data dir, container, mount, network namespace,
bridge, CNI or KUBEPY iptables rule, pod cgroup — and a second killall finds nothing to do.
The pure parts (which processes and mounts belong to the data dir) are tables.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from kubepy.cli.killall import (cmdlines, is_kubepy_command, kubepy_processes, monitors_of,
                                mounts_under)
from kubepy.kubelet.images.archive import import_archive
from kubepy.kubelet.images.store import ImageStore
from kubepy.kubelet.runtime import cgroups
from tests.conftest import VENV_BIN, ServerProcess, free_port, kubectl_binaries
from test_cluster_services_e2e import kubepy_rules, runc_containers, wait_for_other_proxies
from test_kubelet_pods_e2e import _links, _mounts_under, _require, _sh
from tests.images import IMAGE, build_busybox_image
from tests.nodes import ServerNode

D = "/var/lib/kubepy-test"
CNI_MARK = 'name: \\"kubepy\\" id:'  # the comment on the CNI plugins' rules for network kubepy


@pytest.mark.parametrize("argv, want", [
    (["/venv/bin/python3", "/venv/bin/kubepy", "server", "--data-dir", D], True),
    (["/venv/bin/python3", "-m", "kubepy.cli.main", "agent", "--data-dir", D], True),
    (["/venv/bin/kubepy", "server"], True),
    (["/venv/bin/python3", "/venv/bin/kubepy", "killall", "--data-dir", D], False),
    (["/usr/bin/python3", "-m", "pytest", D], False),
    (["conmon", "-b", D + "/agent/x"], False),
], ids=["server", "agent-child", "direct", "killall-itself", "pytest", "conmon"])
def test_is_kubepy_command(argv: list[str], want: bool) -> None:
    assert is_kubepy_command(argv) is want


CMDLINES = {
    10: ["python3", "/v/bin/kubepy", "server", "--data-dir", D],
    11: ["python3", "-m", "kubepy.cli.main", "components", "--kubeconfig",
         D + "/cred/components.kubeconfig"],
    12: ["python3", "-m", "kubepy.cli.main", "agent", "--kubeconfig",
         D + "/cred/node.kubeconfig", "--data-dir", D],
    13: ["python3", "/v/bin/kubepy", "server", "--data-dir", D + "-other"],
    14: ["python3", "/v/bin/kubepy", "server"],
    15: ["python3", "-m", "kubepy.cli.main", "dns", "--kubeconfig", "/elsewhere/k"],
    16: ["sleep", "100", D],
}


@pytest.mark.parametrize("data_dir, default, want", [
    (D, False, [10, 11, 12]),
    (D + "-other", False, [13]),
    ("/var/lib/kubepy", True, [14]),
    ("/nowhere", False, []),
], ids=["this-dir", "prefix-is-not-a-parent", "default-dir", "none"])
def test_kubepy_processes(data_dir: str, default: bool, want: list[int]) -> None:
    assert kubepy_processes(CMDLINES, data_dir, default) == want


def test_monitors_and_mounts() -> None:
    conmons = {1: ["/usr/bin/conmon", "-b", D + "/agent/pods/x", "--exit-dir=" + D + "/agent/e"],
               2: ["/usr/bin/conmon", "-b", "/other/pods/x"],
               3: ["runc", "--root", D + "/agent/runc"]}
    assert monitors_of(conmons, D + "/agent") == [1]
    mountinfo = "\n".join([
        "22 1 0:21 / / rw - ext4 /dev/sda rw",
        f"30 22 0:30 / {D}/agent/pods/a/rootfs rw - overlay overlay rw",
        f"31 30 0:31 / {D}/agent/pods/a/rootfs/proc rw - proc proc rw",
        f"32 22 0:32 / {D}-other/x rw - tmpfs tmpfs rw",
        f"33 22 0:33 / {D}/agent/pods/with\\040space rw - tmpfs tmpfs rw"])
    assert mounts_under(mountinfo, D) == [f"{D}/agent/pods/with space",
                                          f"{D}/agent/pods/a/rootfs/proc",
                                          f"{D}/agent/pods/a/rootfs"]


# ---------------------------------------------------------------------------- root e2e

@pytest.fixture
def node(tmp_path: Path) -> Iterator[tuple[ServerProcess, list[str], Path]]:
    _require()
    wait_for_other_proxies()
    tag = f"{os.getpid() % 100000}"
    node = ServerNode(tmp_path, bridge=f"kpykill{tag}"[:15], cgroup_parent=f"kubepy-kill-e2e-{tag}")
    store = ImageStore(node.agent_dir / "images")
    build_busybox_image(tmp_path / "layout")
    import_archive(store, tmp_path / "layout")
    server = node.start(["--cluster-cidr", "10.235.0.0/16", "--node-name", "kill-e2e",
                         "--kubelet-port", "0", "--cluster-dns-port", str(free_port())])
    try:
        yield server, node.isolation_flags(), node.data
    finally:  # the safety net is the thing under test: run it again, whatever happened
        node.killall()
        server.stop()


def test_killall_leaves_nothing(node: tuple[ServerProcess, list[str], Path]) -> None:
    server, flags, data = node
    kubectl = [str(kubectl_binaries()["1.32"]), "--kubeconfig", str(server.kubeconfig)]
    host_port = free_port()
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "p"}},
           "spec": {"containers": [{"name": "c", "image": IMAGE, "imagePullPolicy": "Never",
                                    "command": ["sleep", "3600"],
                                    "ports": [{"containerPort": 80, "hostPort": host_port}]}]}}
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "p"},
           "spec": {"selector": {"a": "p"}, "ports": [{"port": 80}]}}
    subprocess.run([*kubectl, "apply", "-f", "-"], check=True, capture_output=True,
                   input=json.dumps({"apiVersion": "v1", "kind": "List", "items": [pod, svc]}),
                   text=True)
    deadline = time.monotonic() + 90
    while True:
        status = json.loads(subprocess.run([*kubectl, "get", "pod", "p", "-o", "json"],
                                           capture_output=True, text=True).stdout or "{}")
        if status.get("status", {}).get("phase") == "Running" and any(
                "KUBEPY-SEP" in r for r in kubepy_rules()):
            break
        assert time.monotonic() < deadline, (
            f"pod not running or not proxied: {json.dumps(status.get('status'))}\n"
            f"{kubepy_rules()}\n{server.log()[-4000:]}")
        time.sleep(0.3)
    bridge, netns_dir, cgroup_parent = flags[1], Path(flags[3]), flags[5]
    runc_root = data / "agent" / "runc"
    assert runc_containers(runc_root) and bridge in _links()
    assert any(netns_dir.iterdir()) and cgroups.existing(cgroup_parent)
    assert CNI_MARK in _sh("iptables-save", "-t", "nat")  # the plugins' chains

    r = subprocess.run([str(VENV_BIN / "kubepy"), "killall", "--data-dir", str(data), *flags],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert server.proc.wait(5) is not None  # the server was stopped (and its children)
    assert kubepy_processes(cmdlines(), str(data)) == []
    assert runc_containers(runc_root) == []
    assert _mounts_under(str(data)) == []
    assert not netns_dir.exists() or list(netns_dir.iterdir()) == []
    assert bridge not in _links()
    assert kubepy_rules() == []
    assert CNI_MARK not in _sh("iptables-save", "-t", "nat")
    assert cgroups.existing(cgroup_parent) == []
    again = subprocess.run([str(VENV_BIN / "kubepy"), "killall", "--data-dir", str(data),
                            *flags], capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stdout + again.stderr
