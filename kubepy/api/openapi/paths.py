"""The REST paths and operations of one group-version, derived from the resource registry.

The result is a neutral model (``PathItem`` holding ``Operation``s that name their body and
response definitions) which ``v2`` and ``v3`` render into their own shapes. Paths, operation
ids (``readAppsV1NamespacedDeployment``, ``listCoreV1PodForAllNamespaces``,
``connectCoreV1GetNamespacedPodExec``), descriptions, ``x-kubernetes-action`` values and
parameters follow what the kube-apiserver publishes for each verb and subresource.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from kubepy.api import registry as reg
from kubepy.api.openapi import parameters as p
from kubepy.api.openapi.parameters import Param

# def lookup: (group, version, kind) -> definition name
DefinitionOf = Callable[[str, str, str], "str | None"]

STRING = "<string>"  # a response whose schema is {"type": "string"}

DELETE_OPTIONS = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"
STATUS = "io.k8s.apimachinery.pkg.apis.meta.v1.Status"
PATCH = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
WATCH_EVENT = "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent"
API_RESOURCE_LIST = "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList"
API_GROUP = "io.k8s.apimachinery.pkg.apis.meta.v1.APIGroup"
API_GROUP_LIST = "io.k8s.apimachinery.pkg.apis.meta.v1.APIGroupList"
API_VERSIONS = "io.k8s.apimachinery.pkg.apis.meta.v1.APIVersions"
VERSION_INFO = "io.k8s.apimachinery.pkg.version.Info"

OBJECT_TYPES = ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf")
WATCH_TYPES = OBJECT_TYPES + ("application/json;stream=watch",
                              "application/vnd.kubernetes.protobuf;stream=watch")
LOG_TYPES = ("text/plain", "application/json", "application/yaml",
             "application/vnd.kubernetes.protobuf")
ANY_TYPES = ("*/*",)
PATCH_TYPES_BUILTIN = ("application/json-patch+json", "application/merge-patch+json",
                       "application/strategic-merge-patch+json", "application/apply-patch+yaml")
PATCH_TYPES_CUSTOM = ("application/json-patch+json", "application/merge-patch+json",
                      "application/apply-patch+yaml")

RESPONSE_TEXT = {"200": "OK", "201": "Created", "202": "Accepted", "401": "Unauthorized"}


def finish_operation(out: dict[str, Any], op: "Operation", responses: dict[str, Any]) -> None:
    """What every operation ends with in both document versions: the 401 response and the
    ``x-kubernetes-action`` / ``x-kubernetes-group-version-kind`` extensions."""
    responses["401"] = {"description": RESPONSE_TEXT["401"]}
    out["responses"] = responses
    if op.action:
        out["x-kubernetes-action"] = op.action
    if op.gvk:
        out["x-kubernetes-group-version-kind"] = op.gvk

_CONNECT = ("attach", "exec", "portforward", "proxy")
_CONNECT_METHODS = {"get": "get", "create": "post", "update": "put", "delete": "delete",
                    "patch": "patch"}
# Kinds whose DELETE answers with the deleted object rather than a Status.
_DELETE_RETURNS_OBJECT = {("", "Pod"), ("", "PodTemplate"), ("", "PersistentVolume"),
                          ("", "PersistentVolumeClaim"), ("", "ResourceQuota"),
                          ("", "ServiceAccount"), ("", "Service")}


@dataclass
class Operation:
    method: str  # get, put, post, delete, patch, options, head
    operation_id: str
    description: str
    tag: str
    action: str | None = None  # x-kubernetes-action
    gvk: dict[str, str] | None = None
    params: tuple[Param, ...] = ()
    body: str | None = None  # request body definition name
    consumes: tuple[str, ...] = ()
    responses: dict[str, str | None] = field(default_factory=dict)  # code -> definition
    produces: tuple[str, ...] = OBJECT_TYPES


@dataclass
class PathItem:
    path: str
    params: tuple[Param, ...]
    operations: list[Operation]


def gv_identifier(group: str, version: str) -> str:
    """``AppsV1``, ``CoreV1``, ``RbacAuthorizationV1``: the operation-id infix."""
    if not group:
        return "Core" + version.capitalize()
    words = group.removesuffix(".k8s.io").replace("-", ".").split(".")
    return "".join(w.capitalize() for w in words) + version.capitalize()


def gv_tag(group: str, version: str) -> str:
    """``apps_v1``, ``core_v1``, ``rbacAuthorization_v1``."""
    return f"{group_tag(group)}_{version}"


def group_tag(group: str) -> str:
    if not group:
        return "core"
    words = group.removesuffix(".k8s.io").replace("-", ".").split(".")
    return words[0] + "".join(w.capitalize() for w in words[1:])


def article(noun: str) -> str:
    """``a Pod``, ``an Event``, ``Endpoints``: the article the apiserver puts before a kind."""
    if noun.endswith("s") and not noun.endswith("ss"):
        return noun
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def _gvk(group: str, version: str, kind: str) -> dict[str, str]:
    return {"group": group, "kind": kind, "version": version}


class _Builder:
    def __init__(self, rt: reg.ResourceType, root: str, definition_of: DefinitionOf,
                 builtin: bool):
        self.rt = rt
        self.root = root
        self.definition_of = definition_of
        self.builtin = builtin
        self.gv = gv_identifier(rt.group, rt.version)
        self.tag = gv_tag(rt.group, rt.version)
        self.scope = "Namespaced" if rt.namespaced else ""
        self.kind_def = definition_of(rt.group, rt.version, rt.kind)
        self.list_def = definition_of(rt.group, rt.version, rt.list_kind)
        self.gvk = _gvk(rt.group, rt.version, rt.kind)
        ns = "/namespaces/{namespace}" if rt.namespaced else ""
        self.collection = f"{root}{ns}/{rt.plural}"
        self.item = self.collection + "/{name}"
        self.scope_params: tuple[Param, ...] = (p.NAMESPACE,) if rt.namespaced else ()
        self.name_param = p.name_param(rt.kind)

    def op(self, method: str, verb: str, description: str, action: str | None,
           *, suffix: str = "", **kw: object) -> Operation:
        oid = f"{verb}{self.gv}{suffix}"
        return Operation(method, oid, description, self.tag, action,
                         kw.pop("gvk", self.gvk), **kw)  # type: ignore[arg-type]

    def build(self) -> list[PathItem]:
        rt, verbs = self.rt, set(self.rt.verbs)
        out: list[PathItem] = []
        kind = rt.kind
        listing = "list or watch" if "watch" in verbs else "list"
        ops: list[Operation] = []
        if "list" in verbs:
            ops.append(self.op("get", "list", f"{listing} objects of kind {kind}", "list",
                               suffix=f"{self.scope}{kind}", params=p.LIST_OPTIONS,
                               responses=_ok(self.list_def),
                               produces=WATCH_TYPES))
        if "create" in verbs:
            ops.append(self.op("post", "create", f"create {article(kind)}", "post",
                               suffix=f"{self.scope}{kind}", params=p.WRITE_OPTIONS,
                               body=self.kind_def, consumes=ANY_TYPES,
                               responses=_codes(self.kind_def, "200", "201", "202")))
        if "deletecollection" in verbs:
            ops.append(self.op("delete", "delete", f"delete collection of {kind}",
                               "deletecollection", suffix=f"Collection{self.scope}{kind}",
                               params=p.DELETE_COLLECTION_OPTIONS, body=DELETE_OPTIONS,
                               consumes=ANY_TYPES, responses=_ok(STATUS)))
        if ops:
            out.append(PathItem(self.collection, (*self.scope_params, p.PRETTY), ops))
        ops = self.item_operations(verbs)
        if ops:
            out.append(PathItem(self.item, (self.name_param, *self.scope_params, p.PRETTY),
                                ops))
        if rt.namespaced and "list" in verbs:
            out.append(PathItem(f"{self.root}/{rt.plural}", (*p.LIST_OPTIONS, p.PRETTY), [
                self.op("get", "list", f"{listing} objects of kind {kind}", "list",
                        suffix=f"{kind}ForAllNamespaces", responses=_ok(self.list_def),
                        produces=WATCH_TYPES)]))
        if "watch" in verbs:
            out.extend(self.watch_paths())
        for sub in rt.subresources:
            out.extend(self.subresource_paths(sub))
        return out

    def item_operations(self, verbs: set[str]) -> list[Operation]:
        kind, ops = self.rt.kind, []
        suffix = f"{self.scope}{kind}"
        if "get" in verbs:
            ops.append(self.op("get", "read", f"read the specified {kind}", "get",
                               suffix=suffix, responses=_ok(self.kind_def)))
        if "update" in verbs:
            ops.append(self.op("put", "replace", f"replace the specified {kind}", "put",
                               suffix=suffix, params=p.WRITE_OPTIONS, body=self.kind_def,
                               consumes=ANY_TYPES,
                               responses=_codes(self.kind_def, "200", "201")))
        if "patch" in verbs:
            ops.append(self.patch_op(f"partially update the specified {kind}", suffix,
                                     self.kind_def))
        if "delete" in verbs:
            returned = (self.kind_def if (self.rt.group, kind) in _DELETE_RETURNS_OBJECT
                        else STATUS)
            ops.append(self.op("delete", "delete", f"delete {article(kind)}", "delete",
                               suffix=suffix, params=p.DELETE_OPTIONS, body=DELETE_OPTIONS,
                               consumes=ANY_TYPES, responses=_codes(returned, "200", "202")))
        return ops

    def patch_op(self, description: str, suffix: str, returned: str | None,
                 gvk: dict[str, str] | None = None) -> Operation:
        types = PATCH_TYPES_BUILTIN if self.builtin else PATCH_TYPES_CUSTOM
        return self.op("patch", "patch", description, "patch", suffix=suffix,
                       gvk=gvk or self.gvk, params=p.PATCH_OPTIONS, body=PATCH,
                       consumes=types, responses=_codes(returned, "200", "201"))

    def watch_paths(self) -> list[PathItem]:
        rt, kind = self.rt, self.rt.kind
        params = (*p.LIST_OPTIONS, p.PRETTY)
        many = (f"watch individual changes to a list of {kind}. deprecated: use the 'watch' "
                "parameter with a list operation instead.")
        one = (f"watch changes to an object of kind {kind}. deprecated: use the 'watch' "
               "parameter with a list operation instead, filtered to a single item with the "
               "'fieldSelector' parameter.")
        ns = "/namespaces/{namespace}" if rt.namespaced else ""
        base = f"{self.root}/watch{ns}/{rt.plural}"
        out = [
            PathItem(base, (*self.scope_params, *params), [
                self.op("get", "watch", many, "watchlist", suffix=f"{self.scope}{kind}List",
                        responses=_ok(WATCH_EVENT), produces=WATCH_TYPES)]),
            PathItem(base + "/{name}", (self.name_param, *self.scope_params, *params), [
                self.op("get", "watch", one, "watch", suffix=f"{self.scope}{kind}",
                        responses=_ok(WATCH_EVENT), produces=WATCH_TYPES)]),
        ]
        if rt.namespaced:
            out.append(PathItem(f"{self.root}/watch/{rt.plural}", params, [
                self.op("get", "watch", many, "watchlist",
                        suffix=f"{kind}ListForAllNamespaces", responses=_ok(WATCH_EVENT),
                        produces=WATCH_TYPES)]))
        return out

    def subresource_paths(self, sub: reg.Subresource) -> list[PathItem]:
        rt, kind = self.rt, self.rt.kind
        group = rt.group if sub.group is None else sub.group
        version = sub.version or rt.version
        gvk = _gvk(group, version, sub.kind)
        sub_def = self.definition_of(group, version, sub.kind)
        path = f"{self.item}/{sub.name}"
        suffix = f"{self.scope}{kind}{sub.name.capitalize()}"
        base_params = (self.name_param, *self.scope_params)
        if sub.name in _CONNECT:
            return self.connect_paths(sub, gvk, path, suffix, base_params)
        if sub.name == "log":
            return [PathItem(path, (*base_params, p.PRETTY, *p.SUBRESOURCE_OPTIONS["log"]), [
                self.op("get", "read", f"read log of the specified {kind}", "get",
                        suffix=suffix, gvk=gvk, responses=_ok(STRING), produces=LOG_TYPES)])]
        ops: list[Operation] = []
        verbs = set(sub.verbs)
        if "get" in verbs:
            ops.append(self.op("get", "read", f"read {sub.name} of the specified {kind}",
                               "get", suffix=suffix, gvk=gvk, responses=_ok(sub_def)))
        if "create" in verbs:
            ops.append(self.op("post", "create", f"create {sub.name} of {article(kind)}", "post",
                               suffix=suffix, gvk=gvk, params=p.WRITE_OPTIONS, body=sub_def,
                               consumes=ANY_TYPES,
                               responses=_codes(sub_def, "200", "201", "202")))
        if "update" in verbs:
            ops.append(self.op("put", "replace", f"replace {sub.name} of the specified {kind}",
                               "put", suffix=suffix, gvk=gvk, params=p.WRITE_OPTIONS,
                               body=sub_def, consumes=ANY_TYPES,
                               responses=_codes(sub_def, "200", "201")))
        if "patch" in verbs:
            ops.append(self.patch_op(f"partially update {sub.name} of the specified {kind}",
                                     suffix, sub_def, gvk))
        return [PathItem(path, (*base_params, p.PRETTY), ops)] if ops else []

    def connect_paths(self, sub: reg.Subresource, gvk: dict[str, str], path: str,
                      suffix: str, base_params: tuple[Param, ...]) -> list[PathItem]:
        methods = [_CONNECT_METHODS[v] for v in sub.verbs if v in _CONNECT_METHODS]
        if sub.name == "proxy":
            methods += ["options", "head"]
        order = ("get", "put", "post", "delete", "options", "head", "patch")
        methods = sorted(set(methods), key=order.index)
        extra = p.SUBRESOURCE_OPTIONS.get(sub.name, ())

        def ops(id_suffix: str) -> list[Operation]:
            return [Operation(m, f"connect{self.gv}{m.capitalize()}{suffix}{id_suffix}",
                              f"connect {m.upper()} requests to {sub.name} of {self.rt.kind}",
                              self.tag, "connect", gvk, responses=_ok(STRING),
                              produces=ANY_TYPES)
                    for m in methods]

        out = [PathItem(path, (*base_params, *extra), ops(""))]
        if sub.name == "proxy":
            out.append(PathItem(path + "/{path}", (*base_params, p.PROXY_PATH, *extra),
                                ops("WithPath")))
        return out


def _ok(definition: str | None) -> dict[str, str | None]:
    return {"200": definition}


def _codes(definition: str | None, *codes: str) -> dict[str, str | None]:
    return {code: definition for code in codes}


def resource_paths(rt: reg.ResourceType, root: str, definition_of: DefinitionOf,
                   *, builtin: bool) -> list[PathItem]:
    """Every path of one resource (collection, item, all-namespaces, watch, subresources)."""
    return _Builder(rt, root, definition_of, builtin).build()


def group_version_root(group: str, version: str) -> str:
    return f"/apis/{group}/{version}" if group else f"/api/{version}"


def group_version_paths(group: str, version: str, types: Iterable[reg.ResourceType],
                        definition_of: DefinitionOf,
                        is_builtin: Callable[[reg.ResourceType], bool]) -> list[PathItem]:
    root = group_version_root(group, version)
    gv, tag = gv_identifier(group, version), gv_tag(group, version)
    out = [PathItem(root + "/", (), [Operation(
        "get", f"get{gv}APIResources", "get available resources", tag,
        responses=_ok(API_RESOURCE_LIST))])]
    for rt in sorted(types, key=lambda t: t.plural):
        out.extend(resource_paths(rt, root, definition_of, builtin=is_builtin(rt)))
    return out


def group_paths(group: str) -> list[PathItem]:
    """``/apis/<group>/``: the APIGroup document."""
    ident = gv_identifier(group, "")
    return [PathItem(f"/apis/{group}/", (), [Operation(
        "get", f"get{ident}APIGroup", "get information of a group", group_tag(group),
        responses=_ok(API_GROUP))])]


def root_paths(name: str) -> list[PathItem]:
    """The small documents beside the group-versions: ``api``, ``apis`` and ``version``."""
    if name == "api":
        return [PathItem("/api/", (), [Operation(
            "get", "getCoreAPIVersions", "get available API versions", "core",
            responses=_ok(API_VERSIONS))])]
    if name == "apis":
        return [PathItem("/apis/", (), [Operation(
            "get", "getAPIVersions", "get available API versions", "apis",
            responses=_ok(API_GROUP_LIST))])]
    if name == "version":
        return [PathItem("/version/", (), [Operation(
            "get", "getCodeVersion", "get the code version", "version",
            responses=_ok(VERSION_INFO), produces=("application/json",))])]
    return []
