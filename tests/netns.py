"""Network namespaces for the root e2e tests of the service proxy's rules.

``node_with_backends`` makes a NODE namespace holding a bridge ``br0`` (*node_ip*/24, IP
forwarding on, *service_range* routed onto the bridge, as a node routes service IPs
somewhere) and one namespace per backend hanging off the bridge by a veth (host end named by
*host_ends*, optionally in hairpin mode as the CNI bridge plugin sets it), with the backend's
IP on ``eth0`` and a default route via the node. Each backend runs ``SERVER``: a TCP server on
8080 that answers every connection with "<its namespace> <peer address>". *others* are more
namespaces (lo up, nothing else) for the caller to wire inside the ``with`` block. On leaving,
even by an exception, the servers are killed and every namespace made is deleted (and so its
veths and iptables rules); on a normal exit it is asserted that none is left.

``Prober`` runs ``PROBE`` in a namespace: *n* connections to host:port, each giving the
answer or the OSError's class name. Missing root or tools fail the test (``require_tools``).
Everything here shells out to ``ip``/``sysctl``; nothing on the host itself changes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import pytest

TOOLS = ("ip", "iptables", "iptables-save", "iptables-restore", "sysctl")

SERVER = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8080)); s.listen(64)
while True:
    c, a = s.accept(); c.sendall((sys.argv[1] + " " + a[0]).encode()); c.close()
"""

PROBE = """
import json, socket, sys
host, port, n, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
out = []
for _ in range(n):
    try:
        with socket.create_connection((host, port), timeout=timeout) as c:
            out.append(c.recv(100).decode())
    except OSError as e:
        out.append(type(e).__name__)
print(json.dumps(out))
"""


def require_tools() -> None:
    """Fail (not skip) the test unless root with every tool of ``TOOLS`` on PATH."""
    if os.geteuid() != 0:
        pytest.fail("proxy e2e tests need root")
    for tool in TOOLS:
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} missing (iproute2, iptables, procps)")


def sh(*argv: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=timeout)


def ns_exec(ns: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """*argv* run inside namespace *ns*."""
    return sh("ip", "netns", "exec", ns, *argv, check=check)


class Prober:
    """``PROBE`` written under *tmp*, each connection given *timeout* seconds."""

    def __init__(self, tmp: Path, timeout: float) -> None:
        self.path = tmp / "probe.py"
        self.path.write_text(PROBE)
        self.timeout = timeout

    def __call__(self, ns: str, host: str, port: int, n: int = 1) -> list[str]:
        res = ns_exec(ns, sys.executable, str(self.path), host, str(port), str(n),
                      str(self.timeout))
        out: list[str] = json.loads(res.stdout)
        return out


@contextmanager
def node_with_backends(tmp: Path, node: str, node_ip: str, service_range: str,
                       backends: Mapping[str, str], host_ends: Sequence[str], *,
                       others: Sequence[str] = (), hairpin: bool = False) -> Iterator[None]:
    """The namespaces described above; *backends* maps namespace -> IP, *host_ends* names
    the node end of each backend's veth in the same order."""
    procs: list[subprocess.Popen[bytes]] = []
    made: list[str] = []
    try:
        for ns in (node, *others, *backends):
            sh("ip", "netns", "add", ns)
            made.append(ns)
            ns_exec(ns, "ip", "link", "set", "lo", "up")
        ns_exec(node, "ip", "link", "add", "br0", "type", "bridge")
        ns_exec(node, "ip", "addr", "add", f"{node_ip}/24", "dev", "br0")
        ns_exec(node, "ip", "link", "set", "br0", "up")
        ns_exec(node, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
        ns_exec(node, "ip", "route", "add", service_range, "dev", "br0")
        server = tmp / "server.py"
        server.write_text(SERVER)
        for host_end, (ns, ip) in zip(host_ends, backends.items(), strict=True):
            ns_exec(node, "ip", "link", "add", host_end, "type", "veth", "peer", "name", "eth0",
                    "netns", ns)
            ns_exec(node, "ip", "link", "set", host_end, "master", "br0", "up")
            if hairpin:  # a pod reaching itself through a service leaves by the port it came in
                ns_exec(node, "ip", "link", "set", host_end, "type", "bridge_slave",
                        "hairpin", "on")
            ns_exec(ns, "ip", "addr", "add", f"{ip}/24", "dev", "eth0")
            ns_exec(ns, "ip", "link", "set", "eth0", "up")
            ns_exec(ns, "ip", "route", "add", "default", "via", node_ip)
            procs.append(subprocess.Popen(["ip", "netns", "exec", ns, sys.executable,
                                           str(server), ns]))
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()
        for ns in made:
            sh("ip", "netns", "delete", ns, check=False)
    leftovers = [ns for ns in made if ns in sh("ip", "netns", "list").stdout]
    assert not leftovers, leftovers
