"""StatefulSet decisions, pure: which ordinal to create, which pod to delete, what the pods
and their claims look like, and the status (the contract of upstream's
defaultStatefulSetControl, written anew).

A reconcile computes one ``Plan`` from the set, its pods and its two revisions; the
controller carries it out and reconciles again when the cache changes. Rules:

* Slots are ordinals ``start .. start+replicas-1`` (``spec.ordinals.start``, default 0); pod
  ``<set>-<ordinal>``; pods with other ordinals are *condemned*.
* OrderedReady: walk slots upward; create the first missing pod and stop; stop at a pod that
  is terminating or not Running+Ready. Then delete condemned pods one at a time, highest
  ordinal first, only when every pod is healthy. Parallel: create and delete all at once.
* A Failed or Succeeded pod in a slot is deleted (and recreated on a later pass).
* RollingUpdate: from the highest ordinal down to the partition, delete the first pod not at
  the update revision, one at a time, each waiting for the ones above it to be healthy.
  OnDelete: pods are replaced only when the user deletes them.
* New pods get the update revision, except below the partition (RollingUpdate), where they
  get the current revision.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kubepy.controllers.history import POD_REVISION_LABEL
from kubepy.controllers.podcontrol import (controller_ref, is_pod_available, is_pod_ready,
                                           is_pod_running_and_ready, is_terminating,
                                           pod_phase)

Obj = dict[str, Any]

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
API_VERSION, KIND = "apps/v1", "StatefulSet"


def spec_of(sts: Obj) -> Obj:
    return sts.get("spec") or {}


def replicas_of(sts: Obj) -> int:
    r = spec_of(sts).get("replicas")
    return 1 if r is None else int(r)


def start_ordinal(sts: Obj) -> int:
    return int((spec_of(sts).get("ordinals") or {}).get("start") or 0)


def is_parallel(sts: Obj) -> bool:
    return spec_of(sts).get("podManagementPolicy") == "Parallel"


def update_strategy(sts: Obj) -> str:
    return (spec_of(sts).get("updateStrategy") or {}).get("type") or "RollingUpdate"


def partition(sts: Obj) -> int:
    return int(((spec_of(sts).get("updateStrategy") or {}).get("rollingUpdate") or {})
               .get("partition") or 0)


def min_ready_seconds(sts: Obj) -> int:
    return int(spec_of(sts).get("minReadySeconds") or 0)


def pod_ordinal(sts: Obj, pod: Obj) -> int | None:
    """The ordinal in ``<set>-<ordinal>``, or None if the name is not of this set."""
    m = re.fullmatch(re.escape(sts["metadata"]["name"]) + r"-(0|[1-9][0-9]*)",
                     pod["metadata"]["name"])
    return int(m.group(1)) if m else None


def pod_revision(pod: Obj) -> str:
    labels: dict[str, str] = (pod.get("metadata") or {}).get("labels") or {}
    return labels.get(POD_REVISION_LABEL, "")


def claim_name(template_name: str, set_name: str, ordinal: int) -> str:
    return f"{template_name}-{set_name}-{ordinal}"


def revision_for_ordinal(sts: Obj, ordinal: int, current: str, update: str) -> str:
    if update_strategy(sts) == "RollingUpdate" and ordinal < start_ordinal(sts) + partition(sts):
        return current
    return update


# ------------------------------------------------------------------ objects

def new_claims(sts: Obj, ordinal: int) -> list[Obj]:
    """The PVCs of one ordinal: each claim template named ``<claim>-<set>-<ordinal>``,
    labelled with the set's matchLabels; owned by the set when the retention policy deletes
    claims with the set."""
    meta = sts["metadata"]
    selector_labels = (spec_of(sts).get("selector") or {}).get("matchLabels") or {}
    policy = spec_of(sts).get("persistentVolumeClaimRetentionPolicy") or {}
    out = []
    for template in spec_of(sts).get("volumeClaimTemplates") or []:
        claim = copy.deepcopy(template)
        claim.pop("status", None)
        cmeta = claim.setdefault("metadata", {})
        cmeta.pop("creationTimestamp", None)
        cmeta["name"] = claim_name(template["metadata"]["name"], meta["name"], ordinal)
        cmeta["namespace"] = meta.get("namespace")
        cmeta["labels"] = {**(cmeta.get("labels") or {}), **selector_labels}
        if policy.get("whenDeleted") == "Delete":
            cmeta["ownerReferences"] = [controller_ref(sts, api_version=API_VERSION, kind=KIND)]
        claim["apiVersion"], claim["kind"] = "v1", "PersistentVolumeClaim"
        out.append(claim)
    return out


def new_pod(sts: Obj, template: Obj, ordinal: int, revision: str) -> Obj:
    """The pod for an ordinal from a revision's template: identity (hostname = pod name,
    subdomain = serviceName, labels) and storage (claims in place of same-named volumes)."""
    set_name = sts["metadata"]["name"]
    name = f"{set_name}-{ordinal}"
    tmeta = template.get("metadata") or {}
    labels = {**(tmeta.get("labels") or {}), POD_NAME_LABEL: name,
              POD_INDEX_LABEL: str(ordinal), POD_REVISION_LABEL: revision}
    meta: Obj = {"name": name, "namespace": sts["metadata"].get("namespace"), "labels": labels,
                 "ownerReferences": [controller_ref(sts, api_version=API_VERSION, kind=KIND)]}
    if tmeta.get("annotations"):
        meta["annotations"] = dict(tmeta["annotations"])
    spec = copy.deepcopy(template.get("spec") or {})
    spec["hostname"] = name
    if spec_of(sts).get("serviceName"):
        spec["subdomain"] = spec_of(sts)["serviceName"]
    claims = spec_of(sts).get("volumeClaimTemplates") or []
    if claims:
        claim_volumes = [{"name": c["metadata"]["name"], "persistentVolumeClaim": {
            "claimName": claim_name(c["metadata"]["name"], set_name, ordinal)}} for c in claims]
        names = {v["name"] for v in claim_volumes}
        spec["volumes"] = claim_volumes + [v for v in spec.get("volumes") or []
                                           if v.get("name") not in names]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


# ------------------------------------------------------------------ the plan

@dataclass
class Plan:
    create: list[tuple[int, str]] = field(default_factory=list)  # (ordinal, revision name)
    delete: list[str] = field(default_factory=list)  # pod names, in order
    condemned: list[int] = field(default_factory=list)  # ordinals whose pod goes for scale-down


def _healthy(sts: Obj, pod: Obj, now: datetime) -> bool:
    return is_pod_running_and_ready(pod) and not is_terminating(pod) and \
        is_pod_available(pod, min_ready_seconds(sts), now)


def plan(sts: Obj, pods: list[Obj], current: str, update: str, now: datetime) -> Plan:
    """What to do next. ``pods`` are the set's own pods (controlled by it)."""
    out = Plan()
    if sts["metadata"].get("deletionTimestamp"):
        return out
    monotonic = not is_parallel(sts)
    start, replicas = start_ordinal(sts), replicas_of(sts)
    slots: dict[int, Obj] = {}
    condemned: list[tuple[int, Obj]] = []
    for pod in pods:
        ordinal = pod_ordinal(sts, pod)
        if ordinal is None:
            continue
        if start <= ordinal < start + replicas:
            slots[ordinal] = pod
        else:
            condemned.append((ordinal, pod))
    condemned.sort(key=lambda op: -op[0])

    for ordinal in range(start, start + replicas):
        slot = slots.get(ordinal)
        if slot is None:
            out.create.append((ordinal, revision_for_ordinal(sts, ordinal, current, update)))
            if monotonic:
                return out
            continue
        if is_terminating(slot):
            if monotonic:
                return out
            continue
        if pod_phase(slot) in ("Failed", "Succeeded"):
            out.delete.append(slot["metadata"]["name"])
            if monotonic:
                return out
            continue
        if monotonic and not is_pod_running_and_ready(slot):
            return out

    unhealthy_condemned = [o for o, p in condemned if not _healthy(sts, p, now)]
    for ordinal, pod in condemned:
        if is_terminating(pod):
            if monotonic:
                return out
            continue
        if monotonic and unhealthy_condemned and unhealthy_condemned[0] != ordinal:
            return out
        out.delete.append(pod["metadata"]["name"])
        out.condemned.append(ordinal)
        if monotonic:
            return out
    if out.create or out.delete:
        return out  # Parallel: let this round land before rolling

    if update_strategy(sts) != "RollingUpdate":
        return out
    for ordinal in range(start + replicas - 1, start + partition(sts) - 1, -1):
        slot = slots.get(ordinal)
        if slot is None:
            return out
        if pod_revision(slot) != update and not is_terminating(slot):
            out.delete.append(slot["metadata"]["name"])
            return out
        if not _healthy(sts, slot, now):
            return out
    return out


# ------------------------------------------------------------------ status

def compute_status(sts: Obj, pods: list[Obj], current: str, update: str, now: datetime,
                   collision_count: int | None) -> Obj:
    replicas = ready = available = current_n = updated = 0
    for pod in pods:
        if pod_ordinal(sts, pod) is None:
            continue
        replicas += 1
        if is_pod_ready(pod) and pod_phase(pod) == "Running":
            ready += 1
            if is_pod_available(pod, min_ready_seconds(sts), now):
                available += 1
        if not is_terminating(pod):
            rev = pod_revision(pod)
            current_n += rev == current
            updated += rev == update
    status: Obj = {"observedGeneration": sts["metadata"].get("generation"),
                   "replicas": replicas, "readyReplicas": ready,
                   "currentReplicas": current_n, "updatedReplicas": updated,
                   "availableReplicas": available,
                   "currentRevision": current, "updateRevision": update,
                   "collisionCount": collision_count or 0}
    if update_strategy(sts) == "RollingUpdate" and updated == replicas_of(sts) and \
            replicas == replicas_of(sts) and ready == replicas:
        status["currentRevision"] = update
        status["currentReplicas"] = updated
    for key in ("conditions",):
        if (sts.get("status") or {}).get(key):
            status[key] = copy.deepcopy(sts["status"][key])
    return status
