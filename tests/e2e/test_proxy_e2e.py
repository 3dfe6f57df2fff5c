"""The service proxy's rules in real iptables, inside network namespaces made here.

A client namespace holds a bridge (10.245.77.1/24, standing in for the node and its pod
bridge) and two backend namespaces hang off it by veth pairs, each running a tiny TCP server
that answers with its name. Rules are applied in the CLIENT namespace only (iptables is per
namespace), with service IPs from a fake range 10.246.0.0/16: nothing on the host changes.
Checks: a ClusterIP service reaches both backends, a service without endpoints is rejected,
a NodePort answers on the node address and on 127.0.0.1, a backend reaching itself through
the service is masqueraded (hairpin), ClientIP affinity sticks, a re-sync with one endpoint gone
stops traffic to it, and cleanup leaves no KUBEPY chain or jump. Needs root; missing tools
fail the test. Fixtures delete the namespaces (and so the veths) even when a test fails.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any, Iterator

import pytest

from kubepy.proxy import apply, model, rules
from tests.netns import Prober, node_with_backends, ns_exec, require_tools

SUBNET = "10.245.77"
NODE_IP = f"{SUBNET}.1"
CLUSTER_CIDR = f"{SUBNET}.0/24"
CLUSTER_IP = "10.246.0.10"
EMPTY_IP = "10.246.0.11"
NODE_PORT = 30777
TAG = f"kpx{os.getpid() % 100000}"
CLIENT, BACKENDS = f"{TAG}c", {f"{TAG}b1": f"{SUBNET}.2", f"{TAG}b2": f"{SUBNET}.3"}


class Net:
    def __init__(self, tmp: Path) -> None:
        self.ipt = apply.Iptables(["ip", "netns", "exec", CLIENT])
        self.prober = Prober(tmp, timeout=2)

    def probe(self, host: str, port: int, n: int = 1, *, ns: str = CLIENT) -> list[str]:
        return self.prober(ns, host, port, n)

    def save(self) -> str:
        return ns_exec(CLIENT, "iptables-save").stdout

    def sync(self, services: list[dict[str, Any]], slices: list[dict[str, Any]]) -> str:
        ports = model.service_ports(services, slices)
        rs = rules.build(ports, rules.NodeConfig("node-a", (NODE_IP,), CLUSTER_CIDR))
        return asyncio.run(apply.sync(self.ipt, rs, route_localnet=True))


@pytest.fixture
def net(tmp_path: Path) -> Iterator[Net]:
    require_tools()
    # hairpin as the CNI bridge plugin with hairpinMode (br_netfilter bridges DNATed frames)
    with node_with_backends(tmp_path, CLIENT, NODE_IP, "10.246.0.0/16", BACKENDS,
                            [f"{TAG}h{i}" for i in range(len(BACKENDS))], hairpin=True):
        net = Net(tmp_path)
        for ip in BACKENDS.values():  # wait until both servers listen
            for _ in range(100):
                if not net.probe(ip, 8080)[0].endswith("Error"):
                    break
            else:
                pytest.fail(f"backend {ip} never listened")
        yield net


def _service(name: str, ip: str, *, node_port: int = 0) -> dict[str, Any]:
    port: dict[str, Any] = {"name": "http", "port": 80, "targetPort": "web", "protocol": "TCP"}
    if node_port:
        port["nodePort"] = node_port
    return {"metadata": {"namespace": "default", "name": name},
            "spec": {"type": "NodePort" if node_port else "ClusterIP", "clusterIP": ip,
                     "ports": [port]}}


def _slice(service: str, ips: list[str]) -> dict[str, Any]:
    return {"metadata": {"namespace": "default", "name": f"{service}-abc",
                         "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True},
                           "nodeName": "node-a"} for ip in ips]}


def test_services_in_a_namespace(net: Net) -> None:
    services = [_service("web", CLUSTER_IP, node_port=NODE_PORT), _service("empty", EMPTY_IP)]
    net.sync(services, [_slice("web", list(BACKENDS.values()))])
    saved = net.save()
    assert "KUBEPY-SVC-" in saved and "-j KUBEPY-SERVICES" in saved

    names = {r.split()[0] for r in net.probe(CLUSTER_IP, 80, 40)}
    assert names == set(BACKENDS), names  # both backends through the cluster IP

    assert net.probe(EMPTY_IP, 80, 1) == ["ConnectionRefusedError"]  # REJECT, no endpoints

    by_node_ip = {r.split()[0] for r in net.probe(NODE_IP, NODE_PORT, 20)}
    assert by_node_ip <= set(BACKENDS) and by_node_ip, by_node_ip
    assert net.probe("127.0.0.1", NODE_PORT, 1)[0].split()[0] in BACKENDS

    # from a backend (PREROUTING): its own connections hairpin back to it masqueraded (the
    # SEP rule), the other backend sees the pod source; node-port traffic is masqueraded
    b1, b2 = BACKENDS
    seen = {tuple(r.split()) for r in net.probe(CLUSTER_IP, 80, 40, ns=b1)}
    assert seen == {(b1, NODE_IP), (b2, BACKENDS[b1])}, seen
    seen = {tuple(r.split()) for r in net.probe(NODE_IP, NODE_PORT, 20, ns=b1)}
    assert {peer for _, peer in seen} == {NODE_IP}, seen

    # a second sync is idempotent: same restore input, no duplicated jump rules
    again = net.sync(services, [_slice("web", list(BACKENDS.values()))])
    assert net.save().count("-j KUBEPY-SERVICES") == saved.count("-j KUBEPY-SERVICES")
    assert "-X " not in again

    # ClientIP session affinity (-m recent): every connection of one client to one backend
    sticky = _service("sticky", "10.246.0.12")
    sticky["spec"]["sessionAffinity"] = "ClientIP"
    net.sync([*services, sticky], [_slice("web", list(BACKENDS.values())),
                                   _slice("sticky", list(BACKENDS.values()))])
    assert len({r.split()[0] for r in net.probe("10.246.0.12", 80, 20)}) == 1

    # one endpoint gone: its SEP chain is deleted and all traffic goes to the other
    only = list(BACKENDS.values())[:1]
    text = net.sync(services, [_slice("web", only)])
    assert "-X KUBEPY-SEP-" in text
    assert {r.split()[0] for r in net.probe(CLUSTER_IP, 80, 10)} == {list(BACKENDS)[0]}

    assert asyncio.run(apply.cleanup(net.ipt)) is True
    assert "KUBEPY" not in net.save()
    assert net.probe(CLUSTER_IP, 80, 1)[0].endswith("Error")  # nothing answers any more
    assert asyncio.run(apply.cleanup(net.ipt)) is False
