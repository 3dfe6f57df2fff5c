"""Defaults of apps/v1 kinds (pkg/apis/apps/v1/defaults.go): Deployment, ReplicaSet,
StatefulSet, DaemonSet; each also defaults its pod template and shows the status fields
Go serializes even when zero.
"""

from __future__ import annotations

from typing import Any

from kubepy.api.defaults.pod import _dict, _list, default_pod_template, default_pvc_spec

Obj = dict[str, Any]


def default_deployment(d: Obj) -> None:
    spec = _dict(d, "spec")
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    strategy = _dict(spec, "strategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
    if strategy["type"] == "RollingUpdate":
        rolling = _dict(strategy, "rollingUpdate")
        if rolling.get("maxUnavailable") is None:
            rolling["maxUnavailable"] = "25%"
        if rolling.get("maxSurge") is None:
            rolling["maxSurge"] = "25%"
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    if spec.get("progressDeadlineSeconds") is None:
        spec["progressDeadlineSeconds"] = 600
    default_pod_template(spec.get("template"))
    _dict(d, "status")


def default_replica_set(rs: Obj) -> None:
    spec = _dict(rs, "spec")
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    default_pod_template(spec.get("template"))
    _dict(rs, "status").setdefault("replicas", 0)


def default_stateful_set(sts: Obj) -> None:
    spec = _dict(sts, "spec")
    if not spec.get("podManagementPolicy"):
        spec["podManagementPolicy"] = "OrderedReady"
    strategy = _dict(spec, "updateStrategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
        _dict(strategy, "rollingUpdate")
    rolling = strategy.get("rollingUpdate")
    if strategy["type"] == "RollingUpdate" and isinstance(rolling, dict) and \
            rolling.get("partition") is None:
        rolling["partition"] = 0
    retention = _dict(spec, "persistentVolumeClaimRetentionPolicy")  # StatefulSetAutoDeletePVC
    if not retention.get("whenDeleted"):
        retention["whenDeleted"] = "Retain"
    if not retention.get("whenScaled"):
        retention["whenScaled"] = "Retain"
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    default_pod_template(spec.get("template"))
    for claim in _list(spec.get("volumeClaimTemplates")):
        if not isinstance(claim, dict):
            continue
        # The apps/v1 conversion writes TypeMeta into each claim template.
        claim.setdefault("apiVersion", "v1")
        claim.setdefault("kind", "PersistentVolumeClaim")
        _dict(claim, "metadata").setdefault("creationTimestamp", None)
        default_pvc_spec(_dict(claim, "spec"))
        status = _dict(claim, "status")
        if not status.get("phase"):
            status["phase"] = "Pending"
    status = _dict(sts, "status")
    status.setdefault("replicas", 0)
    status.setdefault("availableReplicas", 0)


def default_daemon_set(ds: Obj) -> None:
    spec = _dict(ds, "spec")
    strategy = _dict(spec, "updateStrategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
    if strategy["type"] == "RollingUpdate":
        rolling = _dict(strategy, "rollingUpdate")
        if rolling.get("maxUnavailable") is None:
            rolling["maxUnavailable"] = 1
        if rolling.get("maxSurge") is None:
            rolling["maxSurge"] = 0
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    default_pod_template(spec.get("template"))
    status = _dict(ds, "status")
    for name in ("currentNumberScheduled", "desiredNumberScheduled", "numberMisscheduled",
                 "numberReady"):
        status.setdefault(name, 0)


DEFAULTERS = {
    "Deployment": default_deployment,
    "ReplicaSet": default_replica_set,
    "StatefulSet": default_stateful_set,
    "DaemonSet": default_daemon_set,
}
