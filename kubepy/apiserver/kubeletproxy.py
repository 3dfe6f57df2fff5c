"""The apiserver's way to the kubelet: pods/log, exec, attach, portforward, nodes/proxy.

As kube-apiserver (pkg/registry/core/pod/rest, pkg/registry/core/node/rest): the pod and
its container are checked here, the node's kubelet is found at its InternalIP and
``status.daemonEndpoints.kubeletEndpoint.Port``, and the request goes there over TLS with
the apiserver's kubelet client certificate (CN=kube-apiserver-kubelet-client,
O=system:masters), without verifying the kubelet's serving certificate (as kube-apiserver
without --kubelet-certificate-authority).

- pods/log streams GET /containerLogs/{ns}/{pod}/{container} back as text/plain (each
  chunk written as it arrives, which ``follow`` needs); the kubelet's errors become Status
  bodies as GenericHttpResponseChecker makes them. A pod without a node answers 204.
- exec, attach and portforward need an upgrade (SPDY/3.1 POST or WebSocket GET) and are
  spliced through ``upgrade``; a WebSocket GET is authorized for ``create`` too (kube 1.30+).
- nodes/{name}/proxy/{path} is a plain reverse proxy to the kubelet (upgrades spliced too).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import posixpath
import socket
import ssl
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from yarl import URL

from kubepy import errors
from kubepy.api.registry import ResourceType
from kubepy.apiserver import streamoptions as so
from kubepy.apiserver import upgrade
from kubepy.apiserver.handlers import ResourceHandlers, Warnings, json_response
from kubepy.apiserver.rbac import Attributes, RBACAuthorizer, forbidden_message
from kubepy.apiserver.requestinfo import RequestInfo

log = logging.getLogger("kubepy.apiserver.kubeletproxy")

Obj = dict[str, Any]

_STREAMS = ("exec", "attach", "portforward")
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-connection",
                         "proxy-authorization", "te", "trailer", "transfer-encoding",
                         "upgrade", "host", "authorization", "content-length"})


def kubelet_client_context(cert_path: str, key_path: str) -> ssl.SSLContext:
    """TLS towards kubelets: our client certificate, the kubelet's certificate unchecked."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_path, key_path)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def _plain_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def unknown_error(message: str, code: int = 500) -> errors.StatusError:
    """A Status with no reason: what the apiserver answers for an error that is not one."""
    err = errors.StatusError(message)
    err.reason, err.code = "", code
    return err


_GENERIC = {
    404: ("NotFound", "the server could not find the requested resource"),
    400: ("BadRequest", "the server rejected our request for an unknown reason"),
    401: ("Unauthorized", "the server has asked for the client to provide credentials"),
    405: ("MethodNotAllowed", "the server does not allow this method on the requested resource"),
    409: ("Conflict", "the server reported a conflict"),
    422: ("Invalid", "the server rejected our request due to an error in our request"),
    429: ("TooManyRequests",
          "the server has received too many requests and has asked us to try again later"),
    503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
    504: ("Timeout", "the server was unable to return a response in the time allotted, but "
                     "may still be processing the request"),
}


def log_response_error(code: int, body: str, name: str) -> errors.StatusError:
    """GenericHttpResponseChecker for pods/log: the kubelet's error answer as a Status."""
    if code == 500:
        err: errors.StatusError = errors.InternalError(f"Internal error occurred: {body}",
                                                       causes=[{"message": body}])
        return err
    if code == 400:
        return errors.BadRequest(body)
    if code in (403, 406, 415):
        reason = {403: "Forbidden", 406: "NotAcceptable", 415: "UnsupportedMediaType"}[code]
        message = body
    elif code in _GENERIC:
        reason, message = _GENERIC[code]
    elif code >= 500:
        reason, message = "InternalError", (f'an error on the server ("{body}") has prevented '
                                            f"the request from succeeding")
    else:
        reason, message = "", (f"the server responded with the status code {code} but did "
                               f"not return more information")
    err = errors.StatusError(f"{message} ( pods/log {name})", name=name, kind="pods/log")
    err.reason, err.code = reason, code
    return err


def upgrade_response_error(code: int, body: bytes) -> web.Response:
    """A kubelet's non-101 answer to an upgrade, as a Status (its own Status if it sent one)."""
    with contextlib.suppress(ValueError, TypeError):
        status = orjson.loads(body)
        if isinstance(status, dict) and status.get("kind") == "Status":
            return json_response(status, code)
    reason, _ = _GENERIC.get(code, ("InternalError" if code >= 500 else "", ""))
    err = errors.StatusError(body.decode("utf-8", "replace").strip() or
                             f"the server responded with the status code {code} but did "
                             f"not return more information")
    err.reason, err.code = {403: "Forbidden"}.get(code, reason), code
    return json_response(err.to_status(), code)


def _query(request: web.Request) -> dict[str, list[str]]:
    q = request.rel_url.query
    return {k: q.getall(k) for k in q.keys()}


def _raw_headers(request: web.Request) -> list[tuple[str, str]]:
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers]


def _peer(request: web.Request) -> str | None:
    transport = request.transport
    peer = transport.get_extra_info("peername") if transport is not None else None
    return str(peer[0]) if peer else None


def proxy_path(raw_path: str) -> str:
    """NodeProxyOptions.path: what follows ``/nodes/{name}/proxy`` (cleaned as path.Join
    does, the trailing slash kept); "" when nothing follows."""
    parts = raw_path.split("/")
    try:
        at = parts.index("proxy", parts.index("nodes") + 2)
    except ValueError:
        return ""
    if len(parts) == at + 1:
        return ""
    rest = "/".join(parts[at + 1:])
    if not rest:
        return "/"  # ".../proxy/": the trailing slash of the request is kept
    cleaned = posixpath.normpath("/" + rest)
    if rest.endswith("/") and not cleaned.endswith("/"):
        cleaned += "/"
    return cleaned


class KubeletProxy:
    def __init__(self, handlers: ResourceHandlers, authorizer: RBACAuthorizer,
                 ssl_context: ssl.SSLContext) -> None:
        self.h = handlers
        self.authorizer = authorizer
        self.ssl_context = ssl_context
        self._session: aiohttp.ClientSession | None = None
        handlers.subresources[("pods", "log")] = self.log
        for kind in _STREAMS:
            handlers.subresources[("pods", kind)] = self.stream
        handlers.subresources[("nodes", "proxy")] = self.node_proxy

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self.ssl_context, limit=0),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=30),
                auto_decompress=False, trust_env=False)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ------------------------------------------------------------------ helpers

    async def kubelet_of(self, node: str) -> so.KubeletAddress:
        rt = self.h.registry.get("", "v1", "nodes")
        assert rt is not None
        return so.kubelet_address(await self.h.objects.get(rt, None, node))

    def authorize_create(self, request: web.Request, info: RequestInfo) -> None:
        """kube 1.30+: a WebSocket GET of exec/attach/portforward also needs ``create``."""
        user = request.get("user")
        if info.verb == "create" or user is None or "system:masters" in user.groups:
            return
        attrs = Attributes(verb="create", namespace=info.namespace, group=info.group,
                           resource=info.resource, subresource=info.subresource,
                           name=info.name)
        allowed, _ = self.authorizer.authorize(user, attrs)
        if not allowed:
            raise errors.Forbidden(forbidden_message(user, attrs), name=info.name,
                                   group=info.group, kind=info.resource)

    async def _upgrade(self, request: web.Request, address: so.KubeletAddress, target: str,
                       ssl_context: ssl.SSLContext | None) -> web.StreamResponse:
        headers = upgrade.forwarded_headers(_raw_headers(request), _peer(request))
        try:
            backend = await upgrade.open_backend(address.host, address.port, ssl_context,
                                                 request.method, target, headers)
        except upgrade.DialError as e:
            raise unknown_error(str(e)) from None
        if backend.head.status == 101:
            return await upgrade.splice(request, backend)
        try:
            if backend.head.status < 400:
                raise unknown_error(f"invalid upgrade response: status code "
                                    f"{backend.head.status}")
            body = await backend.read_body()
        finally:
            backend.close()
        return upgrade_response_error(backend.head.status, body)

    # ------------------------------------------------------------------ pods/log

    async def log(self, request: web.Request, info: RequestInfo, rt: ResourceType,
                  namespace: str | None, query: dict[str, str],
                  warnings: Warnings) -> web.StreamResponse:
        if info.verb != "get":
            raise errors.MethodNotAllowed(
                "the server does not allow this method on the requested resource")
        opts = so.log_options(_query(request))
        so.validate_log_options(opts, info.name)
        pod = await self.h.objects.get(rt, namespace, info.name)
        container = so.choose_container(pod, opts.container)
        node = so.node_name(pod)
        if not node:
            return web.Response(status=204)
        address = await self.kubelet_of(node)
        url = f"https://{address.netloc}/containerLogs/{namespace}/{info.name}/{container}"
        params = so.log_query(opts)
        if params:
            url += "?" + params
        try:
            upstream = await self.session().get(url, allow_redirects=False,
                                                headers={"Accept-Encoding": "identity"})
        except aiohttp.ClientConnectorError as e:
            raise unknown_error(f'Get "{url}": dial tcp {address.netloc}: '
                                f'{_dial_text(e)}') from None
        except (aiohttp.ClientError, OSError) as e:
            raise unknown_error(f'Get "{url}": {e}') from None
        with contextlib.closing(upstream):
            if not 200 <= upstream.status <= 206:
                # the real kubelet writes its errors bare; an http.Error-style newline goes
                body = (await upstream.content.read(upgrade.MAX_ERROR_BODY)).decode(
                    "utf-8", "replace").removesuffix("\n")
                raise log_response_error(upstream.status, body, info.name)
            response = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
            await response.prepare(request)
            await _copy_body(request, upstream, response)
            return response

    # ------------------------------------------------------- exec, attach, portforward

    async def stream(self, request: web.Request, info: RequestInfo, rt: ResourceType,
                     namespace: str | None, query: dict[str, str],
                     warnings: Warnings) -> web.StreamResponse:
        if request.method not in ("GET", "POST"):
            raise errors.MethodNotAllowed(
                "the server does not allow this method on the requested resource")
        self.authorize_create(request, info)
        q = _query(request)
        pod = await self.h.objects.get(rt, namespace, info.name)
        kind = info.subresource
        container = ""
        if kind != "portforward":
            container = so.choose_container(pod, so.query_str(q, "container"))
        node = so.node_name(pod)
        if not node:
            raise errors.BadRequest(f"pod {info.name} does not have a host assigned")
        address = await self.kubelet_of(node)
        path = (f"/portForward/{namespace}/{info.name}" if kind == "portforward"
                else f"/{kind}/{namespace}/{info.name}/{container}")
        params = so.stream_query(kind, q)
        if not upgrade.is_upgrade_request(_raw_headers(request)):
            raise errors.BadRequest("Upgrade request required")
        return await self._upgrade(request, address, path + ("?" + params if params else ""),
                                   self.ssl_context)

    # ------------------------------------------------------------------ nodes/proxy

    async def node_proxy(self, request: web.Request, info: RequestInfo, rt: ResourceType,
                         namespace: str | None, query: dict[str, str],
                         warnings: Warnings) -> web.StreamResponse:
        scheme, name, port = so.split_scheme_name_port(info.name)
        address = so.kubelet_address(await self.h.objects.get(rt, None, name))
        await _check_proxyable(address.host)
        ssl_context: ssl.SSLContext | None = self.ssl_context
        if port not in ("", str(address.port)):
            if not port.isdigit():
                raise errors.BadRequest(f'invalid node request "{info.name}"')
            address = so.KubeletAddress(address.host, int(port))
            ssl_context = _plain_context() if scheme == "https" else None
        path = proxy_path(request.rel_url.raw_path)
        if not path and request.method in ("GET", "HEAD"):
            location = request.rel_url.raw_path + "/"
            if request.rel_url.raw_query_string:
                location += "?" + request.rel_url.raw_query_string
            return web.Response(status=301, headers={"Location": location})
        target = (path or "/") + (f"?{request.rel_url.raw_query_string}"
                                  if request.rel_url.raw_query_string else "")
        if upgrade.is_upgrade_request(_raw_headers(request)):
            return await self._upgrade(request, address, target, ssl_context)
        url = f"{'https' if ssl_context is not None else 'http'}://{address.netloc}{target}"
        headers = [(k, v) for k, v in upgrade.forwarded_headers(_raw_headers(request),
                                                                _peer(request))
                   if k.lower() not in _HOP_BY_HOP]
        body = await request.read()
        try:
            upstream = await self.session().request(
                request.method, URL(url, encoded=True), headers=headers,
                data=body or None, allow_redirects=False,
                skip_auto_headers=("Accept-Encoding", "User-Agent", "Content-Type"),
                ssl=ssl_context if ssl_context is not None else False)
        except aiohttp.ClientConnectorError as e:
            raise unknown_error(f"error trying to reach service: dial tcp {address.netloc}: "
                                f"{_dial_text(e)}", 503) from None
        except (aiohttp.ClientError, OSError) as e:
            raise unknown_error(f"error trying to reach service: {e}", 503) from None
        with contextlib.closing(upstream):
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for k, v in upstream.headers.items():
                if k.lower() not in _HOP_BY_HOP:
                    response.headers.add(k, v)
            if upstream.content_length is not None:
                response.content_length = upstream.content_length
            await response.prepare(request)
            await _copy_body(request, upstream, response)
            return response


def _dial_text(e: aiohttp.ClientConnectorError) -> str:
    inner = e.os_error
    if isinstance(inner, ConnectionRefusedError):
        return "connect: connection refused"
    return str(inner.strerror or inner)


async def _copy_body(request: web.Request, upstream: aiohttp.ClientResponse,
                     response: web.StreamResponse) -> None:
    """Copy the upstream body chunk by chunk as it arrives; stop when the client leaves
    (checked every second, so a quiet ``follow`` stream does not outlive its reader)."""

    async def watch_client() -> None:
        while True:
            await asyncio.sleep(1.0)
            transport = request.transport
            if transport is None or transport.is_closing():
                upstream.close()
                return

    watcher = asyncio.ensure_future(watch_client())
    try:
        async for chunk in upstream.content.iter_any():
            await response.write(chunk)
    except (ConnectionError, aiohttp.ClientError, asyncio.TimeoutError):
        pass  # either side went away: the response simply ends
    finally:
        watcher.cancel()
    with contextlib.suppress(ConnectionError, RuntimeError):
        await response.write_eof()


async def _check_proxyable(host: str) -> None:
    """isProxyableHostname: every address of the node must be global unicast."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None,
                                                             type=socket.SOCK_STREAM)
    except OSError as e:
        raise errors.BadRequest(str(e)) from None
    if not infos:
        raise errors.BadRequest("no addresses for hostname")
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if (ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified
                or ip == ipaddress.ip_address("255.255.255.255")):
            raise errors.BadRequest("address not allowed")
