"""httpGet probes and lifecycle hooks (pkg/probe/http, lifecycle/handlers.go).

One GET per run on a fresh connection (keep-alives off, no proxy, no compression, TLS
without verification). The request: scheme http/https, host = the action's host or the
pod IP, port by number or by the container's port name, path (with its query) as written,
``httpHeaders`` added in order (a ``Host`` header sets the request's Host), then
``User-Agent: kube-probe/1.32`` (``kube-lifecycle/`` for hooks) and ``Accept: */*`` unless
given (an empty ``Accept`` removes it).

Redirects are followed while they stay on the original host name, at most 10; a redirect
to another host is not followed and the 3xx answer itself counts (probe: a success with a
warning). Probe verdict: 200 <= status < 400 success, else 'HTTP probe failed with
statuscode: N'; transport errors are failures worded as Go's client words them
('Get "http://10.42.0.5:8080/healthz": dial tcp 10.42.0.5:8080: connect: connection
refused'). The body is read up to 10 KiB. Hooks only fail on transport errors (any HTTP
answer completes the hook), and an https hook answered in plain HTTP is retried over http.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from kubepy.kubelet.prober.common import (KUBE_VERSION, MAX_READ_LENGTH, PortError, go_quote,
                                          join_host_port, os_error_text, pod_full_name,
                                          resolve_container_port)
from kubepy.kubelet.prober.types import Obj, Outcome, ProbeResult

MAX_REDIRECTS = 10
_REDIRECTS = {301, 302, 303, 307, 308}
HTTP_TO_HTTPS = "http: server gave HTTP response to HTTPS client"


class RequestError(Exception):
    """The request could not be built (an errored probe)."""


class TransportError(Exception):
    """Go's *url.Error text: 'Get "<url>": <cause>'; ``cause`` alone for the hook fallback."""

    def __init__(self, url: str, cause: str) -> None:
        super().__init__(f"Get {go_quote(url)}: {cause}")
        self.cause = cause


class BodyError(Exception):
    """The answer came but its body could not be read (an errored probe)."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    url: str


def canonical_header(name: str) -> str:
    """textproto.CanonicalMIMEHeaderKey: content-type -> Content-Type."""
    if not name or any(c in name for c in " :\t\r\n"):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def build_request(action: Obj, container: Obj, pod_ip: str,
                  purpose: str) -> tuple[str, CIMultiDict[str]]:
    """NewRequestForHTTPGetAction: the URL and headers of the GET."""
    scheme = str(action.get("scheme") or "http").lower()
    host = action.get("host") or pod_ip
    try:
        port = resolve_container_port(action.get("port"), container)
    except PortError as exc:
        raise RequestError(str(exc)) from None
    path = str(action.get("path") or "")
    if path and not path.startswith("/"):
        path = "/" + path
    url = f"{scheme}://{join_host_port(host, port)}{path}"
    headers: CIMultiDict[str] = CIMultiDict()
    for h in action.get("httpHeaders") or []:
        headers.add(canonical_header(str(h.get("name", ""))), str(h.get("value", "")))
    if "User-Agent" not in headers:
        headers["User-Agent"] = f"kube-{purpose}/{KUBE_VERSION}"
    if "Accept" not in headers:
        headers["Accept"] = "*/*"
    elif headers.get("Accept") == "":
        del headers["Accept"]
    return url, headers


def _transport_cause(exc: BaseException, url: URL) -> str:
    addr = join_host_port(url.host or "", url.port or 0)
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return f"dial tcp: lookup {url.host}: no such host"
    if isinstance(exc, aiohttp.ClientConnectorSSLError) or isinstance(exc, aiohttp.ClientSSLError):
        text = str(exc)
        if "WRONG_VERSION_NUMBER" in text or "record layer failure" in text:
            return HTTP_TO_HTTPS
        return f"remote error: tls: {text}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"dial tcp {addr}: connect: {os_error_text(exc.os_error)}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "EOF"
    if isinstance(exc, aiohttp.ClientOSError):
        return f"read tcp {addr}: read: {os_error_text(exc)}"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"net/http: HTTP/1.x transport connection broken: {exc.message}"
    return str(exc) or type(exc).__name__


async def _read_at_most(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """utilio.ReadAtMost: the body up to ``limit`` bytes (the rest is not waited for)."""
    body = bytearray()
    while len(body) < limit:
        chunk = await resp.content.read(limit - len(body))
        if not chunk:
            break
        body += chunk
    return bytes(body)


async def http_get(url: str, headers: CIMultiDict[str], timeout: float | None) -> Answer:
    """One GET with the redirect policy above; raises TransportError or BodyError."""
    current = URL(url)
    origin_host = current.host
    hdrs = CIMultiDict(headers)
    redirects = 0
    reading = False
    connector = aiohttp.TCPConnector(ssl=False, force_close=True)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False,
                                     skip_auto_headers=("Accept-Encoding", "Accept", "User-Agent"),
                                     timeout=aiohttp.ClientTimeout(total=None)) as session:
        try:
            async with asyncio.timeout(timeout):
                while True:
                    try:
                        resp = await session.get(current, headers=hdrs, allow_redirects=False)
                    except (aiohttp.ClientError, OSError) as exc:
                        raise TransportError(str(current), _transport_cause(exc, current)) from None
                    async with resp:
                        location = resp.headers.get("Location")
                        if resp.status in _REDIRECTS and location:
                            target = current.join(URL(location))
                            if target.host == origin_host:
                                redirects += 1
                                if redirects >= MAX_REDIRECTS:  # Go: len(via) >= 10
                                    raise TransportError(str(target), "stopped after 10 redirects")
                                current = target
                                hdrs.popall("Host", None)  # Go sends req.Host only on the first
                                continue
                        reading = True
                        try:
                            body = await _read_at_most(resp, MAX_READ_LENGTH)
                        except (aiohttp.ClientError, OSError) as exc:
                            raise BodyError(str(exc) or type(exc).__name__) from None
                        return Answer(resp.status, body, str(current))
        except TimeoutError:
            if reading:
                raise BodyError("context deadline exceeded (Client.Timeout or context "
                                "cancellation while reading body)") from None
            raise TransportError(str(current), "context deadline exceeded "
                                 "(Client.Timeout exceeded while awaiting headers)") from None


async def probe_http(action: Obj, container: Obj, pod_ip: str, timeout: float | None) -> Outcome:
    try:
        url, headers = build_request(action, container, pod_ip, "probe")
        answer = await http_get(url, headers, timeout)
    except RequestError as exc:
        return Outcome(ProbeResult.UNKNOWN, str(exc))
    except TransportError as exc:
        return Outcome(ProbeResult.FAILURE, str(exc))
    except BodyError as exc:
        return Outcome(ProbeResult.UNKNOWN, str(exc))
    body = answer.body.decode("utf-8", "replace")
    if 200 <= answer.status < 400:
        if answer.status >= 300:
            return Outcome(ProbeResult.SUCCESS,
                           f"Probe terminated redirects, Response body: {body}", warning=True)
        return Outcome(ProbeResult.SUCCESS, body)
    return Outcome(ProbeResult.FAILURE, f"HTTP probe failed with statuscode: {answer.status}")


async def hook_http(action: Obj, *, pod: Obj, container: Obj, pod_ip: str,
                    timeout: float | None) -> Outcome:
    error = ""
    if not (action.get("host") or pod_ip):
        error = "failed to find networking container"
    else:
        try:
            url, headers = build_request(action, container, pod_ip, "lifecycle")
            try:
                await http_get(url, headers, timeout)
            except TransportError as exc:
                if exc.cause != HTTP_TO_HTTPS:
                    raise
                headers.popall("Authorization", None)
                await http_get("http" + url[len("https"):], headers, timeout)
        except (RequestError, TransportError, BodyError) as exc:
            error = str(exc)
    if not error:
        return Outcome(ProbeResult.SUCCESS, "")
    return Outcome(ProbeResult.FAILURE,
                   f"HTTP lifecycle hook ({action.get('path', '')}) for Container "
                   f"{go_quote(container.get('name', ''))} in Pod {go_quote(pod_full_name(pod))} "
                   f"failed - error: {error}")
