"""What the scheduler knows about one pod (``PodInfo``) and one node (``NodeInfo``).

Both are computed once from the API objects and then read many times per scheduling cycle,
so everything a plugin needs on its hot path is a precomputed attribute (integers for
resources, tuples for ports, parsed selectors for affinity terms) — no quantity parsing or
dict walking per node. A ``NodeInfo`` aggregates the pods on its node (requested and
non-zero-requested resources, host ports, PVC references, pods with affinity terms) and is
updated incrementally by ``add_pod``/``remove_pod``; ``clone`` gives an independent copy
(for preemption's what-if evaluation) without copying any pod.

Resource arithmetic follows kube-scheduler: CPU in millicores, everything else in units;
a pod's request is max(sum(containers) + sum(sidecars), each init container (+ sidecars
started before it)) + overhead; the *non-zero* request used for spreading scores counts a
container without a cpu/memory request as 100m / 200Mi.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Iterable

from kubepy.api.labels import LabelSelector, selector_from_label_selector
from kubepy.api.quantity import QuantityError, quantity_to_int, quantity_to_millis

Obj = dict[str, Any]

DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024
CPU, MEMORY, EPHEMERAL_STORAGE, PODS = "cpu", "memory", "ephemeral-storage", "pods"
_NATIVE = (CPU, MEMORY, EPHEMERAL_STORAGE, PODS)


@lru_cache(maxsize=4096)
def _milli(q: str) -> int:
    try:
        return quantity_to_millis(q)
    except (QuantityError, ValueError):
        return 0


@lru_cache(maxsize=4096)
def _units(q: str) -> int:
    try:
        return quantity_to_int(q)
    except (QuantityError, ValueError):
        return 0


def is_scalar_resource(name: str) -> bool:
    """Extended (``vendor/name``), prefixed native, hugepages- and attachable-volumes-
    resources: the ones kept in ``scalar`` maps (schedutil.IsScalarResourceName)."""
    if name.startswith("requests."):
        return False
    return "/" in name or name.startswith(("hugepages-", "attachable-volumes-"))


class Resources:
    """A resource vector: cpu (milli), memory, ephemeral storage, pods, scalars."""

    __slots__ = ("cpu", "memory", "ephemeral", "pods", "scalar")

    def __init__(self, cpu: int = 0, memory: int = 0, ephemeral: int = 0, pods: int = 0,
                 scalar: dict[str, int] | None = None) -> None:
        self.cpu, self.memory, self.ephemeral, self.pods = cpu, memory, ephemeral, pods
        self.scalar: dict[str, int] = scalar if scalar is not None else {}

    @classmethod
    def from_list(cls, rl: Obj | None) -> "Resources":
        r = cls()
        for name, q in (rl or {}).items():
            r.add_one(name, str(q))
        return r

    def add_one(self, name: str, q: str) -> None:
        if name == CPU:
            self.cpu += _milli(q)
        elif name == MEMORY:
            self.memory += _units(q)
        elif name == EPHEMERAL_STORAGE:
            self.ephemeral += _units(q)
        elif name == PODS:
            self.pods += _units(q)
        elif is_scalar_resource(name):
            self.scalar[name] = self.scalar.get(name, 0) + _units(q)

    def add(self, other: "Resources") -> None:
        self.cpu += other.cpu
        self.memory += other.memory
        self.ephemeral += other.ephemeral
        for k, v in other.scalar.items():
            self.scalar[k] = self.scalar.get(k, 0) + v

    def set_max(self, other: "Resources") -> None:
        self.cpu = max(self.cpu, other.cpu)
        self.memory = max(self.memory, other.memory)
        self.ephemeral = max(self.ephemeral, other.ephemeral)
        for k, v in other.scalar.items():
            self.scalar[k] = max(self.scalar.get(k, 0), v)

    def copy(self) -> "Resources":
        return Resources(self.cpu, self.memory, self.ephemeral, self.pods, dict(self.scalar))

    def as_tuple(self) -> tuple[int, int, int, dict[str, int]]:
        return (self.cpu, self.memory, self.ephemeral, self.scalar)

    def __repr__(self) -> str:
        return (f"Resources(cpu={self.cpu}, memory={self.memory}, ephemeral={self.ephemeral}, "
                f"pods={self.pods}, scalar={self.scalar})")


def _container_requests(c: Obj) -> Obj:
    return ((c.get("resources") or {}).get("requests")) or {}


def pod_requests(spec: Obj, *, non_zero: bool = False) -> Resources:
    """The pod's effective request (resourcehelper.PodRequests). With ``non_zero``, a
    container without a cpu or memory request counts the scheduler defaults."""
    total = Resources()
    for c in spec.get("containers") or []:
        r = Resources.from_list(_container_requests(c))
        if non_zero:
            reqs = _container_requests(c)
            if CPU not in reqs:
                r.cpu = DEFAULT_MILLI_CPU_REQUEST
            if MEMORY not in reqs:
                r.memory = DEFAULT_MEMORY_REQUEST
        total.add(r)
    sidecars = Resources()
    init_max = Resources()
    for c in spec.get("initContainers") or []:
        r = Resources.from_list(_container_requests(c))
        if non_zero:
            reqs = _container_requests(c)
            if CPU not in reqs:
                r.cpu = DEFAULT_MILLI_CPU_REQUEST
            if MEMORY not in reqs:
                r.memory = DEFAULT_MEMORY_REQUEST
        if c.get("restartPolicy") == "Always":  # a sidecar runs alongside the containers
            total.add(r)
            sidecars.add(r)
            init_max.set_max(sidecars)
        else:
            tmp = r.copy()
            tmp.add(sidecars)
            init_max.set_max(tmp)
    total.set_max(init_max)
    pod_level = ((spec.get("resources") or {}).get("requests")) or {}
    if pod_level:  # pod-level resources (PodLevelResources) replace the cpu/memory sums
        if CPU in pod_level:
            total.cpu = _milli(str(pod_level[CPU]))
        if MEMORY in pod_level:
            total.memory = _units(str(pod_level[MEMORY]))
    total.add(Resources.from_list(spec.get("overhead")))
    return total


def normalized_image_name(name: str) -> str:
    """ImageLocality's normalisation: an image without a tag or digest gets ``:latest``."""
    last = name.rsplit("/", 1)[-1]
    if ":" not in last and "@" not in last:
        name += ":latest"
    return name


class AffinityTerm:
    """A pod (anti-)affinity term with its selectors parsed."""

    __slots__ = ("namespaces", "namespace_selector", "selector", "topology_key", "weight")

    def __init__(self, pod_namespace: str, term: Obj, weight: int = 0) -> None:
        namespaces = term.get("namespaces") or []
        ns_sel = term.get("namespaceSelector")
        self.namespaces: frozenset[str] = frozenset(
            namespaces if (namespaces or ns_sel is not None) else [pod_namespace])
        self.namespace_selector: LabelSelector = selector_from_label_selector(ns_sel)
        self.selector: LabelSelector = selector_from_label_selector(term.get("labelSelector"))
        self.topology_key: str = term.get("topologyKey") or ""
        self.weight = weight

    def matches(self, pod: "PodInfo", ns_labels: dict[str, str] | None) -> bool:
        if pod.namespace in self.namespaces or (
                not self.namespace_selector.nothing and
                self.namespace_selector.matches(ns_labels or {})):
            return self.selector.matches(pod.labels)
        return False


def _terms(pod_ns: str, block: Obj | None, kind: str) -> tuple[list[AffinityTerm],
                                                                list[AffinityTerm]]:
    block = block or {}
    required = [AffinityTerm(pod_ns, t) for t in
                block.get("requiredDuringSchedulingIgnoredDuringExecution") or []]
    preferred = [AffinityTerm(pod_ns, w.get("podAffinityTerm") or {}, int(w.get("weight", 0)))
                 for w in block.get("preferredDuringSchedulingIgnoredDuringExecution") or []]
    return required, preferred


class PodInfo:
    """A pod with everything the plugins read precomputed. Immutable once built."""

    __slots__ = ("pod", "uid", "namespace", "name", "key", "labels", "priority", "node_name",
                 "requests", "non_zero_cpu", "non_zero_memory", "host_ports", "tolerations",
                 "required_affinity", "preferred_affinity", "required_anti_affinity",
                 "preferred_anti_affinity", "pvc_names", "images", "terminating",
                 "nominated_node_name", "start_time", "creation", "spec", "container_count")

    def __init__(self, pod: Obj) -> None:
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        status = pod.get("status") or {}
        self.pod = pod
        self.spec = spec
        self.uid: str = meta.get("uid") or f"{meta.get('namespace')}/{meta.get('name')}"
        self.namespace: str = meta.get("namespace") or ""
        self.name: str = meta.get("name") or ""
        self.key = f"{self.namespace}/{self.name}"
        self.labels: dict[str, str] = meta.get("labels") or {}
        self.priority: int = int(spec.get("priority") or 0)
        self.node_name: str = spec.get("nodeName") or ""
        self.nominated_node_name: str = status.get("nominatedNodeName") or ""
        self.terminating = bool(meta.get("deletionTimestamp"))
        self.start_time: str = status.get("startTime") or meta.get("creationTimestamp") or ""
        self.creation: str = meta.get("creationTimestamp") or ""
        self.requests = pod_requests(spec)
        nz = pod_requests(spec, non_zero=True)
        self.non_zero_cpu, self.non_zero_memory = nz.cpu, nz.memory
        ports = []
        for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
            for p in c.get("ports") or []:
                hp = p.get("hostPort") or 0
                if hp > 0:
                    ports.append((p.get("hostIP") or "0.0.0.0", p.get("protocol") or "TCP",
                                  int(hp)))
        self.host_ports: tuple[tuple[str, str, int], ...] = tuple(ports)
        self.tolerations: list[Obj] = spec.get("tolerations") or []
        affinity = spec.get("affinity") or {}
        self.required_affinity, self.preferred_affinity = _terms(
            self.namespace, affinity.get("podAffinity"), "affinity")
        self.required_anti_affinity, self.preferred_anti_affinity = _terms(
            self.namespace, affinity.get("podAntiAffinity"), "anti")
        self.pvc_names: tuple[str, ...] = tuple(
            v["persistentVolumeClaim"]["claimName"] for v in spec.get("volumes") or []
            if (v.get("persistentVolumeClaim") or {}).get("claimName"))
        containers = (spec.get("initContainers") or []) + (spec.get("containers") or [])
        self.images: tuple[str, ...] = tuple(
            normalized_image_name(c["image"]) for c in containers if c.get("image"))
        self.container_count = len(containers)

    def with_node(self, node_name: str) -> "PodInfo":
        """This pod as assumed on ``node_name`` (shares everything else; no re-parsing)."""
        c = PodInfo.__new__(PodInfo)
        for slot in PodInfo.__slots__:
            setattr(c, slot, getattr(self, slot))
        c.spec = {**self.spec, "nodeName": node_name}
        c.pod = {**self.pod, "spec": c.spec}
        c.node_name = node_name
        return c

    @property
    def has_affinity(self) -> bool:
        return bool(self.required_affinity or self.preferred_affinity or
                    self.required_anti_affinity or self.preferred_anti_affinity)

    @property
    def preemption_policy(self) -> str:
        return self.spec.get("preemptionPolicy") or "PreemptLowerPriority"

    def __repr__(self) -> str:
        return f"PodInfo({self.key})"


class NodeInfo:
    """A node and the pods on it, with their aggregates kept in step."""

    __slots__ = ("name", "node", "labels", "taints", "hard_taints", "unschedulable",
                 "allocatable", "alloc_cpu", "alloc_memory", "alloc_pods", "requested",
                 "non_zero_cpu", "non_zero_memory", "pods", "used_ports", "images",
                 "pods_with_affinity", "pods_with_required_anti_affinity", "pvc_refs",
                 "generation", "free_cpu", "free_memory", "free_pods", "memo")

    def __init__(self, node: Obj | None = None) -> None:
        self.pods: dict[str, PodInfo] = {}
        self.requested = Resources()
        self.non_zero_cpu = 0
        self.non_zero_memory = 0
        self.used_ports: dict[tuple[str, str, int], int] = {}
        self.pods_with_affinity = 0
        self.pods_with_required_anti_affinity = 0
        self.pvc_refs: dict[str, int] = {}
        self.generation = 0
        # derived, for the hot path: what is left, and per-pod-shape score memo
        self.free_cpu = self.free_memory = self.free_pods = 0
        self.memo: dict[object, int] = {}
        self.set_node(node or {"metadata": {"name": ""}})

    def set_node(self, node: Obj) -> None:
        meta = node.get("metadata") or {}
        spec = node.get("spec") or {}
        status = node.get("status") or {}
        self.node = node
        self.name: str = meta.get("name") or ""
        self.labels: dict[str, str] = meta.get("labels") or {}
        self.taints: list[Obj] = spec.get("taints") or []
        self.hard_taints: list[Obj] = [t for t in self.taints
                                       if t.get("effect") in ("NoSchedule", "NoExecute")]
        self.unschedulable = bool(spec.get("unschedulable"))
        self.allocatable = Resources.from_list(status.get("allocatable"))
        self.alloc_cpu = self.allocatable.cpu
        self.alloc_memory = self.allocatable.memory
        self.alloc_pods = self.allocatable.pods
        self.images: dict[str, int] = {}
        for image in status.get("images") or []:
            for name in image.get("names") or []:
                self.images[normalized_image_name(name)] = int(image.get("sizeBytes") or 0)
        self._derive()

    def _derive(self) -> None:
        self.free_cpu = self.alloc_cpu - self.requested.cpu
        self.free_memory = self.alloc_memory - self.requested.memory
        self.free_pods = self.alloc_pods - len(self.pods)
        self.memo = {}
        self.generation += 1

    # -- pods
    def add_pod(self, pi: PodInfo) -> None:
        if pi.uid in self.pods:
            self.remove_pod(self.pods[pi.uid])
        self.pods[pi.uid] = pi
        self._account(pi, 1)

    def remove_pod(self, pi: PodInfo) -> bool:
        current = self.pods.pop(pi.uid, None)
        if current is None:
            return False
        self._account(current, -1)
        return True

    def _account(self, pi: PodInfo, sign: int) -> None:
        r, q = self.requested, pi.requests
        r.cpu += sign * q.cpu
        r.memory += sign * q.memory
        r.ephemeral += sign * q.ephemeral
        for k, v in q.scalar.items():
            r.scalar[k] = r.scalar.get(k, 0) + sign * v
        self.non_zero_cpu += sign * pi.non_zero_cpu
        self.non_zero_memory += sign * pi.non_zero_memory
        for port in pi.host_ports:
            n = self.used_ports.get(port, 0) + sign
            if n > 0:
                self.used_ports[port] = n
            else:
                self.used_ports.pop(port, None)
        if pi.required_affinity or pi.preferred_affinity or pi.required_anti_affinity \
                or pi.preferred_anti_affinity:
            self.pods_with_affinity += sign
        if pi.required_anti_affinity:
            self.pods_with_required_anti_affinity += sign
        for claim in pi.pvc_names:
            key = f"{pi.namespace}/{claim}"
            n = self.pvc_refs.get(key, 0) + sign
            if n > 0:
                self.pvc_refs[key] = n
            else:
                self.pvc_refs.pop(key, None)
        self._derive()

    @property
    def pod_count(self) -> int:
        return len(self.pods)

    def clone(self) -> "NodeInfo":
        c = NodeInfo.__new__(NodeInfo)
        for slot in NodeInfo.__slots__:
            setattr(c, slot, getattr(self, slot))
        c.pods = dict(self.pods)
        c.requested = self.requested.copy()
        c.used_ports = dict(self.used_ports)
        c.pvc_refs = dict(self.pvc_refs)
        c.memo = {}
        return c

    def __repr__(self) -> str:
        return f"NodeInfo({self.name}, pods={len(self.pods)})"


def new_node_info(node: Obj, pods: Iterable[Obj] = ()) -> NodeInfo:
    """A NodeInfo for ``node`` holding ``pods`` (tests and tools)."""
    ni = NodeInfo(node)
    for p in pods:
        ni.add_pod(PodInfo(p))
    return ni
