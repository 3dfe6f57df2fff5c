"""Service allocations: cluster IPs from --service-cidr and node ports from 30000-32767.

Runs as a mutating admission step on Service writes. What is allocated is read from the
watch cache (every stored Service) plus the allocations this process handed out and not
yet saw stored (``_pending``), so concurrent creates never get the same address. Updates
keep the clusterIP and nodePorts the old object had when the new one leaves them out, as
the apiserver's service REST does. Deleting a Service frees its allocations implicitly.
"""

from __future__ import annotations

import ipaddress
import random
import time
from typing import Any, Callable, Mapping

from kubepy import errors
from kubepy.api.registry import ResourceType

Obj = dict[str, Any]
NODE_PORT_RANGE = (30000, 32767)
_PENDING_TTL = 2.0  # the watch cache reflects a committed write within milliseconds


class ServiceAllocator:
    def __init__(self, service_cidr: str, services: Callable[[], Mapping[str, Obj]],
                 rng: random.Random | None = None):
        self.network = ipaddress.ip_network(service_cidr, strict=False)
        self.services = services
        self.rng = rng or random.Random()
        # allocations handed out but maybe not yet in the cache: value -> (time, "ns/name")
        self._pending_ips: dict[str, tuple[float, str]] = {}
        self._pending_ports: dict[int, tuple[float, str]] = {}

    @property
    def first_ip(self) -> str:
        return str(self.network.network_address + 1)

    def dns_ip(self) -> str:
        return str(self.network.network_address + 10)

    def _used(self, exclude_uid: str = "") -> tuple[set[str], set[int]]:
        ips: set[str] = set()
        ports: set[int] = set()
        visible: set[str] = set()
        for svc in self.services().values():
            meta = svc.get("metadata", {})
            visible.add(f"{meta.get('namespace')}/{meta.get('name')}")
            if exclude_uid and svc.get("metadata", {}).get("uid") == exclude_uid:
                continue
            spec = svc.get("spec") or {}
            for ip in spec.get("clusterIPs") or [spec.get("clusterIP")]:
                if ip and ip != "None":
                    ips.add(ip)
            for p in spec.get("ports") or []:
                if p.get("nodePort"):
                    ports.add(int(p["nodePort"]))
        # a pending allocation ends once its Service is in the cache (or after the TTL,
        # when its write failed)
        now = time.monotonic()
        self._pending_ips = {k: (t, o) for k, (t, o) in self._pending_ips.items()
                             if now - t < _PENDING_TTL and o not in visible}
        self._pending_ports = {k: (t, o) for k, (t, o) in self._pending_ports.items()
                               if now - t < _PENDING_TTL and o not in visible}
        return ips | set(self._pending_ips), ports | set(self._pending_ports)

    async def admit(self, rt: ResourceType, obj: Obj, old: Obj | None, operation: str) -> None:
        if (rt.group, rt.kind) != ("", "Service"):
            return
        spec = obj.setdefault("spec", {})
        old_spec = (old or {}).get("spec") or {}
        uid = (old or {}).get("metadata", {}).get("uid", "")
        meta = obj.get("metadata", {})
        owner = f"{meta.get('namespace')}/{meta.get('name')}"
        used_ips, used_ports = self._used(exclude_uid=uid)
        svc_type = spec.get("type", "ClusterIP")
        if svc_type == "ExternalName":
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
            return
        if old is not None and not spec.get("clusterIP") and old_spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
            spec["clusterIPs"] = list(old_spec.get("clusterIPs") or [old_spec["clusterIP"]])
        self._cluster_ip(spec, used_ips, old_spec, meta.get("name", ""), owner)
        if svc_type in ("NodePort", "LoadBalancer"):
            old_ports = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort")
                         for p in old_spec.get("ports") or []}
            for i, port in enumerate(spec.get("ports") or []):
                if not port.get("nodePort"):
                    keep = old_ports.get((port.get("port"), port.get("protocol", "TCP")))
                    port["nodePort"] = keep or self._free_port(used_ports, owner)
                    used_ports.add(port["nodePort"])
                    continue
                n = int(port["nodePort"])
                if n in used_ports and n not in old_ports.values():
                    raise errors.invalid("Service", obj["metadata"].get("name", ""), [
                        errors.field_cause(f"spec.ports[{i}].nodePort",
                                           f"Invalid value: {n}: provided port is already "
                                           "allocated")])
                if not NODE_PORT_RANGE[0] <= n <= NODE_PORT_RANGE[1]:
                    raise errors.invalid("Service", obj["metadata"].get("name", ""), [
                        errors.field_cause(f"spec.ports[{i}].nodePort",
                                           f"Invalid value: {n}: provided port is not in the "
                                           f"valid range. The range of valid ports is "
                                           f"{NODE_PORT_RANGE[0]}-{NODE_PORT_RANGE[1]}")])
                used_ports.add(n)
                self._pending_ports[n] = (time.monotonic(), owner)
        else:
            for port in spec.get("ports") or []:
                port.pop("nodePort", None)

    def _cluster_ip(self, spec: Obj, used: set[str], old_spec: Obj, name: str,
                    owner: str) -> None:
        ip = spec.get("clusterIP") or ((spec.get("clusterIPs") or [None])[0])
        if ip == "None":
            spec["clusterIP"] = "None"
            spec["clusterIPs"] = ["None"]
            return
        if ip:
            if ip == old_spec.get("clusterIP"):
                return
            try:
                addr = ipaddress.ip_address(ip)
            except ValueError:
                raise errors.invalid("Service", name, [errors.field_cause(
                    "spec.clusterIPs[0]", f'Invalid value: "{ip}": must be a valid IP address, '
                    '(e.g. 10.9.8.7 or 2001:db8::ffff)')])
            if addr not in self.network:
                raise errors.invalid("Service", name, [errors.field_cause(
                    "spec.clusterIPs", f'Invalid value: []string{{"{ip}"}}: failed to allocate '
                    f"IP {ip}: the provided IP ({ip}) is not in the valid range. The range of "
                    f"valid IPs is {self.network}")])
            if ip in used:
                raise errors.invalid("Service", name, [errors.field_cause(
                    "spec.clusterIPs", f'Invalid value: []string{{"{ip}"}}: failed to allocate '
                    f"IP {ip}: provided IP is already allocated")])
        else:
            ip = self._free_ip(used)
        spec["clusterIP"] = ip
        spec["clusterIPs"] = [ip]
        self._pending_ips[ip] = (time.monotonic(), owner)

    def _free_ip(self, used: set[str]) -> str:
        net = self.network
        size = net.num_addresses
        # skip the network address, .1 (kubernetes) and .10 (cluster DNS) are allocated
        # explicitly by bootstrap; pick at random from the rest, like the bitmap allocator
        reserved = {str(net.network_address + 1), str(net.network_address + 10)}
        for _ in range(64):
            candidate = str(net.network_address + self.rng.randrange(2, size - 1))
            if candidate not in used and candidate not in reserved:
                return candidate
        for offset in range(2, size - 1):
            candidate = str(net.network_address + offset)
            if candidate not in used and candidate not in reserved:
                return candidate
        raise errors.InternalError("failed to allocate a serviceIP: range is full")

    def _free_port(self, used: set[int], owner: str) -> int:
        lo, hi = NODE_PORT_RANGE
        for _ in range(64):
            n = self.rng.randint(lo, hi)
            if n not in used:
                self._pending_ports[n] = (time.monotonic(), owner)
                return n
        for n in range(lo, hi + 1):
            if n not in used:
                self._pending_ports[n] = (time.monotonic(), owner)
                return n
        raise errors.InternalError("failed to allocate a nodePort: range is full")
