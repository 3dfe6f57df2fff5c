"""Spec validation of the smaller built-in groups: RBAC, policy (PodDisruptionBudget),
autoscaling (HorizontalPodAutoscaler), scheduling (PriorityClass) and coordination
(Lease). ``CREATE``/``UPDATE`` map group -> kind -> validator, like the other modules.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from kubepy.api.validation import field as f
from kubepy.api.validation.meta import validate_label_selector

Cause = f.Cause
Obj = Mapping[str, Any]

RBAC = "rbac.authorization.k8s.io"
SUBJECT_KINDS = ("Group", "ServiceAccount", "User")
HIGHEST_USER_PRIORITY = 1_000_000_000  # scheduling.HighestUserDefinablePriority


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, (dict, Mapping)) else {}


def _validate_rules(obj: Obj) -> list[Cause]:
    causes: list[Cause] = []
    for i, rule in enumerate(obj.get("rules") or []):
        rule, path = _m(rule), f"rules[{i}]"
        if not rule.get("verbs"):
            causes.append(f.required(f.child(path, "verbs"),
                                     "verbs must contain at least one value"))
        if rule.get("nonResourceURLs"):
            if rule.get("resources") or rule.get("apiGroups") or rule.get("resourceNames"):
                causes.append(f.invalid(f.child(path, "nonResourceURLs"),
                                        rule["nonResourceURLs"],
                                        "rules cannot apply to both regular resources and "
                                        "non-resource URLs"))
        elif not rule.get("resources") and obj.get("aggregationRule") is None:
            causes.append(f.required(f.child(path, "resources"),
                                     "resource rules must supply at least one resource"))
        if not rule.get("nonResourceURLs") and rule.get("apiGroups") is None:
            causes.append(f.required(f.child(path, "apiGroups"), "resource rules must supply "
                                     "at least one api group"))
    return causes


def _validate_binding(obj: Obj, *, cluster: bool) -> list[Cause]:
    causes: list[Cause] = []
    ref = _m(obj.get("roleRef"))
    if ref.get("apiGroup") != RBAC:
        causes.append(f.not_supported("roleRef.apiGroup", ref.get("apiGroup") or "", (RBAC,)))
    kinds = ("ClusterRole",) if cluster else ("ClusterRole", "Role")
    if ref.get("kind") not in kinds:
        causes.append(f.not_supported("roleRef.kind", ref.get("kind") or "", kinds))
    if not ref.get("name"):
        causes.append(f.required("roleRef.name"))
    for i, subject in enumerate(obj.get("subjects") or []):
        subject, path = _m(subject), f"subjects[{i}]"
        kind = subject.get("kind")
        if not subject.get("name"):
            causes.append(f.required(f.child(path, "name")))
        if kind not in SUBJECT_KINDS:
            causes.append(f.not_supported(f.child(path, "kind"), kind or "", SUBJECT_KINDS))
        elif kind == "ServiceAccount" and cluster and not subject.get("namespace"):
            causes.append(f.required(f.child(path, "namespace")))
    return causes


def _binding_update(cluster: bool) -> Callable[[Obj, Obj], list[Cause]]:
    def update(new: Obj, old: Obj) -> list[Cause]:
        causes = _validate_binding(new, cluster=cluster)
        if new.get("roleRef") != old.get("roleRef"):
            causes.append(f.invalid("roleRef", new.get("roleRef"), "cannot change roleRef"))
        return causes
    return update


def validate_pdb(pdb: Obj) -> list[Cause]:
    spec = _m(pdb.get("spec"))
    causes: list[Cause] = []
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        causes.append(f.invalid("spec", f.GoRaw("policy.PodDisruptionBudgetSpec{...}"),
                                "minAvailable and maxUnavailable cannot be both set"))
    causes += validate_label_selector(spec.get("selector"), "spec.selector")
    return causes


def validate_hpa(hpa: Obj) -> list[Cause]:
    spec = _m(hpa.get("spec"))
    causes: list[Cause] = []
    ref = _m(spec.get("scaleTargetRef"))
    if not ref.get("kind"):
        causes.append(f.required("spec.scaleTargetRef.kind"))
    if not ref.get("name"):
        causes.append(f.required("spec.scaleTargetRef.name"))
    min_r, max_r = spec.get("minReplicas"), spec.get("maxReplicas")
    if isinstance(min_r, int) and min_r < 1:
        causes.append(f.invalid("spec.minReplicas", min_r,
                                "must be greater than or equal to 1"))
    if not isinstance(max_r, int) or max_r < 1:
        causes.append(f.invalid("spec.maxReplicas", max_r, "must be greater than 0"))
    elif isinstance(min_r, int) and max_r < min_r:
        causes.append(f.invalid("spec.maxReplicas", max_r,
                                "must be greater than or equal to `minReplicas`"))
    return causes


def validate_priority_class(pc: Obj) -> list[Cause]:
    causes: list[Cause] = []
    name = _m(pc.get("metadata")).get("name") or ""
    value = pc.get("value")
    if not isinstance(value, int):
        causes.append(f.required("value"))
    elif value > HIGHEST_USER_PRIORITY and not name.startswith("system-"):
        causes.append(f.forbidden("value", "maximum allowed value of a user defined priority "
                                  f"is {HIGHEST_USER_PRIORITY}"))
    policy = pc.get("preemptionPolicy")
    if policy is not None and policy not in ("Never", "PreemptLowerPriority"):
        causes.append(f.not_supported("preemptionPolicy", policy,
                                      ("Never", "PreemptLowerPriority")))
    return causes


def validate_priority_class_update(new: Obj, old: Obj) -> list[Cause]:
    causes = f.check_immutable("value", new.get("value"), old.get("value"))
    causes += f.check_immutable("preemptionPolicy", new.get("preemptionPolicy"),
                                old.get("preemptionPolicy"))
    return validate_priority_class(new) + causes


def validate_lease(lease: Obj) -> list[Cause]:
    spec = _m(lease.get("spec"))
    causes: list[Cause] = []
    for name in ("leaseDurationSeconds", "leaseTransitions"):
        value = spec.get(name)
        if isinstance(value, int) and value < (1 if name == "leaseDurationSeconds" else 0):
            causes.append(f.invalid(f.child("spec", name), value,
                                    "must be greater than 0" if name == "leaseDurationSeconds"
                                    else f.IS_NEGATIVE))
    return causes


CREATE: dict[str, dict[str, Callable[[Obj], list[Cause]]]] = {
    RBAC: {
        "Role": _validate_rules, "ClusterRole": _validate_rules,
        "RoleBinding": lambda o: _validate_binding(o, cluster=False),
        "ClusterRoleBinding": lambda o: _validate_binding(o, cluster=True),
    },
    "policy": {"PodDisruptionBudget": validate_pdb},
    "autoscaling": {"HorizontalPodAutoscaler": validate_hpa},
    "scheduling.k8s.io": {"PriorityClass": validate_priority_class},
    "coordination.k8s.io": {"Lease": validate_lease},
}

UPDATE: dict[str, dict[str, Callable[[Obj, Obj], list[Cause]]]] = {
    RBAC: {
        "RoleBinding": _binding_update(False),
        "ClusterRoleBinding": _binding_update(True),
    },
    "scheduling.k8s.io": {"PriorityClass": validate_priority_class_update},
}
