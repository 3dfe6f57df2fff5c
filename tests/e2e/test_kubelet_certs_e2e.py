"""The kubelet API of ``kubepy server``'s own node agent presents a serving certificate of the
cluster CA, authorizes only the apiserver's client and system:masters, and reports its pods'
cgroup usage in /stats/summary (root; one server with its agent, one busybox pod).

Checked: a client verifying against ``<data-dir>/tls/ca.crt`` with the node's name, its IP,
127.0.0.1 and localhost as server name completes the handshake on the port the Node advertises;
the apiserver's kubelet client certificate gets /healthz, an admin certificate (system:masters)
/stats/summary, a node certificate of the same CA 403; ``kubectl get --raw`` through
nodes/proxy reaches /stats/summary, which lists the pod (cpu and memory of its cgroup and its
container's). ``kubepy killall`` with the isolation flags cleans up.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from kubepy.apiserver import certs
from kubepy.cli.killall import cmdlines, kubepy_processes
from kubepy.kubelet.agent.node import default_node_ip
from kubepy.kubelet.runtime import cgroups
from tests.conftest import VENV_BIN, ServerProcess, kubectl_binaries, start_server
from test_cluster_services_e2e import runc_containers
from test_kubelet_pods_e2e import _links, _mounts_under, _require
from tests.images import IMAGE, build_busybox_image

TAG = f"{os.getpid() % 100000}"
NODE = f"certs-{TAG}"
CLUSTER_CIDR = f"10.{250 + os.getpid() % 5}.0.0/16"


class Node:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.data = tmp / "data"
        self.bridge = f"kpycrt{TAG}"[:15]
        self.netns_dir = str(tmp / "netns")
        self.cgroup_parent = f"kubepy-certs-e2e-{TAG}"
        self.node_ip = default_node_ip("127.0.0.1")
        self.server: ServerProcess | None = None
        self.port = 0

    def flags(self) -> list[str]:
        return ["--bridge", self.bridge, "--netns-dir", self.netns_dir,
                "--cgroup-parent", self.cgroup_parent]

    def kubectl(self, *args: str) -> str:
        assert self.server is not None
        r = subprocess.run([str(kubectl_binaries()["1.32"]), "--kubeconfig",
                            str(self.server.kubeconfig), *args],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr + (self.server.log()[-4000:])
        return r.stdout

    def request(self, cert: certs.KeyPair | None, path: str,
                server_name: str = "localhost") -> tuple[int, bytes]:
        context = ssl.create_default_context(cafile=str(self.data / "tls" / "ca.crt"))
        if cert is not None:
            context.load_cert_chain(str(cert.cert_path), str(cert.key_path))
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname=server_name) as tls:
                tls.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                            .encode())
                data = b""
                while chunk := tls.recv(65536):
                    data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        return int(head.split(b" ")[1]), body


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    _require()
    n = Node(tmp_path_factory.mktemp("certs"))
    try:
        build_busybox_image(n.tmp / "busybox")
        r = subprocess.run([str(VENV_BIN / "kubepy"), "images", "--data-dir", str(n.data),
                            "import", str(n.tmp / "busybox")], capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        n.server = start_server(n.data, agent=True, timeout=40, extra=[
            "--cluster-cidr", CLUSTER_CIDR, "--node-name", NODE, "--node-ip", n.node_ip,
            "--kubelet-port", "0", "--disable-kube-proxy", "--disable", "coredns,servicelb",
            *n.flags()])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not n.port:
            r = subprocess.run([str(kubectl_binaries()["1.32"]), "--kubeconfig",
                                str(n.server.kubeconfig), "get", "node", NODE, "-o", "json"],
                               capture_output=True, text=True, timeout=30)
            if r.returncode == 0:
                obj: Any = json.loads(r.stdout)
                n.port = int(obj["status"].get("daemonEndpoints", {})
                             .get("kubeletEndpoint", {}).get("Port") or 0)
            time.sleep(0.3)
        assert n.port, "the node never advertised its kubelet port\n" + n.server.log()[-4000:]
        yield n
    finally:
        result = subprocess.run([str(VENV_BIN / "kubepy"), "killall", "--data-dir",
                                 str(n.data), *n.flags()],
                                capture_output=True, text=True, timeout=120)
        if n.server is not None:
            n.server.stop()
        assert result.returncode == 0, result.stdout + result.stderr
        assert kubepy_processes(cmdlines(), str(n.data)) == []
        assert runc_containers(n.data / "agent" / "runc") == []
        assert _mounts_under(str(n.tmp)) == []
        assert n.bridge not in _links()
        assert cgroups.existing(n.cgroup_parent) == []


def test_serving_certificate_verifies_against_the_cluster_ca(node: Node) -> None:
    client = certs.KeyPair(node.data / "tls" / "kubelet-client.crt",
                           node.data / "tls" / "kubelet-client.key")
    for name in (NODE, node.node_ip, "127.0.0.1", "localhost"):
        assert node.request(client, "/healthz", name) == (200, b"ok"), name
    with pytest.raises(ssl.SSLCertVerificationError):
        node.request(client, "/healthz", "another-node")
    assert node.request(None, "/healthz") == (401, b"Unauthorized\n")


def test_only_the_apiserver_and_system_masters_are_authorized(node: Node) -> None:
    tls = node.data / "tls"
    ca = certs.KeyPair(tls / "ca.crt", tls / "ca.key")
    admin = certs.KeyPair(tls / "admin.crt", tls / "admin.key")
    status, body = node.request(admin, "/stats/summary")
    assert status == 200 and json.loads(body)["node"]["nodeName"] == NODE
    other = certs.issue(ca, certs.KeyPair(node.tmp / "n2.crt", node.tmp / "n2.key"),
                        common_name="system:node:n2", organizations=("system:nodes",),
                        client=True)
    assert node.request(other, "/stats/summary") == (
        403, b"Forbidden (user=system:node:n2, verb=get, resource=nodes, subresource=stats)")
    summary = json.loads(node.kubectl("get", "--raw",
                                      f"/api/v1/nodes/{NODE}/proxy/stats/summary"))
    assert summary["node"]["nodeName"] == NODE


def test_stats_summary_lists_the_pods_with_their_cgroups_usage(node: Node) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "eater"},
           "spec": {"nodeName": NODE, "automountServiceAccountToken": False,
                    "terminationGracePeriodSeconds": 0,
                    "containers": [{"name": "c", "image": IMAGE, "command": [
                        "sh", "-c", "head -c 8000000 /dev/zero > /dev/shm/x; "
                        "while true; do :; done"]}]}}
    assert node.server is not None
    r = subprocess.run([str(kubectl_binaries()["1.32"]), "--kubeconfig",
                        str(node.server.kubeconfig), "apply", "-f", "-"],
                       input=json.dumps(pod), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    uid = json.loads(node.kubectl("get", "pod", "eater", "-o", "json"))["metadata"]["uid"]
    admin = certs.KeyPair(node.data / "tls" / "admin.crt", node.data / "tls" / "admin.key")
    deadline, found, summary = time.monotonic() + 90, None, {}
    while time.monotonic() < deadline:
        summary = json.loads(node.request(admin, "/stats/summary")[1])
        found = next((p for p in summary["pods"] if p["podRef"]["uid"] == uid), None)
        if found and found["containers"] and \
                found["memory"].get("workingSetBytes", 0) > 8_000_000 and \
                "usageNanoCores" in found["cpu"]:
            break
        time.sleep(0.5)
    assert found is not None, summary
    assert found["podRef"] == {"name": "eater", "namespace": "default", "uid": uid}
    assert found["memory"]["workingSetBytes"] > 8_000_000, found   # the 8 MB in /dev/shm
    assert found["cpu"]["usageNanoCores"] > 50_000_000, found       # a busy loop
    (container,) = found["containers"]
    assert container["name"] == "c" and container["cpu"]["usageCoreNanoSeconds"] > 0
    metrics = node.request(admin, "/metrics/resource")[1].decode()
    assert f'pod_cpu_usage_seconds_total{{namespace="default",pod="eater"}} ' in metrics
