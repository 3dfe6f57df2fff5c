"""Defaults of the smaller built-in groups: networking (NetworkPolicy), discovery
(EndpointSlice), storage (StorageClass), scheduling (PriorityClass), RBAC bindings,
autoscaling (HorizontalPodAutoscaler v1 and v2) and apiextensions
(CustomResourceDefinition). ``DEFAULTERS`` maps group -> kind -> defaulter; a version is
given where the defaults differ between versions.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

from kubepy.api.defaults.pod import _dict, _list

Obj = dict[str, Any]

RBAC = "rbac.authorization.k8s.io"
DEFAULT_CPU_UTILIZATION = 80
_SCALE_UP = {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
             "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                          {"type": "Percent", "value": 100, "periodSeconds": 15}]}
_SCALE_DOWN = {"stabilizationWindowSeconds": 300, "selectPolicy": "Max",
               "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}


def default_network_policy(np: Obj) -> None:
    spec = _dict(np, "spec")
    for direction in ("ingress", "egress"):
        for rule in _list(spec.get(direction)):
            for port in _list((rule or {}).get("ports")):
                if isinstance(port, dict) and not port.get("protocol"):
                    port["protocol"] = "TCP"
    if not spec.get("policyTypes"):
        # A policy without policyTypes implies Ingress, plus Egress if it has egress rules.
        spec["policyTypes"] = ["Ingress"] + (["Egress"] if spec.get("egress") else [])


def default_endpoint_slice(slice_: Obj) -> None:
    for port in _list(slice_.get("ports")):
        if isinstance(port, dict):
            port.setdefault("name", "")
            if port.get("protocol") is None:
                port["protocol"] = "TCP"


def default_storage_class(sc: Obj) -> None:
    if not sc.get("reclaimPolicy"):
        sc["reclaimPolicy"] = "Delete"
    if not sc.get("volumeBindingMode"):
        sc["volumeBindingMode"] = "Immediate"


def default_priority_class(pc: Obj) -> None:
    if not pc.get("preemptionPolicy"):
        pc["preemptionPolicy"] = "PreemptLowerPriority"


def default_role_binding(binding: Obj) -> None:
    ref = _dict(binding, "roleRef")
    if not ref.get("apiGroup"):
        ref["apiGroup"] = RBAC
    for subject in _list(binding.get("subjects")):
        if isinstance(subject, dict) and not subject.get("apiGroup"):
            if subject.get("kind") == "ServiceAccount":
                subject["apiGroup"] = ""
            elif subject.get("kind") in ("User", "Group"):
                subject["apiGroup"] = RBAC


def default_hpa_v1(hpa: Obj) -> None:
    spec = _dict(hpa, "spec")
    if spec.get("minReplicas") is None:
        spec["minReplicas"] = 1


def _fill_rules(given: Any, defaults: Obj) -> Obj:
    rules: Obj = given if isinstance(given, dict) else {}
    for key, value in defaults.items():
        if rules.get(key) is None:
            rules[key] = copy.deepcopy(value)
    return rules


def default_hpa_v2(hpa: Obj) -> None:
    spec = _dict(hpa, "spec")
    if spec.get("minReplicas") is None:
        spec["minReplicas"] = 1
    if not spec.get("metrics"):
        spec["metrics"] = [{"type": "Resource", "resource": {
            "name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": DEFAULT_CPU_UTILIZATION}}}]
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):  # only a given behavior is completed
        behavior["scaleUp"] = _fill_rules(behavior.get("scaleUp"), _SCALE_UP)
        behavior["scaleDown"] = _fill_rules(behavior.get("scaleDown"), _SCALE_DOWN)


def default_crd(crd: Obj) -> None:
    spec = _dict(crd, "spec")
    conversion = _dict(spec, "conversion")
    if not conversion.get("strategy"):
        conversion["strategy"] = "None"
    service = (((conversion.get("webhook") or {}).get("clientConfig") or {}).get("service"))
    if isinstance(service, dict) and service.get("port") is None:
        service["port"] = 443
    names = _dict(spec, "names")
    if not names.get("singular") and names.get("kind"):
        names["singular"] = str(names["kind"]).lower()
    if not names.get("listKind") and names.get("kind"):
        names["listKind"] = f"{names['kind']}List"


Defaulter = Callable[[Obj], None]

# (group, kind) -> defaulter for every version, or {version: defaulter}.
DEFAULTERS: dict[tuple[str, str], Defaulter | dict[str, Defaulter]] = {
    ("networking.k8s.io", "NetworkPolicy"): default_network_policy,
    ("discovery.k8s.io", "EndpointSlice"): default_endpoint_slice,
    ("storage.k8s.io", "StorageClass"): default_storage_class,
    ("scheduling.k8s.io", "PriorityClass"): default_priority_class,
    (RBAC, "RoleBinding"): default_role_binding,
    (RBAC, "ClusterRoleBinding"): default_role_binding,
    ("autoscaling", "HorizontalPodAutoscaler"): {"v1": default_hpa_v1, "v2": default_hpa_v2},
    ("apiextensions.k8s.io", "CustomResourceDefinition"): default_crd,
}
