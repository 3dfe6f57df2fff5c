"""CNI configuration and results as plain data (no I/O).

The node's pod network is one CNI network configuration list (``.conflist``, CNI spec 1.0.0,
which Debian 12's containernetworking-plugins 1.1.1 support alongside 0.1.0-0.4.0):

- ``bridge``: a Linux bridge (``kubepy0``) that is the pods' default gateway, with hairpin
  mode so a pod reaches itself through a Service or hostPort; ``host-local`` IPAM hands out
  addresses from the node's podCIDR and keeps its leases in a kubepy-owned directory (never
  ``/var/lib/cni``).
- ``portmap``: DNAT for ``hostPort``s, fed through the ``portMappings`` capability. A pod
  without hostPorts skips it (``plugins_for``): portmap returns its ``prevResult`` unchanged
  when there are no mappings, so running it only costs an exec on ADD and on DEL.

Traffic leaving an IPv4 pod CIDR is masqueraded by ONE node-level rule
(``masquerade_rule``, as kubenet did) instead of the bridge plugin's ``ipMasq``, which adds a
chain and two rules per pod with five ``iptables`` execs on ADD and as many on DEL (about
half the bridge plugin's time). The rule matches what ``ipMasq`` did per pod: from the pod
CIDR to outside it, multicast excepted. An IPv6 pod CIDR keeps ``ipMasq`` (the cleanup
reads the IPv4 nat table only).

The loopback interface is not part of the chain: ``netns`` brings it up in-process (what the
``loopback`` plugin, which CRI runtimes run as a network of its own, does).

Chaining follows libcni: each plugin's stdin is its own entry plus the list's ``name`` and
``cniVersion``, the previous plugin's result as ``prevResult`` (the cached final result on
DEL/CHECK) and ``runtimeConfig`` holding only the capabilities the plugin declares. The iptables
chain names the plugins derive from (network name, container ID) are computed here too, so
cleanup can find exactly the chains kubepy caused.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from dataclasses import dataclass, field
from typing import Any

CNI_VERSION = "1.0.0"
NETWORK_NAME = "kubepy"
BRIDGE_NAME = "kubepy0"

# iptables chains the portmap plugin creates once and shares between containers
PORTMAP_SHARED_CHAINS = ("CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-SETMARK", "CNI-HOSTPORT-MASQ",
                         "CNI-HOSTPORT-SNAT")


def build_conflist(*, pod_cidr: str, ipam_data_dir: str, name: str = NETWORK_NAME,
                   bridge: str = BRIDGE_NAME, mtu: int | None = None,
                   cni_version: str = CNI_VERSION) -> dict[str, Any]:
    """The node's network configuration list for ``pod_cidr`` (e.g. ``10.244.1.0/24``).

    The gateway is the first address of the subnet (host-local's default) and lives on the
    bridge; pods get the rest of the range.
    """
    subnet = ipaddress.ip_network(pod_cidr, strict=True)
    default_route = "0.0.0.0/0" if subnet.version == 4 else "::/0"
    bridge_conf: dict[str, Any] = {
        "type": "bridge",
        "bridge": bridge,
        "isGateway": True,
        "ipMasq": subnet.version == 6,   # IPv4: one node rule, see masquerade_rule
        "hairpinMode": True,
        "ipam": {
            "type": "host-local",
            "ranges": [[{"subnet": str(subnet)}]],
            "routes": [{"dst": default_route}],
            "dataDir": ipam_data_dir,
        },
    }
    if mtu is not None:
        bridge_conf["mtu"] = mtu
    return {
        "cniVersion": cni_version,
        "name": name,
        "plugins": [
            bridge_conf,
            {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True},
        ],
    }


def port_mappings(pod: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``portMappings`` runtime config for a pod: one entry per container port with a
    ``hostPort`` (init containers included, as the kubelet does), protocol lower-cased."""
    spec = pod.get("spec") or {}
    out: list[dict[str, Any]] = []
    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        for p in c.get("ports") or []:
            host_port = p.get("hostPort")
            if not host_port:
                continue
            entry: dict[str, Any] = {
                "hostPort": int(host_port),
                "containerPort": int(p["containerPort"]),
                "protocol": str(p.get("protocol") or "TCP").lower(),
            }
            if p.get("hostIP"):
                entry["hostIP"] = p["hostIP"]
            out.append(entry)
    return out


def plugins_for(conflist: dict[str, Any], runtime_config: dict[str, Any]) -> dict[str, Any]:
    """The list one pod is set up with: without ``portmap`` when the pod has no port
    mappings (the same final result, one exec less on ADD and on DEL)."""
    if runtime_config.get("portMappings"):
        return conflist
    return {**conflist, "plugins": [p for p in conflist["plugins"] if p["type"] != "portmap"]}


MASQUERADE_ID = "node-masquerade"


def masquerade_subnets(conflist: dict[str, Any]) -> list[str]:
    """The IPv4 pod subnets of the list's bridge plugin that the node rule masquerades
    (those the bridge does not masquerade itself)."""
    out: list[str] = []
    for plugin in conflist["plugins"]:
        if plugin.get("type") != "bridge" or plugin.get("ipMasq"):
            continue
        for rng in (plugin.get("ipam") or {}).get("ranges") or []:
            for entry in rng:
                net = ipaddress.ip_network(entry["subnet"], strict=False)
                if net.version == 4:
                    out.append(str(net))
    return out


def masquerade_rule(network: str, subnet: str) -> list[str]:
    """The nat ``POSTROUTING`` rule (arguments after the chain name) masquerading traffic
    from the pod *subnet* to anything outside it but multicast (the bridge plugin's
    ``! -d 224.0.0.0/4``: iptables allows one ``-d`` per rule); its comment carries the
    plugins' marker so ``iptables.cleanup_commands`` finds it by network name."""
    return ["-s", subnet, "!", "-d", subnet, "-m", "addrtype", "!", "--dst-type", "MULTICAST",
            "-m", "comment", "--comment", comment_for(network, MASQUERADE_ID),
            "-j", "MASQUERADE"]


def plugin_stdin(conflist: dict[str, Any], plugin: dict[str, Any], *,
                 prev_result: dict[str, Any] | None,
                 runtime_config: dict[str, Any]) -> dict[str, Any]:
    """The configuration one plugin of the list reads on stdin (libcni's buildOneConfig)."""
    conf = dict(plugin)
    conf["name"] = conflist["name"]
    conf["cniVersion"] = conflist["cniVersion"]
    if prev_result is not None:
        conf["prevResult"] = prev_result
    caps = plugin.get("capabilities") or {}
    rt = {k: v for k, v in runtime_config.items() if caps.get(k)}
    if rt:
        conf["runtimeConfig"] = rt
    return conf


@dataclass(frozen=True)
class PodIPs:
    """What a pod's network setup produced: its addresses (IPv4 first, without prefix length),
    the same as CIDRs, the gateway, and the interfaces the result names."""

    ips: list[str] = field(default_factory=list)
    cidrs: list[str] = field(default_factory=list)
    gateways: list[str] = field(default_factory=list)
    interfaces: list[dict[str, Any]] = field(default_factory=list)

    @property
    def pod_ip(self) -> str | None:
        return self.ips[0] if self.ips else None

    def status_pod_ips(self) -> list[dict[str, str]]:
        """``status.podIPs`` of the pod."""
        return [{"ip": ip} for ip in self.ips]


def parse_result(result: dict[str, Any], *, ifname: str = "eth0") -> PodIPs:
    """Addresses from a CNI result (0.3.0-1.0.0 shape: ``ips[].address`` as CIDR, optional
    ``interface`` index into ``interfaces``). Only addresses on the container's ``ifname`` (or
    with no interface index) count; IPv4 comes before IPv6."""
    interfaces = list(result.get("interfaces") or [])
    found: list[tuple[int, str, str, str | None]] = []
    for entry in result.get("ips") or []:
        idx = entry.get("interface")
        if idx is not None:
            if not 0 <= idx < len(interfaces):
                raise ValueError(f"CNI result: ip interface index {idx} out of range")
            if interfaces[idx].get("name") != ifname:
                continue
        iface = ipaddress.ip_interface(entry["address"])
        found.append((iface.version, str(iface.ip), str(iface), entry.get("gateway")))
    found.sort(key=lambda t: t[0])
    return PodIPs(ips=[f[1] for f in found], cidrs=[f[2] for f in found],
                  gateways=[f[3] for f in found if f[3]], interfaces=interfaces)


def parse_error(stdout: bytes) -> tuple[int, str, str]:
    """``(code, msg, details)`` from a plugin's error output; plain text when it is not the
    spec's JSON error object."""
    try:
        doc = json.loads(stdout)
    except ValueError:
        return 999, stdout.decode(errors="replace").strip(), ""
    if not isinstance(doc, dict):
        return 999, stdout.decode(errors="replace").strip(), ""
    return int(doc.get("code") or 999), str(doc.get("msg") or ""), str(doc.get("details") or "")


def _hashed(prefix: str, name: str, container_id: str, length: int = 28) -> str:
    digest = hashlib.sha512((name + container_id).encode()).hexdigest()
    return prefix + digest[:length - len(prefix)]


def iptables_chains(name: str, container_id: str) -> list[str]:
    """nat-table chains the plugins create for one container of network ``name``: bridge's
    ``ipMasq`` chain and portmap's DNAT (and legacy SNAT) chains."""
    return [_hashed("CNI-", name, container_id), _hashed("CNI-DN-", name, container_id),
            _hashed("CNI-SN-", name, container_id)]


def comment_for(name: str, container_id: str) -> str:
    """The ``--comment`` the plugins put on a container's iptables rules (without portmap's
    ``dnat `` prefix)."""
    return f'name: "{name}" id: "{container_id}"'
