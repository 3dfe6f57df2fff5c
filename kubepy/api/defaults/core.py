"""Defaults of core/v1 kinds other than the PodSpec internals (see ``pod.py``):
Pod, PodTemplate, ReplicationController, Service, Secret, Namespace,
PersistentVolume(Claim), Endpoints, LimitRange, Node.

Besides ``SetDefaults_*`` this fills the few values the registry strategies put in on
create and that every ``kubectl get -o yaml`` shows (a Namespace's ``kubernetes``
finalizer and phase, a Pod's Pending status, empty status structs Go always
serializes). ClusterIP and nodePort allocation are the apiserver's business; ipFamilies
and ipFamilyPolicy are filled for a single-stack IPv4 cluster unless the caller gives
others.
"""

from __future__ import annotations

import base64
from typing import Any

from kubepy.api.defaults.pod import (
    _dict, _list, default_pod, default_pod_template, default_pvc_spec, default_resource_list,
    qos_class,
)

Obj = dict[str, Any]

DEFAULT_CLIENT_IP_AFFINITY_SECONDS = 10800
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


def default_pod_object(pod: Obj) -> None:
    default_pod(pod)
    status = _dict(pod, "status")
    status.setdefault("phase", "Pending")
    status.setdefault("qosClass", qos_class(pod))


def default_pod_template_object(obj: Obj) -> None:
    default_pod_template(_dict(obj, "template"))


def default_replication_controller(rc: Obj) -> None:
    spec = _dict(rc, "spec")
    template = spec.get("template")
    labels = ((template or {}).get("metadata") or {}).get("labels")
    if labels is not None:
        if not spec.get("selector"):
            spec["selector"] = dict(labels)
        meta = _dict(rc, "metadata")
        if not meta.get("labels"):
            meta["labels"] = dict(labels)
    if spec.get("replicas") is None:
        spec["replicas"] = 1  # +default=1
    default_pod_template(template)
    _dict(rc, "status").setdefault("replicas", 0)


def default_service(svc: Obj, *, ip_families: tuple[str, ...] = ("IPv4",)) -> None:
    spec = _dict(svc, "spec")
    if not spec.get("sessionAffinity"):
        spec["sessionAffinity"] = "None"
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        client_ip = _dict(_dict(spec, "sessionAffinityConfig"), "clientIP")
        client_ip.setdefault("timeoutSeconds", DEFAULT_CLIENT_IP_AFFINITY_SECONDS)
    if not spec.get("type"):
        spec["type"] = "ClusterIP"
    svc_type = spec["type"]
    for port in _list(spec.get("ports")):
        if not isinstance(port, dict):
            continue
        if not port.get("protocol"):
            port["protocol"] = "TCP"
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")
    externally_accessible = svc_type in ("NodePort", "LoadBalancer") or \
        (svc_type == "ClusterIP" and bool(spec.get("externalIPs")))
    if externally_accessible and not spec.get("externalTrafficPolicy"):
        spec["externalTrafficPolicy"] = "Cluster"
    if spec.get("internalTrafficPolicy") is None and \
            svc_type in ("ClusterIP", "NodePort", "LoadBalancer"):
        spec["internalTrafficPolicy"] = "Cluster"
    if svc_type == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        spec["allocateLoadBalancerNodePorts"] = True
    if svc_type != "ExternalName":
        # Done by the service REST storage (not the defaulter) in Kubernetes.
        if spec.get("clusterIP") and not spec.get("clusterIPs"):
            spec["clusterIPs"] = [spec["clusterIP"]]
        headless_selectorless = spec.get("clusterIP") == "None" and not spec.get("selector")
        if not spec.get("ipFamilyPolicy"):
            spec["ipFamilyPolicy"] = "RequireDualStack" if headless_selectorless \
                else "SingleStack"
        if not spec.get("ipFamilies"):
            families = list(ip_families)
            if spec["ipFamilyPolicy"] == "SingleStack":
                families = families[:1]
            spec["ipFamilies"] = families
    _dict(_dict(svc, "status"), "loadBalancer")


def retain_allocated_service_values(new: Obj, old: Obj) -> None:
    """What the service REST update does before validation (``patchAllocatedValues``):
    an update that leaves clusterIP(s), nodePorts or healthCheckNodePort empty keeps the
    allocated values of ``old`` instead of asking for new ones."""
    spec, old_spec = _dict(new, "spec"), old.get("spec") or {}
    if spec.get("type") == "ExternalName" or old_spec.get("type") == "ExternalName":
        return
    for name in ("clusterIP", "clusterIPs"):
        if not spec.get(name) and old_spec.get(name):
            spec[name] = old_spec[name]
    if spec.get("type") in ("NodePort", "LoadBalancer"):
        old_ports = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort")
                     for p in _list(old_spec.get("ports")) if isinstance(p, dict)}
        for port in _list(spec.get("ports")):
            if isinstance(port, dict) and not port.get("nodePort"):
                node_port = old_ports.get((port.get("port"), port.get("protocol", "TCP")))
                if node_port:
                    port["nodePort"] = node_port
    if not spec.get("healthCheckNodePort") and old_spec.get("healthCheckNodePort") and \
            spec.get("externalTrafficPolicy") == "Local":
        spec["healthCheckNodePort"] = old_spec["healthCheckNodePort"]


def default_secret(secret: Obj) -> None:
    """Type Opaque; ``stringData`` is write-only and merged into ``data`` (the v1 ->
    internal conversion does this upstream; stringData wins on a shared key)."""
    if not secret.get("type"):
        secret["type"] = "Opaque"
    string_data = secret.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = _dict(secret, "data")
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


def default_namespace(ns: Obj) -> None:
    meta = _dict(ns, "metadata")
    if meta.get("name"):
        _dict(meta, "labels")[NAMESPACE_NAME_LABEL] = meta["name"]
    spec = _dict(ns, "spec")
    if not spec.get("finalizers"):
        spec["finalizers"] = ["kubernetes"]  # namespace strategy PrepareForCreate
    status = _dict(ns, "status")
    if not status.get("phase"):
        status["phase"] = "Active"


def default_persistent_volume(pv: Obj) -> None:
    spec = _dict(pv, "spec")
    default_resource_list(spec.get("capacity"))
    if not spec.get("persistentVolumeReclaimPolicy"):
        spec["persistentVolumeReclaimPolicy"] = "Retain"
    if spec.get("volumeMode") is None:
        spec["volumeMode"] = "Filesystem"
    status = _dict(pv, "status")
    if not status.get("phase"):
        status["phase"] = "Pending"


def default_pvc(pvc: Obj) -> None:
    default_pvc_spec(_dict(pvc, "spec"))
    status = _dict(pvc, "status")
    if not status.get("phase"):
        status["phase"] = "Pending"


def default_endpoints(ep: Obj) -> None:
    for subset in _list(ep.get("subsets")):
        for port in _list((subset or {}).get("ports")):
            if isinstance(port, dict) and not port.get("protocol"):
                port["protocol"] = "TCP"


def default_limit_range(lr: Obj) -> None:
    for item in _list(_dict(lr, "spec").get("limits")):
        if not isinstance(item, dict) or item.get("type") != "Container":
            continue
        default, request = _dict(item, "default"), _dict(item, "defaultRequest")
        for name, value in (item.get("max") or {}).items():
            default.setdefault(name, value)
        for name, value in default.items():
            request.setdefault(name, value)
        for name, value in (item.get("min") or {}).items():
            request.setdefault(name, value)


def default_node(node: Obj) -> None:
    status = node.get("status")
    if isinstance(status, dict) and status.get("allocatable") is None and \
            isinstance(status.get("capacity"), dict):
        status["allocatable"] = dict(status["capacity"])


DEFAULTERS = {
    "Pod": default_pod_object,
    "PodTemplate": default_pod_template_object,
    "ReplicationController": default_replication_controller,
    "Service": default_service,
    "Secret": default_secret,
    "Namespace": default_namespace,
    "PersistentVolume": default_persistent_volume,
    "PersistentVolumeClaim": default_pvc,
    "Endpoints": default_endpoints,
    "LimitRange": default_limit_range,
    "Node": default_node,
}
