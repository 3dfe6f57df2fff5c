"""The scheduler's writes to the API server, behind the small ``ApiWriter`` protocol so
the scheduling loop can run against a no-op writer in benchmarks and tests.

* ``bind`` — POST ``pods/<name>/binding`` (the apiserver sets ``spec.nodeName`` and
  PodScheduled=True);
* ``patch_status`` — a strategic-merge patch of ``status`` (the PodScheduled=False
  condition with reason Unschedulable and the FailedScheduling message, and/or
  ``nominatedNodeName``), sent only when something changed (``status_patch``);
* ``preempt`` — a victim first gets the DisruptionTarget condition (reason
  PreemptionByScheduler), then is deleted.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Protocol

from kubepy import errors
from kubepy.api.registry import Registry, ResourceType
from kubepy.client.rest import ApiClient
from kubepy.scheduler.messages import disruption_message

log = logging.getLogger("kubepy.scheduler.binder")

Obj = dict[str, Any]
PODS: ResourceType = Registry().get("", "v1", "pods")  # type: ignore[assignment]


def rfc3339(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_patch(pod: Obj, condition: Obj | None, nominated_node: str | None,
                 now: datetime) -> Obj | None:
    """The status patch that sets ``condition`` (type/status/reason/message) and
    ``nominatedNodeName`` (None: leave; "": clear), or None when nothing would change."""
    status = pod.get("status") or {}
    patch: Obj = {}
    if condition is not None:
        old = next((c for c in status.get("conditions") or []
                    if c.get("type") == condition["type"]), None)
        same = old is not None and all(old.get(k, "") == condition.get(k, "")
                                       for k in ("status", "reason", "message"))
        if not same:
            transition = (old.get("lastTransitionTime") if old is not None
                          and old.get("status") == condition.get("status") else None)
            patch["conditions"] = [{**condition, "lastProbeTime": None,
                                    "lastTransitionTime": transition or rfc3339(now)}]
    if nominated_node is not None and (status.get("nominatedNodeName") or "") != nominated_node:
        patch["nominatedNodeName"] = nominated_node or None
    return {"status": patch} if patch else None


class ApiWriter(Protocol):
    async def bind(self, pod: Obj, node: str) -> None: ...
    async def patch_status(self, pod: Obj, patch: Obj) -> None: ...
    async def preempt(self, victim: Obj, condition: Obj) -> None: ...


class ClientWriter:
    """``ApiWriter`` over an ``ApiClient``."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client

    async def bind(self, pod: Obj, node: str) -> None:
        meta = pod["metadata"]
        body = {"apiVersion": "v1", "kind": "Binding",
                "metadata": {"name": meta["name"], "namespace": meta["namespace"],
                             **({"uid": meta["uid"]} if meta.get("uid") else {})},
                "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
        await self.client.create_subresource(PODS, meta["name"], "binding", body,
                                             meta["namespace"])

    async def patch_status(self, pod: Obj, patch: Obj) -> None:
        meta = pod["metadata"]
        await self.client.patch(PODS, meta["name"], patch, namespace=meta["namespace"],
                                patch_type="strategic", subresource="status")

    async def preempt(self, victim: Obj, condition: Obj) -> None:
        meta = victim["metadata"]
        try:
            await self.client.patch(PODS, meta["name"], {"status": {"conditions": [condition]}},
                                    namespace=meta["namespace"], patch_type="strategic",
                                    subresource="status")
            await self.client.delete(PODS, meta["name"], meta["namespace"],
                                     preconditions={"uid": meta["uid"]} if meta.get("uid") else None)
        except errors.NotFound:
            pass


def disruption_condition(profile: str, now: datetime) -> Obj:
    return {"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
            "message": disruption_message(profile), "lastTransitionTime": rfc3339(now)}


class NullWriter:
    """Counts what would have been written (benchmarks, tests)."""

    def __init__(self) -> None:
        self.binds: list[tuple[str, str]] = []
        self.patches: list[tuple[str, Obj]] = []
        self.preempted: list[str] = []

    async def bind(self, pod: Obj, node: str) -> None:
        self.binds.append((pod["metadata"].get("name", ""), node))

    async def patch_status(self, pod: Obj, patch: Obj) -> None:
        self.patches.append((pod["metadata"].get("name", ""), patch))

    async def preempt(self, victim: Obj, condition: Obj) -> None:
        self.preempted.append(victim["metadata"].get("name", ""))
