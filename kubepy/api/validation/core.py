"""Validation of core/v1 kinds (pkg/apis/core/validation): Pod, PodTemplate,
ReplicationController, Service, ConfigMap, Secret, Namespace, PersistentVolume(Claim).

``CREATE[kind](obj)`` and ``UPDATE[kind](new, old)`` return spec-level causes only;
ObjectMeta is checked by the package's ``validate_create``/``validate_update``.
Objects are expected to be defaulted (``kubepy.api.defaults``) before they get here,
as in the apiserver, so e.g. a missing restartPolicy has already become ``Always``.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from typing import Any, Callable, Mapping

from kubepy.api.validation import field as f
from kubepy.api.quantity import QuantityError, parse_quantity
from kubepy.api.validation.meta import validate_annotations, validate_labels
from kubepy.api.validation.names import (
    is_config_map_key, is_dns1123_label, is_dns1123_subdomain,
    is_qualified_name, is_valid_port_num,
)
from kubepy.api.validation.pod import (
    PROTOCOLS, validate_pod_spec, validate_port_num_or_name,
)
from kubepy.api.validation.pod_update import validate_pod_spec_update

Cause = f.Cause
Obj = Mapping[str, Any]

MAX_SECRET_SIZE = 1024 * 1024  # core.MaxSecretSize, also the ConfigMap limit
SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
SESSION_AFFINITIES = ("ClientIP", "None")
TRAFFIC_POLICIES = ("Cluster", "Local")
IP_FAMILY_POLICIES = ("PreferDualStack", "RequireDualStack", "SingleStack")
ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
VOLUME_MODES = ("Block", "Filesystem")
RECLAIM_POLICIES = ("Delete", "Recycle", "Retain")
DEFAULT_NODE_PORT_RANGE = (30000, 32767)
STANDARD_FINALIZERS = {"kubernetes"}


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, (dict, Mapping)) else {}


def _quantity(value: Any) -> Any:
    try:
        return parse_quantity(value)
    except (QuantityError, TypeError):
        return None


def _quantity_error(value: Any) -> str:
    try:
        parse_quantity(value)
    except QuantityError as err:
        return err.message
    except TypeError:
        pass
    return "must be a quantity"


def _nonnegative(value: Any, path: str) -> list[Cause]:
    return [f.invalid(path, value, f.IS_NEGATIVE)] if isinstance(value, int) and value < 0 else []


# --- pods and templates -------------------------------------------------------------

def validate_pod(pod: Obj) -> list[Cause]:
    causes = validate_pod_spec(pod.get("spec"), "spec")
    if _m(pod.get("spec")).get("ephemeralContainers"):
        causes.append(f.forbidden("spec.ephemeralContainers", "cannot be set on create"))
    return causes


def validate_pod_update(new: Obj, old: Obj) -> list[Cause]:
    spec, old_spec = _m(new.get("spec")), _m(old.get("spec"))
    return validate_pod_spec(spec, "spec") + validate_pod_spec_update(spec, old_spec, "spec")


def validate_pod_template_spec(template: Any, path: str) -> list[Cause]:
    """``ValidatePodTemplateSpec``: template labels/annotations and the pod spec."""
    if not isinstance(template, (dict, Mapping)):
        return [f.required(path)]
    meta = _m(template.get("metadata"))
    return (validate_labels(meta.get("labels"), f.child(path, "metadata", "labels"))
            + validate_annotations(meta.get("annotations"),
                                   f.child(path, "metadata", "annotations"))
            + validate_pod_spec(template.get("spec"), f.child(path, "spec")))


def validate_pod_template(obj: Obj) -> list[Cause]:
    return validate_pod_template_spec(obj.get("template"), "template")


def validate_replication_controller(rc: Obj) -> list[Cause]:
    spec = _m(rc.get("spec"))
    causes = _nonnegative(spec.get("replicas"), "spec.replicas")
    causes += _nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    selector = spec.get("selector") or {}
    if not selector:
        causes.append(f.required("spec.selector"))
    causes += validate_labels(selector, "spec.selector")
    template = spec.get("template")
    if not isinstance(template, (dict, Mapping)):
        return causes + [f.required("spec.template")]
    labels = _m(_m(template.get("metadata")).get("labels"))
    if selector and any(labels.get(k) != v for k, v in selector.items()):
        causes.append(f.invalid("spec.template.metadata.labels",
                                f.go_string_map(_m(template.get("metadata")).get("labels")),
                                "`selector` does not match template `labels`"))
    causes += validate_pod_template_spec(template, "spec.template")
    pod_spec = _m(template.get("spec"))
    if pod_spec.get("restartPolicy", "Always") != "Always":
        causes.append(f.not_supported("spec.template.spec.restartPolicy",
                                      pod_spec.get("restartPolicy"), ("Always",)))
    if pod_spec.get("activeDeadlineSeconds") is not None:
        causes.append(f.invalid("spec.template.spec.activeDeadlineSeconds",
                                pod_spec["activeDeadlineSeconds"],
                                "activeDeadlineSeconds in ReplicationController is not Supported"))
    return causes


# --- services -----------------------------------------------------------------------

def _go_service_port(protocol: str, port: Any) -> f.GoRaw:
    return f.GoRaw(f'core.ServicePort{{Name:"", Protocol:{f.go_quote(protocol)}, '
                   f"AppProtocol:(*string)(nil), Port:{port}, TargetPort:intstr.IntOrString"
                   '{Type:0, IntVal:0, StrVal:""}, NodePort:0}')


def validate_service(svc: Obj, *, node_port_range: tuple[int, int] = DEFAULT_NODE_PORT_RANGE
                     ) -> list[Cause]:
    spec = _m(svc.get("spec"))
    causes: list[Cause] = []
    svc_type = spec.get("type") or "ClusterIP"
    if svc_type not in SERVICE_TYPES:
        causes.append(f.not_supported("spec.type", svc_type, SERVICE_TYPES))
    cluster_ip = spec.get("clusterIP") or ""
    ports = spec.get("ports") or []
    if not ports and cluster_ip != "None" and svc_type != "ExternalName":
        causes.append(f.required("spec.ports"))
    if svc_type == "ExternalName":
        name = spec.get("externalName") or ""
        if not name:
            causes.append(f.required("spec.externalName"))
        else:
            causes += [f.invalid("spec.externalName", name, msg)
                       for msg in is_dns1123_subdomain(name.rstrip("."))]
    for i, ip in enumerate(spec.get("clusterIPs") or ([cluster_ip] if cluster_ip else [])):
        if ip == "None":
            if svc_type in ("NodePort", "LoadBalancer"):
                causes.append(f.invalid(f"spec.clusterIPs[{i}]", ip,
                                        f"may not be set to 'None' for {svc_type} services"))
            continue
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            causes.append(f.invalid(f"spec.clusterIPs[{i}]", ip, "must be a valid IP address, "
                                    "(e.g. 10.9.8.7 or 2001:db8::ffff)"))
    names: set[str] = set()
    seen: set[tuple[str, Any]] = set()
    lo, hi = node_port_range
    for i, port in enumerate(ports):
        ppath = f"spec.ports[{i}]"
        port = _m(port)
        name = port.get("name") or ""
        if not name:
            if len(ports) > 1:
                causes.append(f.required(f.child(ppath, "name")))
        else:
            causes += [f.invalid(f.child(ppath, "name"), name, msg)
                       for msg in is_dns1123_label(name)]
            if name in names:
                causes.append(f.duplicate(f.child(ppath, "name"), name))
            names.add(name)
        causes += [f.invalid(f.child(ppath, "port"), port.get("port"), msg)
                   for msg in is_valid_port_num(port.get("port"))]
        protocol = port.get("protocol") or ""
        if not protocol:
            causes.append(f.required(f.child(ppath, "protocol")))
        elif protocol not in PROTOCOLS:
            causes.append(f.not_supported(f.child(ppath, "protocol"), protocol, PROTOCOLS))
        if port.get("targetPort") is not None:
            causes += validate_port_num_or_name(port["targetPort"], f.child(ppath, "targetPort"))
        node_port = port.get("nodePort")
        if node_port:
            if svc_type in ("ClusterIP", "ExternalName"):
                causes.append(f.forbidden(f.child(ppath, "nodePort"),
                                          f"may not be used when `type` is '{svc_type}'"))
            elif not isinstance(node_port, int) or not lo <= node_port <= hi:
                # the node-port allocator's refusal (portallocator.ErrNotInRange)
                causes.append(f.invalid(f.child(ppath, "nodePort"), node_port,
                                        "provided port is not in the valid range. The range "
                                        f"of valid ports is {lo}-{hi}"))
        key = (protocol, port.get("port"))
        if key in seen:
            causes.append(f.duplicate(ppath, _go_service_port(protocol, port.get("port"))))
        seen.add(key)
    affinity = spec.get("sessionAffinity")
    if affinity and affinity not in SESSION_AFFINITIES:
        causes.append(f.not_supported("spec.sessionAffinity", affinity, SESSION_AFFINITIES))
    etp = spec.get("externalTrafficPolicy")
    if etp:
        # apiservice.ExternallyAccessible: NodePort, LoadBalancer, or ClusterIP with externalIPs
        accessible = svc_type in ("NodePort", "LoadBalancer") or (
            svc_type == "ClusterIP" and bool(spec.get("externalIPs")))
        if not accessible:
            causes.append(f.invalid("spec.externalTrafficPolicy", etp,
                                    "may only be set for externally-accessible services"))
        elif etp not in TRAFFIC_POLICIES:
            causes.append(f.not_supported("spec.externalTrafficPolicy", etp, TRAFFIC_POLICIES))
    itp = spec.get("internalTrafficPolicy")
    if itp and itp not in TRAFFIC_POLICIES:
        causes.append(f.not_supported("spec.internalTrafficPolicy", itp, TRAFFIC_POLICIES))
    ifp = spec.get("ipFamilyPolicy")
    if ifp and ifp not in IP_FAMILY_POLICIES:
        causes.append(f.not_supported("spec.ipFamilyPolicy", ifp, IP_FAMILY_POLICIES))
    causes += validate_labels(spec.get("selector"), "spec.selector")
    return causes


def validate_service_update(new: Obj, old: Obj) -> list[Cause]:
    """The primary cluster IP may not change unless the service is (or becomes)
    ExternalName (``validateUpgradeDowngradeClusterIPs``)."""
    causes = validate_service(new)
    spec, old_spec = _m(new.get("spec")), _m(old.get("spec"))
    types = {spec.get("type"), old_spec.get("type")}
    old_ips = old_spec.get("clusterIPs") or ([old_spec["clusterIP"]]
                                             if old_spec.get("clusterIP") else [])
    new_ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    if "ExternalName" not in types and old_ips and (not new_ips or new_ips[0] != old_ips[0]):
        causes.append(f.invalid("spec.clusterIPs[0]", new_ips, "may not change once set"))
    return causes


# --- configuration ------------------------------------------------------------------

def validate_config_map(cm: Obj) -> list[Cause]:
    causes: list[Cause] = []
    data, binary = _m(cm.get("data")), _m(cm.get("binaryData"))
    total = 0
    for k in sorted(data):
        causes += [f.invalid(f.key("data", k), k, msg) for msg in is_config_map_key(k)]
        if k in binary:
            causes.append(f.invalid(f.key("data", k), k, "duplicate of key present in binaryData"))
        total += len(str(data[k]).encode())
    for k in sorted(binary):
        causes += [f.invalid(f.key("binaryData", k), k, msg) for msg in is_config_map_key(k)]
        if k in data:
            causes.append(f.invalid(f.key("binaryData", k), k, "duplicate of key present in data"))
        total += _decoded_len(binary[k])
    if total > MAX_SECRET_SIZE:
        causes.append(f.too_long("", MAX_SECRET_SIZE))  # "" means the whole object
    return causes


def _decoded_len(value: Any) -> int:
    try:
        return len(base64.b64decode(str(value), validate=True))
    except (binascii.Error, ValueError):
        return len(str(value))


_SECRET_REQUIRED_KEYS = {
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
}


def validate_secret(secret: Obj) -> list[Cause]:
    causes: list[Cause] = []
    data = _m(secret.get("data"))
    total = 0
    for k in sorted(data):
        causes += [f.invalid(f.key("data", k), k, msg) for msg in is_config_map_key(k)]
        try:
            total += len(base64.b64decode(str(data[k]), validate=True))
        except (binascii.Error, ValueError):
            causes.append(f.invalid(f.key("data", k), "<secret contents redacted>",
                                    "must be base64-encoded"))
    if total > MAX_SECRET_SIZE:
        causes.append(f.too_long("data", MAX_SECRET_SIZE))
    secret_type = secret.get("type") or "Opaque"
    for k in _SECRET_REQUIRED_KEYS.get(secret_type, ()):
        if k not in data:
            causes.append(f.required(f.key("data", k)))
    if secret_type == "kubernetes.io/basic-auth" and \
            "username" not in data and "password" not in data:
        causes += [f.required(f.key("data", "username")), f.required(f.key("data", "password"))]
    if secret_type == "kubernetes.io/service-account-token":
        annotations = _m(_m(secret.get("metadata")).get("annotations"))
        if not annotations.get("kubernetes.io/service-account.name"):
            causes.append(f.required(
                "metadata.annotations[kubernetes.io/service-account.name]"))
    return causes


def _immutable_data_update(new: Obj, old: Obj, data_fields: tuple[str, ...]) -> list[Cause]:
    """Secrets and ConfigMaps marked ``immutable: true`` (ValidateSecretUpdate)."""
    causes: list[Cause] = []
    if old.get("immutable") is True:
        if new.get("immutable") is not True:
            causes.append(f.forbidden("immutable", "field is immutable when `immutable` is set"))
        for name in data_fields:
            if (new.get(name) or {}) != (old.get(name) or {}):
                causes.append(f.forbidden(name, "field is immutable when `immutable` is set"))
    return causes


def validate_config_map_update(new: Obj, old: Obj) -> list[Cause]:
    return validate_config_map(new) + _immutable_data_update(new, old, ("data", "binaryData"))


def validate_secret_update(new: Obj, old: Obj) -> list[Cause]:
    causes = f.check_immutable("type", new.get("type"), old.get("type"))
    return validate_secret(new) + causes + _immutable_data_update(new, old, ("data",))


# --- namespaces and storage ---------------------------------------------------------

def validate_namespace(ns: Obj) -> list[Cause]:
    causes: list[Cause] = []
    for name in _m(ns.get("spec")).get("finalizers") or []:
        causes += [f.invalid("spec.finalizers", name, msg) for msg in is_qualified_name(name)]
        if "/" not in name and name not in STANDARD_FINALIZERS:
            causes.append(f.invalid("spec.finalizers", name, "name is neither a standard "
                                    "finalizer name nor is it fully qualified"))
    return causes


def _validate_access_modes(spec: Mapping[str, Any], path: str) -> list[Cause]:
    modes = spec.get("accessModes") or []
    if not modes:
        return [f.required(f.child(path, "accessModes"), "at least 1 access mode is required")]
    causes = [f.not_supported(f.child(path, "accessModes"), m, ACCESS_MODES)
              for m in modes if m not in ACCESS_MODES]
    if "ReadWriteOncePod" in modes and len(modes) > 1:
        causes.append(f.forbidden(f.child(path, "accessModes"),
                                  "may not use ReadWriteOncePod with other access modes"))
    return causes


def validate_pvc_spec(spec: Any, path: str = "spec") -> list[Cause]:
    spec = _m(spec)
    causes = _validate_access_modes(spec, path)
    storage = _m(_m(spec.get("resources")).get("requests")).get("storage")
    spath = f.key(f.child(path, "resources"), "storage")
    if storage is None:
        causes.append(f.required(spath))
    else:
        q = _quantity(storage)
        if q is None:
            causes.append(f.invalid(spath, storage, _quantity_error(storage)))
        elif q <= 0:
            causes.append(f.invalid(spath, storage, "must be greater than zero"))
    mode = spec.get("volumeMode")
    if mode is not None and mode not in VOLUME_MODES:
        causes.append(f.not_supported(f.child(path, "volumeMode"), mode, VOLUME_MODES))
    return causes


def validate_pvc(pvc: Obj) -> list[Cause]:
    return validate_pvc_spec(pvc.get("spec"))


def validate_pvc_update(new: Obj, old: Obj) -> list[Cause]:
    causes = validate_pvc(new)
    spec, old_spec = dict(_m(new.get("spec"))), dict(_m(old.get("spec")))
    new_storage = _m(_m(spec.get("resources")).get("requests")).get("storage")
    old_storage = _m(_m(old_spec.get("resources")).get("requests")).get("storage")
    bound = _m(new.get("status")).get("phase") == "Bound"
    if bound:  # only bound claims may be resized
        for s in (spec, old_spec):
            resources = dict(_m(s.get("resources")))
            resources["requests"] = {k: v for k, v in _m(resources.get("requests")).items()
                                     if k != "storage"}
            s["resources"] = resources
        spec.pop("volumeAttributesClassName", None)
        old_spec.pop("volumeAttributesClassName", None)
    if not old_spec.get("volumeName"):  # binding sets volumeName once
        spec.pop("volumeName", None)
        old_spec.pop("volumeName", None)
    if spec != old_spec:
        causes.append(f.forbidden("spec", "spec is immutable after creation except "
                                  "resources.requests and volumeAttributesClassName for "
                                  "bound claims"))
    elif bound:
        new_q, old_q = _quantity(new_storage), _quantity(old_storage)
        if new_q is not None and old_q is not None and new_q < old_q:
            causes.append(f.forbidden("spec.resources.requests.storage",
                                      "field can not be less than previous value"))
    return causes


_PV_NON_SOURCE = {"capacity", "accessModes", "claimRef", "persistentVolumeReclaimPolicy",
                  "storageClassName", "mountOptions", "volumeMode", "nodeAffinity",
                  "volumeAttributesClassName"}


def validate_pv(pv: Obj) -> list[Cause]:
    spec = _m(pv.get("spec"))
    causes = _validate_access_modes(spec, "spec")
    capacity = _m(spec.get("capacity"))
    if not capacity:
        causes.append(f.required("spec.capacity"))
    for name, value in sorted(capacity.items()):
        if _quantity(value) is None:
            causes.append(f.invalid(f.key("spec.capacity", name), value,
                                    _quantity_error(value)))
    sources = [k for k in spec if k not in _PV_NON_SOURCE]
    if not sources:
        causes.append(f.required("spec", "must specify a volume type"))
    for extra in sources[1:]:
        causes.append(f.forbidden(f.child("spec", extra),
                                  "may not specify more than 1 volume type"))
    policy = spec.get("persistentVolumeReclaimPolicy")
    if policy and policy not in RECLAIM_POLICIES:
        causes.append(f.not_supported("spec.persistentVolumeReclaimPolicy", policy,
                                      RECLAIM_POLICIES))
    mode = spec.get("volumeMode")
    if mode is not None and mode not in VOLUME_MODES:
        causes.append(f.not_supported("spec.volumeMode", mode, VOLUME_MODES))
    return causes


def validate_pv_update(new: Obj, old: Obj) -> list[Cause]:
    causes = validate_pv(new)
    spec, old_spec = _m(new.get("spec")), _m(old.get("spec"))
    source = {k: v for k, v in spec.items() if k not in _PV_NON_SOURCE}
    old_source = {k: v for k, v in old_spec.items() if k not in _PV_NON_SOURCE}
    if source != old_source:
        causes.append(f.forbidden("spec.persistentvolumesource",
                                  "spec.persistentvolumesource is immutable after creation"))
    causes += f.check_immutable("spec.volumeMode", spec.get("volumeMode"),
                                old_spec.get("volumeMode"))
    return causes


CREATE: dict[str, Callable[[Obj], list[Cause]]] = {
    "Pod": validate_pod,
    "PodTemplate": validate_pod_template,
    "ReplicationController": validate_replication_controller,
    "Service": validate_service,
    "ConfigMap": validate_config_map,
    "Secret": validate_secret,
    "Namespace": validate_namespace,
    "PersistentVolumeClaim": validate_pvc,
    "PersistentVolume": validate_pv,
}

UPDATE: dict[str, Callable[[Obj, Obj], list[Cause]]] = {
    "Pod": validate_pod_update,
    "Service": validate_service_update,
    "ConfigMap": validate_config_map_update,
    "Secret": validate_secret_update,
    "PersistentVolumeClaim": validate_pvc_update,
    "PersistentVolume": validate_pv_update,
}
