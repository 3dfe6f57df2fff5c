"""``ApiClient``: the asynchronous REST client every kubepy component uses to reach the API
server (client-go's RESTClient + dynamic client, on plain dicts).

Resources are addressed by ``kubepy.api.registry.ResourceType``; objects go and come as
JSON-compatible dicts. One aiohttp session per client (connection pooling, keep-alive),
authenticated by TLS client certificate (in the ``ssl.SSLContext``) and/or bearer token.

Contracts:

* A non-2xx answer raises the ``kubepy.errors`` exception its ``Status`` names
  (``errors_from_status``). A transport failure raises ``ApiUnreachable`` (a
  ``ConnectionError``).
* 429 and 5xx answers that carry ``Retry-After`` (and every 429) are retried after that many
  seconds of the injected clock (capped at ``MAX_RETRY_AFTER``), at most ``max_retries``
  times, as client-go does; then the error is raised.
* ``watch`` yields each WatchEvent dict (``{"type", "object"}``, BOOKMARK included); an ERROR
  event raises its error (410 → ``errors.Gone``); the iterator ends when the server closes
  the stream (``timeoutSeconds``). Close it early with ``aclose()`` /
  ``contextlib.aclosing``.
"""

from __future__ import annotations

import logging
import ssl
from os import PathLike
from typing import Any, AsyncIterator, Literal, Mapping

import aiohttp
import orjson

from kubepy.api.registry import ResourceType
from kubepy.client.clock import REAL_CLOCK, Clock
from kubepy.client.kubeconfig import ClientConfig, load_kubeconfig
from kubepy.client.status import errors_from_status

log = logging.getLogger("kubepy.client.rest")

Obj = dict[str, Any]
PatchType = Literal["merge", "strategic", "json", "apply"]

PATCH_CONTENT_TYPES: dict[str, str] = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
    "apply": "application/apply-patch+yaml",
}
MAX_RETRY_AFTER = 30.0


class ApiUnreachable(ConnectionError):
    """The API server could not be reached or the connection broke mid-request."""


def resource_path(rt: ResourceType, namespace: str | None = None, name: str | None = None,
                  subresource: str | None = None) -> str:
    """``/api/v1/namespaces/ns/pods/name/status`` and the like; a namespaced resource
    without ``namespace`` gives the all-namespaces collection path."""
    parts = ["/api/v1" if not rt.group else f"/apis/{rt.group}/{rt.version}"]
    if not rt.group and rt.version != "v1":
        parts = [f"/api/{rt.version}"]
    if rt.namespaced and namespace:
        parts.append(f"namespaces/{namespace}")
    parts.append(rt.plural)
    if name is not None:
        parts.append(name)
        if subresource:
            parts.append(subresource)
    return "/".join(parts)


def _object_namespace(rt: ResourceType, obj: Mapping[str, Any], namespace: str | None) -> str | None:
    if not rt.namespaced:
        return None
    ns = namespace or (obj.get("metadata") or {}).get("namespace")
    if not ns:
        raise ValueError(f"{rt.kind} is namespaced: give a namespace")
    return ns


def _bool(v: bool) -> str:
    return "true" if v else "false"


class ApiClient:
    def __init__(self, server: str, ssl_context: ssl.SSLContext | None = None,
                 token: str | None = None, *, user_agent: str = "kubepy-client",
                 max_retries: int = 10, request_timeout: float = 60.0,
                 clock: Clock | None = None, connection_limit: int = 100,
                 default_namespace: str = "default") -> None:
        self.server = server.rstrip("/")
        self.ssl_context = ssl_context
        self.token = token
        self.user_agent = user_agent
        self.max_retries = max_retries
        self.request_timeout = request_timeout
        self.clock: Clock = clock or REAL_CLOCK
        self.connection_limit = connection_limit
        self.default_namespace = default_namespace
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_config(cls, config: ClientConfig, **kwargs: Any) -> "ApiClient":
        kwargs.setdefault("default_namespace", config.namespace)
        return cls(config.server, config.ssl_context, config.token, **kwargs)

    @classmethod
    def from_kubeconfig(cls, path: str | PathLike[str], *, context: str | None = None,
                        **kwargs: Any) -> "ApiClient":
        return cls.from_config(load_kubeconfig(path, context), **kwargs)

    def derived(self, **overrides: Any) -> "ApiClient":
        """A client for the same server and credentials with its own session (its own
        connection pool), e.g. for leader election, whose renewals must not queue behind
        a component's own requests (client-go components give it a client of its own).
        ``overrides`` are constructor keywords; close it apart."""
        kwargs: dict[str, Any] = dict(
            user_agent=self.user_agent, max_retries=self.max_retries,
            request_timeout=self.request_timeout, clock=self.clock,
            connection_limit=self.connection_limit,
            default_namespace=self.default_namespace)
        kwargs.update(overrides)
        return ApiClient(self.server, self.ssl_context, self.token, **kwargs)

    # ------------------------------------------------------------------ session

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=self.ssl_context if self.ssl_context else False,
                                             limit=self.connection_limit,
                                             keepalive_timeout=60)
            headers = {"User-Agent": self.user_agent, "Accept": "application/json"}
            if self.token:
                headers["Authorization"] = f"Bearer {self.token}"
            self._session = aiohttp.ClientSession(
                connector=connector, headers=headers, json_serialize=lambda o: orjson.dumps(o).decode())
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> "ApiClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    path = staticmethod(resource_path)

    # ------------------------------------------------------------------ raw requests

    async def request(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
                      body: Any = None, content_type: str = "application/json",
                      headers: Mapping[str, str] | None = None, decode: bool = True) -> Any:
        """One request with retries on 429/5xx + Retry-After; the decoded JSON answer (or
        the text when it is not JSON; None without ``decode``: a caller that follows the
        object through an informer need not parse it twice). ``body`` dicts/lists are
        JSON-encoded; bytes and str are sent as they are. Errors are decoded always."""
        data: bytes | None
        if body is None:
            data = None
        elif isinstance(body, (bytes, str)):
            data = body.encode() if isinstance(body, str) else body
        else:
            data = orjson.dumps(body)
        hdrs = dict(headers or {})
        if data is not None:
            hdrs["Content-Type"] = content_type
        timeout = aiohttp.ClientTimeout(total=self.request_timeout)
        attempt = 0
        while True:
            try:
                async with self._get_session().request(
                        method, self.server + path, params=params, data=data, headers=hdrs,
                        timeout=timeout) as resp:
                    raw = await resp.read()
                    status = resp.status
                    retry_after = resp.headers.get("Retry-After")
            except (aiohttp.ClientError, TimeoutError, OSError) as e:
                raise ApiUnreachable(f"{method} {path}: {e!r}") from e
            if status < 300:
                return _decode(raw) if decode else None
            wait = _retry_delay(status, retry_after)
            if wait is not None and attempt < self.max_retries:
                attempt += 1
                log.debug("%s %s: HTTP %d, retry %d in %.1fs", method, path, status, attempt, wait)
                await self.clock.sleep(wait)
                continue
            raise errors_from_status(_status_body(raw), status)

    # ------------------------------------------------------------------ verbs

    async def get(self, rt: ResourceType, name: str, namespace: str | None = None, *,
                  subresource: str | None = None) -> Obj:
        obj: Obj = await self.request("GET", resource_path(rt, namespace, name, subresource))
        return obj

    async def list(self, rt: ResourceType, namespace: str | None = None, *,
                   label_selector: str | None = None, field_selector: str | None = None,
                   limit: int | None = None, continue_: str | None = None,
                   resource_version: str | None = None) -> Obj:
        """One page of the collection: the ``<Kind>List`` dict (items lack kind/apiVersion,
        as the API server sends them; ``metadata.continue`` names the next page)."""
        params: dict[str, str] = {}
        if label_selector:
            params["labelSelector"] = label_selector
        if field_selector:
            params["fieldSelector"] = field_selector
        if limit:
            params["limit"] = str(limit)
        if continue_:
            params["continue"] = continue_
        if resource_version is not None:
            params["resourceVersion"] = resource_version
        page: Obj = await self.request("GET", resource_path(rt, namespace), params=params)
        return page

    async def create(self, rt: ResourceType, obj: Obj, namespace: str | None = None, *,
                     field_manager: str | None = None, dry_run: bool = False) -> Obj:
        ns = _object_namespace(rt, obj, namespace)
        created: Obj = await self.request("POST", resource_path(rt, ns),
                                          params=_write_params(field_manager, dry_run), body=obj)
        return created

    async def create_subresource(self, rt: ResourceType, name: str, subresource: str,
                                 body: Obj, namespace: str | None = None, *,
                                 dry_run: bool = False) -> Any:
        """POST to a subresource: ``pods/binding``, ``pods/eviction``, ``serviceaccounts/token``."""
        ns = _object_namespace(rt, body, namespace)
        return await self.request("POST", resource_path(rt, ns, name, subresource),
                                  params=_write_params(None, dry_run), body=body)

    async def update(self, rt: ResourceType, obj: Obj, *, subresource: str | None = None,
                     field_manager: str | None = None, dry_run: bool = False,
                     decode: bool = True) -> Obj:
        """PUT ``obj`` (its metadata names it; its resourceVersion is the precondition).
        Without ``decode`` the stored object is not parsed and ``{}`` is returned."""
        meta = obj.get("metadata") or {}
        ns = _object_namespace(rt, obj, None)
        out = await self.request("PUT", resource_path(rt, ns, meta["name"], subresource),
                                 params=_write_params(field_manager, dry_run), body=obj,
                                 decode=decode)
        return out if decode else {}

    async def update_status(self, rt: ResourceType, obj: Obj) -> Obj:
        return await self.update(rt, obj, subresource="status")

    async def patch(self, rt: ResourceType, name: str, body: Any, *,
                    namespace: str | None = None, patch_type: PatchType = "merge",
                    field_manager: str | None = None, force: bool = False,
                    subresource: str | None = None, dry_run: bool = False) -> Obj:
        if patch_type not in PATCH_CONTENT_TYPES:
            raise ValueError(f"unknown patch type {patch_type!r}")
        if patch_type == "apply" and not field_manager:
            raise ValueError("server-side apply needs a field_manager")
        params = _write_params(field_manager, dry_run)
        if force:
            params["force"] = "true"
        ns = namespace if rt.namespaced else None
        if rt.namespaced and not ns:
            raise ValueError(f"{rt.kind} is namespaced: give a namespace")
        patched: Obj = await self.request("PATCH", resource_path(rt, ns, name, subresource),
                                          params=params, body=body,
                                          content_type=PATCH_CONTENT_TYPES[patch_type])
        return patched

    async def apply(self, rt: ResourceType, obj: Obj, *, field_manager: str,
                    force: bool = False, namespace: str | None = None,
                    subresource: str | None = None, dry_run: bool = False) -> Obj:
        """Server-side apply of ``obj`` (its metadata names it)."""
        ns = _object_namespace(rt, obj, namespace)
        return await self.patch(rt, obj["metadata"]["name"], obj, namespace=ns,
                                patch_type="apply", field_manager=field_manager, force=force,
                                subresource=subresource, dry_run=dry_run)

    async def delete(self, rt: ResourceType, name: str, namespace: str | None = None, *,
                     grace_period_seconds: int | None = None,
                     propagation_policy: str | None = None,
                     preconditions: Mapping[str, str] | None = None,
                     dry_run: bool = False) -> Obj:
        """DELETE; the answer is the object (still terminating, or as last stored) or a
        ``Status``. ``preconditions`` is ``{"uid": ..., "resourceVersion": ...}``."""
        body = _delete_options(grace_period_seconds, propagation_policy, preconditions, dry_run)
        ns = namespace if rt.namespaced else None
        answer: Obj = await self.request("DELETE", resource_path(rt, ns, name), body=body)
        return answer

    async def delete_collection(self, rt: ResourceType, namespace: str | None = None, *,
                                label_selector: str | None = None,
                                field_selector: str | None = None,
                                grace_period_seconds: int | None = None,
                                propagation_policy: str | None = None,
                                dry_run: bool = False) -> Obj:
        params: dict[str, str] = {}
        if label_selector:
            params["labelSelector"] = label_selector
        if field_selector:
            params["fieldSelector"] = field_selector
        body = _delete_options(grace_period_seconds, propagation_policy, None, dry_run)
        status: Obj = await self.request("DELETE", resource_path(rt, namespace), params=params,
                                         body=body)
        return status

    async def watch(self, rt: ResourceType, namespace: str | None = None, *,
                    resource_version: str | None = None, label_selector: str | None = None,
                    field_selector: str | None = None, timeout_seconds: int | None = None,
                    allow_bookmarks: bool = True) -> AsyncIterator[Obj]:
        """Stream WatchEvents from ``resource_version`` (None: current objects as ADDED first)."""
        params: dict[str, str] = {"watch": "true", "allowWatchBookmarks": _bool(allow_bookmarks)}
        if resource_version is not None:
            params["resourceVersion"] = resource_version
        if label_selector:
            params["labelSelector"] = label_selector
        if field_selector:
            params["fieldSelector"] = field_selector
        if timeout_seconds is not None:
            params["timeoutSeconds"] = str(timeout_seconds)
        path = resource_path(rt, namespace)
        read_timeout = None if timeout_seconds is None else timeout_seconds + 60.0
        timeout = aiohttp.ClientTimeout(total=None, connect=self.request_timeout,
                                        sock_read=read_timeout)
        try:
            async with self._get_session().get(self.server + path, params=params,
                                               timeout=timeout) as resp:
                if resp.status >= 300:
                    raise errors_from_status(_status_body(await resp.read()), resp.status)
                buffer = b""
                async for chunk in resp.content.iter_any():
                    # one split per chunk: splitting off one line at a time copies the rest
                    # of a large chunk once per event
                    lines = (buffer + chunk).split(b"\n")
                    buffer = lines.pop()
                    for line in lines:
                        if line.strip():
                            yield _watch_event(orjson.loads(line))
                if buffer.strip():
                    yield _watch_event(orjson.loads(buffer))
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            raise ApiUnreachable(f"watch {path}: {e!r}") from e


def _watch_event(event: Obj) -> Obj:
    if event.get("type") == "ERROR":
        status = event.get("object") or {}
        raise errors_from_status(status, int(status.get("code") or 500))
    return event


def _write_params(field_manager: str | None, dry_run: bool) -> dict[str, str]:
    params: dict[str, str] = {}
    if field_manager:
        params["fieldManager"] = field_manager
    if dry_run:
        params["dryRun"] = "All"
    return params


def _delete_options(grace: int | None, propagation: str | None,
                    preconditions: Mapping[str, str] | None, dry_run: bool) -> Obj | None:
    opts: Obj = {}
    if grace is not None:
        opts["gracePeriodSeconds"] = grace
    if propagation:
        opts["propagationPolicy"] = propagation
    if preconditions:
        opts["preconditions"] = dict(preconditions)
    if dry_run:
        opts["dryRun"] = ["All"]
    if not opts:
        return None
    return {"kind": "DeleteOptions", "apiVersion": "v1", **opts}


def _decode(raw: bytes) -> Any:
    if not raw:
        return {}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode(errors="replace")


def _status_body(raw: bytes) -> Obj:
    body = _decode(raw)
    if isinstance(body, dict):
        return body
    return {"message": str(body).strip()}


def _retry_delay(status: int, retry_after: str | None) -> float | None:
    """Seconds to wait before retrying, or None when this answer is final."""
    if status != 429 and not (status >= 500 and retry_after):
        return None
    try:
        seconds = float(retry_after) if retry_after else 1.0
    except ValueError:
        seconds = 1.0
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)
