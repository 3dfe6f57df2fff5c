"""The apiserver's way to the kubelet, against a test kubelet peer and kubepy's own.

``TestKubelet`` is a small HTTPS server run in this process: it demands a client
certificate signed by the cluster CA (as the real kubelet does), records what it is sent,
answers /containerLogs (plain, follow in timed chunks, kubelet-style errors), upgrades
/exec /attach /portForward (SPDY-style upgrades echo bytes, except for pod ``sp``, which gets
real SPDY/3.1 exec and port-forward sessions for kubectl 1.20-1.29; WebSocket upgrades speak
the channel protocol so kubectl 1.30+ and the official Python client can exec), and serves
/healthz, /stats/summary and /echo for nodes/proxy. It is a peer of the apiserver, not a
mock of kubepy: every request goes through a real ``kubepy server`` over real TLS.
kubepy's own KubeletServer, given a file-backed StreamingRuntime, then serves kubectl logs
and nodes/proxy the same way.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import re
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest

from kubepy import errors
from kubepy.apiserver import certs
from kubepy.apiserver import upgrade as upgrade_mod
from kubepy.apiserver import streamoptions as so
from tests.conftest import ServerProcess, kubectl_binaries
from tests.integration.conftest import ADMIN_TOKEN, ALICE_TOKEN, Api, assert_status

Obj = dict[str, Any]
_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def host_ip() -> str:
    """This host's default-route address (nodes/proxy refuses loopback kubelets)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))
            return s.getsockname()[0]
    except OSError:
        return "127.0.0.1"


HOST = host_ip()
needs_routable = pytest.mark.skipif(HOST.startswith("127."), reason="no non-loopback address")


# --------------------------------------------------------------------------- test kubelet


@dataclass
class Seen:
    method: str
    target: str
    headers: list[tuple[str, str]]
    subject: dict[str, list[str]]
    echoed: int = 0
    closed: threading.Event = field(default_factory=threading.Event)

    def header(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


def _ws_frame(payload: bytes, opcode: int = 2) -> bytes:
    n = len(payload)
    if n < 126:
        head = bytes([0x80 | opcode, n])
    elif n < 65536:
        head = bytes([0x80 | opcode, 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 127]) + n.to_bytes(8, "big")
    return head + payload


class TestKubelet:
    __test__ = False

    def __init__(self, tls_dir: Path, work: Path) -> None:
        pair = certs.issue(certs.KeyPair(tls_dir / "ca.crt", tls_dir / "ca.key"),
                           certs.KeyPair(work / "kubelet.crt", work / "kubelet.key"),
                           common_name="test-kubelet", ip_addresses=(HOST,), server=True)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pair.cert_path, pair.key_path)
        ctx.load_verify_locations(tls_dir / "ca.crt")
        ctx.verify_mode = ssl.CERT_REQUIRED
        self.ctx = ctx
        self.seen: list[Seen] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, HOST, 0, ssl=ctx), self.loop).result(10)
        self.port: int = self.server.sockets[0].getsockname()[1]
        self.web = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._web, "127.0.0.1", 0), self.loop).result(10)
        self.web_port: int = self.web.sockets[0].getsockname()[1]

    def close(self) -> None:
        async def stop() -> None:
            self.server.close()
            self.web.close()
        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    def last(self, prefix: str) -> Seen:
        for s in reversed(self.seen):
            if s.target.startswith(prefix):
                return s
        raise AssertionError(f"the kubelet saw no request for {prefix}: "
                             f"{[s.target for s in self.seen]}")

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = [(k.strip(), v.strip()) for k, _, v in
                   (line.partition(":") for line in lines[1:] if line)]
        subject: dict[str, list[str]] = {}
        for rdn in (writer.get_extra_info("peercert") or {}).get("subject", ()):
            for k, v in rdn:
                subject.setdefault(k, []).append(v)
        seen = Seen(method, target, headers, subject)
        self.seen.append(seen)
        try:
            await self._route(seen, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            seen.closed.set()
            writer.close()

    async def _route(self, seen: Seen, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        url = urllib.parse.urlsplit(seen.target)
        parts = url.path.strip("/").split("/")
        if parts[0] == "containerLogs":
            await self._logs(parts[1:], urllib.parse.parse_qs(url.query), url.query, writer)
        elif parts[0] in ("exec", "attach", "portForward"):
            await self._upgrade(seen, parts, reader, writer)
        elif url.path == "/healthz":
            _respond(writer, 200, b"ok", "text/plain")
        elif url.path == "/stats/summary":
            _respond(writer, 200, b'{"node":{"nodeName":"test"}}', "application/json")
        elif url.path == "/echo":
            length = int(dict((k.lower(), v) for k, v in seen.headers).get("content-length", 0))
            body = await reader.readexactly(length) if length else b""
            _respond(writer, 201, f"{seen.method} {url.query} ".encode() + body, "text/plain")
        else:
            _respond(writer, 404, b"404 page not found\n", "text/plain")
        await writer.drain()

    async def _logs(self, parts: list[str], query: dict[str, list[str]], raw: str,
                    writer: asyncio.StreamWriter) -> None:
        ns, pod, container = parts
        if pod == "vanished":
            _respond(writer, 404, f'pod "{pod}" does not exist'.encode(), "text/plain")
        elif container == "waiting":
            # with http.Error's newline, as kubepy's kubelet writes errors
            _respond(writer, 400, f'container "{container}" in pod "{pod}" is waiting to '
                                  f'start: ContainerCreating\n'.encode(), "text/plain")
        elif "follow" in query:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n")
            for i in range(3):
                line = f"line {i} at {time.monotonic():.3f}\n".encode()
                writer.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
                await writer.drain()
                await asyncio.sleep(0.6)
            writer.write(b"0\r\n\r\n")
        else:
            _respond(writer, 200, f"logs of {ns}/{pod}/{container}\nquery={raw}\n".encode(),
                     "text/plain")

    async def _upgrade(self, seen: Seen, parts: list[str], reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter) -> None:
        if parts[-1] == "refused":
            body = json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {},
                               "status": "Failure", "reason": "NotFound", "code": 404,
                               "message": 'container not found ("refused")'}).encode()
            _respond(writer, 404, body, "application/json")
            return
        upgrade = (seen.header("Upgrade") or [""])[0]
        if upgrade.lower() == "websocket":
            await self._websocket(seen, parts, reader, writer)
            return
        if parts[2] == "sp":  # the pod served with real SPDY sessions
            await self._spdy(seen, parts, reader, writer)
            return
        versions = [v.strip() for h in seen.header("X-Stream-Protocol-Version")
                    for v in h.split(",")]
        # the greeting goes out in the same write as the 101 head: the apiserver must not
        # lose bytes that arrive together with the head
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                     b"Upgrade: " + upgrade.encode() + b"\r\n" +
                     (b"X-Stream-Protocol-Version: " + versions[0].encode() + b"\r\n"
                      if versions else b"") + b"\r\nhello\n")
        await writer.drain()
        while True:
            data = await reader.read(65536)
            if not data:
                return
            seen.echoed += len(data)
            writer.write(data)
            await writer.drain()

    async def _spdy(self, seen: Seen, parts: list[str], reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter) -> None:
        """A real SPDY/3.1 exec (protocol v4) or port-forward session, as the kubelet runs
        them: exec answers ``ran <command>`` (or copies stdin for ``cat``) and exits 3 for a
        command ending in ``fail``; port-forward connects every data stream to
        ``self.web_port``."""
        from kubepy.streaming.spdy import SpdySession, stream_reader_writer

        offered = [v.strip() for h in seen.header("X-Stream-Protocol-Version")
                   for v in h.split(",")]
        proto = next(p for p in ("portforward.k8s.io", "v4.channel.k8s.io") if p in offered)
        writer.write((f"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                      f"Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: {proto}\r\n\r\n"
                      ).encode())
        await writer.drain()
        session = SpdySession(*stream_reader_writer(reader, writer), server=True)
        loop_task = asyncio.ensure_future(session.run())
        try:
            if proto == "portforward.k8s.io":
                await self._port_forward(session)
            else:
                await self._exec(session, urllib.parse.parse_qs(
                    urllib.parse.urlsplit(seen.target).query))
            await asyncio.wait_for(asyncio.shield(loop_task), 10)
        finally:
            await session.close()
            loop_task.cancel()

    async def _exec(self, session: Any, query: dict[str, list[str]]) -> None:
        wanted = {"error"} | {k for k in ("stdin", "stdout", "stderr") if k in query}
        streams: dict[str, Any] = {}
        while not wanted <= streams.keys():
            stream = await session.accept()
            if stream is None:
                return
            await stream.reply()
            streams[stream.headers.get("streamtype", "")] = stream
        words = query.get("command", [])
        if words[:1] == ["cat"] and "stdin" in streams:
            while data := await streams["stdin"].read():
                await streams["stdout"].write(data)
        else:
            await streams["stdout"].write(f"ran {' '.join(words)}\n".encode())
        for name in ("stdout", "stderr"):
            if name in streams:
                await streams[name].close()
        if words[-1:] == ["fail"]:
            status = {"metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
                      "message": "command terminated with non-zero exit code: exit 3",
                      "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}}
        else:
            status = {"metadata": {}, "status": "Success"}
        await streams["error"].write(json.dumps(status).encode())
        await streams["error"].close()

    async def _port_forward(self, session: Any) -> None:
        pairs: dict[str, dict[str, Any]] = {}
        tasks = []
        while (stream := await session.accept()) is not None:
            await stream.reply()
            pair = pairs.setdefault(stream.headers.get("requestid", ""), {})
            pair[stream.headers.get("streamtype", "")] = stream
            if {"error", "data"} <= pair.keys():
                tasks.append(asyncio.ensure_future(self._forward(pair["error"], pair["data"])))
        for t in tasks:
            t.cancel()

    async def _forward(self, error: Any, data: Any) -> None:
        r, w = await asyncio.open_connection("127.0.0.1", self.web_port)

        async def up() -> None:
            while chunk := await data.read():
                w.write(chunk)
                await w.drain()
            w.write_eof()

        upward = asyncio.ensure_future(up())
        try:
            while chunk := await r.read(65536):
                await data.write(chunk)
            await data.close()
            await error.close()
        finally:
            upward.cancel()
            w.close()

    async def _web(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """The pod's web server behind port-forward: one answer per connection."""
        try:
            await reader.readuntil(b"\r\n\r\n")
            _respond(writer, 200, b"hi-from-the-pod\n", "text/plain")
            await writer.drain()
        finally:
            writer.close()

    async def _websocket(self, seen: Seen, parts: list[str], reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        key = seen.header("Sec-WebSocket-Key")[0]
        offered = [p.strip() for h in seen.header("Sec-WebSocket-Protocol")
                   for p in h.split(",")]
        proto = next((p for p in ("v5.channel.k8s.io", "v4.channel.k8s.io") if p in offered),
                     None)
        if proto is None:
            _respond(writer, 400, b"unsupported protocol", "text/plain")
            return
        accept = base64.b64encode(hashlib.sha1((key + _WS_GUID).encode()).digest()).decode()
        writer.write((f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n"
                      f"Sec-WebSocket-Protocol: {proto}\r\n\r\n").encode())
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(seen.target).query)
        words = query.get("command", [])
        writer.write(_ws_frame(b"\x01" + f"ran {' '.join(words)}\n".encode()))
        if words[-1:] == ["fail"]:
            status = {"metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
                      "message": "command terminated with non-zero exit code: exit 3",
                      "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}}
        else:
            status = {"metadata": {}, "status": "Success"}
        writer.write(_ws_frame(b"\x03" + json.dumps(status).encode()))
        writer.write(_ws_frame((1000).to_bytes(2, "big"), opcode=8))
        await writer.drain()
        with _suppress():
            await asyncio.wait_for(reader.read(65536), 2)


class _suppress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> bool:
        return exc[0] is not None and issubclass(exc[0], (Exception,))


def _respond(writer: asyncio.StreamWriter, code: int, body: bytes, ctype: str) -> None:
    reason = {200: "OK", 201: "Created", 400: "Bad Request", 404: "Not Found"}.get(code, "X")
    writer.write(f"HTTP/1.1 {code} {reason}\r\nContent-Type: {ctype}\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n".encode() + body)


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def kubelet(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[TestKubelet]:
    k = TestKubelet(server.data_dir / "tls", tmp_path_factory.mktemp("test-kubelet"))
    try:
        yield k
    finally:
        k.close()


def _node(api: Api, name: str, ip: str, port: int) -> None:
    api.create("/api/v1/nodes", {
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
        "status": {"addresses": [{"type": "InternalIP", "address": ip},
                                 {"type": "Hostname", "address": name}],
                   "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}}})


@pytest.fixture(scope="module")
def node(api: Api, kubelet: TestKubelet) -> Iterator[str]:
    name = f"kp-node-{os.getpid()}"
    _node(api, name, HOST, kubelet.port)
    try:
        yield name
    finally:
        api.delete(f"/api/v1/nodes/{name}")


def _pod(api: Api, ns: str, name: str, node: str | None, containers: tuple[str, ...] = ("c",),
         init: tuple[str, ...] = ()) -> None:
    spec: Obj = {"containers": [{"name": c, "image": "busybox:1.36"} for c in containers]}
    if init:
        spec["initContainers"] = [{"name": c, "image": "busybox:1.36"} for c in init]
    if node:
        spec["nodeName"] = node
    api.create(f"/api/v1/namespaces/{ns}/pods",
               {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec})


@pytest.fixture
def pods(api: Api, ns: str, node: str) -> str:
    _pod(api, ns, "p", node)
    _pod(api, ns, "multi", node, ("a", "b"), init=("init",))
    _pod(api, ns, "unscheduled", None)
    _pod(api, ns, "vanished", node)
    _pod(api, ns, "orphan", "ghost-node")
    _pod(api, ns, "sp", node, ("real",))
    # kubectl port-forward wants a running pod (the test kubelet posts no status)
    api.ok("PATCH", f"/api/v1/namespaces/{ns}/pods/sp/status", 200,
           body={"status": {"phase": "Running"}},
           content_type="application/merge-patch+json")
    return ns


# ------------------------------------------------------------------------------ pure parts


@pytest.mark.parametrize("query,expected", [
    ({}, ""),
    ({"follow": ["true"]}, "follow=true"),
    ({"follow": [""]}, "follow=true"),
    ({"follow": ["0"], "previous": ["False"]}, ""),
    ({"tailLines": ["5"], "timestamps": ["1"], "limitBytes": ["100"], "previous": ["true"]},
     "limitBytes=100&previous=true&tailLines=5&timestamps=true"),
    ({"sinceSeconds": ["+30"]}, "sinceSeconds=30"),
    ({"sinceTime": ["2024-01-02T03:04:05.123+01:00"]}, "sinceTime=2024-01-02T02%3A04%3A05Z"),
], ids=["none", "follow", "bare-flag", "false-flags", "several", "plus-sign", "since-time"])
def test_log_query_table(query: dict[str, list[str]], expected: str) -> None:
    assert so.log_query(so.log_options(query)) == expected


@pytest.mark.parametrize("kind,query,expected", [
    ("exec", {"command": ["sh", "-c", "echo a b"], "stdout": ["true"], "stdin": ["false"],
              "tty": ["true"], "container": ["c"]},
     "command=sh&command=-c&command=echo+a+b&stdout=1&tty=1"),
    ("attach", {"stdin": ["true"], "stdout": ["1"], "stderr": ["true"]},
     "stderr=1&stdin=1&stdout=1"),
    ("portforward", {"ports": ["80", "8080"]}, "port=80%2C8080"),
    ("portforward", {}, ""),
], ids=["exec", "attach", "portforward", "portforward-no-ports"])
def test_stream_query_table(kind: str, query: dict[str, list[str]], expected: str) -> None:
    assert so.stream_query(kind, query) == expected


@pytest.mark.parametrize("headers,upgrade", [
    ([("Connection", "Upgrade"), ("Upgrade", "SPDY/3.1")], True),
    ([("connection", "keep-alive, upgrade")], True),
    ([("Connection", "keep-alive"), ("Connection", "Upgrade")], True),
    ([("Upgrade", "websocket")], False),
    ([("Connection", "upgraded")], False),
], ids=["spdy", "token-list", "repeated", "no-connection", "not-a-token"])
def test_is_upgrade_request_table(headers: list[tuple[str, str]], upgrade: bool) -> None:
    assert upgrade_mod.is_upgrade_request(headers) is upgrade


def test_forwarded_headers_drop_credentials_keep_repeats() -> None:
    got = upgrade_mod.forwarded_headers([
        ("Host", "api"), ("Authorization", "Bearer x"), ("Impersonate-User", "bob"),
        ("Impersonate-Group", "g"), ("X-Stream-Protocol-Version", "v4.channel.k8s.io"),
        ("X-Stream-Protocol-Version", "v3.channel.k8s.io"), ("Content-Length", "0"),
        ("X-Forwarded-For", "10.0.0.1"), ("Upgrade", "SPDY/3.1")], "127.0.0.1")
    assert got == [("X-Stream-Protocol-Version", "v4.channel.k8s.io"),
                   ("X-Stream-Protocol-Version", "v3.channel.k8s.io"),
                   ("Upgrade", "SPDY/3.1"), ("X-Forwarded-For", "10.0.0.1, 127.0.0.1")]


@pytest.mark.parametrize("raw,path", [
    ("/api/v1/nodes/n/proxy", ""),
    ("/api/v1/nodes/n/proxy/", "/"),
    ("/api/v1/nodes/n/proxy/stats/summary", "/stats/summary"),
    ("/api/v1/nodes/n/proxy/logs/", "/logs/"),
    ("/api/v1/nodes/proxy/proxy/a/../b", "/b"),
], ids=["none", "root", "path", "trailing-slash", "node-named-proxy"])
def test_proxy_path_table(raw: str, path: str) -> None:
    from kubepy.apiserver.kubeletproxy import proxy_path

    assert proxy_path(raw) == path


@pytest.mark.parametrize("status,address", [
    ({"addresses": [{"type": "Hostname", "address": "h"},
                    {"type": "InternalIP", "address": "10.0.0.5"}],
      "daemonEndpoints": {"kubeletEndpoint": {"Port": 10251}}}, ("10.0.0.5", 10251)),
    ({"addresses": [{"type": "InternalIP", "address": "fd00::5"}]}, ("fd00::5", 10250)),
    ({"addresses": [{"type": "Hostname", "address": "h"}]},
     "no preferred addresses found; known addresses: [{Hostname h}]"),
], ids=["internal-ip-and-port", "default-port", "no-internal-ip"])
def test_kubelet_address_table(status: Obj, address: Any) -> None:
    node = {"metadata": {"name": "n"}, "status": status}
    if isinstance(address, str):
        with pytest.raises(errors.InternalError, match=re.escape(address)):
            so.kubelet_address(node)
    else:
        assert (so.kubelet_address(node).host, so.kubelet_address(node).port) == address


@pytest.mark.parametrize("code,body,status", [
    (500, "boom", (500, "InternalError", "Internal error occurred: boom")),
    (400, "bad", (400, "BadRequest", "bad")),
    (404, "pod gone", (404, "NotFound",
                       "the server could not find the requested resource ( pods/log p)")),
    (403, "no", (403, "Forbidden", "no ( pods/log p)")),
    (502, "gw", (502, "InternalError", 'an error on the server ("gw") has prevented the '
                                       'request from succeeding ( pods/log p)')),
    (418, "tea", (418, "", "the server responded with the status code 418 but did not return "
                           "more information ( pods/log p)")),
], ids=["500", "400", "404", "403", "502", "418"])
def test_log_response_error_table(code: int, body: str, status: tuple[int, str, str]) -> None:
    from kubepy.apiserver.kubeletproxy import log_response_error

    err = log_response_error(code, body, "p")
    assert (err.code, err.reason, err.message) == status


# ------------------------------------------------------------------------------ pods/log


def test_log_reaches_the_kubelet_with_the_client_certificate(api: Api, pods: str,
                                                             kubelet: TestKubelet) -> None:
    r = api.get(f"/api/v1/namespaces/{pods}/pods/p/log",
                params={"tailLines": "5", "timestamps": "true", "sinceSeconds": "10"})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "text/plain"
    assert r.text == (f"logs of {pods}/p/c\n"
                      f"query=sinceSeconds=10&tailLines=5&timestamps=true\n")
    seen = kubelet.last(f"/containerLogs/{pods}/p/c")
    assert seen.subject == {"organizationName": ["system:masters"],
                            "commonName": ["kube-apiserver-kubelet-client"]}
    r = api.get(f"/api/v1/namespaces/{pods}/pods/multi/log", params={"container": "init"})
    assert r.status_code == 200 and r.text.startswith(f"logs of {pods}/multi/init\n")


@pytest.mark.parametrize("pod,params,code,reason,message", [
    ("p", {"tailLines": "abc"}, 400, "BadRequest",
     'strconv.ParseInt: parsing "abc": invalid syntax'),
    ("p", {"sinceTime": "yesterday"}, 400, "BadRequest",
     'parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" '
     'as "2006"'),
    ("p", {"tailLines": "-1"}, 422, "Invalid",
     'PodLogOptions "p" is invalid: tailLines: Invalid value: -1: must be greater than or '
     'equal to 0'),
    ("p", {"limitBytes": "0", "sinceSeconds": "0"}, 422, "Invalid",
     'PodLogOptions "p" is invalid: [limitBytes: Invalid value: 0: must be greater than 0, '
     'sinceSeconds: Invalid value: 0: must be greater than 0]'),
    ("p", {"sinceSeconds": "5", "sinceTime": "2024-01-01T00:00:00Z"}, 422, "Invalid",
     'PodLogOptions "p" is invalid: : Forbidden: at most one of `sinceTime` or '
     '`sinceSeconds` may be specified'),
    ("multi", {}, 400, "BadRequest",
     "a container name must be specified for pod multi, choose one of: [init a b]"),
    ("multi", {"container": "zzz"}, 400, "BadRequest", "container zzz is not valid for pod multi"),
    ("nope", {}, 404, "NotFound", 'pods "nope" not found'),
    ("orphan", {}, 404, "NotFound", 'nodes "ghost-node" not found'),
    ("vanished", {}, 404, "NotFound",
     "the server could not find the requested resource ( pods/log vanished)"),
    ("p", {"container": "c", "follow": "false", "tailLines": "1", "previous": "1",
           "insecureSkipTLSVerifyBackend": "true", "timestamps": "0"}, 200, "", ""),
], ids=["int-syntax", "time-syntax", "negative-tail", "zero-limit-and-since", "since-both",
        "choose-container", "unknown-container", "no-pod", "no-node", "kubelet-404", "ok"])
def test_log_errors(api: Api, pods: str, pod: str, params: dict[str, str], code: int,
                    reason: str, message: str) -> None:
    r = api.get(f"/api/v1/namespaces/{pods}/pods/{pod}/log", params=params)
    if code == 200:
        assert r.status_code == 200 and "query=previous=true&tailLines=1\n" in r.text, r.text
        return
    assert_status(r, code, reason, message)


def test_log_kubelet_bad_request_and_unscheduled_pod(api: Api, pods: str, ns: str,
                                                     node: str) -> None:
    _pod(api, ns, "waits", node, ("waiting",))
    r = api.get(f"/api/v1/namespaces/{ns}/pods/waits/log")
    assert_status(r, 400, "BadRequest",
                  'container "waiting" in pod "waits" is waiting to start: ContainerCreating')
    r = api.get(f"/api/v1/namespaces/{ns}/pods/unscheduled/log")
    assert r.status_code == 204 and r.content == b""


def test_log_and_upgrades_are_connect_in_metrics(api: Api, server: ServerProcess,
                                                 pods: str) -> None:
    assert api.get(f"/api/v1/namespaces/{pods}/pods/p/log").status_code == 200
    _upgrade_request(server, f"/api/v1/namespaces/{pods}/pods/p/exec?command=true&stdout=1",
                     method="GET")
    # an upgraded request is counted when its splice ends, a moment after the client left
    deadline = time.monotonic() + 5
    for sub, code in (("log", 200), ("exec", 101)):
        pattern = (r'apiserver_request_total\{verb="CONNECT",[^}]*resource="pods",'
                   rf'subresource="{sub}",[^}}]*code="{code}"')
        while not re.search(pattern, api.get("/metrics").text):
            assert time.monotonic() < deadline, sub
            time.sleep(0.1)


def test_log_follow_streams_each_chunk_as_it_comes(api: Api, pods: str) -> None:
    started = time.monotonic()
    r = api.get(f"/api/v1/namespaces/{pods}/pods/p/log", params={"follow": "true"},
                stream=True)
    assert r.status_code == 200
    arrivals = []
    for line in r.iter_lines(chunk_size=None):
        arrivals.append((time.monotonic() - started, line.decode()))
    assert [text.split(" at ")[0] for _, text in arrivals] == ["line 0", "line 1", "line 2"]
    # the first line is here long before the kubelet wrote the last one (1.2 s later)
    assert arrivals[0][0] < arrivals[2][0] - 0.8, arrivals


@pytest.mark.parametrize("version", sorted(kubectl_binaries()))
def test_kubectl_logs(server: ServerProcess, pods: str, version: str) -> None:
    kubectl = str(kubectl_binaries()[version])
    out = subprocess.run([kubectl, "--kubeconfig", str(server.kubeconfig), "-n", pods, "logs",
                          "p", "--tail=3"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"logs of {pods}/p/c\nquery=tailLines=3\n"
    out = subprocess.run([kubectl, "--kubeconfig", str(server.kubeconfig), "-n", pods, "logs",
                          "-f", "p"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert [line.split(" at ")[0] for line in out.stdout.splitlines()] == [
        "line 0", "line 1", "line 2"]


# ------------------------------------------------------------------ exec, attach, portforward


def _tls_to(server: ServerProcess, *, cert: bool) -> ssl.SSLSocket:
    tls = server.data_dir / "tls"
    ctx = ssl.create_default_context(cafile=str(tls / "ca.crt"))
    ctx.check_hostname = False
    if cert:
        ctx.load_cert_chain(str(tls / "admin.crt"), str(tls / "admin.key"))
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    return ctx.wrap_socket(sock)


def _read_head(sock: ssl.SSLSocket) -> tuple[int, dict[str, list[str]], bytes]:
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed inside the head: {buf!r}")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers.setdefault(k.strip().lower(), []).append(v.strip())
    return int(lines[0].split()[1]), headers, rest


def _recv_exactly(sock: ssl.SSLSocket, n: int, have: bytes = b"") -> bytes:
    buf = bytearray(have)
    while len(buf) < n:
        chunk = sock.recv(min(65536, n - len(buf)))
        if not chunk:
            raise AssertionError(f"closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


@pytest.mark.parametrize("sub,query,kubelet_target", [
    ("exec", "command=sh&command=-c&command=echo%20hi&stdin=true&stdout=true&container=c",
     "/exec/{ns}/p/c?command=sh&command=-c&command=echo+hi&stdin=1&stdout=1"),
    ("attach", "stdin=true&stdout=true&tty=true", "/attach/{ns}/p/c?stdin=1&stdout=1&tty=1"),
    ("portforward", "", "/portForward/{ns}/p"),
], ids=["exec", "attach", "portforward"])
def test_spdy_upgrade_is_spliced_byte_for_byte(server: ServerProcess, pods: str,
                                               kubelet: TestKubelet, sub: str, query: str,
                                               kubelet_target: str) -> None:
    sock = _tls_to(server, cert=False)
    try:
        sock.sendall((f"POST /api/v1/namespaces/{pods}/pods/p/{sub}?{query} HTTP/1.1\r\n"
                      f"Host: 127.0.0.1\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n"
                      f"Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                      f"X-Stream-Protocol-Version: v4.channel.k8s.io\r\n"
                      f"X-Stream-Protocol-Version: v3.channel.k8s.io\r\n"
                      f"Content-Length: 0\r\n\r\n").encode())
        code, headers, rest = _read_head(sock)
        assert code == 101, (headers, rest)
        assert headers["upgrade"] == ["SPDY/3.1"]
        assert headers["x-stream-protocol-version"] == ["v4.channel.k8s.io"]
        assert _recv_exactly(sock, 6, rest) == b"hello\n"
        payload = os.urandom(300_000)
        received = bytearray()

        def reader() -> None:
            while len(received) < len(payload):
                chunk = sock.recv(65536)
                if not chunk:
                    return
                received.extend(chunk)

        t = threading.Thread(target=reader)
        t.start()
        sock.sendall(payload)
        t.join(20)
        assert bytes(received) == payload
    finally:
        sock.close()
    seen = kubelet.last(kubelet_target.format(ns=pods).split("?")[0])
    assert seen.method == "POST" and seen.target == kubelet_target.format(ns=pods)
    assert seen.header("X-Stream-Protocol-Version") == ["v4.channel.k8s.io",
                                                        "v3.channel.k8s.io"]
    assert seen.header("Authorization") == [] and seen.header("X-Forwarded-For") == ["127.0.0.1"]
    assert seen.subject["commonName"] == ["kube-apiserver-kubelet-client"]
    assert seen.closed.wait(5), "closing the client connection must close the kubelet's"


def _upgrade_request(server: ServerProcess, path: str, *, method: str = "POST",
                     upgrade: bool = True, token: str = ADMIN_TOKEN) -> tuple[int, Obj]:
    sock = _tls_to(server, cert=False)
    try:
        extra = ("Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n" if upgrade else "")
        sock.sendall((f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      f"Authorization: Bearer {token}\r\n{extra}Content-Length: 0\r\n\r\n"
                      ).encode())
        code, headers, rest = _read_head(sock)
        if code == 101:
            return code, {}
        length = int(headers.get("content-length", ["0"])[0])
        return code, json.loads(_recv_exactly(sock, length, rest))
    finally:
        sock.close()


@pytest.mark.parametrize("path,method,upgrade,code,reason,message", [
    ("p/exec?command=ls", "POST", False, 400, "BadRequest", "Upgrade request required"),
    ("p/exec?command=ls", "PUT", True, 405, "MethodNotAllowed",
     "the server does not allow this method on the requested resource"),
    ("unscheduled/exec?command=ls", "GET", True, 400, "BadRequest",
     "pod unscheduled does not have a host assigned"),
    ("unscheduled/portforward", "GET", True, 400, "BadRequest",
     "pod unscheduled does not have a host assigned"),
    ("multi/attach?stdout=1", "GET", True, 400, "BadRequest",
     "a container name must be specified for pod multi, choose one of: [init a b]"),
    ("multi/exec?container=x&command=ls", "GET", True, 400, "BadRequest",
     "container x is not valid for pod multi"),
    ("nope/exec?command=ls", "GET", True, 404, "NotFound", 'pods "nope" not found'),
    ("orphan/exec?command=ls", "GET", True, 404, "NotFound", 'nodes "ghost-node" not found'),
], ids=["not-upgrade", "put", "unscheduled", "unscheduled-pf", "choose", "bad-container",
        "no-pod", "no-node"])
def test_stream_validation(server: ServerProcess, pods: str, path: str, method: str,
                           upgrade: bool, code: int, reason: str, message: str) -> None:
    got, status = _upgrade_request(server, f"/api/v1/namespaces/{pods}/pods/{path}",
                                   method=method, upgrade=upgrade)
    assert got == code, status
    assert (status["reason"], status["message"], status["code"]) == (reason, message, code)


def test_kubelet_refusal_and_unreachable_kubelet(server: ServerProcess, api: Api, ns: str,
                                                 node: str) -> None:
    _pod(api, ns, "refuser", node, ("refused",))
    code, status = _upgrade_request(server, f"/api/v1/namespaces/{ns}/pods/refuser/exec?"
                                            f"command=ls")
    assert (code, status["reason"], status["message"]) == (
        404, "NotFound", 'container not found ("refused")')
    with socket.socket() as s:  # a port nobody listens on
        s.bind((HOST, 0))
        dead = s.getsockname()[1]
    down = f"kp-down-{os.getpid()}"
    _node(api, down, HOST, dead)
    try:
        _pod(api, ns, "stranded", down)
        code, status = _upgrade_request(server, f"/api/v1/namespaces/{ns}/pods/stranded/exec?"
                                                f"command=ls")
        assert code == 500 and "reason" not in status, status
        assert status["message"] == (f"error dialing backend: dial tcp {HOST}:{dead}: "
                                     f"connect: connection refused")
    finally:
        api.delete(f"/api/v1/nodes/{down}")


def test_websocket_get_needs_create_too(server: ServerProcess, api: Api, pods: str) -> None:
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "exec-get"},
            "rules": [{"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["get"]}]}
    api.create(f"/apis/rbac.authorization.k8s.io/v1/namespaces/{pods}/roles", role)
    api.create(f"/apis/rbac.authorization.k8s.io/v1/namespaces/{pods}/rolebindings", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "alice-exec"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "exec-get"},
        "subjects": [{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}]})
    path = f"/api/v1/namespaces/{pods}/pods/p/exec?command=true&stdout=true"
    code, status = _upgrade_request(server, path, method="GET", token=ALICE_TOKEN)
    assert (code, status["message"]) == (403, f'pods "p" is forbidden: User "alice" cannot '
                                              f'create resource "pods/exec" in API group "" '
                                              f'in the namespace "{pods}"')
    role["rules"][0]["verbs"] = ["get", "create"]
    api.put(f"/apis/rbac.authorization.k8s.io/v1/namespaces/{pods}/roles/exec-get", role)
    deadline = time.monotonic() + 5
    while (code := _upgrade_request(server, path, method="GET", token=ALICE_TOKEN)[0]) != 101:
        assert time.monotonic() < deadline, code
        time.sleep(0.1)


SPDY_EXEC = ("1.20", "1.27", "1.28", "1.29")  # 1.30+ exec over WebSocket first


@pytest.mark.parametrize("version", sorted(kubectl_binaries()))
def test_kubectl_exec_exit_code_and_stdin(server: ServerProcess, pods: str,
                                          kubelet: TestKubelet, version: str) -> None:
    kubectl = str(kubectl_binaries()[version])
    base = [kubectl, "--kubeconfig", str(server.kubeconfig), "-n", pods, "exec"]
    out = subprocess.run([*base, "sp", "--", "echo", "hi"], capture_output=True, text=True,
                         timeout=60)
    assert (out.returncode, out.stdout) == (0, "ran echo hi\n"), out.stderr
    out = subprocess.run([*base, "sp", "--", "sh", "fail"], capture_output=True, text=True,
                         timeout=60)
    assert (out.returncode, out.stdout) == (3, "ran sh fail\n"), out.stderr
    seen = kubelet.last(f"/exec/{pods}/sp/real?command=sh&command=fail")
    if version in SPDY_EXEC:
        assert (seen.method, seen.header("Upgrade")) == ("POST", ["SPDY/3.1"])
        out = subprocess.run([*base, "-i", "sp", "--", "cat"], input="to stdin\n",
                             capture_output=True, text=True, timeout=60)
        assert (out.returncode, out.stdout) == (0, "to stdin\n"), out.stderr
    else:
        assert (seen.method, seen.header("Upgrade")) == ("GET", ["websocket"])


@pytest.mark.parametrize("version", sorted(kubectl_binaries()))
def test_kubectl_port_forward_over_spdy(server: ServerProcess, pods: str, kubelet: TestKubelet,
                                        version: str) -> None:
    """kubectl 1.31+ first asks for a WebSocket tunnel (the test kubelet refuses it with a
    400, passed back as a Status), then falls back to SPDY as with older kubectls."""
    before = len(kubelet.seen)
    proc = subprocess.Popen([str(kubectl_binaries()[version]), "--kubeconfig",
                             str(server.kubeconfig), "-n", pods, "port-forward", "pod/sp",
                             ":8080"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"Forwarding from 127\.0\.0\.1:(\d+) -> 8080", line)
        if not found:
            proc.kill()
            raise AssertionError((line, proc.communicate(timeout=10)))
        for _ in range(2):  # two connections, two stream pairs in the one session
            with urllib.request.urlopen(f"http://127.0.0.1:{found.group(1)}/",
                                        timeout=10) as r:
                assert r.read() == b"hi-from-the-pod\n"
    finally:
        proc.kill()
        proc.wait(10)
    asked = [(s.method, s.header("Upgrade")) for s in kubelet.seen[before:]
             if s.target == f"/portForward/{pods}/sp"]
    websocket_first = [("GET", ["websocket"])] if version in ("1.31", "1.32", "1.33") else []
    assert asked[:len(websocket_first) + 1] == [*websocket_first, ("POST", ["SPDY/3.1"])]


def test_python_client_stream_exec(server: ServerProcess, pods: str) -> None:
    from kubernetes import client, config
    from kubernetes.stream import stream

    api_client = config.new_client_from_config(str(server.kubeconfig))
    try:
        v1 = client.CoreV1Api(api_client)
        out = stream(v1.connect_get_namespaced_pod_exec, "p", pods, command=["echo", "py"],
                     stdout=True, stderr=True, stdin=False, tty=False)
        assert out == "ran echo py\n"
    finally:
        api_client.close()


# ------------------------------------------------------------------------------ nodes/proxy


@needs_routable
def test_node_proxy(api: Api, node: str, kubelet: TestKubelet) -> None:
    r = api.get(f"/api/v1/nodes/{node}/proxy/healthz")
    assert (r.status_code, r.text) == (200, "ok")
    assert kubelet.last("/healthz").subject["commonName"] == ["kube-apiserver-kubelet-client"]
    assert api.read(f"/api/v1/nodes/{node}/proxy/stats/summary") == {
        "node": {"nodeName": "test"}}
    r = api.post(f"/api/v1/nodes/{node}:{kubelet.port}/proxy/echo?a=1", data=b"payload")
    assert (r.status_code, r.text) == (201, "POST a=1 payload")
    assert kubelet.last("/echo").header("Authorization") == []
    r = api.get(f"/api/v1/nodes/{node}/proxy", allow_redirects=False)
    assert (r.status_code, r.headers["Location"]) == (301, f"/api/v1/nodes/{node}/proxy/")
    r = api.get(f"/api/v1/nodes/{node}/proxy/missing")
    assert (r.status_code, r.text) == (404, "404 page not found\n")


def test_node_proxy_refuses_loopback_kubelets(api: Api) -> None:
    name = f"kp-loop-{os.getpid()}"
    _node(api, name, "127.0.0.1", 10250)
    try:
        assert_status(api.get(f"/api/v1/nodes/{name}/proxy/healthz"), 400, "BadRequest",
                      "address not allowed")
        assert_status(api.get("/api/v1/nodes/a:b:c:d/proxy/healthz"), 400, "BadRequest",
                      'invalid node request "a:b:c:d"')
    finally:
        api.delete(f"/api/v1/nodes/{name}")


# ------------------------------------------------------------------ kubepy's own kubelet server


@dataclass
class FileRuntime:
    """A StreamingRuntime for one pod whose CRI logs are files: the real
    KubeletServer reads them as it reads a container's conmon logs."""

    namespace: str
    log_path: str
    previous_log_path: str

    def pod(self, namespace: str, name: str) -> Any:
        from kubepy.kubelet.server import PodRef

        if (namespace, name) != (self.namespace, "real"):
            return None
        return PodRef(uid="uid-real", namespace=namespace, name=name, netns_path=None,
                      containers=("app",))

    def container(self, namespace: str, name: str, container: str) -> Any:
        from kubepy.kubelet.server import ContainerRef

        if self.pod(namespace, name) is None or container != "app":
            return None
        return ContainerRef(pod_uid="uid-real", namespace=namespace, pod_name=name,
                            container_name=container, container_id="cid", running=False,
                            log_path=self.log_path, previous_log_path=self.previous_log_path,
                            tty=False, stdin=False, stdin_once=False, attach_socket=None,
                            ctl_path=None)

    def runc_command(self) -> list[str]:
        return ["runc"]


@pytest.fixture
def real_kubelet(server: ServerProcess, api: Api, ns: str, tmp_path: Path) -> Iterator[str]:
    """kubepy's KubeletServer serving pod ``real`` of ``ns`` on a node of its own."""
    from kubepy.kubelet.server import KubeletServer

    current, previous = tmp_path / "1.log", tmp_path / "0.log"
    current.write_text("2026-01-02T03:04:05.000000001Z stdout F one\n"
                       "2026-01-02T03:04:06.000000003Z stderr F two\n"
                       "2026-01-02T03:04:07.000000004Z stdout F three\n")
    previous.write_text("2026-01-02T03:00:00.000000000Z stdout F before the restart\n")
    kubelet = KubeletServer(FileRuntime(ns, str(current), str(previous)),
                            client_ca_pem=(server.data_dir / "tls" / "ca.crt").read_bytes(),
                            cert_dir=tmp_path / "pki", node_name="real-node", node_ip=HOST)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    port = asyncio.run_coroutine_threadsafe(kubelet.start(HOST, 0), loop).result(10)
    node = f"kp-real-{os.getpid()}-{ns[-4:]}"
    _node(api, node, HOST, port)
    try:
        _pod(api, ns, "real", node, ("app",))
        yield node
    finally:
        api.delete(f"/api/v1/nodes/{node}")
        asyncio.run_coroutine_threadsafe(kubelet.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


@pytest.mark.parametrize("args,expected", [
    ((), "one\ntwo\nthree\n"),
    (("--tail=1",), "three\n"),
    (("--timestamps",), "2026-01-02T03:04:05.000000001Z one\n2026-01-02T03:04:06.000000003Z "
                        "two\n2026-01-02T03:04:07.000000004Z three\n"),
    (("--previous",), "before the restart\n"),
    (("-f",), "one\ntwo\nthree\n"),
], ids=["plain", "tail", "timestamps", "previous", "follow-stopped"])
def test_kubectl_logs_from_kubepys_kubelet(server: ServerProcess, ns: str, real_kubelet: str,
                                           args: tuple[str, ...], expected: str) -> None:
    for version in ("1.20", "1.32"):
        if version not in kubectl_binaries():
            continue
        out = subprocess.run([str(kubectl_binaries()[version]), "--kubeconfig",
                              str(server.kubeconfig), "-n", ns, "logs", "real", *args],
                             capture_output=True, text=True, timeout=60)
        assert (out.returncode, out.stdout) == (0, expected), (version, out.stderr)


@needs_routable
def test_node_proxy_to_kubepys_kubelet(api: Api, real_kubelet: str) -> None:
    r = api.get(f"/api/v1/nodes/{real_kubelet}/proxy/healthz")
    assert (r.status_code, r.text) == (200, "ok")
    summary = api.read(f"/api/v1/nodes/{real_kubelet}/proxy/stats/summary")
    assert summary["node"]["nodeName"] == "real-node"
