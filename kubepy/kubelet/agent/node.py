"""The Node a real kubelet registers, from facts about this machine. ``machine_facts`` reads
them (I/O); everything else is pure.

Capacity is what the machine has: ``cpu`` (online CPUs), ``memory`` (MemTotal), ``pods`` (110,
the kubelet default), ``ephemeral-storage`` (the size of the filesystem holding the data dir)
hugepages 0, and ``nvidia.com/gpu`` when GPUs are present (``gpu_count``: the /dev/nvidia<N>
devices, as the NVIDIA device plugin advertises one per GPU; nothing without one). Allocatable subtracts the kubelet's default hard eviction thresholds
(``memory.available<100Mi``, ``nodefs.available<10%``), as a kubelet without reserved
resources reports. Conditions, heartbeat handling and the Lease come from
``kubepy.kubelet.simulated.nodes`` (the same shapes for simulated and real nodes), but for
MemoryPressure/DiskPressure/PIDPressure, which follow this machine (``pressure``).
"""

from __future__ import annotations

import os
import platform
import re
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Collection

from kubepy.kubelet.agent import pressure as node_pressure
from kubepy.kubelet.simulated.nodes import KUBELET_PORT, node_conditions

Obj = dict[str, Any]

MAX_PODS = 110
MAX_IMAGES = 50                           # the kubelet's nodeStatusMaxImages
MAX_IMAGE_NAMES = 5                       # names per image in node status
EVICTION_MEMORY_KI = 100 * 1024           # memory.available<100Mi
EVICTION_NODEFS_PERCENT = 10              # nodefs.available<10%
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le",
         "s390x": "s390x", "riscv64": "riscv64"}


@dataclass(frozen=True)
class MachineFacts:
    cpus: int
    memory_ki: int
    storage_ki: int
    kernel: str
    os_image: str
    architecture: str          # Go's GOARCH name (amd64, arm64...)
    machine_id: str
    system_uuid: str
    boot_id: str
    hostname: str
    runtime_version: str       # runc's version ("1.1.5+ds1")
    gpus: int = 0              # NVIDIA GPUs (``gpu_count``)


def go_arch(machine: str) -> str:
    return _ARCH.get(machine, machine)


def parse_meminfo_total_ki(text: str) -> int:
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    raise ValueError("no MemTotal in /proc/meminfo")


def parse_os_release(text: str) -> str:
    """PRETTY_NAME of /etc/os-release (unquoted), "Linux" when absent."""
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "PRETTY_NAME":
            return value.strip().strip('"').strip("'")
    return "Linux"


def parse_runc_version(text: str) -> str:
    """``runc --version`` output -> "1.1.5+ds1" ("" when unrecognised)."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    parts = first.split()
    return parts[2] if len(parts) >= 3 and parts[:2] == ["runc", "version"] else ""


GPU_RESOURCE = "nvidia.com/gpu"
_NVIDIA_GPU_DEVICE = re.compile(r"nvidia[0-9]+")


def gpu_count(dev_entries: Collection[str]) -> int:
    """The GPUs among the names in /dev: nvidia0, nvidia1... (not nvidiactl, nvidia-uvm,
    nvidia-modeset or nvidia-caps)."""
    return sum(1 for name in set(dev_entries) if _NVIDIA_GPU_DEVICE.fullmatch(name))


def capacity(facts: MachineFacts) -> Obj:
    out = {"cpu": str(facts.cpus), "memory": f"{facts.memory_ki}Ki",
           "pods": str(MAX_PODS), "ephemeral-storage": f"{facts.storage_ki}Ki",
           "hugepages-1Gi": "0", "hugepages-2Mi": "0"}
    if facts.gpus > 0:
        out[GPU_RESOURCE] = str(facts.gpus)
    return out


def allocatable(facts: MachineFacts) -> Obj:
    out = capacity(facts)
    out["memory"] = f"{max(0, facts.memory_ki - EVICTION_MEMORY_KI)}Ki"
    storage_bytes = facts.storage_ki * 1024 * (100 - EVICTION_NODEFS_PERCENT) // 100
    out["ephemeral-storage"] = str(storage_bytes)
    return out


def node_labels(name: str, facts: MachineFacts, extra: dict[str, str] | None = None) -> dict[str, str]:
    labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
              "kubernetes.io/arch": facts.architecture, "beta.kubernetes.io/os": "linux",
              "beta.kubernetes.io/arch": facts.architecture}
    labels.update(extra or {})
    return labels


def node_images(images: list[Any]) -> list[Obj]:
    """``status.images`` as the kubelet reports it: the biggest ``MAX_IMAGES`` images first,
    each with its repo digests then repo tags (at most ``MAX_IMAGE_NAMES``) and its size."""
    ordered = sorted(images, key=lambda i: (-int(i.get("size") or 0), i.get("id", "")))
    out = []
    for image in ordered[:MAX_IMAGES]:
        names = [*image.get("repo_digests", []), *image.get("repo_tags", [])][:MAX_IMAGE_NAMES]
        if names:
            out.append({"names": names, "sizeBytes": int(image.get("size") or 0)})
    return out


def node_status(name: str, facts: MachineFacts, node_ip: str, kubelet_version: str,
                old: Obj | None, now: datetime, *, kubelet_port: int = KUBELET_PORT,
                images: list[Obj] | None = None, pressure: Collection[str] = ()) -> Obj:
    """The status this kubelet posts (``old``: the node's current status, if any; fields
    other writers own, such as volumes, are kept); ``kubelet_port`` is the port the kubelet
    API really listens on (``daemonEndpoints``); ``images`` (``node_images``) replaces
    ``status.images`` when given; ``pressure`` names the conditions under pressure
    (``pressure.pressured``)."""
    status: Obj = dict(old or {})
    status["capacity"] = capacity(facts)
    status["allocatable"] = allocatable(facts)
    # NetworkUnavailable belongs to the network plugin; a bridge network is ready at once
    old_conditions = status.get("conditions") or []
    status["conditions"] = node_pressure.with_pressure(
        node_conditions(old_conditions, now), pressure, old_conditions, now)
    status["addresses"] = [{"type": "InternalIP", "address": node_ip},
                           {"type": "Hostname", "address": name}]
    status["daemonEndpoints"] = {"kubeletEndpoint": {"Port": kubelet_port}}
    status["nodeInfo"] = {
        "machineID": facts.machine_id, "systemUUID": facts.system_uuid,
        "bootID": facts.boot_id, "kernelVersion": facts.kernel, "osImage": facts.os_image,
        "containerRuntimeVersion": f"runc://{facts.runtime_version or 'unknown'}",
        "kubeletVersion": kubelet_version, "kubeProxyVersion": kubelet_version,
        "operatingSystem": "linux", "architecture": facts.architecture,
    }
    if images is not None:
        status["images"] = images
    status.setdefault("images", [])
    return status


def new_node(name: str, facts: MachineFacts, node_ip: str, kubelet_version: str,
             now: datetime, *, labels: dict[str, str] | None = None,
             taints: list[Obj] | None = None, kubelet_port: int = KUBELET_PORT,
             images: list[Obj] | None = None, pressure: Collection[str] = ()) -> Obj:
    node: Obj = {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": node_labels(name, facts, labels),
                     "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                     "volumes.kubernetes.io/controller-managed-attach-detach":
                                         "true"}},
        "spec": {},
        "status": node_status(name, facts, node_ip, kubelet_version, None, now,
                              kubelet_port=kubelet_port, images=images,
                              pressure=pressure),
    }
    if taints:
        node["spec"]["taints"] = [dict(t) for t in taints]
    return node


# ---------------------------------------------------------------------------- I/O

def _read(path: str, default: str = "") -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return default


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def machine_facts(data_dir: str, runc_version_output: str) -> MachineFacts:
    """Read this machine's facts (``runc_version_output``: what ``runc --version`` printed)."""
    st = os.statvfs(data_dir)
    machine_id = _read("/etc/machine-id").strip() or uuid.uuid4().hex
    system_uuid = _read("/sys/class/dmi/id/product_uuid").strip() \
        or str(uuid.UUID(machine_id[:32].ljust(32, "0")))
    return MachineFacts(
        cpus=len(os.sched_getaffinity(0)) or os.cpu_count() or 1,
        memory_ki=parse_meminfo_total_ki(_read("/proc/meminfo")),
        storage_ki=st.f_blocks * st.f_frsize // 1024,
        kernel=platform.release(),
        os_image=parse_os_release(_read("/etc/os-release")),
        architecture=go_arch(platform.machine()),
        machine_id=machine_id, system_uuid=system_uuid,
        boot_id=_read("/proc/sys/kernel/random/boot_id").strip(),
        hostname=socket.gethostname(),
        runtime_version=parse_runc_version(runc_version_output),
        gpus=gpu_count(_listdir("/dev")))


def default_node_ip(server_host: str) -> str:
    """The address this machine uses to reach the default route (no packet is sent), else
    the one it uses to reach the API server, else 127.0.0.1."""
    for target in ("192.0.2.1", server_host):
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.connect((target, 9))
                return str(s.getsockname()[0])
        except OSError:
            continue
    return "127.0.0.1"
