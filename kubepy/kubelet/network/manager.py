"""A node's pod network: CNI ADD/DEL per pod sandbox, and removal of everything at killall.

``PodNetwork`` owns one network configuration list (see ``cni.build_conflist``) and a data
directory::

    <data_dir>/results/   cached ADD results (invoke.ResultCache), one per pod and interface
    <data_dir>/ip_forward the value of net.ipv4.ip_forward before the bridge plugin set it

The CNI container ID is the pod UID (stable across kubelet restarts, unique per pod). Setup
brings ``lo`` up (``netns.loopback_up``: what the loopback plugin's ADD does, without its
exec; its DEL, which only sets ``lo`` down in a namespace about to go, is not run), then ADDs the list on ``eth0`` (without portmap
for a pod without hostPorts: ``cni.plugins_for``); the cache entry, holding the list as used,
is written before the ADD so that even a crash half-way leaves enough to DEL. Teardown DELs
from the cache (falling back to the current list when there is none) and is idempotent.

The node's masquerade rule for the pod CIDR (``cni.masquerade_rule``) exists while at least
one pod is attached: the first setup adds it, the teardown that leaves the cache without an
entry of this network removes it (so a node without pods has no nat rule of ours, as with
the bridge plugin's per-pod ``ipMasq``); this instance remembers its state, so a burst of
pods costs no iptables exec beyond the first.

``cleanup_all`` is the network half of ``kubepy killall``: DEL every cached pod, remove any
nat-table leftovers of our network, the bridge, the host-local leases, the namespaces pinned by
a ``NetNSManager`` and restore ip_forward.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

from kubepy.kubelet.network import iptables
from kubepy.kubelet.network.cni import (
    PodIPs, iptables_chains, masquerade_rule, masquerade_subnets, parse_result, plugins_for,
)
from kubepy.kubelet.network.invoke import (
    CNIError, PluginRunner, ResultCache, Runner, add_network_list, check_network_list,
    del_network_list,
)
from kubepy.kubelet.network.netns import NetNSManager, loopback_up
from kubepy.kubelet.network.process import run_process

POD_IFNAME = "eth0"
IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")


def _cni_args(pod_uid: str, namespace: str, name: str) -> str:
    return (f"IgnoreUnknown=1;K8S_POD_NAMESPACE={namespace};K8S_POD_NAME={name};"
            f"K8S_POD_INFRA_CONTAINER_ID={pod_uid};K8S_POD_UID={pod_uid}")


class PodNetwork:
    """CNI networking for the pods of one node."""

    def __init__(self, cni_bin_dir: str | list[str], conf: dict[str, Any], data_dir: str | Path,
                 *, runner: Runner | None = None, ip_forward: Path = IP_FORWARD) -> None:
        self.conf = conf
        self.network = conf["name"]
        self.data_dir = Path(data_dir)
        self.runner: Runner = runner or PluginRunner(cni_bin_dir)
        self.cache = ResultCache(self.data_dir / "results")
        self._ip_forward = ip_forward
        self._masquerading: bool | None = None   # the node rule's state, None: not known
        self._masquerade_lock = asyncio.Lock()

    def _bridge_plugin(self) -> dict[str, Any]:
        return next(p for p in self.conf["plugins"] if p["type"] == "bridge")

    def _remember_ip_forward(self) -> None:
        saved = self.data_dir / "ip_forward"
        if not saved.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            saved.write_text(self._ip_forward.read_text().strip())

    async def _masquerade(self, op: str) -> tuple[int, str]:
        """``iptables -t nat <op> POSTROUTING`` with the node rule of each IPv4 pod subnet;
        the last failing (exit code, output), (0, "") when all went."""
        failed = (0, "")
        for subnet in masquerade_subnets(self.conf):
            rc, out = await iptables.run("-t", "nat", op, "POSTROUTING",
                                         *masquerade_rule(self.network, subnet))
            if rc != 0:
                failed = (rc, out)
        return failed

    async def _acquire_masquerade(self) -> None:
        """Make sure the node's masquerade rule is there (a pod is about to be attached);
        ``iptables -C`` only when this instance does not know; raises ``CNIError``."""
        async with self._masquerade_lock:
            if self._masquerading:
                return
            if self._masquerading is None and (await self._masquerade("-C"))[0] == 0:
                self._masquerading = True
                return
            rc, out = await self._masquerade("-A")
            if rc != 0:
                raise CNIError("iptables", "ADD", 999,
                               f"node masquerade rule: {out.strip()}")
            self._masquerading = True

    async def _release_masquerade(self) -> None:
        """Remove the node's masquerade rule once no pod of this network is attached (the
        cache is the record: an entry is saved before its ADD and removed after its DEL)."""
        async with self._masquerade_lock:
            if self._masquerading is False or any(self.cache.root.glob(f"{self.network}-*")):
                return
            await self._masquerade("-D")   # absent (another process removed it): fine
            self._masquerading = False

    async def setup(self, pod_uid: str, namespace: str, name: str, netns_path: str,
                    port_mappings: list[dict[str, Any]]) -> PodIPs:
        """Attach the pod's namespace to the node network; its addresses. On failure the
        partial setup is torn down and the ``CNIError`` re-raised."""
        self._remember_ip_forward()
        args = _cni_args(pod_uid, namespace, name)
        runtime_config = {"portMappings": port_mappings}
        conf = plugins_for(self.conf, runtime_config)
        entry: dict[str, Any] = {
            "network": self.network, "containerId": pod_uid, "ifName": POD_IFNAME,
            "netns": netns_path, "args": args, "config": conf,
            "runtimeConfig": runtime_config, "result": None,
        }
        self.cache.save(entry)
        try:
            await self._acquire_masquerade()
            try:
                await loopback_up(netns_path)
            except OSError as e:
                raise CNIError("loopback", "ADD", 999, str(e)) from e
            result = await add_network_list(self.runner, conf, container_id=pod_uid,
                                            netns=netns_path, ifname=POD_IFNAME,
                                            runtime_config=runtime_config, args=args)
        except CNIError:
            try:
                await self._delete(entry)
            finally:
                await self._release_masquerade()
            raise
        entry["result"] = result
        self.cache.save(entry)
        return parse_result(result, ifname=POD_IFNAME)

    async def check(self, pod_uid: str) -> None:
        """CHECK the pod's network against its cached result; raises ``CNIError``."""
        entry = self.cache.load(self.network, pod_uid, POD_IFNAME)
        if entry is None or entry.get("result") is None:
            raise CNIError(self.network, "CHECK", 999, f"no cached result for pod {pod_uid}")
        conf = entry["config"]
        if not any(":" in ip for ip in parse_result(entry["result"], ifname=POD_IFNAME).ips):
            # portmap before 1.3.0 (Debian 12 ships 1.1.1) also CHECKs ip6tables and fails
            # when the pod has no IPv6 address; skip it then (upstream fix fb5d195f)
            conf = {**conf, "plugins": [p for p in conf["plugins"] if p["type"] != "portmap"]}
        await check_network_list(self.runner, conf, container_id=pod_uid,
                                 netns=entry["netns"], ifname=POD_IFNAME,
                                 runtime_config=entry["runtimeConfig"], args=entry["args"],
                                 prev_result=entry["result"])

    def pod_ips(self, pod_uid: str) -> PodIPs | None:
        """The cached addresses of a pod set up earlier (also after a restart)."""
        entry = self.cache.load(self.network, pod_uid, POD_IFNAME)
        if entry is None or entry.get("result") is None:
            return None
        return parse_result(entry["result"], ifname=POD_IFNAME)

    async def teardown(self, pod_uid: str, namespace: str = "", name: str = "",
                       netns_path: str | None = None) -> None:
        """Detach the pod from the network (idempotent). The netns may already be gone."""
        entry = self.cache.load(self.network, pod_uid, POD_IFNAME) or {
            "network": self.network, "containerId": pod_uid, "ifName": POD_IFNAME,
            "netns": netns_path or "", "args": _cni_args(pod_uid, namespace, name),
            "config": self.conf, "runtimeConfig": {"portMappings": []}, "result": None,
        }
        if netns_path is not None:
            entry["netns"] = netns_path
        try:
            await self._delete(entry)
        finally:
            await self._release_masquerade()

    async def _delete(self, entry: dict[str, Any]) -> None:
        cid = entry["containerId"]
        netns = entry["netns"] if Path(entry["netns"] or "/nonexistent").exists() else ""
        await del_network_list(self.runner, entry["config"], container_id=cid, netns=netns,
                               ifname=POD_IFNAME, runtime_config=entry["runtimeConfig"],
                               args=entry["args"], prev_result=entry["result"])
        self.cache.delete(self.network, cid, POD_IFNAME)

    async def cleanup_all(self, netns: NetNSManager | None = None, *,
                          delete_bridge: bool = True) -> list[str]:
        """Remove every trace of this network on the machine; the problems met (empty when
        everything went). Safe to run repeatedly and after a crash."""
        problems: list[str] = []
        chains: list[str] = []
        for entry in self.cache.entries():
            chains += iptables_chains(entry["network"], entry["containerId"])
            try:
                await self._delete(entry)
            except (CNIError, OSError) as e:
                problems.append(str(e))
                self.cache.delete(entry["network"], entry["containerId"], entry["ifName"])
        problems += await iptables.remove_leftovers(self.network, chains)
        self._masquerading = None
        bridge = self._bridge_plugin()
        if delete_bridge:
            rc, _, err = await run_process(["ip", "link", "delete", bridge["bridge"], "type",
                                            "bridge"])
            if rc != 0 and b"Cannot find device" not in err:
                problems.append(f"ip link delete {bridge['bridge']}: {err.decode().strip()}")
        data_dir = bridge.get("ipam", {}).get("dataDir")
        if data_dir:
            shutil.rmtree(Path(data_dir) / self.network, ignore_errors=True)
        if netns is not None:
            netns.delete_all()
        saved = self.data_dir / "ip_forward"
        if saved.exists():
            self._ip_forward.write_text(saved.read_text().strip() + "\n")
            saved.unlink()
        return problems
