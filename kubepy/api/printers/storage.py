"""Rows of the storage kinds: PersistentVolume, PersistentVolumeClaim, StorageClass,
VolumeAttributesClass, CSIDriver, CSINode, CSIStorageCapacity and VolumeAttachment.

Access modes print in the fixed order RWO, ROX, RWX, RWOP; the storage class of a
volume or claim is the legacy ``volume.beta.kubernetes.io/storage-class`` annotation when
present, else ``storageClassName``. A deleted volume or claim is ``Terminating``.
"""

from __future__ import annotations

from datetime import datetime

from .common import Cell, Column, Doc, Obj, Printer, age, age_column, dig, meta, name, \
    name_column
from .quantity import canonical_quantity, quantity_or_zero

BETA_STORAGE_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"
DEFAULT_CLASS_ANNOTATIONS = ("storageclass.kubernetes.io/is-default-class",
                             "storageclass.beta.kubernetes.io/is-default-class")
DEFAULT_VAC_ANNOTATION = "resource.kubernetes.io/is-default-class"

_ACCESS_MODES = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"),
                 ("ReadWriteOncePod", "RWOP"))


def access_modes(modes: list[str] | None) -> str:
    present = set(modes or [])
    return ",".join(short for mode, short in _ACCESS_MODES if mode in present)


def _class_name(obj: Obj) -> str:
    annotations = meta(obj).get("annotations") or {}
    if BETA_STORAGE_CLASS_ANNOTATION in annotations:
        return str(annotations[BETA_STORAGE_CLASS_ANNOTATION])
    return str(dig(obj, "spec", "storageClassName") or "")


def _phase(obj: Obj) -> str:
    if meta(obj).get("deletionTimestamp"):
        return "Terminating"
    return str(dig(obj, "status", "phase") or "Pending")


def _or_unset(value: object) -> str:
    return "<unset>" if value is None else str(value)


PERSISTENT_VOLUME = (
    name_column(),
    Column("Capacity", "string", Doc("core.v1.PersistentVolumeSpec", "capacity")),
    Column("Access Modes", "string", Doc("core.v1.PersistentVolumeSpec", "accessModes")),
    Column("Reclaim Policy", "string",
           Doc("core.v1.PersistentVolumeSpec", "persistentVolumeReclaimPolicy")),
    Column("Status", "string", Doc("core.v1.PersistentVolumeStatus", "phase")),
    Column("Claim", "string", Doc("core.v1.PersistentVolumeSpec", "claimRef")),
    Column("StorageClass", "string", "StorageClass of the pv"),
    Column("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
    Column("Reason", "string", Doc("core.v1.PersistentVolumeStatus", "reason")),
    age_column(),
    Column("VolumeMode", "string", Doc("core.v1.PersistentVolumeSpec", "volumeMode"), priority=1),
)


def persistent_volume_cells(obj: Obj, now: datetime) -> list[Cell]:
    spec: Obj = obj.get("spec") or {}
    claim = spec.get("claimRef")
    claim_text = f"{claim.get('namespace', '')}/{claim.get('name', '')}" if claim else ""
    return [
        name(obj), quantity_or_zero((spec.get("capacity") or {}).get("storage")),
        access_modes(spec.get("accessModes")),
        str(spec.get("persistentVolumeReclaimPolicy") or "Retain"), _phase(obj), claim_text,
        _class_name(obj), _or_unset(spec.get("volumeAttributesClassName")),
        str(dig(obj, "status", "reason") or ""), age(obj, now), _or_unset(spec.get("volumeMode")),
    ]


PERSISTENT_VOLUME_CLAIM = (
    name_column(),
    Column("Status", "string", Doc("core.v1.PersistentVolumeClaimStatus", "phase")),
    Column("Volume", "string", Doc("core.v1.PersistentVolumeClaimSpec", "volumeName")),
    Column("Capacity", "string", Doc("core.v1.PersistentVolumeClaimStatus", "capacity")),
    Column("Access Modes", "string", Doc("core.v1.PersistentVolumeClaimStatus", "accessModes")),
    Column("StorageClass", "string", "StorageClass of the pvc"),
    Column("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
    age_column(),
    Column("VolumeMode", "string", Doc("core.v1.PersistentVolumeClaimSpec", "volumeMode"),
           priority=1),
)


def persistent_volume_claim_cells(obj: Obj, now: datetime) -> list[Cell]:
    spec: Obj = obj.get("spec") or {}
    volume = str(spec.get("volumeName") or "")
    capacity, modes = "", ""
    if volume:  # capacity and modes are shown only once bound
        modes = access_modes(dig(obj, "status", "accessModes"))
        capacity = quantity_or_zero((dig(obj, "status", "capacity") or {}).get("storage"))
    return [
        name(obj), _phase(obj), volume, capacity, modes, _class_name(obj),
        _or_unset(spec.get("volumeAttributesClassName")), age(obj, now),
        _or_unset(spec.get("volumeMode")),
    ]


STORAGE_CLASS = (
    name_column(),
    Column("Provisioner", "string", Doc("storage.v1.StorageClass", "provisioner")),
    Column("ReclaimPolicy", "string", Doc("storage.v1.StorageClass", "reclaimPolicy")),
    Column("VolumeBindingMode", "string", Doc("storage.v1.StorageClass", "volumeBindingMode")),
    Column("AllowVolumeExpansion", "string", Doc("storage.v1.StorageClass", "allowVolumeExpansion")),
    age_column(),
)


def storage_class_cells(obj: Obj, now: datetime) -> list[Cell]:
    annotations = meta(obj).get("annotations") or {}
    shown = name(obj)
    if any(annotations.get(key) == "true" for key in DEFAULT_CLASS_ANNOTATIONS):
        shown += " (default)"
    return [shown, str(obj.get("provisioner") or ""), str(obj.get("reclaimPolicy") or "Delete"),
            str(obj.get("volumeBindingMode") or "Immediate"),
            bool(obj.get("allowVolumeExpansion") or False), age(obj, now)]


VOLUME_ATTRIBUTES_CLASS = (
    name_column(),
    Column("DriverName", "string", Doc("storage.v1beta1.VolumeAttributesClass", "driverName")),
    age_column(),
)


def volume_attributes_class_cells(obj: Obj, now: datetime) -> list[Cell]:
    shown = name(obj)
    if (meta(obj).get("annotations") or {}).get(DEFAULT_VAC_ANNOTATION) == "true":
        shown += " (default)"
    return [shown, str(obj.get("driverName") or ""), age(obj, now)]


CSI_DRIVER = (
    name_column(),
    Column("AttachRequired", "boolean", Doc("storage.v1.CSIDriverSpec", "attachRequired")),
    Column("PodInfoOnMount", "boolean", Doc("storage.v1.CSIDriverSpec", "podInfoOnMount")),
    Column("StorageCapacity", "boolean", Doc("storage.v1.CSIDriverSpec", "storageCapacity")),
    Column("TokenRequests", "string", Doc("storage.v1.CSIDriverSpec", "tokenRequests")),
    Column("RequiresRepublish", "boolean", Doc("storage.v1.CSIDriverSpec", "requiresRepublish")),
    Column("Modes", "string", Doc("storage.v1.CSIDriverSpec", "volumeLifecycleModes")),
    age_column(),
)


def csi_driver_cells(obj: Obj, now: datetime) -> list[Cell]:
    spec: Obj = obj.get("spec") or {}
    attach = spec.get("attachRequired")
    tokens = spec.get("tokenRequests")
    token_text = "<unset>" if tokens is None else ",".join(
        str(t.get("audience", "")) for t in tokens)
    return [
        name(obj), True if attach is None else bool(attach), bool(spec.get("podInfoOnMount")),
        bool(spec.get("storageCapacity")), token_text, bool(spec.get("requiresRepublish")),
        ",".join(spec.get("volumeLifecycleModes") or []) or "<none>", age(obj, now),
    ]


CSI_NODE = (name_column(), Column("Drivers", "integer",
                                  "Drivers indicates the number of CSI drivers registered on the node"),
            age_column())


def csi_node_cells(obj: Obj, now: datetime) -> list[Cell]:
    return [name(obj), len(dig(obj, "spec", "drivers") or []), age(obj, now)]


CSI_STORAGE_CAPACITY = (
    name_column(),
    Column("StorageClassName", "string", Doc("storage.v1.CSIStorageCapacity", "storageClassName")),
    Column("Capacity", "string", Doc("storage.v1.CSIStorageCapacity", "capacity")),
)


def csi_storage_capacity_cells(obj: Obj, now: datetime) -> list[Cell]:
    capacity = obj.get("capacity")
    return [name(obj), str(obj.get("storageClassName") or ""),
            "<unset>" if capacity is None else canonical_quantity(capacity)]


VOLUME_ATTACHMENT = (
    name_column(),
    Column("Attacher", "string", Doc("storage.v1.VolumeAttachmentSpec", "attacher"), "name"),
    Column("PV", "string", Doc("storage.v1.VolumeAttachmentSource", "persistentVolumeName")),
    Column("Node", "string", Doc("storage.v1.VolumeAttachmentSpec", "nodeName")),
    Column("Attached", "boolean", Doc("storage.v1.VolumeAttachmentStatus", "attached")),
    age_column(),
)


def volume_attachment_cells(obj: Obj, now: datetime) -> list[Cell]:
    spec: Obj = obj.get("spec") or {}
    return [name(obj), str(spec.get("attacher") or ""),
            str(dig(spec, "source", "persistentVolumeName") or ""), str(spec.get("nodeName") or ""),
            bool(dig(obj, "status", "attached")), age(obj, now)]


PRINTERS = {
    ("", "PersistentVolume"): Printer(PERSISTENT_VOLUME, persistent_volume_cells),
    ("", "PersistentVolumeClaim"): Printer(PERSISTENT_VOLUME_CLAIM, persistent_volume_claim_cells),
    ("storage.k8s.io", "StorageClass"): Printer(STORAGE_CLASS, storage_class_cells),
    ("storage.k8s.io", "VolumeAttributesClass"): Printer(VOLUME_ATTRIBUTES_CLASS,
                                                         volume_attributes_class_cells),
    ("storage.k8s.io", "CSIDriver"): Printer(CSI_DRIVER, csi_driver_cells),
    ("storage.k8s.io", "CSINode"): Printer(CSI_NODE, csi_node_cells),
    ("storage.k8s.io", "CSIStorageCapacity"): Printer(CSI_STORAGE_CAPACITY,
                                                      csi_storage_capacity_cells),
    ("storage.k8s.io", "VolumeAttachment"): Printer(VOLUME_ATTACHMENT, volume_attachment_cells),
}
