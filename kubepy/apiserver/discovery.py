"""Discovery documents: legacy (/api, /apis, /api/v1, /apis/G/V) and aggregated v2.

Aggregated discovery is answered only when the Accept header asks for
``application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList`` (or v2beta1):
kubectl 1.20 asks for plain JSON and would misread it. See kubectl-protocol.md §1.
"""

from __future__ import annotations

from typing import Any

from kubepy.api.registry import GROUP_ORDER, Registry, ResourceType

Obj = dict[str, Any]

AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGGREGATED_V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"


def wants_aggregated(accept: str) -> str | None:
    """The aggregated content type the client accepts, in its order of preference."""
    for part in accept.split(","):
        params = {}
        pieces = [p.strip() for p in part.split(";")]
        for p in pieces[1:]:
            if "=" in p:
                k, v = p.split("=", 1)
                params[k.strip()] = v.strip()
        if pieces[0] == "application/json" and params.get("g") == "apidiscovery.k8s.io" \
                and params.get("as") == "APIGroupDiscoveryList":
            if params.get("v") == "v2":
                return AGGREGATED_V2
            if params.get("v") == "v2beta1":
                return AGGREGATED_V2BETA1
    return None


def _ordered_groups(registry: Registry) -> list[tuple[str, list[str]]]:
    groups = registry.groups()
    named = [g for g in groups if g]
    order = {g: i for i, g in enumerate(GROUP_ORDER)}
    named.sort(key=lambda g: (order.get(g, len(order)), g))
    return [(g, groups[g]) for g in named]


def api_versions(server_address: str) -> Obj:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                            "serverAddress": server_address}]}


def _group_entry(group: str, versions: list[str]) -> Obj:
    gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": gvs, "preferredVersion": gvs[0]}


def api_group_list(registry: Registry) -> Obj:
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_group_entry(g, vs) for g, vs in _ordered_groups(registry)]}


def api_group(registry: Registry, group: str) -> Obj | None:
    versions = registry.groups().get(group)
    if not versions or not group:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_entry(group, versions)}


def api_resource_list(registry: Registry, group: str, version: str) -> Obj | None:
    types = registry.group_version_resources(group, version)
    if not types:
        return None
    resources: list[Obj] = []
    for rt in sorted(types, key=lambda t: t.plural):
        entry: Obj = {"name": rt.plural, "singularName": rt.singular_name,
                      "namespaced": rt.namespaced, "kind": rt.kind, "verbs": list(rt.verbs)}
        if rt.short_names:
            entry["shortNames"] = list(rt.short_names)
        if rt.categories:
            entry["categories"] = list(rt.categories)
        entry["storageVersionHash"] = _storage_hash(rt)
        resources.append(entry)
        for sub in rt.subresources:
            se: Obj = {"name": f"{rt.plural}/{sub.name}", "singularName": "",
                       "namespaced": rt.namespaced, "kind": sub.kind, "verbs": list(sub.verbs)}
            if sub.group is not None:
                se["group"] = sub.group
                se["version"] = sub.version
            resources.append(se)
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
            "resources": resources}


def _storage_hash(rt: ResourceType) -> str:
    import base64
    import hashlib

    digest = hashlib.sha256(f"{rt.group}/{rt.version}/{rt.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def _aggregated_resource(rt: ResourceType) -> Obj:
    entry: Obj = {
        "resource": rt.plural,
        "responseKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
        "scope": "Namespaced" if rt.namespaced else "Cluster",
        "singularResource": rt.singular_name,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    if rt.categories:
        entry["categories"] = list(rt.categories)
    subs = []
    for sub in rt.subresources:
        subs.append({"subresource": sub.name,
                     "responseKind": {"group": sub.group if sub.group is not None else rt.group,
                                      "version": sub.version or rt.version, "kind": sub.kind},
                     "verbs": list(sub.verbs)})
    if subs:
        entry["subresources"] = subs
    return entry


def aggregated(registry: Registry, *, legacy: bool, content_type: str) -> Obj:
    """The APIGroupDiscoveryList for /api (legacy=True: the core group) or /apis."""
    items = []
    groups = [("", ["v1"])] if legacy else _ordered_groups(registry)
    for group, versions in groups:
        vs = []
        for v in versions:
            types = sorted(registry.group_version_resources(group, v), key=lambda t: t.plural)
            vs.append({"version": v, "resources": [_aggregated_resource(t) for t in types],
                       "freshness": "Current"})
        items.append({"metadata": {"name": group, "creationTimestamp": None}, "versions": vs})
    api_version = "apidiscovery.k8s.io/v2" if content_type == AGGREGATED_V2 else \
        "apidiscovery.k8s.io/v2beta1"
    return {"kind": "APIGroupDiscoveryList", "apiVersion": api_version, "metadata": {},
            "items": items}
