"""What a simulated node writes: its Node (labels, capacity, nodeInfo, addresses,
conditions with heartbeats) and its Lease in ``kube-node-lease``. Pure.

Node names are ``<prefix><index>``. Each node gets a fake InternalIP from
``NODE_IP_RANGE`` (10.250.0.0/16, reserved here for simulated nodes: nothing ever
connects to it) by index. Pod IPs come from the node's ``spec.podCIDR`` (set by the node IPAM
controller); a node that has none yet uses ``fallback_pod_cidr(index)`` (the index-th /24 of
10.42.0.0/16, then of 10.128.0.0/9 past 256 nodes).
"""

from __future__ import annotations

import hashlib
import ipaddress
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

Obj = dict[str, Any]

SIM_LABEL = "sim.kubepy.io/node"          # our kwok-style "type: kwok" marker
SIM_LABEL_VALUE = "true"
NODE_LEASE_NAMESPACE = "kube-node-lease"
LEASE_DURATION_SECONDS = 40
NODE_IP_RANGE = ipaddress.ip_network("10.250.0.0/16")
FALLBACK_POD_RANGES = (ipaddress.ip_network("10.42.0.0/16"), ipaddress.ip_network("10.128.0.0/9"))
KUBELET_PORT = 10250


@dataclass(frozen=True)
class NodeTemplate:
    """What every node of one ``kubepy simulate`` looks like."""
    cpu: str = "4"
    memory: str = "32Gi"
    pods: str = "110"
    ephemeral_storage: str = "100Gi"
    instance_type: str | None = None
    kubelet_version: str = "v1.32.0+kubepy"
    labels: dict[str, str] = field(default_factory=dict)
    taints: tuple[Obj, ...] = ()

    def resources(self) -> Obj:
        return {"cpu": self.cpu, "memory": self.memory, "pods": self.pods,
                "ephemeral-storage": self.ephemeral_storage,
                "hugepages-1Gi": "0", "hugepages-2Mi": "0"}


def node_name(prefix: str, index: int) -> str:
    return f"{prefix}{index}"


def node_ip(index: int) -> str:
    """The fake InternalIP of node ``index`` (skips .0 and .255 of each /24)."""
    host = (index // 254) * 256 + index % 254 + 1
    if host >= NODE_IP_RANGE.num_addresses:
        raise ValueError(f"node index {index} is beyond {NODE_IP_RANGE}")
    return str(NODE_IP_RANGE.network_address + host)


def fallback_pod_cidr(index: int) -> str:
    for net in FALLBACK_POD_RANGES:
        count = 2 ** (24 - net.prefixlen)
        if index < count:
            return str(ipaddress.ip_network((int(net.network_address) + (index << 8), 24)))
        index -= count
    raise ValueError("no fallback pod CIDR left")


def _stable_id(name: str, what: str) -> str:
    return hashlib.sha256(f"{what}/{name}".encode()).hexdigest()[:32]


def micro_time(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def rfc3339(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def node_labels(name: str, template: NodeTemplate) -> dict[str, str]:
    labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
              "kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
              "beta.kubernetes.io/arch": "amd64", SIM_LABEL: SIM_LABEL_VALUE}
    if template.instance_type:
        labels["node.kubernetes.io/instance-type"] = template.instance_type
        labels["beta.kubernetes.io/instance-type"] = template.instance_type
    labels.update(template.labels)
    return labels


# (type, status when healthy, reason, message)
_CONDITIONS = (
    ("NetworkUnavailable", "False", "RouteCreated", "RouteController created a route"),
    ("MemoryPressure", "False", "KubeletHasSufficientMemory",
     "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
)


def node_conditions(old: list[Obj], now: datetime) -> list[Obj]:
    """The healthy conditions with ``lastHeartbeatTime`` = now; ``lastTransitionTime`` kept
    while a condition's status is unchanged (NetworkUnavailable, which the network plugin
    owns, keeps its heartbeat too)."""
    stamp = rfc3339(now)
    previous = {c.get("type"): c for c in old}
    out: list[Obj] = []
    for type_, status, reason, message in _CONDITIONS:
        prev = previous.get(type_) or {}
        same = prev.get("status") == status
        cond = {"type": type_, "status": status, "reason": reason, "message": message,
                "lastHeartbeatTime": stamp,
                "lastTransitionTime": prev.get("lastTransitionTime") if same else stamp}
        if type_ == "NetworkUnavailable" and same:
            cond["lastHeartbeatTime"] = prev.get("lastHeartbeatTime") or stamp
        out.append(cond)
    return out


def node_status(name: str, index: int, template: NodeTemplate, old: Obj | None,
                now: datetime) -> Obj:
    """The status a simulated kubelet posts (``old``: the node's current status, if any)."""
    status: Obj = dict(old or {})
    status["capacity"] = template.resources()
    status["allocatable"] = template.resources()
    status["conditions"] = node_conditions(status.get("conditions") or [], now)
    status["addresses"] = [{"type": "InternalIP", "address": node_ip(index)},
                           {"type": "Hostname", "address": name}]
    status["daemonEndpoints"] = {"kubeletEndpoint": {"Port": KUBELET_PORT}}
    status["nodeInfo"] = {
        "machineID": _stable_id(name, "machine"),
        "systemUUID": str(uuid.UUID(_stable_id(name, "system"))),
        "bootID": (status.get("nodeInfo") or {}).get("bootID") or str(uuid.uuid4()),
        "kernelVersion": "6.1.0-sim",
        "osImage": "kubepy simulated node",
        "containerRuntimeVersion": "sim://0.1.0",
        "kubeletVersion": template.kubelet_version,
        "kubeProxyVersion": template.kubelet_version,
        "operatingSystem": "linux",
        "architecture": "amd64",
    }
    status.setdefault("images", [])
    return status


def new_node(name: str, index: int, template: NodeTemplate, now: datetime) -> Obj:
    """The Node a simulated kubelet registers."""
    node: Obj = {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": node_labels(name, template),
                     "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                     "volumes.kubernetes.io/controller-managed-attach-detach":
                                         "true"}},
        "spec": {},
        "status": node_status(name, index, template, None, now),
    }
    if template.taints:
        node["spec"]["taints"] = [dict(t) for t in template.taints]
    return node


def new_lease(node: str, node_uid: str | None, now: datetime,
              duration: int = LEASE_DURATION_SECONDS) -> Obj:
    meta: Obj = {"name": node, "namespace": NODE_LEASE_NAMESPACE}
    if node_uid:
        meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": node,
                                    "uid": node_uid}]
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta,
            "spec": {"holderIdentity": node, "leaseDurationSeconds": duration,
                     "renewTime": micro_time(now)}}


def renewed_lease(lease: Obj, node: str, now: datetime,
                  duration: int = LEASE_DURATION_SECONDS) -> Obj:
    spec = dict(lease.get("spec") or {})
    spec.update(holderIdentity=node, leaseDurationSeconds=duration,
                renewTime=micro_time(now))
    return {**lease, "spec": spec}


def node_is_healthy(node: Obj) -> bool:
    """Whether ``node``'s status still reads as we post it (Ready True, from us): when the
    node lifecycle controller set Ready Unknown, the simulator re-posts at once."""
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True" and cond.get("reason") == "KubeletReady")
    return False


class PodIPAllocator:
    """Host addresses of one node's pod CIDR, handed out round-robin from .2 (the bridge
    gateway holds .1), so a freed address is not reused at once (as host-local does)."""

    def __init__(self, cidr: str) -> None:
        self.network = ipaddress.ip_network(cidr, strict=False)
        self._first = 2
        self._last = self.network.num_addresses - 2  # not the broadcast address
        self._used: set[int] = set()
        self._cursor = self._first

    def allocate(self) -> str | None:
        size = self._last - self._first + 1
        for step in range(size):
            offset = self._first + (self._cursor - self._first + step) % size
            if offset not in self._used:
                self._used.add(offset)
                self._cursor = offset + 1 if offset < self._last else self._first
                return str(self.network.network_address + offset)
        return None

    def reserve(self, ip: str) -> bool:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        if addr not in self.network:
            return False
        self._used.add(int(addr) - int(self.network.network_address))
        return True

    def release(self, ip: str) -> None:
        try:
            offset = int(ipaddress.ip_address(ip)) - int(self.network.network_address)
        except ValueError:
            return
        self._used.discard(offset)

    def __len__(self) -> int:
        return len(self._used)
