"""PersistentVolume binding decisions (the persistent-volume controller's), pure.

A claim binds 1:1 to a volume. Matching (``find_best_match``): the volume is not being
deleted, its volumeMode equals the claim's (default Filesystem), its access modes include
all of the claim's, its StorageClass equals the claim's ("" matches volumes without a
class), it is Available with no claimRef, its labels satisfy the claim's selector, its
capacity covers the request, and — when a node is known (WaitForFirstConsumer) — its
``spec.nodeAffinity.required`` admits that node. A volume pre-bound to the claim
(``claimRef`` naming it) wins outright; otherwise volumes with the fewest access modes
are preferred, then the smallest capacity.

``decide_claim`` and ``decide_volume`` say what the controller should do with one claim or
one volume (bind, set a phase, record an Event); ``bind_volume``, ``bind_claim`` and
``bound_claim_status`` give the objects to write, or None when already so. Annotations
and Event reasons/messages are Kubernetes'.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from kubepy.api.labels import selector_from_label_selector
from kubepy.api.quantity import QuantityError, parse_quantity
from kubepy.api.quota import claim_class

Obj = dict[str, Any]

ANN_BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
ANN_BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
ANN_SELECTED_NODE = "volume.kubernetes.io/selected-node"
ANN_STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
ANN_BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"
ANN_PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
ANN_BETA_CLASS = "volume.beta.kubernetes.io/storage-class"

NORMAL, WARNING = "Normal", "Warning"
MSG_NO_CLASS = "no persistent volumes available for this claim and no storage class is set"
MSG_WAIT_CONSUMER = "waiting for first consumer to be created before binding"
MSG_LOST_REFERENCE = ("Bound claim has lost reference to PersistentVolume. "
                      "Data on the volume is lost!")
MSG_LOST_VOLUME = "Bound claim has lost its PersistentVolume. Data on the volume is lost!"
MSG_MISBOUND = "Two claims are bound to the same volume, this one is bound incorrectly"
MSG_NO_RECYCLER = "No recycler plugin found for the volume!"

Event = tuple[str, str, str]  # (type, reason, message)


# ------------------------------------------------------------------------------ helpers

def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _spec(obj: Obj) -> Obj:
    return obj.get("spec") or {}


def _annotations(obj: Obj) -> dict[str, str]:
    return _meta(obj).get("annotations") or {}


def _storage(raw: Any) -> Decimal:
    try:
        return parse_quantity(raw) if raw is not None else Decimal(0)
    except (QuantityError, TypeError):
        return Decimal(0)


def volume_class(pv: Obj) -> str:
    ann = _annotations(pv)
    if ANN_BETA_CLASS in ann:
        return ann[ANN_BETA_CLASS]
    return _spec(pv).get("storageClassName") or ""


def requested_storage(claim: Obj) -> Decimal:
    return _storage(((_spec(claim).get("resources") or {}).get("requests") or {}).get("storage"))


def volume_capacity(pv: Obj) -> Decimal:
    return _storage((_spec(pv).get("capacity") or {}).get("storage"))


def volume_mode(obj: Obj) -> str:
    return _spec(obj).get("volumeMode") or "Filesystem"


def access_modes_ok(claim: Obj, pv: Obj) -> bool:
    return set(_spec(claim).get("accessModes") or []) <= set(_spec(pv).get("accessModes") or [])


def _expression_matches(req: Obj, values: dict[str, str]) -> bool:
    key: str = req.get("key") or ""
    op, wanted = req.get("operator"), req.get("values") or []
    present, value = key in values, values.get(key, "")
    if op == "In":
        return present and value in wanted
    if op == "NotIn":
        return not present or value not in wanted
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt") and present and len(wanted) == 1:
        try:
            a, b = int(value), int(wanted[0])
        except ValueError:
            return False
        return a > b if op == "Gt" else a < b
    return False


def node_affinity_allows(pv: Obj, node_name: str, node_labels: dict[str, str]) -> bool:
    """The volume's required node affinity admits the node (no affinity admits all)."""
    required = ((_spec(pv).get("nodeAffinity") or {}).get("required"))
    if required is None:
        return True
    for term in required.get("nodeSelectorTerms") or []:
        exprs, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
        if not exprs and not fields:
            continue
        if all(_expression_matches(r, node_labels) for r in exprs) and \
                all(_expression_matches(r, {"metadata.name": node_name}) for r in fields):
            return True
    return False


def claim_key(claim: Obj) -> str:
    meta = _meta(claim)
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def claim_ref_key(pv: Obj) -> str | None:
    ref = _spec(pv).get("claimRef")
    if not ref:
        return None
    return f"{ref.get('namespace', '')}/{ref.get('name', '')}"


def is_bound_to_claim(pv: Obj, claim: Obj) -> bool:
    """The volume's claimRef names this claim (an empty uid is a user's pre-binding)."""
    ref = _spec(pv).get("claimRef")
    if not ref:
        return False
    meta = _meta(claim)
    if ref.get("name") != meta.get("name") or ref.get("namespace") != meta.get("namespace"):
        return False
    return not ref.get("uid") or ref.get("uid") == meta.get("uid")


def is_bind_completed(claim: Obj) -> bool:
    return ANN_BIND_COMPLETED in _annotations(claim)


def mismatch(pv: Obj, claim: Obj) -> str | None:
    """Why a claim cannot bind the volume it asks for by name (checkVolumeSatisfyClaim)."""
    if _meta(pv).get("deletionTimestamp"):
        return f'the volume is marked for deletion "{_meta(pv).get("name", "")}"'
    if volume_capacity(pv) < requested_storage(claim):
        return "requested PV is too small"
    if volume_class(pv) != claim_class(claim):
        return "storageClassName does not match"
    if volume_mode(pv) != volume_mode(claim):
        return "incompatible volumeMode"
    if not access_modes_ok(claim, pv):
        return "incompatible accessMode"
    return None


@dataclass
class Node:
    """The node a WaitForFirstConsumer claim's first pod landed on."""

    name: str
    labels: dict[str, str] = field(default_factory=dict)


def find_best_match(claim: Obj, volumes: list[Obj], *, delay_binding: bool = False,
                    node: Node | None = None) -> Obj | None:
    """The volume this claim should bind (see module docstring), or None. With
    ``delay_binding`` and no node only a volume pre-bound to the claim is taken."""
    requested = requested_storage(claim)
    selector_raw = _spec(claim).get("selector")
    selector = selector_from_label_selector(selector_raw) if selector_raw is not None else None
    wanted_class = claim_class(claim)
    candidates: list[tuple[int, Decimal, str, Obj]] = []
    for pv in volumes:
        if _meta(pv).get("deletionTimestamp") or volume_mode(pv) != volume_mode(claim):
            continue
        if not access_modes_ok(claim, pv):
            continue
        affinity_ok = node is None or node_affinity_allows(pv, node.name, node.labels)
        capacity = volume_capacity(pv)
        if is_bound_to_claim(pv, claim):
            if capacity >= requested and affinity_ok:
                return pv
            continue
        if delay_binding and node is None:
            continue
        if (pv.get("status") or {}).get("phase") != "Available" or _spec(pv).get("claimRef"):
            continue
        if selector is not None and not selector.matches(_meta(pv).get("labels") or {}):
            continue
        if volume_class(pv) != wanted_class or not affinity_ok or capacity < requested:
            continue
        modes = len(set(_spec(pv).get("accessModes") or []))
        candidates.append((modes, capacity, _meta(pv).get("name", ""), pv))
    if not candidates:
        return None
    return min(candidates, key=lambda c: c[:3])[3]


# ------------------------------------------------------------------------------ binding

def claim_reference(claim: Obj) -> Obj:
    meta = _meta(claim)
    return {"kind": "PersistentVolumeClaim", "namespace": meta.get("namespace", ""),
            "name": meta.get("name", ""), "uid": meta.get("uid", ""), "apiVersion": "v1",
            "resourceVersion": meta.get("resourceVersion", "")}


def bind_volume(pv: Obj, claim: Obj) -> Obj | None:
    """The volume with claimRef pointing at the claim (marked bound-by-controller when the
    controller chose it), or None if it already does."""
    ref = _spec(pv).get("claimRef")
    if ref and ref.get("uid") == _meta(claim).get("uid") and is_bound_to_claim(pv, claim):
        return None
    out = copy.deepcopy(pv)
    out.setdefault("spec", {})["claimRef"] = claim_reference(claim)
    if not ref:
        out.setdefault("metadata", {}).setdefault("annotations", {})[
            ANN_BOUND_BY_CONTROLLER] = "yes"
    return out


def bind_claim(claim: Obj, pv: Obj) -> Obj | None:
    """The claim with volumeName and the bind-completed annotation set, or None."""
    name = _meta(pv).get("name", "")
    spec, ann = _spec(claim), _annotations(claim)
    if spec.get("volumeName") == name and ANN_BIND_COMPLETED in ann:
        return None
    out = copy.deepcopy(claim)
    annotations = out.setdefault("metadata", {}).setdefault("annotations", {})
    if spec.get("volumeName") != name:
        out.setdefault("spec", {})["volumeName"] = name
        annotations[ANN_BOUND_BY_CONTROLLER] = "yes"
    annotations[ANN_BIND_COMPLETED] = "yes"
    return out


def bound_claim_status(claim: Obj, pv: Obj) -> Obj | None:
    """The Bound status (phase, the volume's access modes and capacity), or None."""
    current = claim.get("status") or {}
    status = {**current, "phase": "Bound",
              "accessModes": list(_spec(pv).get("accessModes") or []),
              "capacity": dict(_spec(pv).get("capacity") or {})}
    return None if status == current else status


def unbind_volume(pv: Obj) -> Obj:
    """Undo the controller's binding: drop claimRef and the bound-by-controller mark."""
    out = copy.deepcopy(pv)
    out.setdefault("spec", {}).pop("claimRef", None)
    (out.setdefault("metadata", {}).get("annotations") or {}).pop(ANN_BOUND_BY_CONTROLLER, None)
    return out


# ----------------------------------------------------------------------------- decisions

@dataclass
class ClaimDecision:
    action: str  # "bind" | "pending" | "lost" | "provision"
    volume: Obj | None = None
    event: Event | None = None
    provisioner: str | None = None  # "provision": annotate the claim for this provisioner
    selected_node: str | None = None  # "provision": the node a WaitForFirstConsumer pod uses


def is_delay_binding(storage_class: Obj | None) -> bool:
    return (storage_class or {}).get("volumeBindingMode") == "WaitForFirstConsumer"


def external_provisioning_message(provisioner: str) -> str:
    return (f"Waiting for a volume to be created either by the external provisioner "
            f"'{provisioner}' or manually by the system administrator. If volume creation "
            f"is delayed, please verify that the provisioner is running and correctly "
            f"registered.")


def decide_claim(claim: Obj, volumes: dict[str, Obj], storage_class: Obj | None, *,
                 node: Node | None = None, waiting_pods: list[str] | None = None) -> ClaimDecision:
    """What to do with one claim. ``volumes`` maps name -> PersistentVolume;
    ``storage_class`` is the claim's class object (None when it has none or it does not
    exist); ``node`` the node chosen for a WaitForFirstConsumer claim (its
    selected-node annotation or the node of a scheduled pod using it); ``waiting_pods``
    the unscheduled pods using it (for the WaitForPodScheduled message)."""
    volume_name = _spec(claim).get("volumeName") or ""
    pv = volumes.get(volume_name) if volume_name else None
    if is_bind_completed(claim):
        if not volume_name:
            return ClaimDecision("lost", event=(WARNING, "ClaimLost", MSG_LOST_REFERENCE))
        if pv is None:
            return ClaimDecision("lost", event=(WARNING, "ClaimLost", MSG_LOST_VOLUME))
        ref = _spec(pv).get("claimRef")
        if not ref or ref.get("uid") == _meta(claim).get("uid"):
            return ClaimDecision("bind", volume=pv)
        return ClaimDecision("lost", event=(WARNING, "ClaimMisbound", MSG_MISBOUND))

    if volume_name:  # the user asked for this volume
        if pv is None:
            return ClaimDecision("pending")
        if not _spec(pv).get("claimRef"):
            reason = mismatch(pv, claim)
            if reason:
                return ClaimDecision("pending", event=(
                    WARNING, "VolumeMismatch",
                    f'Cannot bind to requested volume "{volume_name}": {reason}'))
            return ClaimDecision("bind", volume=pv)
        if is_bound_to_claim(pv, claim):
            return ClaimDecision("bind", volume=pv)
        return ClaimDecision("pending", event=(
            WARNING, "FailedBinding",
            f'volume "{volume_name}" already bound to a different claim.'))

    delay = is_delay_binding(storage_class) and ANN_SELECTED_NODE not in _annotations(claim)
    match = find_best_match(claim, list(volumes.values()), delay_binding=delay, node=node)
    if match is not None:
        return ClaimDecision("bind", volume=match)
    class_name = claim_class(claim)
    if delay and node is None:
        pods = waiting_pods or []
        if not pods:
            return ClaimDecision("pending", event=(NORMAL, "WaitForFirstConsumer",
                                                   MSG_WAIT_CONSUMER))
        noun = "pods" if len(pods) > 1 else "pod"
        return ClaimDecision("pending", event=(
            NORMAL, "WaitForPodScheduled", f"waiting for {noun} {','.join(pods)} to be scheduled"))
    if class_name:
        if storage_class is None:
            return ClaimDecision("pending", event=(
                WARNING, "ProvisioningFailed",
                f'storageclass.storage.k8s.io "{class_name}" not found'))
        provisioner = storage_class.get("provisioner") or ""
        if provisioner.startswith("kubernetes.io/"):  # in-tree plugins: kubepy has none
            return ClaimDecision("pending", event=(
                WARNING, "ProvisioningFailed", f"no volume plugin matched name: {provisioner}"))
        selected = node.name if node is not None and is_delay_binding(storage_class) else None
        return ClaimDecision("provision", provisioner=provisioner, selected_node=selected,
                             event=(NORMAL, "ExternalProvisioning",
                                    external_provisioning_message(provisioner)))
    return ClaimDecision("pending", event=(NORMAL, "FailedBinding", MSG_NO_CLASS))


def provisioning_claim(claim: Obj, provisioner: str, selected_node: str | None) -> Obj | None:
    """The claim annotated for an external provisioner (and node), or None if already."""
    ann = _annotations(claim)
    wanted = {ANN_STORAGE_PROVISIONER: provisioner, ANN_BETA_STORAGE_PROVISIONER: provisioner}
    if selected_node and ANN_SELECTED_NODE not in ann:
        wanted[ANN_SELECTED_NODE] = selected_node
    if all(ann.get(k) == v for k, v in wanted.items()):
        return None
    out = copy.deepcopy(claim)
    out.setdefault("metadata", {}).setdefault("annotations", {}).update(wanted)
    return out


@dataclass
class VolumeDecision:
    phase: str | None = None  # the phase to set (None: leave it)
    message: str | None = None  # status.message with the phase
    event: Event | None = None
    unbind: bool = False  # write unbind_volume(pv) first
    enqueue_claim: bool = False  # the claim should be synced (binding in progress)


def _deleter_message(pv: Obj) -> str:
    return (f'error getting deleter volume plugin for volume "{_meta(pv).get("name", "")}": '
            f"no deletable volume plugin matched")


def decide_volume(pv: Obj, claim: Obj | None) -> VolumeDecision:
    """What to do with one volume, given the claim its claimRef names (None if that claim
    does not exist, or is another claim of the same name)."""
    phase = (pv.get("status") or {}).get("phase")
    ref = _spec(pv).get("claimRef")
    if not ref:
        return VolumeDecision(phase="Available" if phase != "Available" else None)
    if not ref.get("uid"):  # pre-bound by a user; the claim's sync binds it
        return VolumeDecision(phase="Available" if phase != "Available" else None,
                              enqueue_claim=True)
    if claim is None or _meta(claim).get("uid") != ref.get("uid"):
        if phase == "Failed":
            return VolumeDecision()
        policy = _spec(pv).get("persistentVolumeReclaimPolicy") or "Retain"
        if policy == "Delete" and not _annotations(pv).get(ANN_PROVISIONED_BY):
            message = _deleter_message(pv)
            return VolumeDecision(phase="Failed", message=message,
                                  event=(WARNING, "VolumeFailedDelete", message))
        if policy == "Recycle":
            return VolumeDecision(phase="Failed", message=MSG_NO_RECYCLER,
                                  event=(WARNING, "VolumeFailedRecycle", MSG_NO_RECYCLER))
        # Retain, or Delete left to the external provisioner that made the volume
        return VolumeDecision(phase="Released" if phase != "Released" else None)
    claim_volume = _spec(claim).get("volumeName") or ""
    if not claim_volume:
        return VolumeDecision(enqueue_claim=True)
    if claim_volume == _meta(pv).get("name"):
        return VolumeDecision(phase="Bound" if phase != "Bound" else None)
    if ANN_BOUND_BY_CONTROLLER in _annotations(pv):  # the claim went elsewhere: release it
        return VolumeDecision(phase="Available", unbind=True)
    return VolumeDecision()
