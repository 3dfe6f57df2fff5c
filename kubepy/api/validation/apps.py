"""Validation of apps/v1 kinds (pkg/apis/apps/validation): Deployment, ReplicaSet,
StatefulSet, DaemonSet, ControllerRevision.

The shared core is ``validate_workload_template``: a selector is required, must not be
empty, and must select the pod template's labels; the template must restart
``Always``. Updates keep the selector immutable (``spec.selector: Invalid value:
v1.LabelSelector{...}: field is immutable``); StatefulSets also freeze most of their spec.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Mapping

from kubepy.api.validation import field as f
from kubepy.api.validation.core import validate_pod_template_spec, validate_pvc_spec
from kubepy.api.validation.meta import selector_matches, validate_label_selector

Cause = f.Cause
Obj = Mapping[str, Any]

_PERCENT = re.compile(r"^[0-9]+%$")


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, (dict, Mapping)) else {}


def _nonnegative(value: Any, path: str) -> list[Cause]:
    return [f.invalid(path, value, f.IS_NEGATIVE)] if isinstance(value, int) and value < 0 else []


def validate_workload_template(spec: Mapping[str, Any], kind_word: str) -> list[Cause]:
    """Selector + template rules shared by the replicated kinds.

    ``kind_word`` fills "empty selector is invalid for <kind_word>" (ReplicaSet reuses
    the word "deployment" upstream, and so do we)."""
    causes: list[Cause] = []
    selector = spec.get("selector")
    if not isinstance(selector, (dict, Mapping)):
        causes.append(f.required("spec.selector"))
    else:
        causes += validate_label_selector(selector, "spec.selector")
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            causes.append(f.invalid("spec.selector", f.go_label_selector(selector),
                                    f"empty selector is invalid for {kind_word}"))
    template = spec.get("template")
    if not isinstance(template, (dict, Mapping)):
        return causes + [f.required("spec.template")]
    raw_labels = _m(template.get("metadata")).get("labels")
    if isinstance(selector, (dict, Mapping)) and (selector.get("matchLabels") or
                                          selector.get("matchExpressions")):
        if not selector_matches(selector, _m(raw_labels)):
            causes.append(f.invalid("spec.template.metadata.labels",
                                    f.go_string_map(raw_labels),
                                    "`selector` does not match template `labels`"))
    causes += validate_pod_template_spec(template, "spec.template")
    pod_spec = _m(template.get("spec"))
    restart = pod_spec.get("restartPolicy")
    if restart and restart != "Always":
        causes.append(f.not_supported("spec.template.spec.restartPolicy", restart, ("Always",)))
    return causes


def _int_or_percent(value: Any, path: str) -> list[Cause]:
    """``ValidatePositiveIntOrPercent`` and ``IsNotMoreThan100Percent``."""
    if isinstance(value, str):
        if not _PERCENT.match(value):
            return [f.invalid(path, value, "a valid percent string must be a numeric string "
                              "followed by an ending '%' (e.g. '1%',  or '93%', regex used for "
                              "validation is '[0-9]+%')")]
        if int(value[:-1]) > 100:
            return [f.invalid(path, value, "must not be greater than 100%")]
        return []
    if isinstance(value, int) and not isinstance(value, bool):
        return _nonnegative(value, path)
    return [f.invalid(path, value, "must be an integer or percentage (e.g '5%')")]


def _is_zero(value: Any) -> bool:
    return value in (0, "0%")


def validate_deployment(obj: Obj) -> list[Cause]:
    spec = _m(obj.get("spec"))
    causes = _nonnegative(spec.get("replicas"), "spec.replicas")
    causes += validate_workload_template(spec, "deployment")
    if _m(_m(spec.get("template")).get("spec")).get("activeDeadlineSeconds") is not None:
        causes.append(f.forbidden("spec.template.spec.activeDeadlineSeconds",
                                  "activeDeadlineSeconds in ReplicaSet is not Supported"))
    strategy = _m(spec.get("strategy"))
    stype = strategy.get("type")
    if stype == "Recreate":
        if strategy.get("rollingUpdate") is not None:
            causes.append(f.forbidden("spec.strategy.rollingUpdate",
                                      "may not be specified when strategy `type` is 'Recreate'"))
    elif stype == "RollingUpdate":
        ru = _m(strategy.get("rollingUpdate"))
        unavailable, surge = ru.get("maxUnavailable"), ru.get("maxSurge")
        causes += _int_or_percent(unavailable, "spec.strategy.rollingUpdate.maxUnavailable")
        causes += _int_or_percent(surge, "spec.strategy.rollingUpdate.maxSurge")
        if _is_zero(unavailable) and _is_zero(surge):
            causes.append(f.invalid("spec.strategy.rollingUpdate.maxUnavailable", unavailable,
                                    "may not be 0 when `maxSurge` is 0"))
    else:
        causes.append(f.not_supported("spec.strategy.type", stype, ("Recreate", "RollingUpdate")))
    min_ready = spec.get("minReadySeconds") or 0
    causes += _nonnegative(min_ready, "spec.minReadySeconds")
    causes += _nonnegative(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit")
    deadline = spec.get("progressDeadlineSeconds")
    if isinstance(deadline, int):
        causes += _nonnegative(deadline, "spec.progressDeadlineSeconds")
        if deadline <= min_ready:
            causes.append(f.invalid("spec.progressDeadlineSeconds", deadline,
                                    "must be greater than minReadySeconds"))
    return causes


def validate_replica_set(obj: Obj) -> list[Cause]:
    spec = _m(obj.get("spec"))
    causes = _nonnegative(spec.get("replicas"), "spec.replicas")
    causes += _nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    causes += validate_workload_template(spec, "deployment")
    return causes


def validate_stateful_set(obj: Obj) -> list[Cause]:
    spec = _m(obj.get("spec"))
    causes = _nonnegative(spec.get("replicas"), "spec.replicas")
    causes += _nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    causes += validate_workload_template(spec, "statefulset")
    policy = spec.get("podManagementPolicy")
    if policy not in ("OrderedReady", "Parallel"):
        causes.append(f.invalid("spec.podManagementPolicy", policy,
                                "must be 'OrderedReady' or 'Parallel'"))
    strategy = _m(spec.get("updateStrategy"))
    stype = strategy.get("type")
    if stype == "OnDelete":
        if strategy.get("rollingUpdate") is not None:
            causes.append(f.invalid("spec.updateStrategy.rollingUpdate", None,
                                    "only allowed for updateStrategy 'RollingUpdate'"))
    elif stype == "RollingUpdate":
        partition = _m(strategy.get("rollingUpdate")).get("partition")
        causes += _nonnegative(partition, "spec.updateStrategy.rollingUpdate.partition")
    else:
        causes.append(f.invalid("spec.updateStrategy", stype,
                                "must be 'RollingUpdate' or 'OnDelete'"))
    retention = _m(spec.get("persistentVolumeClaimRetentionPolicy"))
    for name in ("whenDeleted", "whenScaled"):
        value = retention.get(name)
        if value is not None and value not in ("Retain", "Delete"):
            causes.append(f.not_supported(f.child("spec.persistentVolumeClaimRetentionPolicy",
                                                  name), value, ("Retain", "Delete")))
    for i, claim in enumerate(spec.get("volumeClaimTemplates") or []):
        causes += validate_pvc_spec(_m(claim).get("spec"),
                                    f"spec.volumeClaimTemplates[{i}].spec")
    return causes


def validate_daemon_set(obj: Obj) -> list[Cause]:
    spec = _m(obj.get("spec"))
    causes = validate_workload_template(spec, "daemonset")
    causes += _nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds")
    causes += _nonnegative(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit")
    strategy = _m(spec.get("updateStrategy"))
    stype = strategy.get("type")
    if stype == "RollingUpdate":
        ru = _m(strategy.get("rollingUpdate"))
        unavailable, surge = ru.get("maxUnavailable"), ru.get("maxSurge")
        causes += _int_or_percent(unavailable, "spec.updateStrategy.rollingUpdate.maxUnavailable")
        causes += _int_or_percent(surge, "spec.updateStrategy.rollingUpdate.maxSurge")
        if _is_zero(unavailable) and _is_zero(surge):
            causes.append(f.invalid("spec.updateStrategy.rollingUpdate.maxUnavailable",
                                    unavailable, "cannot be 0 when maxSurge is 0"))
    elif stype != "OnDelete":
        causes.append(f.not_supported("spec.updateStrategy.type", stype,
                                      ("OnDelete", "RollingUpdate")))
    return causes


def validate_controller_revision(obj: Obj) -> list[Cause]:
    causes: list[Cause] = []
    if obj.get("data") is None:
        causes.append(f.required("data"))
    revision = obj.get("revision")
    causes += _nonnegative(revision, "revision")
    return causes


def _selector_immutable(new: Obj, old: Obj) -> list[Cause]:
    selector = _m(new.get("spec")).get("selector")
    if selector != _m(old.get("spec")).get("selector"):
        return [f.immutable("spec.selector", f.go_label_selector(selector))]
    return []


_STS_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy",
                "persistentVolumeClaimRetentionPolicy", "minReadySeconds")


def validate_stateful_set_update(new: Obj, old: Obj) -> list[Cause]:
    causes = validate_stateful_set(new)
    spec = {k: v for k, v in _m(new.get("spec")).items() if k not in _STS_MUTABLE}
    old_spec = {k: v for k, v in _m(old.get("spec")).items() if k not in _STS_MUTABLE}
    if spec != old_spec:
        causes.append(f.forbidden("spec", "updates to statefulset spec for fields other than "
                                  "'replicas', 'ordinals', 'template', 'updateStrategy', "
                                  "'persistentVolumeClaimRetentionPolicy' and "
                                  "'minReadySeconds' are forbidden"))
    return causes


def validate_controller_revision_update(new: Obj, old: Obj) -> list[Cause]:
    return validate_controller_revision(new) + f.check_immutable(
        "data", new.get("data"), old.get("data"))


def _with_selector_immutable(create: Callable[[Obj], list[Cause]]
                             ) -> Callable[[Obj, Obj], list[Cause]]:
    def update(new: Obj, old: Obj) -> list[Cause]:
        return create(new) + _selector_immutable(new, old)
    return update


CREATE: dict[str, Callable[[Obj], list[Cause]]] = {
    "Deployment": validate_deployment,
    "ReplicaSet": validate_replica_set,
    "StatefulSet": validate_stateful_set,
    "DaemonSet": validate_daemon_set,
    "ControllerRevision": validate_controller_revision,
}

UPDATE: dict[str, Callable[[Obj, Obj], list[Cause]]] = {
    "Deployment": _with_selector_immutable(validate_deployment),
    "ReplicaSet": _with_selector_immutable(validate_replica_set),
    "StatefulSet": validate_stateful_set_update,
    "DaemonSet": _with_selector_immutable(validate_daemon_set),
    "ControllerRevision": validate_controller_revision_update,
}
