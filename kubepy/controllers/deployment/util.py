"""Pure Deployment arithmetic, after kube-controller-manager's ``deployment/util``: revisions
and the annotations a Deployment writes on its ReplicaSets, finding the new and old
ReplicaSets, maxSurge/maxUnavailable resolution (percentages rounded as upstream: surge
up, unavailable down, both 0 -> unavailable 1), proportional-scaling fractions, and the
pod-template-hash.

Objects are plain dicts; functions that "set" annotations change the copy they are given
(callers pass copies, never cached objects) and say whether anything changed.

The pod-template-hash: upstream hashes the go-spew dump of the Go ``PodTemplateSpec``
struct with FNV-32a (then the collisionCount as 8 little-endian bytes) and renders the
decimal number with ``SafeEncodeString``. The spew dump depends on Go type layout, so kubepy
hashes canonical JSON (sorted keys, no spaces) instead: same algorithm, same rendering, a
stable but different value (a given template does not get the hash a real cluster gives).
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any, Iterable, Mapping

from kubepy.controllers import podcontrol as pc

Obj = dict[str, Any]

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
DEPRECATED_ROLLBACK_TO = "deprecated.deployment.rollback.to"
POD_TEMPLATE_HASH = "pod-template-hash"
MAX_REV_HISTORY_CHARS = 2000
MAX_INT32 = 2 ** 31 - 1

_SKIPPED_ANNOTATIONS = frozenset({LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS,
                                  MAX_REPLICAS, DEPRECATED_ROLLBACK_TO})

_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"
_FNV32_OFFSET, _FNV32_PRIME = 2166136261, 16777619


# ---------------------------------------------------------------------------- accessors

def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def annotations_of(obj: Mapping[str, Any]) -> Mapping[str, str]:
    """``metadata.annotations`` ({} when absent); not ``annotations``, which
    ``from __future__ import annotations`` already binds in this module."""
    return _meta(obj).get("annotations") or {}


def replicas(obj: Mapping[str, Any] | None) -> int:
    if obj is None:
        return 0
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def status_int(obj: Mapping[str, Any] | None, field: str) -> int:
    if obj is None:
        return 0
    return int((obj.get("status") or {}).get(field) or 0)


def strategy_type(d: Mapping[str, Any]) -> str:
    return ((d.get("spec") or {}).get("strategy") or {}).get("type") or "RollingUpdate"


def is_rolling_update(d: Mapping[str, Any]) -> bool:
    return strategy_type(d) == "RollingUpdate"


def has_progress_deadline(d: Mapping[str, Any]) -> bool:
    value = (d.get("spec") or {}).get("progressDeadlineSeconds")
    return value is not None and int(value) != MAX_INT32


def has_revision_history_limit(d: Mapping[str, Any]) -> bool:
    value = (d.get("spec") or {}).get("revisionHistoryLimit")
    return value is not None and int(value) != MAX_INT32


def creation_key(obj: Mapping[str, Any]) -> tuple[str, str]:
    """ReplicaSetsByCreationTimestamp: oldest first, then by name."""
    meta = _meta(obj)
    return (meta.get("creationTimestamp") or "", meta.get("name") or "")


def by_creation(rss: Iterable[Obj]) -> list[Obj]:
    return sorted(rss, key=creation_key)


# ---------------------------------------------------------------------------- revisions

def revision(obj: Mapping[str, Any]) -> int:
    """The revision annotation as an integer (absent: 0; not a number: ValueError)."""
    value = annotations_of(obj).get(REVISION)
    return 0 if value is None else int(value, 10)


def max_revision(rss: Iterable[Obj]) -> int:
    best = 0
    for rs in rss:
        try:
            best = max(best, revision(rs))
        except ValueError:
            continue
    return best


def by_revision(rss: Iterable[Obj]) -> list[Obj]:
    """ReplicaSetsByRevision: lowest revision first (ties: by creation)."""
    def key(rs: Obj) -> tuple[int, tuple[str, str]]:
        try:
            return (revision(rs), creation_key(rs))
        except ValueError:
            return (0, creation_key(rs))
    return sorted(rss, key=key)


def set_new_replica_set_annotations(d: Obj, rs: Obj, new_revision: str, *, exists: bool,
                                    limit_chars: int = MAX_REV_HISTORY_CHARS) -> bool:
    """Copy the deployment's annotations (minus the skipped ones) onto ``rs``, raise its
    revision to ``new_revision`` keeping the old one in revision-history, and (for a new
    ReplicaSet) add desired-/max-replicas. True when ``rs`` changed."""
    ann = rs.setdefault("metadata", {}).setdefault("annotations", {})
    changed = False
    for k, v in annotations_of(d).items():
        if k in _SKIPPED_ANNOTATIONS or ann.get(k) == v:
            continue
        ann[k] = v
        changed = True
    old_revision = ann.get(REVISION)
    try:
        old_int = int(old_revision, 10) if old_revision else 0
    except ValueError:
        return False
    new_int = int(new_revision, 10)
    if old_int < new_int:
        ann[REVISION] = new_revision
        changed = True
        if old_revision is not None:
            history = ann.get(REVISION_HISTORY, "")
            if not history:
                ann[REVISION_HISTORY] = old_revision
            else:
                parts = history.split(",")
                total = len(history) + len(old_revision) + 1
                start = 0
                while total > limit_chars and start < len(parts):
                    total -= len(parts[start]) + 1
                    start += 1
                if total <= limit_chars:
                    ann[REVISION_HISTORY] = ",".join(parts[start:] + [old_revision])
    if not exists and set_replicas_annotations(rs, replicas(d), replicas(d) + max_surge(d)):
        changed = True
    return changed


def set_replicas_annotations(rs: Obj, desired: int, maximum: int) -> bool:
    ann = rs.setdefault("metadata", {}).setdefault("annotations", {})
    changed = False
    for key, value in ((DESIRED_REPLICAS, str(desired)), (MAX_REPLICAS, str(maximum))):
        if ann.get(key) != value:
            ann[key] = value
            changed = True
    return changed


def replicas_annotations_need_update(rs: Obj, desired: int, maximum: int) -> bool:
    ann = annotations_of(rs)
    return ann.get(DESIRED_REPLICAS) != str(desired) or ann.get(MAX_REPLICAS) != str(maximum)


def _int_annotation(rs: Obj, key: str) -> int | None:
    try:
        return int(annotations_of(rs)[key], 10)
    except (KeyError, ValueError):
        return None


def desired_replicas_annotation(rs: Obj) -> int | None:
    return _int_annotation(rs, DESIRED_REPLICAS)


def rollback_annotations(d: Obj, rs: Obj) -> dict[str, str]:
    """SetDeploymentAnnotationsTo: the deployment's skipped annotations plus the RS's
    others (what ``kubectl rollout undo`` writes)."""
    kept = {k: v for k, v in annotations_of(d).items() if k in _SKIPPED_ANNOTATIONS}
    kept.update({k: v for k, v in annotations_of(rs).items() if k not in _SKIPPED_ANNOTATIONS})
    return kept


# ---------------------------------------------------------------------------- fenceposts

def int_or_percent(value: int | str | None, total: int, *, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent."""
    if value is None:
        return 0
    if isinstance(value, bool):
        raise ValueError(f"invalid value for IntOrString: {value!r}")
    if isinstance(value, int):
        return value
    if not value.endswith("%"):
        raise ValueError(f"invalid value for IntOrString: invalid type: string is not a percentage")
    percent = int(value[:-1], 10)
    scaled = percent * total / 100
    return math.ceil(scaled) if round_up else math.floor(scaled)


def resolve_fenceposts(max_surge_value: int | str | None, max_unavailable_value: int | str | None,
                       desired: int) -> tuple[int, int]:
    surge = int_or_percent(max_surge_value if max_surge_value is not None else 0, desired,
                           round_up=True)
    unavailable = int_or_percent(max_unavailable_value if max_unavailable_value is not None
                                 else 0, desired, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1  # both rounded to 0: allow one down rather than deadlock
    return surge, unavailable


def _rolling(d: Mapping[str, Any]) -> Mapping[str, Any]:
    return ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}


def max_surge(d: Mapping[str, Any]) -> int:
    if not is_rolling_update(d):
        return 0
    ru = _rolling(d)
    return resolve_fenceposts(ru.get("maxSurge"), ru.get("maxUnavailable"), replicas(d))[0]


def max_unavailable(d: Mapping[str, Any]) -> int:
    if not is_rolling_update(d) or replicas(d) == 0:
        return 0
    ru = _rolling(d)
    unavailable = resolve_fenceposts(ru.get("maxSurge"), ru.get("maxUnavailable"),
                                     replicas(d))[1]
    return min(unavailable, replicas(d))


def min_available(d: Mapping[str, Any]) -> int:
    return replicas(d) - max_unavailable(d) if is_rolling_update(d) else 0


# ---------------------------------------------------------------------------- replica sets

def template_without_hash(template: Mapping[str, Any] | None) -> Obj:
    t = copy.deepcopy(dict(template or {}))
    labels = (t.get("metadata") or {}).get("labels")
    if labels is not None and POD_TEMPLATE_HASH in labels:
        labels = {k: v for k, v in labels.items() if k != POD_TEMPLATE_HASH}
        t["metadata"] = {**t["metadata"], "labels": labels}
    return t


def _normalize(value: Any) -> Any:
    """Semantic equality treats absent and empty maps/lists alike."""
    if isinstance(value, dict):
        return {k: _normalize(v) for k, v in value.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_normalize(v) for v in value]
    return value


def equal_ignore_hash(t1: Mapping[str, Any] | None, t2: Mapping[str, Any] | None) -> bool:
    return bool(_normalize(template_without_hash(t1)) == _normalize(template_without_hash(t2)))


def _template(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return (obj.get("spec") or {}).get("template") or {}


def find_new_replica_set(d: Obj, rss: Iterable[Obj]) -> Obj | None:
    """The oldest ReplicaSet whose template equals the deployment's (hash ignored)."""
    for rs in by_creation(rss):
        if equal_ignore_hash(_template(rs), _template(d)):
            return rs
    return None


def find_old_replica_sets(d: Obj, rss: Iterable[Obj]) -> tuple[list[Obj], list[Obj]]:
    """(old ReplicaSets with replicas > 0, all old ReplicaSets)."""
    rss = list(rss)
    new = find_new_replica_set(d, rss)
    new_uid = _meta(new).get("uid") if new is not None else None
    all_old = [rs for rs in rss if new is None or _meta(rs).get("uid") != new_uid]
    return [rs for rs in all_old if replicas(rs) != 0], all_old


def filter_active(rss: Iterable[Obj | None]) -> list[Obj]:
    return [rs for rs in rss if rs is not None and replicas(rs) > 0]


def replica_count(rss: Iterable[Obj | None]) -> int:
    return sum(replicas(rs) for rs in rss if rs is not None)


def status_count(rss: Iterable[Obj | None], field: str) -> int:
    return sum(status_int(rs, field) for rs in rss if rs is not None)


def new_rs_new_replicas(d: Obj, all_rss: Iterable[Obj | None], new_rs: Obj) -> int:
    """How many replicas the new ReplicaSet may have now."""
    if strategy_type(d) == "Recreate":
        return replicas(d)
    if strategy_type(d) != "RollingUpdate":
        raise ValueError(f"deployment type {strategy_type(d)} isn't supported")
    surge = int_or_percent(_rolling(d).get("maxSurge"), replicas(d), round_up=True)
    current = replica_count(all_rss)
    max_total = replicas(d) + surge
    if current >= max_total:
        return replicas(new_rs)
    scale_up = min(max_total - current, replicas(d) - replicas(new_rs))
    return replicas(new_rs) + scale_up


def is_saturated(d: Obj, rs: Obj | None) -> bool:
    if rs is None:
        return False
    desired = desired_replicas_annotation(rs)
    if desired is None:
        return False
    want = replicas(d)
    return replicas(rs) == want and desired == want and status_int(rs, "availableReplicas") == want


def find_active_or_latest(new_rs: Obj | None, old_rss: list[Obj]) -> Obj | None:
    if new_rs is None and not old_rss:
        return None
    newest_first = sorted(old_rss, key=creation_key, reverse=True)
    active = filter_active(newest_first + [new_rs])
    if not active:
        return new_rs if new_rs is not None else newest_first[0]
    return active[0] if len(active) == 1 else None


def _round_half_away(x: float) -> int:
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def replica_set_fraction(rs: Obj, d: Obj) -> int:
    if replicas(d) == 0:
        return -replicas(rs)
    deployment_replicas = replicas(d) + max_surge(d)
    annotated = _int_annotation(rs, MAX_REPLICAS)
    if annotated is None:
        annotated = status_int(d, "replicas")
    if not annotated:
        return 0
    new_size = replicas(rs) * deployment_replicas / annotated
    return _round_half_away(new_size) - replicas(rs)


def proportion(rs: Obj | None, d: Obj, to_add: int, added: int) -> int:
    """GetProportion: this ReplicaSet's share of ``to_add`` (``added`` already given)."""
    if rs is None or replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = replica_set_fraction(rs, d)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


# ---------------------------------------------------------------------------- hashing

def fnv32a(data: bytes) -> int:
    h = _FNV32_OFFSET
    for b in data:
        h ^= b
        h = (h * _FNV32_PRIME) & 0xFFFFFFFF
    return h


def safe_encode_string(s: str) -> str:
    return "".join(_ALPHANUMS[ord(ch) % len(_ALPHANUMS)] for ch in s)


def compute_hash(template: Mapping[str, Any], collision_count: int | None) -> str:
    data = json.dumps(template, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()
    if collision_count is not None:
        data += (int(collision_count) & 0xFFFFFFFF).to_bytes(4, "little") + b"\0\0\0\0"
    return safe_encode_string(str(fnv32a(data)))


def add_label_to_selector(selector: Mapping[str, Any] | None, key: str, value: str) -> Obj:
    sel = copy.deepcopy(dict(selector or {}))
    sel["matchLabels"] = {**(sel.get("matchLabels") or {}), key: value}
    return sel


def new_replica_set(d: Obj, *, pod_template_hash: str, revision_: str, replicas_: int,
                    owner_ref: Obj) -> Obj:
    """The ReplicaSet a deployment creates for its current template."""
    dmeta = _meta(d)
    template = copy.deepcopy(dict(_template(d)))
    tmeta = template.setdefault("metadata", {})
    tmeta["labels"] = {**(tmeta.get("labels") or {}), POD_TEMPLATE_HASH: pod_template_hash}
    spec = d.get("spec") or {}
    rs: Obj = {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": f"{dmeta['name']}-{pod_template_hash}",
                     "namespace": dmeta.get("namespace"),
                     "ownerReferences": [owner_ref],
                     "labels": dict(tmeta["labels"])},
        "spec": {"replicas": replicas_, "minReadySeconds": int(spec.get("minReadySeconds") or 0),
                 "selector": add_label_to_selector(spec.get("selector"), POD_TEMPLATE_HASH,
                                                   pod_template_hash),
                 "template": template},
    }
    set_new_replica_set_annotations(d, rs, revision_, exists=False)
    return rs


def is_controlled_by(obj: Mapping[str, Any], owner: Mapping[str, Any]) -> bool:
    return pc.is_controlled_by(obj, owner)
