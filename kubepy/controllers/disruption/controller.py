"""The disruption controller: keeps every PodDisruptionBudget's status current
(``logic``), so the eviction API (``pods/eviction``, which ``kubectl drain`` uses) can refuse
an eviction with 429 while ``status.disruptionsAllowed`` is 0.

Keys are PDB keys. A pod change enqueues every PDB of its namespace whose selector matches
it. The scale of a pod's controller comes from the caches (ReplicationController,
ReplicaSet — or the Deployment owning it — and StatefulSet) or, for any other kind, from
its ``scale`` subresource found through discovery. A sync that fails (a percentage with an
unknown controller, a kind without a scale subresource) writes the fail-safe status
(disruptionsAllowed 0, DisruptionAllowed False/SyncFailed) with a
``CalculateExpectedPodCountFailed`` Warning; a Conflict is simply retried. Entries of
``status.disruptedPods`` are rechecked when they expire. Events come from
``controllermanager`` as upstream's do (NoPods, UnmanagedPods, NotDeleted).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from kubepy import errors
from kubepy.api.registry import Registry, ResourceType
from kubepy.client.controller import Controller
from kubepy.client.events import NORMAL, WARNING
from kubepy.client.informer import Informer
from kubepy.client.store import NAMESPACE_INDEX
from kubepy.controllers.context import ControllerContext
from kubepy.controllers.disruption import logic

log = logging.getLogger("kubepy.controllers.disruption")
Obj = dict[str, Any]
_REG = Registry()
PDBS: ResourceType = _REG.get("policy", "v1", "poddisruptionbudgets")  # type: ignore[assignment]
PODS: ResourceType = _REG.get("", "v1", "pods")  # type: ignore[assignment]
RCS: ResourceType = _REG.get("", "v1", "replicationcontrollers")  # type: ignore[assignment]
RSS: ResourceType = _REG.get("apps", "v1", "replicasets")  # type: ignore[assignment]
DEPLOYMENTS: ResourceType = _REG.get("apps", "v1", "deployments")  # type: ignore[assignment]
STATEFULSETS: ResourceType = _REG.get("apps", "v1", "statefulsets")  # type: ignore[assignment]
COMPONENT = "disruption-controller"
EVENT_SOURCE = "controllermanager"
DISCOVERY_TTL = 60.0


def _group(api_version: str) -> str:
    return api_version.split("/", 1)[0] if "/" in api_version else ""


def _replicas(obj: Obj) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def _controller(obj: Obj) -> Obj | None:
    refs: list[Obj] = (obj.get("metadata") or {}).get("ownerReferences") or []
    for ref in refs:
        if ref.get("controller"):
            return ref
    return None


class DisruptionController(Controller):
    name = COMPONENT

    def __init__(self, ctx: ControllerContext) -> None:
        self.client = ctx.client
        inf = ctx.informers
        self.pdbs = inf.informer(PDBS)
        self.pods = inf.informer(PODS)
        self.rcs, self.rss = inf.informer(RCS), inf.informer(RSS)
        self.deployments, self.statefulsets = inf.informer(DEPLOYMENTS), inf.informer(STATEFULSETS)
        super().__init__(name=COMPONENT, workers=ctx.workers(COMPONENT, 2), clock=ctx.clock,
                         informers=[self.pdbs, self.pods, self.rcs, self.rss, self.deployments,
                                    self.statefulsets])
        self.recorder = ctx.recorder_for(EVENT_SOURCE)
        self._discovery: dict[str, tuple[float, list[Obj]]] = {}
        self.pdbs.add_event_handler(*self.handlers())
        self.pods.add_event_handler(self._on_pod, lambda old, new: self._on_pod(old, new),
                                    self._on_pod)

    def _on_pod(self, *pods: Obj) -> None:
        ns = (pods[-1].get("metadata") or {}).get("namespace", "")
        for pdb in self.pdbs.store.by_index(NAMESPACE_INDEX, ns):
            try:
                if any(logic.pods_for_pdb(pdb, [p]) for p in pods):
                    self.enqueue(pdb)
            except errors.StatusError:
                continue

    # ------------------------------------------------------------------ scales

    def _cached(self, informer: Informer, ns: str, ref: Obj) -> Obj | None:
        obj = informer.store.get_by_name(ns, ref.get("name", ""))
        if obj is None or obj["metadata"].get("uid") != ref.get("uid"):
            return None
        return obj

    async def _scale_of(self, ref: Obj, ns: str) -> tuple[str, int] | None:
        kind, group = ref.get("kind"), _group(ref.get("apiVersion", ""))
        if kind == "ReplicationController" and group == "":
            rc = self._cached(self.rcs, ns, ref)
            return (rc["metadata"]["uid"], _replicas(rc)) if rc else None
        if kind == "ReplicaSet" and group in ("apps", "extensions"):
            rs = self._cached(self.rss, ns, ref)
            if rs is None:
                return None
            owner = _controller(rs)
            if owner is not None and owner.get("kind") == "Deployment" and _group(
                    owner.get("apiVersion", "")) in ("apps", "extensions"):
                dep = self._cached(self.deployments, ns, owner)
                if dep is not None:
                    return dep["metadata"]["uid"], _replicas(dep)
            return rs["metadata"]["uid"], _replicas(rs)
        if kind == "StatefulSet" and group == "apps":
            ss = self._cached(self.statefulsets, ns, ref)
            return (ss["metadata"]["uid"], _replicas(ss)) if ss else None
        return await self._api_scale(ref, ns)

    async def _resources(self, api_version: str) -> list[Obj]:
        now = self.clock.monotonic()
        hit = self._discovery.get(api_version)
        if hit is not None and now - hit[0] < DISCOVERY_TTL:
            return hit[1]
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        try:
            found = (await self.client.request("GET", base)).get("resources") or []
        except errors.NotFound:
            found = []
        self._discovery[api_version] = (now, found)
        return found

    async def _api_scale(self, ref: Obj, ns: str) -> tuple[str, int] | None:
        api_version = ref.get("apiVersion", "")
        resources = await self._resources(api_version)
        plural = next((r["name"] for r in resources
                       if r.get("kind") == ref.get("kind") and "/" not in r.get("name", "")),
                      None)
        if plural is None:
            raise logic.ExpectedCountError(
                f'no matches for kind "{ref.get("kind")}" in version "{api_version}"')
        group = _group(api_version)
        if not any(r.get("name") == f"{plural}/scale" for r in resources):
            resource = f"{plural}.{group}" if group else plural
            raise logic.ExpectedCountError(
                f"{resource} does not implement the scale subresource")
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        try:
            scale = await self.client.request(
                "GET", f"{base}/namespaces/{ns}/{plural}/{ref.get('name')}/scale")
        except errors.NotFound:
            return None
        if (scale.get("metadata") or {}).get("uid") != ref.get("uid"):
            return None
        return ref["uid"], int((scale.get("spec") or {}).get("replicas") or 0)

    async def scales_for(self, pods: list[Obj], ns: str) -> dict[str, tuple[str, int]]:
        scales: dict[str, tuple[str, int]] = {}
        for pod in pods:
            ref = logic.controller_ref(pod)
            if ref is None or ref.get("uid") in scales:
                continue
            found = await self._scale_of(ref, ns)
            if found is not None:
                scales[ref["uid"]] = found
        return scales

    # ------------------------------------------------------------------ sync

    async def reconcile(self, key: str) -> float | None:
        pdb = self.pdbs.store.get(key)
        if pdb is None:
            return None
        now = self.clock.now()
        try:
            return await self._try_sync(pdb, now)
        except errors.Conflict:
            raise
        except (logic.ExpectedCountError, errors.StatusError) as e:
            message = str(e) if isinstance(e, logic.ExpectedCountError) else e.message
            log.warning("failed to sync PDB %s: %s", key, message)
            await self._write_status(pdb, logic.fail_safe_status(pdb, message, now))
            raise

    async def _try_sync(self, pdb: Obj, now: datetime) -> float | None:
        namespace = pdb["metadata"].get("namespace") or ""
        pods = list(logic.pods_for_pdb(pdb, self.pods.store.by_index(NAMESPACE_INDEX,
                                                                     namespace)))
        if not pods:
            self.recorder.event(pdb, NORMAL, "NoPods", "No matching pods found")
        try:
            scales = await self.scales_for(pods, namespace)
            expected, desired, unmanaged = logic.expected_pod_count(pdb, pods, scales)
        except (logic.ExpectedCountError, errors.StatusError) as e:
            message = str(e) if isinstance(e, logic.ExpectedCountError) else e.message
            self.recorder.event(pdb, WARNING, "CalculateExpectedPodCountFailed",
                                f"Failed to calculate the number of expected pods: {message}")
            raise
        if unmanaged:
            selector = logic.go_label_selector((pdb.get("spec") or {}).get("selector"))
            self.recorder.event(
                pdb, WARNING, "UnmanagedPods",
                f"Pods selected by this PodDisruptionBudget (selector: {selector}) were found "
                "to be unmanaged. As a result, the status of the PDB cannot be calculated "
                "correctly, which may result in undefined behavior. To account for these pods "
                "please set \".spec.minAvailable\" field of the PDB to an integer value.")
        disrupted, recheck, overdue = logic.disrupted_pod_map(pdb, pods, now)
        for pod in overdue:
            self.recorder.event(pod, WARNING, "NotDeleted",
                                f"Pod was expected by PDB {namespace}/{pdb['metadata']['name']} "
                                "to be deleted but it wasn't")
        healthy = logic.count_healthy(pods, disrupted, now)
        status = logic.new_status(pdb, healthy, desired, expected, disrupted, now)
        if status is not None:
            await self._write_status(pdb, status)
        if recheck is not None:
            return max(0.0, (recheck - now).total_seconds())
        return None

    async def _write_status(self, pdb: Obj, status: Obj) -> None:
        await self.client.update_status(PDBS, {**pdb, "status": status})


def new_controllers(ctx: ControllerContext) -> list[Controller]:
    return [DisruptionController(ctx)]
