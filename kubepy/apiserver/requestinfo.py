"""Turn a request path and method into a RequestInfo (the apiserver's RequestInfoFactory).

    /api/v1/namespaces/default/pods/web/status  GET   -> verb get, resource pods,
                                                         namespace default, name web,
                                                         subresource status
    /apis/apps/v1/deployments?watch=true        GET   -> verb watch (all namespaces)

Non-resource paths (/version, /healthz, /openapi/v3, ...) give ``is_resource=False``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

_TRUE = ("1", "true", "True")


@dataclass(frozen=True, slots=True)
class RequestInfo:
    is_resource: bool
    path: str
    verb: str  # get list watch create update patch delete deletecollection, or the HTTP verb
    api_prefix: str = ""  # "api" or "apis"
    group: str = ""
    version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    parts: tuple[str, ...] = ()


def request_info(method: str, path: str, query: Mapping[str, str]) -> RequestInfo:
    method = method.upper()
    parts = [p for p in path.strip("/").split("/") if p]
    http_verb = method.lower()
    if len(parts) < 2 or parts[0] not in ("api", "apis"):
        return RequestInfo(False, path, http_verb)
    prefix = parts[0]
    rest = parts[1:]
    group = ""
    if prefix == "apis":
        if len(rest) < 2:  # /apis or /apis/<group>: discovery
            return RequestInfo(False, path, http_verb)
        group, version, rest = rest[0], rest[1], rest[2:]
    else:
        version, rest = rest[0], rest[1:]
    if not rest:  # /api/v1, /apis/apps/v1: discovery
        return RequestInfo(False, path, http_verb)

    verb = {"post": "create", "put": "update", "patch": "patch", "delete": "delete",
            "get": "get", "head": "get"}.get(http_verb, http_verb)

    # deprecated /watch/ prefix: /api/v1/watch/namespaces/ns/pods
    watch_prefix = False
    if rest[0] == "watch":
        watch_prefix = True
        rest = rest[1:]

    # /namespaces/<ns>/<resource>... is namespaced; /namespaces and /namespaces/<name>[/sub]
    # address the Namespace objects themselves (status, finalize).
    namespace = ""
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
        namespace = rest[1]
        rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""

    if watch_prefix:
        verb = "watch"
    elif verb == "get" and not name:
        verb = "watch" if query.get("watch") in _TRUE else "list"
    elif verb == "delete" and not name:
        verb = "deletecollection"
    return RequestInfo(True, path, verb, prefix, group, version, namespace, resource,
                       subresource, name, tuple(rest[3:]))
