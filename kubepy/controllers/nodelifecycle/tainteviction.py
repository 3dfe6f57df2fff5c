"""The NoExecute taint manager (upstream's ``tainteviction`` controller, component
``taint-eviction-controller``): pods bound to a node with NoExecute taints they do not
tolerate are deleted at once; pods tolerating them for ``tolerationSeconds`` are deleted
that long after the controller first saw them so exposed (``taints.eviction_delay``); pods
tolerating them forever stay.

Keys are pod keys. A node whose NoExecute taints change enqueues its pods; a pod change
enqueues the pod. ``scheduled`` maps a pod key to the monotonic time its countdown began,
so a reconcile is level-triggered: it recomputes the delay from the current taints and
tolerations and either deletes, requeues itself for the remaining time, or cancels
(``Cancelling deletion of Pod ns/name`` when a countdown was running). A deletion first
adds the ``DisruptionTarget`` condition (reason ``DeletionByTaintManager``) to the pod's
status, then deletes it, with a ``TaintManagerEviction`` Event
``Marking for deletion Pod ns/name``.
"""

from __future__ import annotations

import logging
from typing import Any

from kubepy import errors
from kubepy.api.registry import Registry, ResourceType
from kubepy.client.controller import Controller
from kubepy.client.events import NORMAL
from kubepy.client.store import meta_key, split_key
from kubepy.controllers.context import ControllerContext
from kubepy.controllers.nodelifecycle import taints as tn
from kubepy.controllers.nodelifecycle.controller import POD_NODE_INDEX, pod_node_index

log = logging.getLogger("kubepy.controllers.tainteviction")
Obj = dict[str, Any]
_REG = Registry()
NODES: ResourceType = _REG.get("", "v1", "nodes")  # type: ignore[assignment]
PODS: ResourceType = _REG.get("", "v1", "pods")  # type: ignore[assignment]
COMPONENT = "taint-eviction-controller"
DISRUPTION_CONDITION = {"type": "DisruptionTarget", "status": "True",
                        "reason": "DeletionByTaintManager",
                        "message": "Taint manager: deleting due to NoExecute taint"}


def eviction_decision(pod: Obj | None, node: Obj | None, started: float | None,
                      now: float) -> tuple[str, float | None]:
    """("none" | "evict" | "wait", seconds left when waiting) for one pod. ``started`` is
    when its countdown began (None: not yet)."""
    if pod is None or node is None:
        return "none", None
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return "none", None
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return "none", None
    delay = tn.eviction_delay(pod, tn.no_execute_taints(node))
    if delay is None:
        return "none", None
    begin = now if started is None else started
    left = begin + delay - now
    if left <= 0:
        return "evict", None
    return "wait", left


class TaintEvictionController(Controller):
    name = COMPONENT

    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        self.nodes = ctx.informers.informer(NODES)
        self.pods = ctx.informers.informer(PODS)
        self.pods.add_indexer(POD_NODE_INDEX, pod_node_index)
        super().__init__(name=COMPONENT, workers=ctx.workers(COMPONENT, 4), clock=ctx.clock,
                         informers=[self.nodes, self.pods])
        self.recorder = ctx.recorder_for(COMPONENT)
        self.scheduled: dict[str, float] = {}
        self.nodes.add_event_handler(self._on_node, self._on_node_update, self._on_node)
        self.pods.add_event_handler(self._on_pod, lambda old, new: self._on_pod(new),
                                    self._on_pod_deleted)

    def _on_node(self, node: Obj) -> None:
        name = (node.get("metadata") or {}).get("name", "")
        for key in self.pods.store.index_keys(POD_NODE_INDEX, name):
            self.enqueue_key(key)

    def _on_node_update(self, old: Obj, new: Obj) -> None:
        if tn.no_execute_taints(old) != tn.no_execute_taints(new):
            self._on_node(new)

    def _on_pod(self, pod: Obj) -> None:
        if (pod.get("spec") or {}).get("nodeName") or meta_key(pod) in self.scheduled:
            self.enqueue(pod)

    def _on_pod_deleted(self, pod: Obj) -> None:
        key = getattr(pod, "key", None) or meta_key(pod)
        if key in self.scheduled:
            self.enqueue_key(key)

    def _cancel(self, key: str, pod: Obj | None) -> None:
        if self.scheduled.pop(key, None) is not None:
            ns, name = split_key(key)
            ref = pod or {"apiVersion": "v1", "kind": "Pod",
                          "metadata": {"name": name, "namespace": ns}}
            self.recorder.event(ref, NORMAL, "TaintManagerEviction",
                                f"Cancelling deletion of Pod {key}")

    async def reconcile(self, key: str) -> float | None:
        now = self.clock.monotonic()
        pod = self.pods.store.get(key)
        node_name = ((pod or {}).get("spec") or {}).get("nodeName")
        node = self.nodes.store.get(node_name) if node_name else None
        if pod is not None and pod["metadata"].get("deletionTimestamp"):
            self.scheduled.pop(key, None)  # already going: nothing to cancel or do
            return None
        decision, left = eviction_decision(pod, node, self.scheduled.get(key), now)
        if decision == "none":
            self._cancel(key, pod)
            return None
        if decision == "wait":
            self.scheduled.setdefault(key, now)
            return left
        assert pod is not None
        self.scheduled.pop(key, None)
        await self.evict(pod)
        return None

    async def evict(self, pod: Obj) -> None:
        meta = pod["metadata"]
        ns, name = meta.get("namespace"), meta["name"]
        self.recorder.event(pod, NORMAL, "TaintManagerEviction",
                            f"Marking for deletion Pod {ns}/{name}")
        condition = {**DISRUPTION_CONDITION,
                     "lastTransitionTime": self.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")}
        try:
            await self.client.patch(PODS, name, {"status": {"conditions": [condition]}},
                                    namespace=ns, patch_type="strategic", subresource="status")
        except errors.NotFound:
            return
        except errors.StatusError as e:
            log.warning("adding DisruptionTarget to pod %s/%s failed: %s", ns, name, e.message)
        try:
            await self.client.delete(PODS, name, ns)
        except errors.NotFound:
            pass
