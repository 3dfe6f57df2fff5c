"""PodRuntime against real runc, overlayfs and the CNI plugins (root): a pod with an init
container and a shared emptyDir, two containers talking over localhost, a running pod stopped
with a grace period, a failing init container; after ``stop_pod`` no runc container, mount,
network namespace, veth, cgroup or iptables rule is left.

The image is built here from busybox-static as an OCI layout and imported into a temp image
store. The pod network is a private test podCIDR (10.244.214.0/24) on its own bridge. Needs
root, runc, busybox-static, containernetworking-plugins, iptables, iproute2; fails, not skips,
when they are missing. The fixture removes everything it made, also when a test fails.
"""

from __future__ import annotations

import asyncio
import ctypes
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from kubepy.kubelet.images.archive import import_archive
from kubepy.kubelet.images.store import ImageStore
from kubepy.kubelet.network import NetNSManager, PodNetwork, build_conflist
from kubepy.kubelet.pods.worker import PodRuntime
from kubepy.kubelet.runtime import cgroups
from kubepy.kubelet.runtime.runc import ExitWatcher, Runc
from tests.bundles import remove_runc_containers
from tests.images import BUSYBOX, IMAGE, build_busybox_image

Obj = dict[str, Any]

CNI_BIN = "/usr/lib/cni"
POD_CIDR = "10.244.214.0/24"
BRIDGE_PREFIX = "kpyp"            # + 8 hex digits per test: 12 characters, unique per run
NETWORK_PREFIX = "kubepy-e2e-pods-"
CLUSTER_DNS = "10.43.0.10"


def _require() -> None:
    if os.geteuid() != 0:
        pytest.fail("pod e2e tests need root")
    for plugin in ("bridge", "host-local", "portmap", "loopback"):
        if not os.access(f"{CNI_BIN}/{plugin}", os.X_OK):
            pytest.fail(f"{CNI_BIN}/{plugin} missing: install containernetworking-plugins")
    for tool in ("runc", "ip", "iptables", "iptables-save", "unshare"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} missing (runc, iproute2, iptables, util-linux)")
    if not BUSYBOX.exists():
        pytest.fail("busybox-static is not installed")


def _sh(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=20).stdout


def _nat_state() -> set[str]:
    out = _sh("iptables-save", "-t", "nat").splitlines()
    return {line.split(" [")[0] for line in out if line.startswith("-A ")
            or (line.startswith(":") and " - [" in line)}


def _cni_nat_rules(network: str) -> set[str]:
    """The nat rules the CNI plugins made for pods of *network* (their comments name it);
    other engineers' servers and agents own the rest of the table."""
    tag = f'name: \\"{network}\\"'
    return {r for r in _nat_state() if tag in r}


def _bridge_ports(bridge: str) -> list[str]:
    """The veths attached to *bridge* (empty when it is gone)."""
    r = subprocess.run(["ip", "-o", "link", "show", "master", bridge], capture_output=True,
                       text=True)
    return [line.split(":")[1].strip().split("@")[0] for line in r.stdout.splitlines()]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _links() -> set[str]:
    return {line.split(":")[1].strip().split("@")[0]
            for line in _sh("ip", "-o", "link", "show").splitlines()}


def _mounts_under(path: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return [p for p in points if p == path or p.startswith(path + "/")]


class Env:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.store = ImageStore(tmp / "images")
        build_busybox_image(tmp / "layout")
        import_archive(self.store, tmp / "layout")
        self.runc = Runc(str(tmp / "runc"))
        self.netns = NetNSManager(tmp / "netns")
        tag = uuid.uuid4().hex[:8]
        self.bridge, self.network_name = BRIDGE_PREFIX + tag, NETWORK_PREFIX + tag
        self.conf = build_conflist(pod_cidr=POD_CIDR, ipam_data_dir=str(tmp / "ipam"),
                                   name=self.network_name, bridge=self.bridge)
        self.network = PodNetwork(CNI_BIN, self.conf, tmp / "cni")
        self.cgroup_parent = f"kubepy-test-{uuid.uuid4().hex[:12]}"
        self.rt = PodRuntime(str(tmp / "data"), self.store, self.runc, self.network,
                             netns=self.netns, watcher=ExitWatcher(),
                             cgroup_parent=self.cgroup_parent, cluster_dns=[CLUSTER_DNS],
                             host_ip="192.0.2.10")

    def nat_rules(self) -> set[str]:
        return _cni_nat_rules(self.network_name)

    def assert_clean(self) -> None:
        """What stop_pod must leave: no container, mount, namespace, veth, cgroup, rule (of
        this test's own network and bridge: other kubepy tests may run beside it)."""
        assert asyncio.run(self.runc.list()) == []
        assert _mounts_under(str(self.tmp)) == []
        assert self.netns.names() == []
        assert _bridge_ports(self.bridge) == [], "veths left behind"
        assert self.nat_rules() == set(), "iptables nat rules left behind"
        pod_cgroups = [os.path.join(p, d) for p in cgroups.existing(self.cgroup_parent)
                       for d in os.listdir(p) if os.path.isdir(os.path.join(p, d))]
        assert pod_cgroups == [], "pod cgroups left behind"
        assert not any((self.tmp / "ipam").glob("*/*.*.*.*")), "host-local leases left"


def _umount_detach(path: str) -> None:
    ctypes.CDLL(None, use_errno=True).umount2(path.encode(), 2)


async def _safety_net(e: Env) -> list[str]:
    problems = await remove_runc_containers(e.runc)
    for point in reversed(_mounts_under(str(e.tmp))):
        _umount_detach(point)
    problems += await e.network.cleanup_all(e.netns)
    problems += cgroups.remove_cgroup(e.cgroup_parent)
    return problems


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    _require()
    ip_forward_before = Path("/proc/sys/net/ipv4/ip_forward").read_text()
    e = Env(tmp_path)
    try:
        yield e
    finally:
        problems = asyncio.run(_safety_net(e))
        assert problems == []
        assert e.nat_rules() == set()
        assert e.bridge not in _links()
        assert Path("/proc/sys/net/ipv4/ip_forward").read_text() == ip_forward_before
        assert cgroups.existing(e.cgroup_parent) == []
        assert _mounts_under(str(tmp_path)) == []


def _pod(name: str, spec: Obj) -> Obj:
    return {"metadata": {"name": name, "namespace": "default", "uid": str(uuid.uuid4())},
            "spec": {"restartPolicy": "Never", **spec}}


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _sh_container(name: str, script: str, **extra: Any) -> Obj:
    return {"name": name, "image": IMAGE, "command": ["sh", "-c", script], **extra}


def _state(status: Obj) -> Obj:
    return {s["name"]: s["state"] for s in status.get("initContainerStatuses", [])
            + status["containerStatuses"]}


def test_init_container_shared_dir_logs_and_cleanup(env: Env) -> None:
    e = env
    mount = [{"name": "work", "mountPath": "/work"}]
    pod = _pod("init-demo", {
        "volumes": [{"name": "work", "emptyDir": {}}],
        "hostAliases": [{"ip": "10.1.2.3", "hostnames": ["foo.remote", "bar.remote"]}],
        "initContainers": [_sh_container("init", "echo from-init > /work/msg",
                                         volumeMounts=mount)],
        "containers": [_sh_container(
            "app", "cat /work/msg; ip -o -4 addr show dev eth0; hostname; "
                   "cat /etc/hosts /etc/resolv.conf", volumeMounts=mount)]})
    uid = pod["metadata"]["uid"]

    async def main() -> tuple[Obj, str, list[str]]:
        state = await e.rt.start_pod(pod)
        try:
            assert await e.rt.wait_containers(uid, 20)
            status = state.status()
            log = Path(e.rt.log_path(pod, "app")).read_text()
            return status, log, list(state.pod_ips)
        finally:
            await e.rt.stop_pod(uid, 5)

    status, log, pod_ips = asyncio.run(main())
    assert status["phase"] == "Succeeded", json.dumps(status)
    states = _state(status)
    for name in ("init", "app"):
        term = states[name]["terminated"]
        assert (term["exitCode"], term["reason"]) == (0, "Completed"), name
        assert term["startedAt"] <= term["finishedAt"]
    assert [s["ready"] for s in status["initContainerStatuses"]] == [True]
    assert status["containerStatuses"][0]["containerID"].startswith("runc://")
    assert status["containerStatuses"][0]["image"] == IMAGE
    assert status["containerStatuses"][0]["imageID"].startswith("docker.io/library/busybox@sha256:")
    assert len(pod_ips) == 1 and ipaddress.ip_address(pod_ips[0]) in ipaddress.ip_network(POD_CIDR)
    assert status["podIP"] == pod_ips[0]
    lines = log.splitlines()
    assert lines[0] == "from-init"
    assert f"inet {pod_ips[0]}/24" in lines[1]
    assert lines[2] == "init-demo"
    assert f"{pod_ips[0]}\tinit-demo" in lines
    assert "10.1.2.3\tfoo.remote\tbar.remote" in lines
    assert f"nameserver {CLUSTER_DNS}" in lines
    assert "search default.svc.cluster.local svc.cluster.local cluster.local" in log
    e.assert_clean()
    assert Path(e.rt.log_path(pod, "app")).exists()  # logs outlive stop_pod
    e.rt.remove_pod(pod)
    assert not Path(e.rt.pod_dir(uid)).exists() and not Path(e.rt.pod_log_dir(pod)).exists()


def test_containers_talk_over_localhost(env: Env) -> None:
    e = env
    pod = _pod("pair", {"containers": [
        _sh_container("server", "echo hello-over-localhost | nc -l -p 9000"),
        _sh_container("client", "for i in $(seq 100); do nc 127.0.0.1 9000 </dev/null && "
                                "exit 0; sleep 0.1; done; exit 1")]})
    uid = pod["metadata"]["uid"]

    async def main() -> tuple[Obj, str]:
        state = await e.rt.start_pod(pod)
        try:
            assert await e.rt.wait_containers(uid, 20)
            return state.status(), Path(e.rt.log_path(pod, "client")).read_text()
        finally:
            await e.rt.stop_pod(uid, 5)

    status, client_log = asyncio.run(main())
    assert "hello-over-localhost" in client_log
    assert status["phase"] == "Succeeded"
    assert {n: s["terminated"]["exitCode"] for n, s in _state(status).items()} == \
        {"server": 0, "client": 0}
    e.assert_clean()


def test_running_pod_stopped_with_grace(env: Env) -> None:
    e = env
    pod = _pod("sleeper", {"containers": [
        _sh_container("term-ok", "trap 'exit 0' TERM; echo trapped; sleep 3600 & wait",
                      ports=[{"containerPort": 8080, "hostPort": _free_port()}]),
        _sh_container("stubborn", "trap '' TERM; echo trapped; sleep 3600 & wait; sleep 3600")]})
    uid = pod["metadata"]["uid"]

    async def main() -> tuple[Obj, Obj, float]:
        state = await e.rt.start_pod(pod)
        try:
            # SIGTERM must not arrive before the shells have set their traps (a loaded
            # machine may not have run them yet when start_pod returns)
            for _ in range(200):
                if all("trapped" in _read(e.rt.log_path(pod, c)) for c in ("term-ok", "stubborn")):
                    break
                await asyncio.sleep(0.05)
            running = state.status()
            # the checks of assert_clean see this pod's veth and its hostPort's DNAT rules
            assert len(_bridge_ports(e.bridge)) == 1
            assert any("DNAT" in r for r in e.nat_rules()), e.nat_rules()
            loop = asyncio.get_running_loop()
            t0 = loop.time()
        finally:
            await e.rt.stop_pod(uid, 1.0)
        return running, state.status(), loop.time() - t0

    running, stopped, elapsed = asyncio.run(main())
    assert running["phase"] == "Running"
    assert all("running" in s for s in _state(running).values())
    assert [s["ready"] and s["started"] for s in running["containerStatuses"]] == [True, True]
    states = _state(stopped)
    assert states["term-ok"]["terminated"]["exitCode"] == 0
    assert (states["stubborn"]["terminated"]["exitCode"],
            states["stubborn"]["terminated"]["reason"]) == (137, "Error")
    assert 1.0 <= elapsed < 5.0
    e.assert_clean()


def test_failed_init_container_fails_the_pod(env: Env) -> None:
    e = env
    pod = _pod("bad-init", {
        "initContainers": [_sh_container("init", "echo no >&2; exit 3")],
        "containers": [_sh_container("app", "echo never")]})
    uid = pod["metadata"]["uid"]

    async def main() -> Obj:
        state = await e.rt.start_pod(pod)
        try:
            return state.status()
        finally:
            await e.rt.stop_pod(uid, 0)

    status = asyncio.run(main())
    assert status["phase"] == "Failed", json.dumps(status)
    states = _state(status)
    assert (states["init"]["terminated"]["exitCode"],
            states["init"]["terminated"]["reason"]) == (3, "Error")
    assert states["app"] == {"waiting": {"reason": "PodInitializing"}}
    assert Path(e.rt.log_path(pod, "init")).read_text() == "no\n"
    assert not Path(e.rt.log_path(pod, "app")).exists()
    e.assert_clean()


def test_containers_that_cannot_be_created_wait_with_a_reason(
        env: Env) -> None:
    e = env
    pod = _pod("partial", {
        "volumes": [{"name": "cfg", "configMap": {"name": "c"}}],
        "containers": [
            {"name": "missing", "image": "docker.io/library/nothere:1",
             "imagePullPolicy": "Never"},
            {"name": "pull", "image": "docker.io/library/nothere:2"},
            _sh_container("noconf", "true", volumeMounts=[{"name": "cfg", "mountPath": "/c"}]),
            _sh_container("ok", "sleep 3600")]})
    uid = pod["metadata"]["uid"]

    async def main() -> Obj:
        state = await e.rt.start_pod(pod)
        try:
            return state.status()
        finally:
            await e.rt.stop_pod(uid, 0)

    status = asyncio.run(main())
    assert status["phase"] == "Pending"
    states = _state(status)
    assert states["missing"] == {"waiting": {
        "reason": "ErrImageNeverPull",
        "message": 'Container image "docker.io/library/nothere:1" is not present with pull '
                   'policy of Never'}}
    assert states["pull"]["waiting"]["reason"] == "ErrImagePull"
    assert states["noconf"]["waiting"]["reason"] == "CreateContainerConfigError"
    assert "configMap" in states["noconf"]["waiting"]["message"]
    assert "running" in states["ok"]
    e.assert_clean()
