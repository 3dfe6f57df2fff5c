"""Defaults of PodSpec and everything inside it (pkg/apis/core/v1/defaults.go plus the
declarative ``+default`` markers of k8s.io/api/core/v1 that the generated defaulter
applies).

``default_pod_spec`` fills what every PodSpec gets, in a Pod or in any template;
``default_pod`` adds what only a Pod gets (``SetDefaults_Pod``: enableServiceLinks,
requests copied from limits, host ports under hostNetwork). All functions mutate the
dict they are given; ``kubepy.api.defaults.apply_defaults`` works on a copy.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from kubepy.api.quantity import QuantityError, format_quantity, parse

Obj = dict[str, Any]

DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS = 30
DEFAULT_SCHEDULER_NAME = "default-scheduler"
VOLUME_DEFAULT_MODE = 0o644  # 420: secret, configMap, downwardAPI and projected volumes
SERVICE_ACCOUNT_TOKEN_EXPIRATION_SECONDS = 3600

# Volume sources with declarative defaults (k8s.io/api/core/v1 types.go "+default=").
_SOURCE_DEFAULTS: dict[str, dict[str, Any]] = {
    "iscsi": {"iscsiInterface": "default"},
    "rbd": {"pool": "rbd", "user": "admin", "keyring": "/etc/ceph/keyring"},
    "azureDisk": {"cachingMode": "ReadWrite", "fsType": "ext4", "readOnly": False,
                  "kind": "Shared"},
    "scaleIO": {"storageMode": "ThinProvisioned", "fsType": "xfs"},
}


def _dict(parent: Obj, key: str) -> Obj:
    value = parent.get(key)
    if not isinstance(value, dict):
        value = parent[key] = {}
    return value


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def image_pull_policy(image: str) -> str:
    """Always for ``:latest`` or untagged images, IfNotPresent otherwise (a digest
    without a tag counts as pinned)."""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.partition(":")[2] if ":" in last else ""
    if not tag and not digest:
        tag = "latest"
    return "Always" if tag == "latest" else "IfNotPresent"


def default_resource_list(resources: Any) -> None:
    """``SetDefaults_ResourceList``: quantities rounded up to milli precision, and written
    back in canonical form (``0.5`` -> ``500m``, ``1024Mi`` -> ``1Gi``) as the apiserver
    returns them. Unparseable values are left for validation to report."""
    if not isinstance(resources, dict):
        return
    for name, value in list(resources.items()):
        try:
            q = parse(value)
        except (QuantityError, TypeError):
            continue
        millis = Fraction(q.value) * 1000
        if millis.denominator != 1:
            rounded = Fraction(math.ceil(millis), 1000) if millis > 0 \
                else Fraction(math.floor(millis), 1000)
            resources[name] = format_quantity(rounded, q.format)
        else:
            resources[name] = str(q)


def default_object_field_selector(selector: Any) -> None:
    if isinstance(selector, dict):
        selector.setdefault("apiVersion", "v1")


def default_handler(handler: Any) -> None:
    """Probe and lifecycle handlers: httpGet path ``/`` and scheme HTTP; grpc service ""."""
    if not isinstance(handler, dict):
        return
    http = handler.get("httpGet")
    if isinstance(http, dict):
        if not http.get("path"):
            http["path"] = "/"
        if not http.get("scheme"):
            http["scheme"] = "HTTP"
    grpc = handler.get("grpc")
    if isinstance(grpc, dict) and grpc.get("service") is None:
        grpc["service"] = ""


def default_probe(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    for name, value in (("timeoutSeconds", 1), ("periodSeconds", 10),
                        ("successThreshold", 1), ("failureThreshold", 3)):
        if not probe.get(name):
            probe[name] = value
    default_handler(probe)


def default_container(c: Obj) -> None:
    if not c.get("imagePullPolicy"):
        c["imagePullPolicy"] = image_pull_policy(str(c.get("image") or ""))
    if not c.get("terminationMessagePath"):
        c["terminationMessagePath"] = "/dev/termination-log"
    if not c.get("terminationMessagePolicy"):
        c["terminationMessagePolicy"] = "File"
    resources = _dict(c, "resources")  # a non-pointer struct: always serialized, as {}
    default_resource_list(resources.get("limits"))
    default_resource_list(resources.get("requests"))
    for port in _list(c.get("ports")):
        if isinstance(port, dict) and not port.get("protocol"):
            port["protocol"] = "TCP"  # +default="TCP"
    for var in _list(c.get("env")):
        if isinstance(var, dict):
            default_object_field_selector((var.get("valueFrom") or {}).get("fieldRef"))
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        default_probe(c.get(probe))
    lifecycle = c.get("lifecycle")
    if isinstance(lifecycle, dict):
        default_handler(lifecycle.get("postStart"))
        default_handler(lifecycle.get("preStop"))


def default_pvc_spec(spec: Any) -> None:
    if not isinstance(spec, dict):
        return
    if spec.get("volumeMode") is None:
        spec["volumeMode"] = "Filesystem"
    resources = spec.get("resources")
    if isinstance(resources, dict):
        default_resource_list(resources.get("requests"))
        default_resource_list(resources.get("limits"))


def default_volume(volume: Obj) -> None:
    sources = [k for k in volume if k != "name" and volume[k] is not None]
    if not sources:
        volume["emptyDir"] = {}
        return
    for kind in ("secret", "configMap", "downwardAPI", "projected"):
        source = volume.get(kind)
        if isinstance(source, dict) and source.get("defaultMode") is None:
            source["defaultMode"] = VOLUME_DEFAULT_MODE
    host_path = volume.get("hostPath")
    if isinstance(host_path, dict) and host_path.get("type") is None:
        host_path["type"] = ""  # HostPathUnset
    for item in _list((volume.get("downwardAPI") or {}).get("items")):
        if isinstance(item, dict):
            default_object_field_selector(item.get("fieldRef"))
    for projection in _list((volume.get("projected") or {}).get("sources")):
        if not isinstance(projection, dict):
            continue
        token = projection.get("serviceAccountToken")
        if isinstance(token, dict) and token.get("expirationSeconds") is None:
            token["expirationSeconds"] = SERVICE_ACCOUNT_TOKEN_EXPIRATION_SECONDS
        for item in _list((projection.get("downwardAPI") or {}).get("items")):
            if isinstance(item, dict):
                default_object_field_selector(item.get("fieldRef"))
    for kind, defaults in _SOURCE_DEFAULTS.items():
        source = volume.get(kind)
        if isinstance(source, dict):
            for key, value in defaults.items():
                source.setdefault(key, value)
    ephemeral = volume.get("ephemeral")
    if isinstance(ephemeral, dict) and isinstance(ephemeral.get("volumeClaimTemplate"), dict):
        default_pvc_spec(ephemeral["volumeClaimTemplate"].get("spec"))


def default_pod_spec(spec: Obj) -> None:
    """``SetDefaults_PodSpec`` and the defaults of the containers and volumes in it."""
    if not spec.get("dnsPolicy"):
        spec["dnsPolicy"] = "ClusterFirst"
    if not spec.get("restartPolicy"):
        spec["restartPolicy"] = "Always"
    _dict(spec, "securityContext")
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS
    if not spec.get("schedulerName"):
        spec["schedulerName"] = DEFAULT_SCHEDULER_NAME
    # v1 conversion: the deprecated serviceAccount field mirrors serviceAccountName.
    if not spec.get("serviceAccountName") and spec.get("serviceAccount"):
        spec["serviceAccountName"] = spec["serviceAccount"]
    if spec.get("serviceAccountName"):
        spec["serviceAccount"] = spec["serviceAccountName"]
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        for c in _list(spec.get(kind)):
            if isinstance(c, dict):
                default_container(c)
    for volume in _list(spec.get("volumes")):
        if isinstance(volume, dict):
            default_volume(volume)


def default_pod_template(template: Any) -> None:
    """A PodTemplateSpec inside a workload: ``metadata.creationTimestamp: null`` is what
    the 1.32 apiserver serializes for the template's zero timestamp."""
    if not isinstance(template, dict):
        return
    _dict(template, "metadata").setdefault("creationTimestamp", None)
    default_pod_spec(_dict(template, "spec"))


def default_pod(pod: Obj) -> None:
    """``SetDefaults_Pod`` on top of the PodSpec defaults."""
    spec = _dict(pod, "spec")
    for kind in ("initContainers", "containers"):
        for c in _list(spec.get(kind)):
            if not isinstance(c, dict):
                continue
            resources = c.get("resources")
            if isinstance(resources, dict) and isinstance(resources.get("limits"), dict):
                requests = _dict(resources, "requests")
                for name, value in resources["limits"].items():
                    requests.setdefault(name, value)
            if spec.get("hostNetwork"):
                for port in _list(c.get("ports")):
                    if isinstance(port, dict) and not port.get("hostPort"):
                        port["hostPort"] = port.get("containerPort")
    if spec.get("enableServiceLinks") is None:
        spec["enableServiceLinks"] = True
    default_pod_spec(spec)


def qos_class(pod: Obj) -> str:
    """The pod's QoS class (``qos.GetPodQOS``): Guaranteed when every container has CPU
    and memory limits equal to its requests, BestEffort when none sets any, else
    Burstable. Compares the quantities as written (canonical forms assumed)."""
    spec = pod.get("spec") or {}
    containers = _list(spec.get("containers")) + _list(spec.get("initContainers"))
    any_set = False
    guaranteed = True
    for c in containers:
        resources = (c or {}).get("resources") or {}
        requests = {k: v for k, v in (resources.get("requests") or {}).items()
                    if k in ("cpu", "memory")}
        limits = {k: v for k, v in (resources.get("limits") or {}).items()
                  if k in ("cpu", "memory")}
        if requests or limits:
            any_set = True
        if set(limits) != {"cpu", "memory"} or any(requests.get(k, v) != v
                                                    for k, v in limits.items()):
            guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"
