"""The apiserver's HTTP application: authentication, authorization, errors, routing.

Every request goes through one handler: it authenticates (client certificate, bearer
token, else anonymous), authorizes (system:masters, then RBAC), dispatches to the
non-resource endpoints (health, version, metrics, discovery, OpenAPI) or to the resource
handlers, records metrics, and turns StatusErrors into Status bodies.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import orjson
from aiohttp import web

from kubepy import errors
from kubepy.api.registry import Registry
from kubepy.apiserver import discovery
from kubepy.apiserver.auth import ANONYMOUS, TokenAuthenticator, User, is_anonymous_path, \
    user_from_peercert
from kubepy.apiserver.handlers import ResourceHandlers, json_response
from kubepy.apiserver.metrics import RequestMetrics
from kubepy.apiserver.negotiation import media_type
from kubepy.apiserver.rbac import Attributes, RBACAuthorizer, forbidden_message
from kubepy.apiserver.requestinfo import RequestInfo, request_info
from kubepy.apiserver.serviceaccounts import TokenIssuer

log = logging.getLogger("kubepy.apiserver")

KUBE_VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0+kubepy",
                "gitCommit": "0000000000000000000000000000000000000000",
                "gitTreeState": "clean", "buildDate": "2026-11-23T00:00:00Z",
                "goVersion": "go1.23.0", "compiler": "gc", "platform": "linux/amd64"}


@dataclass
class AppState:
    registry: Registry
    resources: ResourceHandlers
    tokens: TokenAuthenticator
    authorizer: RBACAuthorizer
    metrics: RequestMetrics
    server_address: str
    ready: Callable[[], bool]
    openapi: Any = None  # kubepy.api.openapi.OpenAPIDocuments, built lazily
    # custom resource schemas for the OpenAPI documents: "<group>/<version>/<Kind>" -> schema
    openapi_extra: Callable[[], dict[str, Any]] = lambda: {}
    token_issuer: TokenIssuer | None = None
    ca_bundle: bytes = b""  # the cluster CA (PEM), served anonymously on /cacerts


def status_response(err: errors.StatusError) -> web.Response:
    headers = {}
    if err.retry_after is not None:
        headers["Retry-After"] = str(err.retry_after)
    return json_response(err.to_status(), err.code, headers)


def build_app(state: AppState) -> web.Application:
    # aiohttp refuses larger bodies while reading them (turned into a 413 Status above)
    app = web.Application(client_max_size=3 * 1024 * 1024 + 1)
    app["state"] = state
    app.router.add_route("*", "/{path:.*}", _entry)
    return app


async def _entry(request: web.Request) -> web.StreamResponse:
    state: AppState = request.app["state"]
    started = time.perf_counter()
    info = request_info(request.method, request.path, request.rel_url.query)
    code = 500
    state.metrics.inflight += 1
    try:
        user = _impersonate(request, state, _authenticate(request, state))
        request["user"] = user
        if user.anonymous and not is_anonymous_path(request.path):
            raise errors.Unauthorized("Unauthorized")
        _authorize(state, user, info)
        response = await _dispatch(request, state, info)
        code = response.status
        return response
    except errors.StatusError as e:
        code = e.code
        return status_response(e)
    except web.HTTPRequestEntityTooLarge:
        code = 413
        return status_response(errors.RequestEntityTooLarge(
            "Request entity too large: limit is 3145728"))
    except web.HTTPException:
        raise
    except (ConnectionResetError, ConnectionError):
        code = 499
        raise
    except Exception as e:  # a bug: report it as the apiserver does, keep serving
        log.exception("internal error serving %s %s", request.method, request.path)
        code = 500
        return status_response(errors.InternalError(f"Internal error occurred: {e}"))
    finally:
        state.metrics.inflight -= 1
        state.metrics.observe(verb=_metric_verb(request, info), group=info.group,
                              version=info.version, resource=info.resource,
                              subresource=info.subresource, scope=_scope(info), code=code,
                              dry_run=request.rel_url.query.get("dryRun", ""),
                              seconds=time.perf_counter() - started)


def _metric_verb(request: web.Request, info: RequestInfo) -> str:
    """The apiserver's metric verb: the HTTP method, except LIST, WATCH, APPLY and
    DELETECOLLECTION, which it names apart, and CONNECT for upgrades and pod logs."""
    if not info.is_resource:
        return request.method
    if info.verb in ("list", "watch", "deletecollection"):
        return info.verb.upper()
    if info.verb == "patch" and \
            media_type(request.headers.get("Content-Type")) == "application/apply-patch+yaml":
        return "APPLY"
    if request.headers.get("Upgrade"):
        return "CONNECT"
    if info.resource == "pods" and info.subresource == "log" and request.method == "GET":
        return "CONNECT"  # LogREST.OverrideMetricsVerb
    return request.method


def _scope(info: RequestInfo) -> str:
    """The apiserver's CleanScope: a named object (or a create) is a "resource"."""
    if not info.is_resource:
        return ""
    if info.name or info.verb == "create":
        return "resource"
    return "namespace" if info.namespace else "cluster"


def _authenticate(request: web.Request, state: AppState) -> User:
    transport = request.transport
    if transport is not None:
        user = user_from_peercert(transport.get_extra_info("peercert"))
        if user is not None:
            return user
    header = request.headers.get("Authorization")
    user = state.tokens.authenticate(header)
    if user is not None:
        return user
    if header and header.startswith("Bearer ") and state.token_issuer is not None:
        user = state.token_issuer.authenticate(header[len("Bearer "):].strip())
        if user is not None:
            return user
    return ANONYMOUS


def _impersonate(request: web.Request, state: AppState, user: User) -> User:
    """Impersonate-User/-Group/-Uid headers (kubectl --as, --as-group): the requester
    needs the ``impersonate`` verb on each, then the request runs as the named user."""
    headers = request.headers
    name = headers.get("Impersonate-User")
    groups = headers.getall("Impersonate-Group", [])
    uid = headers.get("Impersonate-Uid", "")
    if not name:
        if groups or uid:
            raise errors.Forbidden("requested impersonation of groups or uid without "
                                   "impersonating a user")
        return user
    checks: list[Attributes] = []
    if name.startswith("system:serviceaccount:") and name.count(":") == 3:
        _, _, ns, sa = name.split(":")
        checks.append(Attributes(verb="impersonate", namespace=ns, resource="serviceaccounts",
                                 name=sa))
    else:
        checks.append(Attributes(verb="impersonate", resource="users", name=name))
    checks += [Attributes(verb="impersonate", resource="groups", name=g) for g in groups]
    if uid:
        checks.append(Attributes(verb="impersonate", group="authentication.k8s.io",
                                 resource="uids", name=uid))
    for attrs in checks:
        allowed, _ = state.authorizer.authorize(user, attrs)
        if not allowed:
            raise errors.Forbidden(forbidden_message(user, attrs), name=attrs.name,
                                   group=attrs.group, kind=attrs.resource)
    all_groups = tuple(groups)
    if name != "system:anonymous" and "system:authenticated" not in all_groups:
        all_groups += ("system:authenticated",)
    return User(name, all_groups, uid)


def _authorize(state: AppState, user: User, info: RequestInfo) -> None:
    if "system:masters" in user.groups:
        return
    if not info.is_resource:
        if is_anonymous_path(info.path):
            return
        attrs = Attributes(verb=info.verb, path=info.path, is_resource=False)
        if user.anonymous is False and (info.path.startswith(("/api", "/openapi"))):
            return  # discovery: system:discovery grants it to every authenticated user
    else:
        attrs = Attributes(verb=info.verb, namespace=info.namespace, group=info.group,
                           resource=info.resource, subresource=info.subresource,
                           name=info.name)
    allowed, _ = state.authorizer.authorize(user, attrs)
    if not allowed:
        raise errors.Forbidden(forbidden_message(user, attrs), name=info.name or None,
                               group=info.group, kind=info.resource)


async def _dispatch(request: web.Request, state: AppState,
                    info: RequestInfo) -> web.StreamResponse:
    if info.is_resource:
        return await state.resources.handle(request, info)
    path = request.path.rstrip("/") or "/"
    handler = _NON_RESOURCE.get(path)
    if handler is not None:
        return await handler(request, state)
    if path.startswith("/openapi/v3/"):
        return _openapi_v3_doc(request, state, path[len("/openapi/v3/"):])
    if path.startswith(("/livez/", "/readyz/", "/healthz/")):
        return web.Response(text="ok", content_type="text/plain")
    parts = path.strip("/").split("/")
    if parts[0] == "apis" and len(parts) == 2:
        group = discovery.api_group(state.registry, parts[1])
        if group is not None:
            return json_response(group)
    if parts[0] == "apis" and len(parts) == 3:
        doc = discovery.api_resource_list(state.registry, parts[1], parts[2])
        if doc is not None:
            return json_response(doc)
    if parts == ["api", "v1"]:
        return json_response(discovery.api_resource_list(state.registry, "", "v1"))
    raise errors.NotFound("the server could not find the requested resource")


async def _version(request: web.Request, state: AppState) -> web.Response:
    return json_response(KUBE_VERSION)


async def _health(request: web.Request, state: AppState) -> web.Response:
    if request.path.startswith("/readyz") and not state.ready():
        return web.Response(text="[-]kubepy-ready failed: not ready\nreadyz check failed\n",
                            status=500, content_type="text/plain")
    if "verbose" in request.rel_url.query:
        name = request.path.strip("/")
        return web.Response(text=f"[+]ping ok\n[+]etcd ok\n{name} check passed\n",
                            content_type="text/plain")
    return web.Response(text="ok", content_type="text/plain")


async def _cacerts(request: web.Request, state: AppState) -> web.Response:
    if not state.ca_bundle:
        raise errors.NotFound("the server could not find the requested resource")
    return web.Response(body=state.ca_bundle, content_type="text/plain")


async def _metrics(request: web.Request, state: AppState) -> web.Response:
    return web.Response(text=state.metrics.render(), content_type="text/plain",
                        charset="utf-8")


async def _api(request: web.Request, state: AppState) -> web.Response:
    aggregated = discovery.wants_aggregated(request.headers.get("Accept", ""))
    if aggregated:
        return _aggregated(state, legacy=True, content_type=aggregated)
    return json_response(discovery.api_versions(state.server_address))


async def _apis(request: web.Request, state: AppState) -> web.Response:
    aggregated = discovery.wants_aggregated(request.headers.get("Accept", ""))
    if aggregated:
        return _aggregated(state, legacy=False, content_type=aggregated)
    return json_response(discovery.api_group_list(state.registry))


def _aggregated(state: AppState, *, legacy: bool, content_type: str) -> web.Response:
    body = discovery.aggregated(state.registry, legacy=legacy, content_type=content_type)
    response = web.Response(body=orjson.dumps(body))
    response.headers["Content-Type"] = content_type
    response.headers["Vary"] = "Accept"
    return response


def _openapi(state: AppState) -> Any:
    if state.openapi is None:
        from kubepy.api.openapi import OpenAPIDocuments

        state.openapi = OpenAPIDocuments(state.registry, state.openapi_extra())
    return state.openapi


def _cached(request: web.Request, body: bytes, etag: str, content_type: str,
            immutable: bool = False) -> web.Response:
    quoted = f'"{etag}"'
    headers = {"ETag": quoted, "Vary": "Accept",
               "Cache-Control": "public, immutable" if immutable else "no-cache, private"}
    if request.headers.get("If-None-Match") == quoted:
        return web.Response(status=304, headers=headers)
    response = web.Response(body=body, headers=headers)
    response.headers["Content-Type"] = content_type
    return response


async def _openapi_v2(request: web.Request, state: AppState) -> web.Response:
    docs = _openapi(state)
    accept = request.headers.get("Accept", "")
    if "protobuf" in accept:
        body, _ = docs.v2_protobuf()
        # each representation gets its own ETag, so a cached one never answers the other
        etag = hashlib.sha512(body).hexdigest().upper()
        return _cached(request, body, etag,
                       "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
    body, etag = docs.v2_json()
    return _cached(request, body, etag, "application/json")


async def _openapi_v3_index(request: web.Request, state: AppState) -> web.Response:
    body = _openapi(state).v3_index()
    return web.Response(body=body, content_type="application/json")


def _openapi_v3_doc(request: web.Request, state: AppState, path: str) -> web.Response:
    doc = _openapi(state).v3_document(path)
    if doc is None:
        raise errors.NotFound("the server could not find the requested resource")
    body, etag = doc
    wanted = request.rel_url.query.get("hash")
    if wanted and wanted != etag:
        location = f"/openapi/v3/{path}?hash={etag}"
        return web.Response(status=301, headers={"Location": location})
    return _cached(request, body, etag, "application/json", immutable=bool(wanted))


_Handler = Callable[[web.Request, AppState], Awaitable[web.StreamResponse]]
_NON_RESOURCE: dict[str, _Handler] = {
    "/version": _version,
    "/cacerts": _cacerts,
    "/livez": _health,
    "/readyz": _health,
    "/healthz": _health,
    "/metrics": _metrics,
    "/api": _api,
    "/apis": _apis,
    "/openapi/v2": _openapi_v2,
    "/swagger-2.0.0.pb-v1": _openapi_v2,
    "/openapi/v3": _openapi_v3_index,
}
