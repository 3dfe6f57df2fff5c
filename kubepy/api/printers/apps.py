"""Rows of the ``apps`` kinds: Deployment, ReplicaSet, StatefulSet, DaemonSet and
ControllerRevision.

Column descriptions upstream come partly from retired beta types
(``extensions/v1beta1``, ``apps/v1beta1``); their ``apps/v1`` successors carry the text.
"""

from __future__ import annotations

from datetime import datetime

from .common import Cell, Column, Doc, Obj, Printer, SelectorError, age, age_column, as_int, \
    container_cells, containers_columns, dig, format_label_selector, format_labels, meta, name, \
    name_column, selector_string

DEPLOYMENT = (
    name_column(),
    Column("Ready", "string", "Number of the pod with ready state"),
    Column("Up-to-date", "string", Doc("apps.v1.DeploymentStatus", "updatedReplicas")),
    Column("Available", "string", Doc("apps.v1.DeploymentStatus", "availableReplicas")),
    age_column(),
    *containers_columns(),
    Column("Selector", "string", Doc("apps.v1.DeploymentSpec", "selector"), priority=1),
)


def deployment_cells(obj: Obj, now: datetime) -> list[Cell]:
    try:
        selector = selector_string(dig(obj, "spec", "selector"))
    except SelectorError:
        selector = "<invalid>"
    names, images = container_cells(dig(obj, "spec", "template", "spec"))
    return [
        name(obj),
        f"{as_int(dig(obj, 'status', 'readyReplicas'))}/{as_int(dig(obj, 'spec', 'replicas'), 1)}",
        as_int(dig(obj, "status", "updatedReplicas")),
        as_int(dig(obj, "status", "availableReplicas")),
        age(obj, now), names, images, selector,
    ]


REPLICA_SET = (
    name_column(),
    Column("Desired", "integer", Doc("apps.v1.ReplicaSetSpec", "replicas")),
    Column("Current", "integer", Doc("apps.v1.ReplicaSetStatus", "replicas")),
    Column("Ready", "integer", Doc("apps.v1.ReplicaSetStatus", "readyReplicas")),
    age_column(),
    *containers_columns(),
    Column("Selector", "string", Doc("apps.v1.ReplicaSetSpec", "selector"), priority=1),
)


def replica_set_cells(obj: Obj, now: datetime) -> list[Cell]:
    names, images = container_cells(dig(obj, "spec", "template", "spec"))
    return [
        name(obj), as_int(dig(obj, "spec", "replicas"), 1), as_int(dig(obj, "status", "replicas")),
        as_int(dig(obj, "status", "readyReplicas")), age(obj, now),
        names, images, format_label_selector(dig(obj, "spec", "selector")),
    ]


STATEFUL_SET = (
    name_column(),
    Column("Ready", "string", "Number of the pod with ready state"),
    age_column(),
    *containers_columns(),
)


def stateful_set_cells(obj: Obj, now: datetime) -> list[Cell]:
    names, images = container_cells(dig(obj, "spec", "template", "spec"))
    ready = as_int(dig(obj, "status", "readyReplicas"))
    return [name(obj), f"{ready}/{as_int(dig(obj, 'spec', 'replicas'), 1)}", age(obj, now),
            names, images]


DAEMON_SET = (
    name_column(),
    Column("Desired", "integer", Doc("apps.v1.DaemonSetStatus", "desiredNumberScheduled")),
    Column("Current", "integer", Doc("apps.v1.DaemonSetStatus", "currentNumberScheduled")),
    Column("Ready", "integer", Doc("apps.v1.DaemonSetStatus", "numberReady")),
    Column("Up-to-date", "integer", Doc("apps.v1.DaemonSetStatus", "updatedNumberScheduled")),
    Column("Available", "integer", Doc("apps.v1.DaemonSetStatus", "numberAvailable")),
    Column("Node Selector", "string", Doc("core.v1.PodSpec", "nodeSelector")),
    age_column(),
    *containers_columns(),
    Column("Selector", "string", Doc("apps.v1.DaemonSetSpec", "selector"), priority=1),
)


def daemon_set_cells(obj: Obj, now: datetime) -> list[Cell]:
    status: Obj = obj.get("status") or {}
    pod_spec = dig(obj, "spec", "template", "spec")
    names, images = container_cells(pod_spec)
    return [
        name(obj), as_int(status.get("desiredNumberScheduled")),
        as_int(status.get("currentNumberScheduled")), as_int(status.get("numberReady")),
        as_int(status.get("updatedNumberScheduled")), as_int(status.get("numberAvailable")),
        format_labels((pod_spec or {}).get("nodeSelector")), age(obj, now),
        names, images, format_label_selector(dig(obj, "spec", "selector")),
    ]


CONTROLLER_REVISION = (
    name_column(),
    Column("Controller", "string", "Controller of the object"),
    Column("Revision", "string", Doc("apps.v1.ControllerRevision", "revision")),
    age_column(),
)


def controller_name(obj: Obj) -> str:
    """``kind.group/name`` of the controlling owner (``<none>`` without one)."""
    for ref in meta(obj).get("ownerReferences") or []:
        if ref.get("controller") is True:
            api_version = str(ref.get("apiVersion") or "")
            group = api_version.split("/", 1)[0] if "/" in api_version else ""
            kind = str(ref.get("kind") or "")
            if not group and not kind:
                return str(ref.get("name") or "")
            group_kind = f"{kind}.{group}" if group else kind
            return f"{group_kind.lower()}/{ref.get('name', '')}"
    return "<none>"


def controller_revision_cells(obj: Obj, now: datetime) -> list[Cell]:
    return [name(obj), controller_name(obj), as_int(obj.get("revision")), age(obj, now)]


PRINTERS = {
    ("apps", "Deployment"): Printer(DEPLOYMENT, deployment_cells),
    ("apps", "ReplicaSet"): Printer(REPLICA_SET, replica_set_cells),
    ("apps", "StatefulSet"): Printer(STATEFUL_SET, stateful_set_cells),
    ("apps", "DaemonSet"): Printer(DAEMON_SET, daemon_set_cells),
    ("apps", "ControllerRevision"): Printer(CONTROLLER_REVISION, controller_revision_cells),
}
