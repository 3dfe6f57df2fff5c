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
import os
from pathlib import Path
from typing import Any, Iterator

import pytest

from kubepy.proxy import apply, model, rules
from tests.netns import Prober, node_with_backends, ns_exec, require_tools

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


class Net:
    def __init__(self, tmp: Path) -> None:
        self.ipt = apply.Iptables(["ip", "netns", "exec", NODE])
        self.prober = Prober(tmp, timeout=1)

    def probe(self, ns: str, host: str, port: int, n: int = 1) -> list[tuple[str, str]]:
        """n connections from *ns*: (backend name, peer it saw) each, or (error name, "")."""
        return [(r.split()[0], r.split()[1]) if " " in r else (r, "")
                for r in self.prober(ns, host, port, n)]

    def sync(self, service: dict[str, Any], endpoints: list[str]) -> None:
        """Program NODE for *service* with the named backends as its endpoints."""
        ports = model.service_ports([service], [_slice(service["metadata"]["name"], endpoints)])
        rs = rules.build(ports, rules.NodeConfig("node-a", (NODE_IP, NODE_EXT_IP),
                                                 CLUSTER_CIDR))
        asyncio.run(apply.sync(self.ipt, rs))


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    require_tools()
    tmp = tmp_path_factory.mktemp("proxy-policies")
    ips = {ns: ip for ns, (ip, _) in BACKENDS.items()}
    with node_with_backends(tmp, NODE, NODE_IP, "10.247.0.0/16", ips,
                            [f"veth{i}" for i in range(len(BACKENDS))], others=[EXTERNAL]):
        # the outside client: a routed link, everything (service IPs too) via the node
        ns_exec(NODE, "ip", "link", "add", "ext0", "type", "veth", "peer", "name", "eth0",
                "netns", EXTERNAL)
        ns_exec(NODE, "ip", "addr", "add", f"{NODE_EXT_IP}/24", "dev", "ext0")
        ns_exec(NODE, "ip", "link", "set", "ext0", "up")
        ns_exec(EXTERNAL, "ip", "addr", "add", f"{EXT_IP}/24", "dev", "eth0")
        ns_exec(EXTERNAL, "ip", "link", "set", "eth0", "up")
        ns_exec(EXTERNAL, "ip", "route", "add", "default", "via", NODE_EXT_IP)
        net = Net(tmp)
        for ns, ip in ips.items():  # wait until every server listens
            for _ in range(100):
                if net.probe(NODE, ip, 8080)[0][0] == ns:
                    break
            else:
                pytest.fail(f"backend {ip} never listened")
        yield net


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
    assert "KUBEPY" not in ns_exec(NODE, "iptables-save").stdout
    assert net.probe(EXTERNAL, EXTERNAL_IP, 80)[0][0].endswith("Error")
