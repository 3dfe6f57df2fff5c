"""Create and update validation of built-in objects, as the kube-apiserver runs it.

``validate_create(group, version, kind, obj)`` and ``validate_update(group, version,
kind, new, old)`` return a list of ``details.causes`` entries (empty when valid); the
caller turns a non-empty list into ``kubepy.errors.invalid(kind, name, causes, group)``.
Objects are expected to be defaulted first. Every kind gets ObjectMeta validation with
its upstream name rule; kinds with spec rules dispatch to ``core``, ``apps``, ``batch``
and ``misc``. Unknown kinds (custom resources) get ObjectMeta validation only; pass
``namespaced`` for them, since the built-in registry cannot tell their scope.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from kubepy.api.registry import Registry
from kubepy.api.validation import apps, batch, core, misc
from kubepy.api.validation.field import Cause
from kubepy.api.validation.meta import validate_object_meta, validate_object_meta_update
from kubepy.api.validation.names import (
    NameValidator, dns1035_label_name, dns1123_label_name, dns1123_subdomain_name,
    path_segment_name,
)

__all__ = ["validate_create", "validate_update", "name_validator"]

_REGISTRY = Registry()

# Name rules that differ from the default DNS-1123 subdomain (ValidateXxxName upstream).
_NAME_RULES: dict[tuple[str, str], NameValidator] = {
    ("", "Namespace"): dns1123_label_name,
    ("", "Service"): dns1035_label_name,  # ValidateServiceName = NameIsDNS1035Label
    ("apps", "StatefulSet"): dns1123_label_name,
    # kube-aggregator: a path segment (the name must also be "<version>.<group>", "v1." for
    # the core group)
    ("apiregistration.k8s.io", "APIService"): path_segment_name,
    ("rbac.authorization.k8s.io", "Role"): path_segment_name,
    ("rbac.authorization.k8s.io", "ClusterRole"): path_segment_name,
    ("rbac.authorization.k8s.io", "RoleBinding"): path_segment_name,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): path_segment_name,
}

_CREATE: dict[str, dict[str, Callable[[Mapping[str, Any]], list[Cause]]]] = {
    "": core.CREATE, "apps": apps.CREATE, "batch": batch.CREATE, **misc.CREATE,
}
_UPDATE: dict[str, dict[str, Callable[[Mapping[str, Any], Mapping[str, Any]], list[Cause]]]] = {
    "": core.UPDATE, "apps": apps.UPDATE, "batch": batch.UPDATE, **misc.UPDATE,
}


def name_validator(group: str, kind: str) -> NameValidator:
    return _NAME_RULES.get((group, kind), dns1123_subdomain_name)


def _namespaced(group: str, version: str, kind: str, namespaced: bool | None) -> bool | None:
    if namespaced is not None:
        return namespaced
    rt = _REGISTRY.by_kind(group, version, kind)
    return rt.namespaced if rt else None


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, (dict, Mapping)) else {}


def validate_create(group: str, version: str, kind: str, obj: Mapping[str, Any], *,
                    namespaced: bool | None = None) -> list[Cause]:
    scope = _namespaced(group, version, kind, namespaced)
    meta = _meta(obj)
    causes = validate_object_meta(meta, namespaced=bool(meta.get("namespace"))
                                  if scope is None else scope,
                                  name_fn=name_validator(group, kind))
    spec_rules = _CREATE.get(group, {}).get(kind)
    if spec_rules is not None:
        causes += spec_rules(obj)
    return causes


def validate_update(group: str, version: str, kind: str, new: Mapping[str, Any],
                    old: Mapping[str, Any], *, namespaced: bool | None = None) -> list[Cause]:
    """Update rules (immutable fields) plus the create rules on the new object."""
    causes = validate_object_meta_update(_meta(new), _meta(old))
    update_rules = _UPDATE.get(group, {}).get(kind)
    if update_rules is not None:
        causes += update_rules(new, old)
    else:
        create_rules = _CREATE.get(group, {}).get(kind)
        if create_rules is not None:
            causes += create_rules(new)
    return causes
