"""Real CNI plugins (containernetworking-plugins in /usr/lib/cni): two pod network namespaces on
a private test podCIDR, ping between them and to the gateway, a hostPort through portmap, and
teardown / cleanup_all leaving no interface, lease, iptables rule or namespace behind.

Needs root. Traffic stays between namespaces created here and the test bridge. A missing tool
fails the test (CI installs them through scripts/setup.sh)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from kubepy.kubelet.network import NetNSManager, PodNetwork, build_conflist
from kubepy.kubelet.network.cni import iptables_chains
from kubepy.kubelet.network.netns import loopback_up

CNI_BIN = "/usr/lib/cni"
POD_CIDR = "10.244.213.0/24"
GATEWAY = "10.244.213.1"
BRIDGE = "kpye2e0"
NETWORK = "kubepy-e2e"
HOST_PORT = 18213


def _require_tools() -> None:
    if os.geteuid() != 0:
        pytest.fail("CNI e2e tests need root")
    for plugin in ("bridge", "host-local", "portmap", "loopback"):
        if not os.access(f"{CNI_BIN}/{plugin}", os.X_OK):
            pytest.fail(f"{CNI_BIN}/{plugin} missing: install containernetworking-plugins")
    for tool in ("ip", "iptables", "iptables-save", "unshare", "nsenter", "busybox"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} missing (iproute2, iptables, util-linux, busybox-static)")


def _sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=20)


def _nat_state() -> set[str]:
    """Custom chains and rules of the nat table (built-in chain policies ignored)."""
    out = _sh("iptables-save", "-t", "nat").stdout.splitlines()
    return {line.split(" [")[0] for line in out if line.startswith("-A ")
            or (line.startswith(":") and " - [" in line)}


UIDS = [f"uid-{c}" for c in "abcdef"]


def _our_nat() -> set[str]:
    """The nat rules and chains of this test's network (the plugins' comment names it, the
    chain names derive from our pod uids); other engineers' networks come and go meanwhile."""
    tag = f'name: \\"{NETWORK}\\"'
    chains = [c for uid in UIDS for c in iptables_chains(NETWORK, uid)]
    return {r for r in _nat_state() if tag in r or any(c in r for c in chains)}


def _links() -> set[str]:
    return {line.split(":")[1].strip().split("@")[0]
            for line in _sh("ip", "-o", "link", "show").stdout.splitlines()}


class Env:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.netns = NetNSManager(tmp / "netns")
        self.conf = build_conflist(pod_cidr=POD_CIDR, ipam_data_dir=str(tmp / "ipam"),
                                   name=NETWORK, bridge=BRIDGE)
        self.net = PodNetwork(CNI_BIN, self.conf, tmp / "cni")
        self.procs: list[subprocess.Popen[bytes]] = []

    def run(self, coro: Any) -> Any:
        return asyncio.run(coro)

    def in_ns(self, path: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return _sh("nsenter", f"--net={path}", *argv, check=check)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    _require_tools()
    nat_before = _our_nat()
    links_before = _links()
    ip_forward_before = Path("/proc/sys/net/ipv4/ip_forward").read_text()
    e = Env(tmp_path)
    try:
        yield e
    finally:
        for p in e.procs:
            p.kill()
            p.wait()
        on_bridge = _sh("ip", "-o", "link", "show", "master", BRIDGE, check=False).stdout
        problems = e.run(e.net.cleanup_all(e.netns))
        assert problems == []
        assert _our_nat() == nat_before, "iptables nat rules left behind"
        # veths of pods still attached when the test ended go with cleanup_all's namespaces
        left = {n for n in _links() - links_before if n == BRIDGE or n.startswith("kpyo")
                or (n.startswith("veth") and n in on_bridge)}
        assert left == set(), "interfaces left behind"
        assert Path("/proc/sys/net/ipv4/ip_forward").read_text() == ip_forward_before
        assert not (tmp_path / "netns").exists()
        assert not any((tmp_path / "ipam").glob("*/*.*.*.*")), "host-local leases left"


def _listener(e: Env, ns_path: str, port: int) -> None:
    code = ("import socket\ns=socket.socket()\n"
            "s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
            f"s.bind(('0.0.0.0',{port}));s.listen(8)\n"
            "while True:\n c,a=s.accept();c.sendall(b'hello-from-pod '+a[0].encode());c.close()\n")
    e.procs.append(subprocess.Popen(["nsenter", f"--net={ns_path}", sys.executable, "-c", code]))


def _fetch(host: str, port: int, deadline: float = 5.0) -> bytes:
    end = time.monotonic() + deadline
    while True:
        try:
            with socket.create_connection((host, port), timeout=1) as s:
                return s.recv(100)
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.05)


def test_two_pods_ping_hostport_and_teardown(env: Env) -> None:
    pa = env.run(env.netns.create("kubepy-pod-a"))
    pb = env.run(env.netns.create("kubepy-pod-b"))
    mapping = [{"hostPort": HOST_PORT, "containerPort": 8080, "protocol": "tcp"}]
    ips_a = env.run(env.net.setup("uid-a", "default", "a", pa, mapping))
    ips_b = env.run(env.net.setup("uid-b", "default", "b", pb, []))
    for ips in (ips_a, ips_b):
        assert ips.pod_ip and ips.pod_ip.startswith("10.244.213.") and ips.pod_ip != GATEWAY
        assert ips.gateways == [GATEWAY]
    assert ips_a.pod_ip != ips_b.pod_ip
    assert f"inet {ips_a.cidrs[0]}" in env.in_ns(pa, "ip", "-o", "addr", "show", "eth0").stdout
    assert "UP" in env.in_ns(pa, "ip", "-o", "link", "show", "lo").stdout
    env.run(env.net.check("uid-a"))

    for ns, target in ((pa, ips_b.pod_ip), (pb, ips_a.pod_ip), (pa, GATEWAY), (pb, GATEWAY)):
        r = env.in_ns(ns, "busybox", "ping", "-c1", "-W2", target, check=False)
        assert r.returncode == 0, f"ping {target}: {r.stdout}{r.stderr}"

    _listener(env, pa, 8080)
    assert _fetch(ips_a.pod_ip, 8080).startswith(b"hello-from-pod")  # direct, via the bridge
    assert _fetch(GATEWAY, HOST_PORT).startswith(b"hello-from-pod")  # hostPort via portmap
    dn_chain = iptables_chains(NETWORK, "uid-a")[1]
    assert any(dn_chain in line for line in _nat_state())

    veths_before = _sh("ip", "-o", "link", "show", "master", BRIDGE).stdout.count("\n")
    assert veths_before == 2
    env.run(env.net.teardown("uid-a"))
    env.run(env.net.teardown("uid-a"))  # idempotent
    assert _sh("ip", "-o", "link", "show", "master", BRIDGE).stdout.count("\n") == 1
    assert not any(c in line for line in _nat_state() for c in iptables_chains(NETWORK, "uid-a"))
    assert "eth0" not in env.in_ns(pa, "ip", "-o", "link", check=False).stdout
    assert not (env.tmp / "ipam" / NETWORK / ips_a.pod_ip).exists()
    assert env.net.pod_ips("uid-a") is None
    with pytest.raises(OSError):
        _fetch(GATEWAY, HOST_PORT, deadline=0.3)

    env.run(env.netns.delete("kubepy-pod-a"))
    assert not env.netns.exists("kubepy-pod-a") and not os.path.exists(pa)


def test_netns_pinned_in_process_with_lo_up(env: Env) -> None:
    """NetNSManager.create makes a new namespace from a thread of its own (the caller's
    namespace stays), lo up; loopback_up brings lo up in a namespace made elsewhere."""
    own = os.stat("/proc/thread-self/ns/net").st_ino
    path = env.run(env.netns.create("kubepy-pod-g"))
    assert env.netns.exists("kubepy-pod-g")
    inode = os.stat(path).st_ino
    assert inode != own and os.stat("/proc/thread-self/ns/net").st_ino == own
    deadline = time.monotonic() + 2
    while any(t.name == "kubepy-netns" for t in threading.enumerate()):   # it ends at once
        assert time.monotonic() < deadline, "the namespace thread lives on"
        time.sleep(0.01)
    assert ",UP" in env.in_ns(path, "ip", "-o", "link", "show", "lo").stdout
    assert env.in_ns(path, "ip", "-o", "link", "show").stdout.count("\n") == 1   # lo only
    assert env.run(env.netns.create("kubepy-pod-g")) == path          # reused
    assert os.stat(path).st_ino == inode

    other = str(env.tmp / "netns" / "made-by-unshare")
    Path(other).touch()
    _sh("unshare", f"--net={other}", "true")
    try:
        assert ",UP" not in env.in_ns(other, "ip", "-o", "link", "show", "lo").stdout
        env.run(loopback_up(other))
        assert ",UP" in env.in_ns(other, "ip", "-o", "link", "show", "lo").stdout
        assert os.stat("/proc/thread-self/ns/net").st_ino == own
        with pytest.raises(OSError):
            env.run(loopback_up(str(env.tmp / "not-a-namespace")))
    finally:
        env.netns.delete_path(other)
    env.run(env.netns.delete("kubepy-pod-g"))
    assert not os.path.exists(path)


OUTSIDE_HOST, OUTSIDE_PEER = "198.51.100.1", "198.51.100.2"   # TEST-NET-2, a private veth


def _masquerade_rules() -> list[str]:
    return [r for r in _nat_state() if f'name: \\"{NETWORK}\\" id: \\"node-masquerade' in r]


def test_egress_is_masqueraded_by_one_node_rule(env: Env) -> None:
    """Traffic from a pod to an address outside the pod CIDR leaves with the node's address
    (one POSTROUTING rule for the whole pod CIDR, no per-pod chain); pod to pod keeps the
    pod's address; the rule goes with the last pod, and comes back with the next one."""
    pa = env.run(env.netns.create("kubepy-pod-e"))
    pb = env.run(env.netns.create("kubepy-pod-f"))
    ips_a = env.run(env.net.setup("uid-e", "default", "e", pa, []))
    ips_b = env.run(env.net.setup("uid-f", "default", "f", pb, []))
    assert len(_masquerade_rules()) == 1, _nat_state()
    assert not any(iptables_chains(NETWORK, "uid-e")[0] in line for line in _nat_state())
    outside = env.run(env.netns.create("kubepy-outside"))
    host_if = f"kpyo{os.getpid() % 100000}"
    try:
        _sh("ip", "link", "add", host_if, "type", "veth", "peer", "name", f"{host_if}p")
        _sh("ip", "link", "set", f"{host_if}p", "netns", outside)
        _sh("ip", "addr", "add", f"{OUTSIDE_HOST}/30", "dev", host_if)
        _sh("ip", "link", "set", host_if, "up")
        env.in_ns(outside, "ip", "addr", "add", f"{OUTSIDE_PEER}/30", "dev", f"{host_if}p")
        env.in_ns(outside, "ip", "link", "set", f"{host_if}p", "up")
        env.in_ns(outside, "ip", "link", "set", "lo", "up")
        _listener(env, outside, 8081)
        _listener(env, pb, 8082)
        fetch = ("import socket,sys\nfor _ in range(50):\n try:\n"
                 "  s=socket.create_connection((sys.argv[1],int(sys.argv[2])),timeout=1)\n"
                 "  print(s.recv(100).decode());break\n except OSError:\n"
                 "  import time;time.sleep(0.1)\n")
        out = env.in_ns(pa, sys.executable, "-c", fetch, OUTSIDE_PEER, "8081").stdout
        assert out.strip() == f"hello-from-pod {OUTSIDE_HOST}"   # masqueraded
        out = env.in_ns(pa, sys.executable, "-c", fetch, ips_b.pod_ip or "", "8082").stdout
        assert out.strip() == f"hello-from-pod {ips_a.pod_ip}"   # inside the CIDR: not
    finally:
        _sh("ip", "link", "delete", host_if, check=False)
    env.run(env.net.teardown("uid-e"))
    assert len(_masquerade_rules()) == 1   # pod f still needs it
    env.run(env.net.teardown("uid-f"))
    assert _masquerade_rules() == []
    env.run(env.net.setup("uid-e", "default", "e", pa, []))
    assert len(_masquerade_rules()) == 1
    assert env.run(env.net.cleanup_all(env.netns)) == []
    assert _masquerade_rules() == []


def test_teardown_after_restart_uses_cache(env: Env) -> None:
    p = env.run(env.netns.create("kubepy-pod-c"))
    ips = env.run(env.net.setup("uid-c", "ns1", "c", p,
                                [{"hostPort": HOST_PORT + 1, "containerPort": 80,
                                  "protocol": "tcp"}]))
    restarted = PodNetwork(CNI_BIN, env.conf, env.tmp / "cni")
    assert restarted.pod_ips("uid-c") == ips
    env.run(restarted.teardown("uid-c"))
    assert _sh("ip", "-o", "link", "show", "master", BRIDGE).stdout == ""
    assert not any(c in line for line in _nat_state() for c in iptables_chains(NETWORK, "uid-c"))


def test_cleanup_all_removes_live_pods(env: Env) -> None:
    p = env.run(env.netns.create("kubepy-pod-d"))
    env.run(env.net.setup("uid-d", "ns1", "d", p,
                          [{"hostPort": HOST_PORT + 2, "containerPort": 80, "protocol": "tcp"}]))
    assert BRIDGE in _links()
    assert env.run(env.net.cleanup_all(env.netns)) == []
    assert BRIDGE not in _links()
    assert env.netns.names() == []
    assert env.net.pod_ips("uid-d") is None
