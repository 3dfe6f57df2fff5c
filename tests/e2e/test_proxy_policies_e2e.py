"""externalIPs and the traffic policies in real iptables, inside network namespaces made here
(issue 5; root).

The NODE namespace holds a bridge (10.245.87.1/24, standing in for the node and its pod
bridge) with three backend namespaces on veths, each running a tiny TCP server that answers
with its name and the peer address it sees. The EndpointSlices put b1 and b2 on this node
(node-a) and b3 on another (node-b): the proxy only knows endpoints' nodeName, so "remote"
b3 is as reachable as the others, and any traffic to it shows that Cluster policy spread to
it. An EXTERNAL namespace hangs off NODE by a routed veth (10.245.88.0/24, default route via
the node), standing in for a client outside the cluster. Rules are applied in NODE only, with
service IPs from a fake range 10.247.0.0/16: nothing on the host changes.

Shown: traffic to an externalIP from outside reaches the service; externalTrafficPolicy
Cluster spreads over all three endpoints and masquerades (backends see the node address);
Local sends only to node-a's endpoints and keeps the client's source address, and drops the
traffic (no answer, not a reject) when the node has none; internalTrafficPolicy Local (from
the node) sends only to local endpoints and drops when there are none, Cluster spreads over
all three. Fixtures delete the namespaces (and so the veths and rules) even on failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from kubepy.proxy import apply, model, rules

SUBNET, EXT_SUBNET = "10.245.87", "10.245.88"
NODE_IP, NODE_EXT_IP, EXT_IP = f"{SUBNET}.1", f"{EXT_SUBNET}.1", f"{EXT_SUBNET}.2"
CLUSTER_CIDR = f"{SUBNET}.0/24"
CLUSTER_IP, EXTERNAL_IP = "10.247.0.10", "10.247.1.5"
TAG = f"kpp{os.getpid() % 100000}"
NODE, EXTERNAL = f"{TAG}n", f"{TAG}x"
# backend namespace -> (IP, the node its EndpointSlice entry names)
BACKENDS = {f"{TAG}b1": (f"{SUBNET}.2", "node-a"), f"{TAG}b2": (f"{SUBNET}.3", "node-a"),
            f"{TAG}b3": (f"{SUBNET}.4", "node-b")}
LOCAL = {ns for ns, (_, node) in BACKENDS.items() if node == "node-a"}

SERVER = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8080)); s.listen(64)
while True:
    c, a = s.accept(); c.sendall((sys.argv[1] + " " + a[0]).encode()); c.close()
"""

PROBE = """
import json, socket, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = []
for _ in range(n):
    try:
        with socket.create_connection((host, port), timeout=1) as c:
            out.append(c.recv(100).decode())
    except OSError as e:
        out.append(type(e).__name__)
print(json.dumps(out))
"""


def _sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=60)


def _ns(ns: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return _sh("ip", "netns", "exec", ns, *argv, check=check)


class Net:
    def __init__(self, tmp: Path) -> None:
        self.ipt = apply.Iptables(["ip", "netns", "exec", NODE])
        self.probe_path = tmp / "probe.py"
        self.probe_path.write_text(PROBE)

    def probe(self, ns: str, host: str, port: int, n: int = 1) -> list[tuple[str, str]]:
        """n connections from *ns*: (backend name, peer it saw) each, or (error name, "")."""
        res = _ns(ns, sys.executable, str(self.probe_path), host, str(port), str(n))
        return [(r.split()[0], r.split()[1]) if " " in r else (r, "")
                for r in json.loads(res.stdout)]

    def sync(self, service: dict[str, Any], endpoints: list[str]) -> None:
        """Program NODE for *service* with the named backends as its endpoints."""
        ports = model.service_ports([service], [_slice(service["metadata"]["name"], endpoints)])
        rs = rules.build(ports, rules.NodeConfig("node-a", (NODE_IP, NODE_EXT_IP),
                                                 CLUSTER_CIDR))
        asyncio.run(apply.sync(self.ipt, rs))


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    if os.geteuid() != 0:
        pytest.fail("proxy e2e tests need root")
    for tool in ("ip", "iptables", "iptables-save", "iptables-restore", "sysctl"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} missing (iproute2, iptables, procps)")
    tmp = tmp_path_factory.mktemp("proxy-policies")
    procs: list[subprocess.Popen[bytes]] = []
    made: list[str] = []
    try:
        for ns in (NODE, EXTERNAL, *BACKENDS):
            _sh("ip", "netns", "add", ns)
            made.append(ns)
            _ns(ns, "ip", "link", "set", "lo", "up")
        _ns(NODE, "ip", "link", "add", "br0", "type", "bridge")
        _ns(NODE, "ip", "addr", "add", f"{NODE_IP}/24", "dev", "br0")
        _ns(NODE, "ip", "link", "set", "br0", "up")
        _ns(NODE, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
        # the outside client: a routed link, everything (service IPs too) via the node
        _ns(NODE, "ip", "link", "add", "ext0", "type", "veth", "peer", "name", "eth0",
            "netns", EXTERNAL)
        _ns(NODE, "ip", "addr", "add", f"{NODE_EXT_IP}/24", "dev", "ext0")
        _ns(NODE, "ip", "link", "set", "ext0", "up")
        _ns(EXTERNAL, "ip", "addr", "add", f"{EXT_IP}/24", "dev", "eth0")
        _ns(EXTERNAL, "ip", "link", "set", "eth0", "up")
        _ns(EXTERNAL, "ip", "route", "add", "default", "via", NODE_EXT_IP)
        # a node routes service IPs somewhere (its default route); ours stay on the bridge
        _ns(NODE, "ip", "route", "add", "10.247.0.0/16", "dev", "br0")
        server = tmp / "server.py"
        server.write_text(SERVER)
        for i, (ns, (ip, _)) in enumerate(BACKENDS.items()):
            _ns(NODE, "ip", "link", "add", f"veth{i}", "type", "veth", "peer", "name", "eth0",
                "netns", ns)
            _ns(NODE, "ip", "link", "set", f"veth{i}", "master", "br0", "up")
            _ns(ns, "ip", "addr", "add", f"{ip}/24", "dev", "eth0")
            _ns(ns, "ip", "link", "set", "eth0", "up")
            _ns(ns, "ip", "route", "add", "default", "via", NODE_IP)
            procs.append(subprocess.Popen(["ip", "netns", "exec", ns, sys.executable,
                                           str(server), ns]))
        net = Net(tmp)
        for ns, (ip, _) in BACKENDS.items():  # wait until every server listens
            for _ in range(100):
                if net.probe(NODE, ip, 8080)[0][0] == ns:
                    break
            else:
                pytest.fail(f"backend {ip} never listened")
        yield net
    finally:
        for p in procs:
            p.kill()
            p.wait()
        for ns in made:
            _sh("ip", "netns", "delete", ns, check=False)
    leftovers = [ns for ns in made if ns in _sh("ip", "netns", "list").stdout]
    assert not leftovers, leftovers


def _service(*, external: str = "Cluster", internal: str = "Cluster") -> dict[str, Any]:
    return {"metadata": {"namespace": "default", "name": "web"},
            "spec": {"type": "ClusterIP", "clusterIP": CLUSTER_IP, "externalIPs": [EXTERNAL_IP],
                     "externalTrafficPolicy": external, "internalTrafficPolicy": internal,
                     "ports": [{"name": "http", "port": 80, "targetPort": 8080,
                                "protocol": "TCP"}]}}


def _slice(service: str, backends: list[str]) -> dict[str, Any]:
    return {"metadata": {"namespace": "default", "name": f"{service}-abc",
                         "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": [BACKENDS[ns][0]], "conditions": {"ready": True},
                           "nodeName": BACKENDS[ns][1]} for ns in backends]}


ALL = sorted(BACKENDS)
REMOTE = sorted(set(BACKENDS) - LOCAL)


# (external policy, internal policy, endpoints, client namespace, address,
#  backends expected to answer (empty: none answers), peer the backends see)
CASES = [
    ("Cluster", "Cluster", ALL, EXTERNAL, EXTERNAL_IP, set(ALL), NODE_IP),
    ("Local", "Cluster", ALL, EXTERNAL, EXTERNAL_IP, LOCAL, EXT_IP),
    ("Local", "Cluster", REMOTE, EXTERNAL, EXTERNAL_IP, set(), ""),
    ("Cluster", "Local", ALL, NODE, CLUSTER_IP, LOCAL, NODE_IP),
    ("Cluster", "Local", REMOTE, NODE, CLUSTER_IP, set(), ""),
    ("Cluster", "Cluster", ALL, NODE, CLUSTER_IP, set(ALL), NODE_IP),
]
IDS = ["external-ip-cluster-spreads", "external-local-only-local-keeps-source",
       "external-local-none-local-drops", "internal-local-only-local",
       "internal-local-none-local-drops", "internal-cluster-spreads"]


@pytest.mark.parametrize("external,internal,endpoints,client,address,answer,peer", CASES,
                         ids=IDS)
def test_traffic_policies(net: Net, external: str, internal: str, endpoints: list[str],
                          client: str, address: str, answer: set[str], peer: str) -> None:
    net.sync(_service(external=external, internal=internal), endpoints)
    results = net.probe(client, address, 80, 30 if answer else 2)
    if not answer:
        # dropped, not rejected: the connection times out
        assert {name for name, _ in results} == {"TimeoutError"}, results
        return
    assert {name for name, _ in results} == answer, results
    assert {seen for _, seen in results} == {peer}, results


def test_cleanup_leaves_nothing(net: Net) -> None:
    net.sync(_service(), ALL)
    assert asyncio.run(apply.cleanup(net.ipt)) is True
    assert "KUBEPY" not in _ns(NODE, "iptables-save").stdout
    assert net.probe(EXTERNAL, EXTERNAL_IP, 80)[0][0].endswith("Error")
