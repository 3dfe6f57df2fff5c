"""RBAC authorization over Roles, ClusterRoles and their bindings, read from the cache.

``system:masters`` may do everything (the apiserver's superuser group, checked before
RBAC). Otherwise a request is allowed when some binding that names the user, one of its
groups, or its service account grants a rule matching (verb, group, resource,
subresource, name) — or (verb, nonResourceURL). There is no deny.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from kubepy.apiserver.auth import User

Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Attributes:
    verb: str
    namespace: str = ""
    group: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    path: str = ""  # for non-resource requests
    is_resource: bool = True


def _match(values: Iterable[str] | None, want: str) -> bool:
    values = list(values or [])
    return "*" in values or want in values


def rule_allows(rule: Obj, attrs: Attributes) -> bool:
    if not _match(rule.get("verbs"), attrs.verb):
        return False
    if not attrs.is_resource:
        for url in rule.get("nonResourceURLs") or []:
            if url == attrs.path or (url.endswith("*") and attrs.path.startswith(url[:-1])):
                return True
        return False
    if not _match(rule.get("apiGroups"), attrs.group):
        return False
    resource = attrs.resource + ("/" + attrs.subresource if attrs.subresource else "")
    resources = rule.get("resources") or []
    if not ("*" in resources or resource in resources or
            (attrs.subresource and f"*/{attrs.subresource}" in resources) or
            (attrs.subresource and f"{attrs.resource}/*" in resources)):
        return False
    names = rule.get("resourceNames")
    if names and attrs.name not in names:
        return False
    return True


def _subject_matches(subject: Obj, user: User, binding_namespace: str) -> bool:
    kind = subject.get("kind")
    name = subject.get("name")
    if kind == "User":
        return name == user.name
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or binding_namespace
        return user.name == f"system:serviceaccount:{ns}:{name}"
    return False


class RBACAuthorizer:
    """Reads bindings and roles through ``lookup(resource_prefix) -> dict[key, obj]``."""

    def __init__(self, objects_under: Any):
        self._objects_under = objects_under  # callable(prefix) -> Mapping[str, Obj]

    def _roles_for(self, user: User, namespace: str) -> Iterable[tuple[Obj, str]]:
        """Yield (role object, binding namespace or '') granted to the user."""
        crbs = self._objects_under("/registry/clusterrolebindings/")
        croles = self._objects_under("/registry/clusterroles/")
        for crb in crbs.values():
            if any(_subject_matches(s, user, "") for s in crb.get("subjects") or []):
                role = croles.get("/registry/clusterroles/"
                                  + crb.get("roleRef", {}).get("name", ""))
                if role:
                    yield role, ""
        if not namespace:
            return
        rbs = self._objects_under("/registry/rolebindings/")
        roles = self._objects_under("/registry/roles/")
        prefix = f"/registry/rolebindings/{namespace}/"
        for key, rb in rbs.items():
            if not key.startswith(prefix):
                continue
            if not any(_subject_matches(s, user, namespace) for s in rb.get("subjects") or []):
                continue
            ref = rb.get("roleRef", {})
            if ref.get("kind") == "ClusterRole":
                role = croles.get("/registry/clusterroles/"
                                  + ref.get("name", ""))
            else:
                role = roles.get(f"/registry/roles/{namespace}/"
                                 + ref.get("name", ""))
            if role:
                yield role, namespace

    def rules_of(self, role: Obj, seen: set[str] | None = None) -> list[Obj]:
        """A role's rules; for a ClusterRole with an aggregationRule, the rules of every
        ClusterRole its selectors match (what the aggregation controller would write)."""
        aggregation = role.get("aggregationRule")
        if not aggregation:
            return list(role.get("rules") or [])
        from kubepy.api.labels import selector_from_label_selector

        seen = seen if seen is not None else set()
        seen.add(role["metadata"]["name"])
        rules: list[Obj] = []
        selectors = [selector_from_label_selector(s)
                     for s in aggregation.get("clusterRoleSelectors") or []]
        for other in self._objects_under("/registry/clusterroles/").values():
            name = other["metadata"]["name"]
            if name in seen:
                continue
            labels = other["metadata"].get("labels") or {}
            if any(sel.matches(labels) for sel in selectors):
                seen.add(name)
                rules += self.rules_of(other, seen)
        return rules

    def authorize(self, user: User, attrs: Attributes) -> tuple[bool, str]:
        if "system:masters" in user.groups:
            return True, ""
        for role, _ns in self._roles_for(user, attrs.namespace):
            for rule in self.rules_of(role):
                if rule_allows(rule, attrs):
                    return True, f'RBAC: allowed by role "{role["metadata"]["name"]}"'
        return False, ""

    def rules_for(self, user: User, namespace: str) -> tuple[list[Obj], list[Obj]]:
        """(resource rules, non-resource rules) for SelfSubjectRulesReview."""
        if "system:masters" in user.groups:
            return ([{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                    [{"verbs": ["*"], "nonResourceURLs": ["*"]}])
        res: list[dict[str, Any]] = []
        nonres: list[dict[str, Any]] = []
        for role, _ns in self._roles_for(user, namespace):
            for rule in self.rules_of(role):
                if rule.get("nonResourceURLs"):
                    nonres.append({"verbs": rule.get("verbs", []),
                                   "nonResourceURLs": rule["nonResourceURLs"]})
                else:
                    res.append({k: rule[k] for k in ("verbs", "apiGroups", "resources",
                                                     "resourceNames") if k in rule})
        return res, nonres


def forbidden_message(user: User, attrs: Attributes) -> str:
    """The apiserver's Forbidden text: ``pods "x" is forbidden: User "u" cannot get ...``."""
    who = f'User "{user.name}"'
    if not attrs.is_resource:
        return f'forbidden: {who} cannot {attrs.verb} path "{attrs.path}"'
    res = attrs.resource + (f"/{attrs.subresource}" if attrs.subresource else "")
    qualified = f"{attrs.resource}.{attrs.group}" if attrs.group else attrs.resource
    subject = f'{qualified} "{attrs.name}"' if attrs.name else qualified
    group = f'in API group "{attrs.group}"'
    scope = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
    return f'{subject} is forbidden: {who} cannot {attrs.verb} resource "{res}" {group} {scope}'
