"""DaemonSet decisions, pure: which nodes should run a daemon pod, what that pod looks like,
what to create and delete (including the rolling update), and the status (the contract of
upstream's daemon controller, written anew).

* A node *should run* the pod when the pod (template + the tolerations every DaemonSet pod
  gets) fits it: ``spec.nodeName`` if set, nodeSelector, required node affinity, and no
  untolerated NoSchedule/NoExecute taint. A pod already there *should continue running*
  unless a NoExecute taint is untolerated.
* Daemon pods are pinned with required node affinity ``metadata.name In [node]`` (matchFields);
  the scheduler binds them. A pod not yet bound belongs to the node its affinity names.
* Per node: create when it should run and has no live pod; delete failed pods; delete every
  pod when it should not continue running; of duplicates keep the oldest (with surge: the
  oldest updated and the oldest old one).
* RollingUpdate (pods whose ``controller-revision-hash`` differs are old): without surge,
  delete old pods while unavailable pods stay within maxUnavailable; with maxSurge, create
  the new pod beside the old one (within maxSurge) and delete the old once the new is
  available.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kubepy.api.taints import NO_EXECUTE, NO_SCHEDULE, first_untolerated_taint
from kubepy.controllers.history import POD_REVISION_LABEL
from kubepy.controllers.podcontrol import (controller_ref, creation_key, is_pod_available,
                                           is_pod_ready, is_terminating, pod_phase)

Obj = dict[str, Any]
API_VERSION, KIND = "apps/v1", "DaemonSet"
TEMPLATE_GENERATION_LABEL = "pod-template-generation"

_DAEMON_TOLERATIONS = [
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
]
NETWORK_UNAVAILABLE = "node.kubernetes.io/network-unavailable"


# ------------------------------------------------------------------ the pod

def add_daemon_tolerations(spec: Obj) -> None:
    """Add (or replace, by key and effect) the tolerations DaemonSet pods always carry."""
    wanted = [{"key": k, "operator": "Exists", "effect": e} for k, e in _DAEMON_TOLERATIONS]
    if spec.get("hostNetwork"):
        wanted.append({"key": NETWORK_UNAVAILABLE, "operator": "Exists", "effect": "NoSchedule"})
    keep = [t for t in spec.get("tolerations") or []
            if (t.get("key"), t.get("effect")) not in {(w["key"], w["effect"]) for w in wanted}]
    spec["tolerations"] = keep + wanted


def pin_to_node(spec: Obj, node_name: str) -> None:
    """Required node affinity on ``metadata.name In [node]``: every term's matchFields are
    replaced by that requirement (matchExpressions kept); no terms -> one term."""
    requirement = {"key": "metadata.name", "operator": "In", "values": [node_name]}
    affinity = spec.setdefault("affinity", {})
    node_affinity = affinity.setdefault("nodeAffinity", {})
    required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    terms = [dict(t, matchFields=[requirement])
             for t in required.get("nodeSelectorTerms") or []] or [{"matchFields": [requirement]}]
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": terms}


def new_pod(ds: Obj, template: Obj, node_name: str, hash_: str) -> Obj:
    tmeta = template.get("metadata") or {}
    labels = {**(tmeta.get("labels") or {}), POD_REVISION_LABEL: hash_,
              TEMPLATE_GENERATION_LABEL: str(ds["metadata"].get("generation") or 1)}
    meta: Obj = {"generateName": f"{ds['metadata']['name']}-",
                 "namespace": ds["metadata"].get("namespace"), "labels": labels,
                 "ownerReferences": [controller_ref(ds, api_version=API_VERSION, kind=KIND)]}
    if tmeta.get("annotations"):
        meta["annotations"] = dict(tmeta["annotations"])
    spec = copy.deepcopy(template.get("spec") or {})
    add_daemon_tolerations(spec)
    pin_to_node(spec, node_name)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def target_node(pod: Obj) -> str | None:
    """``spec.nodeName``, else the node the pinning affinity names."""
    spec = pod.get("spec") or {}
    node_name: str | None = spec.get("nodeName")
    if node_name:
        return node_name
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    for term in required.get("nodeSelectorTerms") or []:
        for req in term.get("matchFields") or []:
            if req.get("key") == "metadata.name" and req.get("operator") == "In" and \
                    len(req.get("values") or []) == 1:
                pinned: str = req["values"][0]
                return pinned
    return None


# ------------------------------------------------------------------ node fit

def _match_expression(req: Obj, values_of: dict[str, str]) -> bool:
    key: str = req.get("key") or ""
    op, values = req.get("operator"), req.get("values") or []
    present = key in values_of
    value = values_of.get(key, "")
    if op == "In":
        return present and value in values
    if op == "NotIn":
        return not present or value not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt") and present and len(values) == 1:
        try:
            a, b = int(value), int(values[0])
        except ValueError:
            return False
        return a > b if op == "Gt" else a < b
    return False


def _term_matches(term: Obj, node: Obj) -> bool:
    exprs, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
    if not exprs and not fields:
        return False
    labels = node["metadata"].get("labels") or {}
    return all(_match_expression(r, labels) for r in exprs) and \
        all(_match_expression(r, {"metadata.name": node["metadata"]["name"]}) for r in fields)


def node_selector_fits(spec: Obj, node: Obj) -> bool:
    labels = node["metadata"].get("labels") or {}
    if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
        return False
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if required is None:
        return True
    return any(_term_matches(t, node) for t in required.get("nodeSelectorTerms") or [])


def node_should_run(ds: Obj, node: Obj) -> tuple[bool, bool]:
    """(should run, should continue running) for the DaemonSet's pod on this node."""
    spec = copy.deepcopy(((ds.get("spec") or {}).get("template") or {}).get("spec") or {})
    add_daemon_tolerations(spec)
    if spec.get("nodeName") and spec["nodeName"] != node["metadata"]["name"]:
        return False, False
    if not node_selector_fits(spec, node):
        return False, False
    tolerations = spec.get("tolerations") or []
    taints = (node.get("spec") or {}).get("taints") or []
    if first_untolerated_taint(taints, tolerations, (NO_EXECUTE,)) is not None:
        return False, False
    return first_untolerated_taint(taints, tolerations, (NO_SCHEDULE,)) is None, True


# ------------------------------------------------------------------ the plan

def _scaled(value: Any, total: int, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, str) and value.endswith("%"):
        return math.ceil(int(value[:-1]) * total / 100)
    return int(value)


def surge_and_unavailable(ds: Obj, desired: int) -> tuple[int, int]:
    """maxSurge and maxUnavailable against the desired count (percentages round up); both
    zero would deadlock, so maxUnavailable is then 1."""
    rolling = ((ds.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate") or {}
    surge = _scaled(rolling.get("maxSurge"), desired, 0)
    unavailable = _scaled(rolling.get("maxUnavailable"), desired, 1)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


@dataclass
class Plan:
    create: list[str] = field(default_factory=list)  # node names
    delete: list[str] = field(default_factory=list)  # pod names
    failed: list[tuple[str, str]] = field(default_factory=list)  # (pod, node) found Failed


def _is_updated(pod: Obj, hash_: str) -> bool:
    return ((pod.get("metadata") or {}).get("labels") or {}).get(POD_REVISION_LABEL) == hash_


def pods_by_node(pods: list[Obj]) -> dict[str, list[Obj]]:
    out: dict[str, list[Obj]] = {}
    for pod in sorted(pods, key=creation_key):
        node = target_node(pod)
        if node is not None:
            out.setdefault(node, []).append(pod)
    return out


def plan(ds: Obj, nodes: list[Obj], pods: list[Obj], hash_: str, now: datetime) -> Plan:
    out = Plan()
    if ds["metadata"].get("deletionTimestamp"):
        return out
    on_node = pods_by_node(pods)
    fits = {n["metadata"]["name"]: node_should_run(ds, n) for n in nodes}
    surge, _ = surge_and_unavailable(ds, sum(run for run, _ in fits.values()))
    min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
    rolling = (((ds.get("spec") or {}).get("updateStrategy") or {}).get("type")
               or "RollingUpdate") == "RollingUpdate"
    runnable: dict[str, tuple[Obj | None, Obj | None]] = {}  # node -> (old, new) live pods
    node_names = set()
    for node in sorted(nodes, key=lambda n: n["metadata"]["name"]):
        name = node["metadata"]["name"]
        node_names.add(name)
        should_run, should_continue = fits[name]
        live, failed_now = [], False
        for pod in on_node.get(name, []):
            if is_terminating(pod):
                continue
            if pod_phase(pod) == "Failed":
                out.failed.append((pod["metadata"]["name"], name))
                out.delete.append(pod["metadata"]["name"])
                failed_now = True
                continue
            live.append(pod)
        if not should_continue:
            out.delete.extend(p["metadata"]["name"] for p in live)
            continue
        if not live:
            # a failed pod is replaced on the next pass, once its deletion is seen
            if should_run and not failed_now:
                out.create.append(name)
            continue
        if rolling and surge > 0:
            new = [p for p in live if _is_updated(p, hash_)]
            old = [p for p in live if not _is_updated(p, hash_)]
            keep = new[:1] + old[:1]
        else:
            keep = live[:1]
        out.delete.extend(p["metadata"]["name"] for p in live if p not in keep)
        if should_run:
            old_pod = next((p for p in keep if not _is_updated(p, hash_)), None)
            new_pod_ = next((p for p in keep if _is_updated(p, hash_)), None)
            runnable[name] = (old_pod, new_pod_)
    for pinned_to, node_pods in on_node.items():  # pods pinned to nodes that no longer exist
        if pinned_to not in node_names:
            out.delete.extend(p["metadata"]["name"] for p in node_pods if not is_terminating(p))
    if rolling:
        _rolling_update(ds, runnable, len(runnable) + len(out.create), min_ready, now, out)
    return out


def _rolling_update(ds: Obj, runnable: dict[str, tuple[Obj | None, Obj | None]],
                    desired: int, min_ready: int, now: datetime, out: Plan) -> None:
    surge, max_unavailable = surge_and_unavailable(ds, desired)

    def available(p: Obj) -> bool:
        return is_pod_available(p, min_ready, now)

    if surge == 0:
        unavailable = len(out.create)
        replace_now: list[str] = []
        candidates: list[str] = []
        for node, (old, new) in sorted(runnable.items()):
            if new is not None:
                unavailable += not available(new)
            elif old is not None:
                if not available(old):
                    replace_now.append(old["metadata"]["name"])
                else:
                    candidates.append(old["metadata"]["name"])
        budget = max(0, max_unavailable - unavailable)
        out.delete.extend(replace_now + candidates[:budget])
        return
    surging = 0
    allowed_nodes: list[str] = []
    candidate_nodes: list[str] = []
    for node, (old, new) in sorted(runnable.items()):
        if old is None:
            continue
        if new is None:
            if not available(old):
                allowed_nodes.append(node)
            else:
                candidate_nodes.append(node)
        elif not available(new):
            surging += 1
        else:
            out.delete.append(old["metadata"]["name"])
    budget = max(0, surge - surging)
    out.create.extend(allowed_nodes + candidate_nodes[:budget])


# ------------------------------------------------------------------ status

def compute_status(ds: Obj, nodes: list[Obj], pods: list[Obj], hash_: str, now: datetime,
                   collision_count: int | None) -> Obj:
    on_node = pods_by_node(pods)
    min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
    desired = current = misscheduled = ready = available = updated = 0
    for node in nodes:
        name = node["metadata"]["name"]
        should_run, _ = node_should_run(ds, node)
        node_pods = on_node.get(name, [])
        if should_run:
            desired += 1
            if node_pods:
                current += 1
                pod = node_pods[0]
                if is_pod_ready(pod):
                    ready += 1
                    if is_pod_available(pod, min_ready, now):
                        available += 1
                if _is_updated(pod, hash_):
                    updated += 1
        elif node_pods:
            misscheduled += 1
    status: Obj = {"observedGeneration": ds["metadata"].get("generation"),
                   "desiredNumberScheduled": desired, "currentNumberScheduled": current,
                   "numberMisscheduled": misscheduled, "numberReady": ready,
                   "numberAvailable": available, "updatedNumberScheduled": updated,
                   "numberUnavailable": desired - available}
    if collision_count:
        status["collisionCount"] = collision_count
    return status
