"""PersistentVolume binding decisions (kubepy.controllers.pvbinder.logic): matching, claim
and volume state machines, the objects binding writes."""

from __future__ import annotations

from typing import Any

import pytest

from kubepy.controllers.pvbinder import logic
from kubepy.controllers.pvbinder.controller import pod_claim_keys

Obj = dict[str, Any]


def pv(name: str, size: str = "1Gi", modes: tuple[str, ...] = ("ReadWriteOnce",), *,
       phase: str = "Available", cls: str | None = None, labels: Obj | None = None,
       claim_ref: Obj | None = None, mode: str | None = None, affinity: Obj | None = None,
       policy: str = "Retain", annotations: Obj | None = None, deleting: bool = False) -> Obj:
    spec: Obj = {"capacity": {"storage": size}, "accessModes": list(modes),
                 "persistentVolumeReclaimPolicy": policy, "hostPath": {"path": f"/d/{name}"}}
    if cls is not None:
        spec["storageClassName"] = cls
    if claim_ref is not None:
        spec["claimRef"] = claim_ref
    if mode is not None:
        spec["volumeMode"] = mode
    if affinity is not None:
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": affinity}}
    meta: Obj = {"name": name, "labels": labels or {}, "annotations": annotations or {},
                 "resourceVersion": "10"}
    if deleting:
        meta["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": meta, "spec": spec,
            "status": {"phase": phase}}


def pvc(name: str = "data", size: str = "1Gi", modes: tuple[str, ...] = ("ReadWriteOnce",), *,
        cls: str | None = None, volume: str | None = None, selector: Obj | None = None,
        annotations: Obj | None = None, mode: str | None = None, uid: str = "uid-data",
        phase: str = "Pending") -> Obj:
    spec: Obj = {"accessModes": list(modes), "resources": {"requests": {"storage": size}}}
    if cls is not None:
        spec["storageClassName"] = cls
    if volume is not None:
        spec["volumeName"] = volume
    if selector is not None:
        spec["selector"] = selector
    if mode is not None:
        spec["volumeMode"] = mode
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": "ns", "uid": uid, "resourceVersion": "5",
                         "annotations": annotations or {}},
            "spec": spec, "status": {"phase": phase}}


def ref(name: str = "data", uid: str = "uid-data") -> Obj:
    return {"kind": "PersistentVolumeClaim", "namespace": "ns", "name": name, "uid": uid}


def names(volumes: list[Obj]) -> dict[str, Obj]:
    return {v["metadata"]["name"]: v for v in volumes}


ZONE_A = [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]
NODE_1 = [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-1"]}]}]


# ------------------------------------------------------------------------------ matching

@pytest.mark.parametrize("claim, volumes, kwargs, expected", [
    (pvc(size="1Gi"), [pv("big", "10Gi"), pv("small", "2Gi"), pv("tiny", "500Mi")], {}, "small"),
    (pvc(size="1Gi"), [pv("exact", "1Gi"), pv("bigger", "1Gi", ("ReadWriteOnce", "ReadOnlyMany"))],
     {}, "exact"),
    (pvc(modes=("ReadWriteMany",)), [pv("rwo"), pv("rwx", modes=("ReadWriteMany",))], {}, "rwx"),
    (pvc(modes=("ReadWriteOnce", "ReadOnlyMany")),
     [pv("rwo"), pv("both", "5Gi", ("ReadOnlyMany", "ReadWriteOnce"))], {}, "both"),
    (pvc(), [pv("fast", cls="fast"), pv("none")], {}, "none"),
    (pvc(cls="fast"), [pv("none"), pv("fast", "5Gi", cls="fast")], {}, "fast"),
    (pvc(cls="fast"), [pv("none")], {}, None),
    (pvc(selector={"matchLabels": {"tier": "db"}}),
     [pv("web", labels={"tier": "web"}), pv("db", "5Gi", labels={"tier": "db"})], {}, "db"),
    (pvc(), [pv("pending", phase="Pending"), pv("released", phase="Released")], {}, None),
    (pvc(), [pv("taken", claim_ref=ref("other", "u2"))], {}, None),
    (pvc(), [pv("small"), pv("prebound", "5Gi", phase="Bound", claim_ref=ref())], {}, "prebound"),
    (pvc(), [pv("prebound-by-name", "5Gi", claim_ref={"namespace": "ns", "name": "data"})], {},
     "prebound-by-name"),
    (pvc(size="10Gi"), [pv("prebound-small", claim_ref=ref())], {}, None),
    (pvc(mode="Block"), [pv("fs"), pv("block", "5Gi", mode="Block")], {}, "block"),
    (pvc(), [pv("gone", deleting=True)], {}, None),
    (pvc(), [pv("any")], {"delay_binding": True}, None),
    (pvc(), [pv("prebound", claim_ref=ref())], {"delay_binding": True}, "prebound"),
    (pvc(), [pv("zone-b", affinity=[{"matchExpressions": [
        {"key": "zone", "operator": "In", "values": ["b"]}]}]), pv("zone-a", "5Gi", affinity=ZONE_A)],
     {"delay_binding": True, "node": logic.Node("node-1", {"zone": "a"})}, "zone-a"),
    (pvc(), [pv("other-node", affinity=[{"matchFields": [
        {"key": "metadata.name", "operator": "In", "values": ["node-2"]}]}]),
        pv("on-node", "3Gi", affinity=NODE_1), pv("anywhere", "8Gi")],
     {"delay_binding": True, "node": logic.Node("node-1")}, "on-node"),
], ids=["smallest-fit", "fewest-access-modes", "access-mode", "mode-superset", "no-class",
        "class", "class-none-available", "selector", "not-available", "claimed-by-other",
        "prebound-wins", "prebound-without-uid", "prebound-too-small", "volume-mode",
        "deleting", "delay-without-node", "delay-prebound", "node-affinity-labels",
        "node-affinity-fields"])
def test_find_best_match(claim: Obj, volumes: list[Obj], kwargs: Obj,
                         expected: str | None) -> None:
    match = logic.find_best_match(claim, volumes, **kwargs)
    assert (match["metadata"]["name"] if match else None) == expected


@pytest.mark.parametrize("volume, claim, expected", [
    (pv("v", "1Gi"), pvc(size="2Gi"), "requested PV is too small"),
    (pv("v", cls="gold"), pvc(), "storageClassName does not match"),
    (pv("v", cls="gold"), pvc(cls="silver"), "storageClassName does not match"),
    (pv("v", annotations={"volume.beta.kubernetes.io/storage-class": "gold"}),
     pvc(cls="gold"), None),
    (pv("v", mode="Block"), pvc(), "incompatible volumeMode"),
    (pv("v"), pvc(modes=("ReadWriteMany",)), "incompatible accessMode"),
    (pv("v", deleting=True), pvc(), 'the volume is marked for deletion "v"'),
    (pv("v", "5Gi"), pvc(), None),
], ids=["too-small", "class-vs-none", "class-differs", "beta-annotation-class", "mode",
        "access", "deleting", "fits"])
def test_mismatch(volume: Obj, claim: Obj, expected: str | None) -> None:
    assert logic.mismatch(volume, claim) == expected


@pytest.mark.parametrize("terms, node, labels, expected", [
    (None, "n", {}, True),
    (ZONE_A, "n", {"zone": "a"}, True),
    (ZONE_A, "n", {"zone": "b"}, False),
    (NODE_1, "node-1", {}, True),
    ([{"matchExpressions": [{"key": "zone", "operator": "Exists"}]}, *NODE_1], "node-1", {}, True),
    ([{}], "n", {"zone": "a"}, False),
    ([{"matchExpressions": [{"key": "gen", "operator": "Gt", "values": ["3"]}]}], "n",
     {"gen": "4"}, True),
    ([{"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]}]}], "n", {},
     True),
], ids=["none", "label-in", "label-out", "field", "terms-ored", "empty-term", "gt", "notin"])
def test_node_affinity(terms: list[Obj] | None, node: str, labels: Obj, expected: bool) -> None:
    volume = pv("v", affinity=terms) if terms is not None else pv("v")
    assert logic.node_affinity_allows(volume, node, labels) is expected


# ------------------------------------------------------------------------------ binding

def test_bind_volume_sets_claim_ref_and_marks_controller() -> None:
    out = logic.bind_volume(pv("v"), pvc())
    assert out is not None
    assert out["spec"]["claimRef"] == {"kind": "PersistentVolumeClaim", "namespace": "ns",
                                       "name": "data", "uid": "uid-data", "apiVersion": "v1",
                                       "resourceVersion": "5"}
    assert out["metadata"]["annotations"][logic.ANN_BOUND_BY_CONTROLLER] == "yes"
    assert logic.bind_volume(out, pvc()) is None


def test_bind_volume_completes_user_prebinding_without_mark() -> None:
    out = logic.bind_volume(pv("v", claim_ref={"namespace": "ns", "name": "data"}), pvc())
    assert out is not None and out["spec"]["claimRef"]["uid"] == "uid-data"
    assert logic.ANN_BOUND_BY_CONTROLLER not in out["metadata"]["annotations"]


@pytest.mark.parametrize("claim, annotations", [
    (pvc(), {logic.ANN_BOUND_BY_CONTROLLER: "yes", logic.ANN_BIND_COMPLETED: "yes"}),
    (pvc(volume="v"), {logic.ANN_BIND_COMPLETED: "yes"}),
], ids=["controller-chose", "user-chose"])
def test_bind_claim(claim: Obj, annotations: Obj) -> None:
    out = logic.bind_claim(claim, pv("v"))
    assert out is not None
    assert out["spec"]["volumeName"] == "v"
    assert out["metadata"]["annotations"] == annotations
    assert logic.bind_claim(out, pv("v")) is None


def test_bound_claim_status_reports_volume() -> None:
    volume = pv("v", "5Gi", ("ReadWriteOnce", "ReadOnlyMany"))
    status = logic.bound_claim_status(pvc(), volume)
    assert status == {"phase": "Bound", "accessModes": ["ReadWriteOnce", "ReadOnlyMany"],
                      "capacity": {"storage": "5Gi"}}
    assert logic.bound_claim_status({**pvc(), "status": status}, volume) is None


def test_unbind_volume() -> None:
    bound = logic.bind_volume(pv("v"), pvc())
    assert bound is not None
    out = logic.unbind_volume(bound)
    assert "claimRef" not in out["spec"]
    assert logic.ANN_BOUND_BY_CONTROLLER not in out["metadata"]["annotations"]


# ----------------------------------------------------------------------------- decisions

DONE = {logic.ANN_BIND_COMPLETED: "yes"}
WFFC = {"metadata": {"name": "local"}, "provisioner": "kubernetes.io/no-provisioner",
        "volumeBindingMode": "WaitForFirstConsumer"}
EXTERNAL = {"metadata": {"name": "fast"}, "provisioner": "rancher.io/local-path"}
EXTERNAL_WFFC = {**EXTERNAL, "volumeBindingMode": "WaitForFirstConsumer"}


@pytest.mark.parametrize("claim, volumes, sc, kwargs, action, volume, event", [
    (pvc(), [pv("v")], None, {}, "bind", "v", None),
    (pvc(), [], None, {}, "pending", None,
     ("Normal", "FailedBinding",
      "no persistent volumes available for this claim and no storage class is set")),
    (pvc(cls="gold"), [], None, {}, "pending", None,
     ("Warning", "ProvisioningFailed", 'storageclass.storage.k8s.io "gold" not found')),
    (pvc(cls="fast"), [], EXTERNAL, {}, "provision", None,
     ("Normal", "ExternalProvisioning", logic.external_provisioning_message("rancher.io/local-path"))),
    (pvc(cls="std"), [], {"metadata": {"name": "std"}, "provisioner": "kubernetes.io/aws-ebs"},
     {}, "pending", None,
     ("Warning", "ProvisioningFailed", "no volume plugin matched name: kubernetes.io/aws-ebs")),
    (pvc(cls="local"), [pv("v", cls="local")], WFFC, {}, "pending", None,
     ("Normal", "WaitForFirstConsumer", "waiting for first consumer to be created before binding")),
    (pvc(cls="local"), [pv("v", cls="local")], WFFC, {"waiting_pods": ["web-0"]}, "pending", None,
     ("Normal", "WaitForPodScheduled", "waiting for pod web-0 to be scheduled")),
    (pvc(cls="local"), [], WFFC, {"waiting_pods": ["a", "b"]}, "pending", None,
     ("Normal", "WaitForPodScheduled", "waiting for pods a,b to be scheduled")),
    (pvc(cls="local"), [pv("v", cls="local", affinity=NODE_1)], WFFC,
     {"node": logic.Node("node-1")}, "bind", "v", None),
    (pvc(cls="local"), [pv("v", cls="local", affinity=NODE_1)], WFFC,
     {"node": logic.Node("node-2")}, "pending", None,
     ("Warning", "ProvisioningFailed", "no volume plugin matched name: kubernetes.io/no-provisioner")),
    (pvc(volume="v"), [pv("v")], None, {}, "bind", "v", None),
    (pvc(volume="v"), [], None, {}, "pending", None, None),
    (pvc(volume="v", size="5Gi"), [pv("v")], None, {}, "pending", None,
     ("Warning", "VolumeMismatch", 'Cannot bind to requested volume "v": requested PV is too small')),
    (pvc(volume="v"), [pv("v", phase="Bound", claim_ref=ref("other", "u2"))], None, {},
     "pending", None,
     ("Warning", "FailedBinding", 'volume "v" already bound to a different claim.')),
    (pvc(volume="v"), [pv("v", claim_ref=ref())], None, {}, "bind", "v", None),
    (pvc(volume="v", annotations=DONE), [pv("v", phase="Bound", claim_ref=ref())], None, {},
     "bind", "v", None),
    (pvc(volume="v", annotations=DONE), [], None, {}, "lost", None,
     ("Warning", "ClaimLost",
      "Bound claim has lost its PersistentVolume. Data on the volume is lost!")),
    (pvc(annotations=DONE), [], None, {}, "lost", None,
     ("Warning", "ClaimLost",
      "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!")),
    (pvc(volume="v", annotations=DONE), [pv("v", phase="Bound", claim_ref=ref("x", "u9"))],
     None, {}, "lost", None,
     ("Warning", "ClaimMisbound",
      "Two claims are bound to the same volume, this one is bound incorrectly")),
    (pvc(volume="v", annotations=DONE), [pv("v", phase="Available")], None, {}, "bind", "v", None),
], ids=["match", "no-match-no-class", "class-missing", "external-provisioner",
        "in-tree-provisioner", "wffc-no-consumer", "wffc-pod-unscheduled", "wffc-two-pods",
        "wffc-node-fits", "wffc-node-mismatch", "named-volume", "named-volume-missing",
        "named-volume-too-small", "named-volume-taken", "named-prebound", "bound-ok",
        "bound-volume-gone", "bound-no-volume-name", "misbound", "bound-rebind"])
def test_decide_claim(claim: Obj, volumes: list[Obj], sc: Obj | None, kwargs: Obj, action: str,
                      volume: str | None, event: tuple[str, str, str] | None) -> None:
    d = logic.decide_claim(claim, names(volumes), sc, **kwargs)
    assert d.action == action
    assert (d.volume["metadata"]["name"] if d.volume else None) == volume
    assert d.event == event


def test_decide_claim_external_wffc_selects_node() -> None:
    d = logic.decide_claim(pvc(cls="fast"), {}, EXTERNAL_WFFC, node=logic.Node("node-3"))
    assert (d.action, d.provisioner, d.selected_node) == \
        ("provision", "rancher.io/local-path", "node-3")
    annotated = logic.provisioning_claim(pvc(cls="fast"), "rancher.io/local-path", "node-3")
    assert annotated is not None
    assert annotated["metadata"]["annotations"] == {
        logic.ANN_STORAGE_PROVISIONER: "rancher.io/local-path",
        logic.ANN_BETA_STORAGE_PROVISIONER: "rancher.io/local-path",
        logic.ANN_SELECTED_NODE: "node-3"}
    assert logic.provisioning_claim(annotated, "rancher.io/local-path", "node-3") is None


BOUND_PV = logic.bind_volume(pv("v", phase="Bound"), pvc())
assert BOUND_PV is not None


@pytest.mark.parametrize("volume, claim, phase, message, event, unbind, enqueue", [
    (pv("v", phase="Pending"), None, "Available", None, None, False, False),
    (pv("v"), None, None, None, None, False, False),
    (pv("v", claim_ref={"namespace": "ns", "name": "data"}), None, None, None, None, False, True),
    (pv("v", phase="Bound", claim_ref=ref()), pvc(volume="v"), None, None, None, False, False),
    (pv("v", claim_ref=ref()), pvc(volume="v"), "Bound", None, None, False, False),
    (pv("v", phase="Bound", claim_ref=ref()), pvc(), None, None, None, False, True),
    (pv("v", phase="Bound", claim_ref=ref()), None, "Released", None, None, False, False),
    (pv("v", phase="Bound", claim_ref=ref()), pvc(uid="new-uid"), "Released", None, None, False,
     False),
    (pv("v", phase="Released", claim_ref=ref()), None, None, None, None, False, False),
    (pv("v", phase="Bound", claim_ref=ref(), policy="Delete"), None, "Failed",
     'error getting deleter volume plugin for volume "v": no deletable volume plugin matched',
     ("Warning", "VolumeFailedDelete",
      'error getting deleter volume plugin for volume "v": no deletable volume plugin matched'),
     False, False),
    (pv("v", phase="Bound", claim_ref=ref(), policy="Delete",
        annotations={logic.ANN_PROVISIONED_BY: "rancher.io/local-path"}), None, "Released",
     None, None, False, False),
    (pv("v", phase="Bound", claim_ref=ref(), policy="Recycle"), None, "Failed",
     "No recycler plugin found for the volume!",
     ("Warning", "VolumeFailedRecycle", "No recycler plugin found for the volume!"), False, False),
    (pv("v", phase="Failed", claim_ref=ref(), policy="Delete"), None, None, None, None, False,
     False),
    (BOUND_PV, pvc(volume="elsewhere"), "Available", None, None, True, False),
    (pv("v", phase="Bound", claim_ref=ref()), pvc(volume="elsewhere"), None, None, None, False,
     False),
], ids=["new-volume-available", "available-stays", "user-prebound", "bound-stays",
        "bound-phase-set", "claim-binding-in-progress", "claim-deleted-released",
        "claim-recreated-released", "released-stays", "delete-without-deleter-fails",
        "delete-left-to-provisioner", "recycle-fails", "failed-stays",
        "controller-binding-undone", "user-binding-kept"])
def test_decide_volume(volume: Obj, claim: Obj | None, phase: str | None, message: str | None,
                       event: tuple[str, str, str] | None, unbind: bool, enqueue: bool) -> None:
    d = logic.decide_volume(volume, claim)
    assert (d.phase, d.message, d.event, d.unbind, d.enqueue_claim) == \
        (phase, message, event, unbind, enqueue)


@pytest.mark.parametrize("pod, keys", [
    ({"metadata": {"name": "p", "namespace": "ns"},
      "spec": {"volumes": [{"name": "a", "persistentVolumeClaim": {"claimName": "data"}},
                           {"name": "b", "emptyDir": {}},
                           {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {}}}]}},
     ["ns/data", "ns/p-scratch"]),
    ({"metadata": {"name": "p", "namespace": "ns"}, "spec": {}}, []),
], ids=["claims-and-ephemeral", "none"])
def test_pod_claim_keys(pod: Obj, keys: list[str]) -> None:
    assert pod_claim_keys(pod) == keys
