"""The scheduler cache: a ``NodeInfo`` per node with the pods on it, kept current by node and
pod informer events and by the scheduler's own *assumed* pods.

After choosing a node the scheduler *assumes* the pod there at once (so the next cycle
sees the node's resources taken) and binds in the background; when the informer delivers
the bound pod the assumption is *confirmed*; if binding fails the pod is *forgotten*.

The cache is also the cycle's snapshot (the ``framework.Snapshot`` protocol): a scheduling
cycle runs without yielding to the event loop, so no informer event can change the cache
in the middle of one, and no copy is needed. Per-node aggregates are updated
incrementally; cluster-wide indexes (image spread, nodes holding pods with affinity
terms, PVC users) are kept in step, so a cycle never walks every pod.

``node_infos()`` lists nodes interleaved across zones (kube-scheduler's node tree), so
sampling a percentage of nodes from a rotating start index spreads over zones.
"""

from __future__ import annotations

from typing import Any

from kubepy.scheduler.nodeinfo import NodeInfo, PodInfo

Obj = dict[str, Any]

ZONE_LABELS = ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")
REGION_LABELS = ("topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region")


def zone_key(labels: dict[str, str]) -> str:
    region = next((labels[k] for k in REGION_LABELS if k in labels), "")
    zone = next((labels[k] for k in ZONE_LABELS if k in labels), "")
    return f"{region}:\x00:{zone}" if region or zone else ""


def is_terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


class Cache:
    def __init__(self) -> None:
        self._nodes: dict[str, NodeInfo] = {}
        self._ghosts: dict[str, NodeInfo] = {}  # pods on nodes not (yet) known
        self._zones: dict[str, list[str]] = {}
        self._node_zone: dict[str, str] = {}
        self._order: list[NodeInfo] | None = None
        self._pods: dict[str, PodInfo] = {}  # uid -> the PodInfo on its node
        self._assumed: set[str] = set()
        self._image_nodes: dict[str, int] = {}
        self._affinity_nodes: set[str] = set()
        self._anti_affinity_nodes: set[str] = set()
        self._pvc_users: dict[str, int] = {}
        self.namespaces: dict[str, dict[str, str]] = {}
        self.generation = 0
        # how many nodes have any taint / a NoSchedule-NoExecute taint / are cordoned
        self._flags = [0, 0, 0]

    # ------------------------------------------------------------------ snapshot view

    def node_infos(self) -> list[NodeInfo]:
        if self._order is None:
            self._order = self._interleave()
        return self._order

    def get(self, node_name: str) -> NodeInfo | None:
        return self._nodes.get(node_name)

    def __len__(self) -> int:
        return len(self._nodes)

    def nodes_with_affinity_pods(self) -> list[NodeInfo]:
        return [self._nodes[n] for n in self._affinity_nodes if n in self._nodes]

    def nodes_with_required_anti_affinity_pods(self) -> list[NodeInfo]:
        return [self._nodes[n] for n in self._anti_affinity_nodes if n in self._nodes]

    def namespace_labels(self, namespace: str) -> dict[str, str] | None:
        return self.namespaces.get(namespace)

    def image_spread(self, image: str) -> int:
        return self._image_nodes.get(image, 0)

    def any_node_tainted(self, *, hard: bool = False) -> bool:
        return self._flags[1 if hard else 0] > 0

    def any_node_unschedulable(self) -> bool:
        return self._flags[2] > 0

    def _count_flags(self, ni: NodeInfo, sign: int) -> None:
        self._flags[0] += sign * bool(ni.taints)
        self._flags[1] += sign * bool(ni.hard_taints)
        self._flags[2] += sign * ni.unschedulable

    def pvc_users(self, key: str) -> int:
        return self._pvc_users.get(key, 0)

    def pod(self, uid: str) -> PodInfo | None:
        return self._pods.get(uid)

    def is_assumed(self, uid: str) -> bool:
        return uid in self._assumed

    @property
    def pod_count(self) -> int:
        return len(self._pods)

    def _interleave(self) -> list[NodeInfo]:
        zones = [names for names in self._zones.values() if names]
        out: list[NodeInfo] = []
        longest = max((len(z) for z in zones), default=0)
        for i in range(longest):
            for names in zones:
                if i < len(names):
                    out.append(self._nodes[names[i]])
        return out

    # ------------------------------------------------------------------ nodes

    def add_node(self, node: Obj) -> NodeInfo:
        name = node["metadata"]["name"]
        ni = self._nodes.get(name)
        if ni is None:
            ni = self._ghosts.pop(name, None) or NodeInfo()
            self._images(ni, -1)
            ni.set_node(node)
            self._count_flags(ni, 1)
            self._nodes[name] = ni
            self._place(name, zone_key(ni.labels))
        else:
            self._images(ni, -1)
            self._count_flags(ni, -1)
            ni.set_node(node)
            self._count_flags(ni, 1)
            z = zone_key(ni.labels)
            if z != self._node_zone.get(name):
                self._unplace(name)
                self._place(name, z)
        self._images(ni, 1)
        self.generation += 1
        return ni

    update_node = add_node

    def remove_node(self, name: str) -> None:
        ni = self._nodes.pop(name, None)
        if ni is None:
            return
        self._images(ni, -1)
        self._count_flags(ni, -1)
        self._unplace(name)
        if ni.pods:  # pods still bound there wait for their own deletion events
            ni.images = {}
            self._ghosts[name] = ni
        self.generation += 1

    def _place(self, name: str, zone: str) -> None:
        self._zones.setdefault(zone, []).append(name)
        self._node_zone[name] = zone
        self._order = None

    def _unplace(self, name: str) -> None:
        zone = self._node_zone.pop(name, None)
        if zone is not None:
            self._zones[zone].remove(name)
        self._order = None

    def _images(self, ni: NodeInfo, sign: int) -> None:
        for image in ni.images:
            n = self._image_nodes.get(image, 0) + sign
            if n > 0:
                self._image_nodes[image] = n
            else:
                self._image_nodes.pop(image, None)

    # ------------------------------------------------------------------ pods

    def _node_for(self, name: str) -> NodeInfo:
        ni = self._nodes.get(name) or self._ghosts.get(name)
        if ni is None:
            ni = self._ghosts[name] = NodeInfo({"metadata": {"name": name}})
        return ni

    def _add(self, pi: PodInfo) -> None:
        ni = self._node_for(pi.node_name)
        ni.add_pod(pi)
        self._pods[pi.uid] = pi
        self._index(ni)
        for claim in pi.pvc_names:
            key = f"{pi.namespace}/{claim}"
            self._pvc_users[key] = self._pvc_users.get(key, 0) + 1
        self.generation += 1

    def _remove(self, pi: PodInfo) -> None:
        self._pods.pop(pi.uid, None)
        ni = self._nodes.get(pi.node_name) or self._ghosts.get(pi.node_name)
        if ni is not None:
            ni.remove_pod(pi)
            self._index(ni)
            if not ni.pods and pi.node_name in self._ghosts:
                del self._ghosts[pi.node_name]
        for claim in pi.pvc_names:
            key = f"{pi.namespace}/{claim}"
            n = self._pvc_users.get(key, 0) - 1
            if n > 0:
                self._pvc_users[key] = n
            else:
                self._pvc_users.pop(key, None)
        self.generation += 1

    def _index(self, ni: NodeInfo) -> None:
        if ni.pods_with_affinity > 0:
            self._affinity_nodes.add(ni.name)
        else:
            self._affinity_nodes.discard(ni.name)
        if ni.pods_with_required_anti_affinity > 0:
            self._anti_affinity_nodes.add(ni.name)
        else:
            self._anti_affinity_nodes.discard(ni.name)

    def assume_pod(self, pi: PodInfo) -> None:
        """Place ``pi`` (whose ``node_name`` is the chosen node) before binding."""
        if pi.uid in self._pods:
            raise ValueError(f"pod {pi.key} is already in the cache")
        self._add(pi)
        self._assumed.add(pi.uid)

    def forget_pod(self, pi: PodInfo) -> None:
        """Undo ``assume_pod`` (binding failed)."""
        if pi.uid in self._assumed:
            self._assumed.discard(pi.uid)
            current = self._pods.get(pi.uid)
            if current is not None:
                self._remove(current)

    def add_pod(self, pod: Obj) -> None:
        """An assigned pod from the informer (confirms an assumed pod)."""
        pi = PodInfo(pod)
        if not pi.node_name or is_terminal(pod):
            return
        current = self._pods.get(pi.uid)
        if current is not None:
            self._remove(current)
        self._assumed.discard(pi.uid)
        self._add(pi)

    def update_pod(self, old: Obj, new: Obj) -> None:
        if is_terminal(new) or not (new.get("spec") or {}).get("nodeName"):
            self.remove_pod(new)
            return
        uid = (new.get("metadata") or {}).get("uid")
        current = self._pods.get(uid) if uid else None
        if current is not None and uid not in self._assumed and _same_for_scheduling(
                current.pod, new):
            return
        self.add_pod(new)

    def remove_pod(self, pod: Obj) -> None:
        uid = (pod.get("metadata") or {}).get("uid")
        current = self._pods.get(uid) if uid else None
        if current is not None:
            self._assumed.discard(uid)
            self._remove(current)


def _same_for_scheduling(old: Obj, new: Obj) -> bool:
    """Only spec, labels and deletion mark matter to the cache (status churn does not)."""
    om, nm = old.get("metadata") or {}, new.get("metadata") or {}
    return (old.get("spec") == new.get("spec") and om.get("labels") == nm.get("labels")
            and om.get("deletionTimestamp") == nm.get("deletionTimestamp")
            and (old.get("status") or {}).get("startTime")
            == (new.get("status") or {}).get("startTime"))
