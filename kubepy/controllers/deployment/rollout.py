"""Pure rollout planning: which ReplicaSets a Deployment scales, to what size, and which
old ones it deletes, after upstream's ``rolling.go``, ``recreate.go`` and ``sync.go``.

Each planner takes the deployment and its ReplicaSets (plain dicts, never changed) and
returns ``ScaleAction``s to apply in order. The controller applies each with
``scaleReplicaSet`` semantics: write when the size or the desired-/max-replicas
annotations differ, and record ``Scaled <up|down> replica set <name> to <n> from <m>``
when the size changed.

* ``plan_new_replica_set`` (RollingUpdate, step 1): grow the new ReplicaSet up to
  replicas + maxSurge pods in all, never beyond replicas (or shrink it to replicas);
* ``plan_old_replica_sets`` (RollingUpdate, step 2, only if step 1 did nothing): first
  scale away old pods that are not available (stopping, as upstream, at a ReplicaSet whose
  status claims more available pods than it wants), then old available pods down to
  replicas - maxUnavailable available in all, never below what the not-yet-available new
  pods leave (maxScaledDown = all pods - minAvailable - new unavailable), oldest first;
* ``plan_scale``: a scaling event or a paused deployment: the only active ReplicaSet
  takes the full count; a saturated new ReplicaSet retires the old ones; otherwise the
  added or removed replicas are shared in proportion (larger first, newer first when
  adding, older first when removing; leftovers to the first);
* ``plan_recreate_scale_down`` / ``old_pods_running`` (Recreate);
* ``plan_cleanup``: old ReplicaSets beyond revisionHistoryLimit, lowest revision first,
  only those fully scaled down and observed;
* ``is_scaling_event``: an active ReplicaSet's desired-replicas differs from replicas.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from kubepy.controllers import podcontrol as pc
from kubepy.controllers.deployment import util

Obj = dict[str, Any]


@dataclass(frozen=True)
class ScaleAction:
    name: str
    replicas: int
    operation: str  # "up", "down", or "" (proportional scaling with nothing to add)
    force: bool = False  # write even when only the annotations differ (scale() path)


def _name(rs: Mapping[str, Any]) -> str:
    name: str = (rs.get("metadata") or {}).get("name", "")
    return name


def _direction(rs: Obj, new_size: int) -> str:
    return "up" if util.replicas(rs) < new_size else "down"


def _with_replicas(rs: Obj, n: int) -> Obj:
    out = copy.copy(rs)
    out["spec"] = {**(rs.get("spec") or {}), "replicas": n}
    return out


def plan_new_replica_set(d: Obj, all_rss: list[Obj], new_rs: Obj) -> ScaleAction | None:
    want = util.replicas(d)
    have = util.replicas(new_rs)
    if have == want:
        return None
    if have > want:
        return ScaleAction(_name(new_rs), want, "down")
    target = util.new_rs_new_replicas(d, all_rss, new_rs)
    return None if target == have else ScaleAction(_name(new_rs), target, _direction(new_rs, target))


def plan_old_replica_sets(d: Obj, all_rss: list[Obj], old_rss: list[Obj],
                          new_rs: Obj) -> list[ScaleAction]:
    old_pods = util.replica_count(old_rss)
    if old_pods == 0:
        return []
    all_pods = util.replica_count(all_rss)
    max_unavailable = util.max_unavailable(d)
    min_available = util.replicas(d) - max_unavailable
    new_unavailable = util.replicas(new_rs) - util.status_int(new_rs, "availableReplicas")
    max_scaled_down = all_pods - min_available - new_unavailable
    if max_scaled_down <= 0:
        return []
    actions: list[ScaleAction] = []
    olds = util.by_creation(old_rss)
    # 1. scale away replicas that are not available: it costs no availability
    cleaned = 0
    for i, rs in enumerate(olds):
        if cleaned >= max_scaled_down:
            break
        size, available = util.replicas(rs), util.status_int(rs, "availableReplicas")
        if size == 0 or size == available:
            continue
        count = min(max_scaled_down - cleaned, size - available)
        if count < 0:  # a stale status claims more available than wanted: upstream errs
            return actions
        actions.append(ScaleAction(_name(rs), size - count, "down"))
        olds[i] = _with_replicas(rs, size - count)
        cleaned += count
    # 2. scale down available old replicas while availability allows
    available_pods = util.status_count(olds + [new_rs], "availableReplicas")
    if available_pods <= min_available:
        return actions
    to_scale_down = available_pods - min_available
    scaled = 0
    for rs in util.by_creation(olds):
        if scaled >= to_scale_down:
            break
        size = util.replicas(rs)
        if size == 0:
            continue
        count = min(size, to_scale_down - scaled)
        actions.append(ScaleAction(_name(rs), size - count, "down"))
        scaled += count
    return actions


def _by_size(rss: list[Obj], *, newer_first: bool) -> list[Obj]:
    def compare(a: Obj, b: Obj) -> int:
        ra, rb = util.replicas(a), util.replicas(b)
        if ra != rb:
            return -1 if ra > rb else 1
        ka, kb = util.creation_key(a), util.creation_key(b)
        if ka == kb:
            return 0
        older = -1 if ka < kb else 1
        return -older if newer_first else older
    return sorted(rss, key=functools.cmp_to_key(compare))


def plan_scale(d: Obj, new_rs: Obj | None, old_rss: list[Obj]) -> list[ScaleAction]:
    want = util.replicas(d)
    latest = util.find_active_or_latest(new_rs, old_rss)
    if latest is not None:
        if util.replicas(latest) == want:
            return []
        return [ScaleAction(_name(latest), want, _direction(latest, want))]
    if util.is_saturated(d, new_rs):
        return [ScaleAction(_name(rs), 0, "down") for rs in util.filter_active(old_rss)]
    if not util.is_rolling_update(d):
        return []
    active = util.filter_active(list(old_rss) + [new_rs])
    allowed = want + util.max_surge(d) if want > 0 else 0
    to_add = allowed - util.replica_count(active)
    operation = ""
    if to_add > 0:
        active, operation = _by_size(active, newer_first=True), "up"
    elif to_add < 0:
        active, operation = _by_size(active, newer_first=False), "down"
    added = 0
    sizes: list[int] = []
    for rs in active:
        if to_add != 0:
            share = util.proportion(rs, d, to_add, added)
            sizes.append(util.replicas(rs) + share)
            added += share
        else:
            sizes.append(util.replicas(rs))
    if active and to_add != 0:
        sizes[0] = max(sizes[0] + to_add - added, 0)
    return [ScaleAction(_name(rs), size, operation, force=True)
            for rs, size in zip(active, sizes)]


def is_scaling_event(d: Obj, all_rss: Iterable[Obj | None]) -> bool:
    for rs in util.filter_active(all_rss):
        desired = util.desired_replicas_annotation(rs)
        if desired is not None and desired != util.replicas(d):
            return True
    return False


def plan_recreate_scale_down(old_rss: list[Obj]) -> list[ScaleAction]:
    return [ScaleAction(_name(rs), 0, "down") for rs in util.filter_active(old_rss)]


def old_pods_running(new_rs: Obj | None, old_rss: list[Obj],
                     pods_by_rs_uid: Mapping[str, list[Obj]]) -> bool:
    """Recreate waits until no old pod may still be running (Unknown counts as running)."""
    if util.status_count(old_rss, "replicas") > 0:
        return True
    new_uid = (new_rs.get("metadata") or {}).get("uid") if new_rs is not None else None
    for uid, pods in pods_by_rs_uid.items():
        if uid == new_uid:
            continue
        for pod in pods:
            if (pod.get("status") or {}).get("phase") not in ("Failed", "Succeeded"):
                return True
    return False


def plan_cleanup(d: Obj, old_rss: list[Obj]) -> list[Obj]:
    """The old ReplicaSets to delete to respect revisionHistoryLimit."""
    if not util.has_revision_history_limit(d):
        return []
    alive = [rs for rs in old_rss if not (rs.get("metadata") or {}).get("deletionTimestamp")]
    diff = len(alive) - int((d.get("spec") or {}).get("revisionHistoryLimit") or 0)
    if diff <= 0:
        return []
    doomed = []
    for rs in util.by_revision(alive)[:diff]:
        meta = rs.get("metadata") or {}
        if (util.status_int(rs, "replicas") != 0 or util.replicas(rs) != 0
                or int(meta.get("generation") or 0) > util.status_int(rs, "observedGeneration")):
            continue
        doomed.append(rs)
    return doomed


def pods_by_replica_set(rss: Iterable[Obj], pods: Iterable[Obj]) -> dict[str, list[Obj]]:
    """getPodMapForDeployment: pods grouped by the uid of the ReplicaSet controlling them."""
    by_uid: dict[str, list[Obj]] = {(rs.get("metadata") or {}).get("uid", ""): [] for rs in rss}
    for pod in pods:
        ref = pc.controller_of(pod)
        if ref is not None and ref.get("uid") in by_uid:
            by_uid[ref["uid"]].append(pod)
    return by_uid
