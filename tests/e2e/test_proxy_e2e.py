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
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from kubepy.proxy import apply, model, rules

SUBNET = "10.245.77"
NODE_IP = f"{SUBNET}.1"
CLUSTER_CIDR = f"{SUBNET}.0/24"
CLUSTER_IP = "10.246.0.10"
EMPTY_IP = "10.246.0.11"
NODE_PORT = 30777
TAG = f"kpx{os.getpid() % 100000}"
CLIENT, BACKENDS = f"{TAG}c", {f"{TAG}b1": f"{SUBNET}.2", f"{TAG}b2": f"{SUBNET}.3"}

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
        with socket.create_connection((host, port), timeout=2) as c:
            out.append(c.recv(100).decode())
    except OSError as e:
        out.append(type(e).__name__)
print(json.dumps(out))
"""


def _sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=30)


def _ns(ns: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return _sh("ip", "netns", "exec", ns, *argv, check=check)


class Net:
    def __init__(self, tmp: Path) -> None:
        self.ipt = apply.Iptables(["ip", "netns", "exec", CLIENT])
        self.probe_path = tmp / "probe.py"
        self.probe_path.write_text(PROBE)

    def probe(self, host: str, port: int, n: int = 1, *, ns: str = CLIENT) -> list[str]:
        res = _ns(ns, sys.executable, str(self.probe_path), host, str(port), str(n))
        return json.loads(res.stdout)

    def save(self) -> str:
        return _ns(CLIENT, "iptables-save").stdout

    def sync(self, services: list[dict[str, Any]], slices: list[dict[str, Any]]) -> str:
        ports = model.service_ports(services, slices)
        rs = rules.build(ports, rules.NodeConfig("node-a", (NODE_IP,), CLUSTER_CIDR))
        return asyncio.run(apply.sync(self.ipt, rs, route_localnet=True))


@pytest.fixture
def net(tmp_path: Path) -> Iterator[Net]:
    if os.geteuid() != 0:
        pytest.fail("proxy e2e tests need root")
    for tool in ("ip", "iptables", "iptables-save", "iptables-restore", "sysctl"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} missing (iproute2, iptables, procps)")
    procs: list[subprocess.Popen[bytes]] = []
    made: list[str] = []
    try:
        for ns in (CLIENT, *BACKENDS):
            _sh("ip", "netns", "add", ns)
            made.append(ns)
            _ns(ns, "ip", "link", "set", "lo", "up")
        _ns(CLIENT, "ip", "link", "add", "br0", "type", "bridge")
        _ns(CLIENT, "ip", "addr", "add", f"{NODE_IP}/24", "dev", "br0")
        _ns(CLIENT, "ip", "link", "set", "br0", "up")
        _ns(CLIENT, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
        # a node routes service IPs somewhere (its default route); ours stay on the bridge
        _ns(CLIENT, "ip", "route", "add", "10.246.0.0/16", "dev", "br0")
        server = tmp_path / "server.py"
        server.write_text(SERVER)
        for i, (ns, ip) in enumerate(BACKENDS.items()):
            host_end = f"{TAG}h{i}"
            _ns(CLIENT, "ip", "link", "add", host_end, "type", "veth", "peer", "name", "eth0",
                "netns", ns)
            _ns(CLIENT, "ip", "link", "set", host_end, "master", "br0", "up")
            # as the CNI bridge plugin with hairpinMode: a pod reaching itself through a
            # service leaves by the port it came in (br_netfilter bridges DNATed frames)
            _ns(CLIENT, "ip", "link", "set", host_end, "type", "bridge_slave", "hairpin", "on")
            _ns(ns, "ip", "addr", "add", f"{ip}/24", "dev", "eth0")
            _ns(ns, "ip", "link", "set", "eth0", "up")
            _ns(ns, "ip", "route", "add", "default", "via", NODE_IP)
            procs.append(subprocess.Popen(["ip", "netns", "exec", ns, sys.executable,
                                           str(server), ns]))
        net = Net(tmp_path)
        for ip in BACKENDS.values():  # wait until both servers listen
            for _ in range(100):
                if not net.probe(ip, 8080)[0].endswith("Error"):
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
