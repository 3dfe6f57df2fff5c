"""KubeletServer: the kubelet's HTTPS API on the node.

Routes, as pkg/kubelet/server/server.go names them:
    GET  /healthz                                          "ok"
    GET  /stats/summary, /metrics/resource                 stats.StatsProvider (node only)
    GET  /containerLogs/{ns}/{pod}/{container}             logs (chunked; follow streams)
    GET|POST /exec/{ns}/{pod}[/{uid}]/{container}?command=..   upgrade, then runc exec
    GET|POST /attach/{ns}/{pod}[/{uid}]/{container}        upgrade, then conmon attach
    GET|POST /portForward/{ns}/{pod}[/{uid}]               upgrade, then TCP in the pod netns
Streaming endpoints accept a WebSocket upgrade (channel protocols; for port-forward also
"SPDY/3.1+portforward.k8s.io", SPDY frames tunnelled in binary messages, as kubectl ≥ 1.31
sends) or a SPDY/3.1 upgrade (X-Stream-Protocol-Version). After the 101 the connection
belongs to the stream and is closed when it ends.

Authentication: a client certificate signed by the cluster CA (the TLS layer verifies it);
a request without one gets 401 "Unauthorized". Authorization: a fixed rule instead of the
kubelet's SubjectAccessReview (``tls.authorized``: the apiserver's kubelet client or
system:masters); anyone else gets 403 "Forbidden (user=..., verb=..., resource=nodes,
subresource=...)". The serving certificate: ``tls.serving_pair``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import ssl
import time
from pathlib import Path

from kubepy.kubelet.server import spdy_streams, ws_streams
from kubepy.kubelet.server.attach import AttachError, attach_container
from kubepy.kubelet.server.exec import ExecError, exec_in_container
from kubepy.kubelet.server.http import (ChunkedWriter, HttpError, Request, read_request,
                                        respond, respond_error, response_head)
from kubepy.kubelet.server.logs import LogOptionsError, parse_log_options, stream_log
from kubepy.kubelet.server.portforward import (PORT_FORWARD_PROTOCOL, parse_ports,
                                               serve_spdy, serve_websocket)
from kubepy.kubelet.server.runtime import ContainerRef, PodRef, StreamingRuntime
from kubepy.kubelet.server.stats import StatsProvider
from kubepy.kubelet.server.streams import (CommandStreams, StreamOptions, exit_code_status,
                                           internal_error_status, stream_options,
                                           success_status)
from kubepy.kubelet.server.tls import (authorized, forbidden_message, peer_identity,
                                       server_context, serving_pair)
from kubepy.streaming.spdy import Read, SpdySession, Write, stream_reader_writer
from kubepy.streaming.spdy_handshake import (HEADER_ACCEPTED_PROTOCOL_VERSIONS,
                                             is_spdy_upgrade, negotiate_protocol,
                                             split_protocols, upgrade_response_headers)
from kubepy.streaming.websocket import Opcode
from kubepy.streaming.websocket_channels import (PORT_FORWARD_PROTOCOLS,
                                                 REMOTE_COMMAND_PROTOCOLS)
from kubepy.streaming.websocket_conn import WebSocket
from kubepy.streaming.websocket_handshake import (HandshakeError, is_websocket_request,
                                                  requested_protocols, server_handshake)

SPDY_TUNNEL_PROTOCOL = "SPDY/3.1+portforward.k8s.io"
log = logging.getLogger(__name__)


class _Upgraded:
    """A connection after its 101; for SPDY it runs the session's frame loop until finish."""

    def __init__(self, session: SpdySession | None = None) -> None:
        self.session = session
        self._loop_task = asyncio.create_task(session.run()) if session is not None else None

    async def finish(self) -> None:
        if self.session is not None:
            await self.session.close()
        if self._loop_task is not None:
            with contextlib.suppress(asyncio.TimeoutError, Exception):
                await asyncio.wait_for(self._loop_task, 2.0)
            self._loop_task.cancel()


def _tunnel(ws: WebSocket) -> tuple[Read, Write]:
    """SPDY frames carried in WebSocket binary messages (client-go's tunneling connection)."""

    async def read() -> bytes:
        while (message := await ws.recv()) is not None:
            if message.opcode == Opcode.BINARY and message.data:
                return message.data
        return b""

    async def write(data: bytes) -> None:
        await ws.send(data)

    return read, write


class KubeletServer:
    def __init__(self, runtime: StreamingRuntime, *, client_ca_pem: bytes, cert_dir: Path,
                 node_name: str, node_ip: str) -> None:
        self.runtime = runtime
        self.node_name = node_name
        self.node_ip = node_ip
        self._client_ca_pem = client_ca_pem
        self._cert_dir = Path(cert_dir)
        lister = getattr(runtime, "pods", None)   # a PodLister too: pods in /stats/summary
        self._stats = StatsProvider(node_name, pods=lister if callable(lister) else None)
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int) -> int:
        cert, key = serving_pair(self._cert_dir, self.node_name, self.node_ip)
        context = server_context(cert, key, self._client_ca_pem)
        self._server = await asyncio.start_server(self._serve_connection, host, port,
                                                  ssl=context, reuse_address=True,
                                                  ssl_handshake_timeout=10)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    # -- connections ----------------------------------------------------------------------

    async def _serve_connection(self, reader: asyncio.StreamReader,
                                writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        identity = peer_identity(writer.get_extra_info("peercert"))
        try:
            while True:
                try:
                    request = await read_request(reader)
                except HttpError as e:
                    await respond_error(writer, e.status, e.message, close=True)
                    return
                if request is None:
                    return
                if identity is None:
                    await respond_error(writer, 401, "Unauthorized", close=not request.keep_alive)
                    if not request.keep_alive:
                        return
                    continue
                if not authorized(identity):
                    path = request.target.split("?", 1)[0]
                    await respond(writer, 403,
                                  forbidden_message(identity, request.method, path).encode(),
                                  close=not request.keep_alive)
                    if not request.keep_alive:
                        return
                    continue
                if await self._dispatch(request, reader, writer) or not request.keep_alive:
                    return
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError, OSError):
            pass
        except asyncio.CancelledError:
            pass  # stop(): the connection task ends here, quietly
        except Exception:  # a defect: log it, drop the connection, keep serving
            log.exception("kubelet server: request failed")
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(writer.wait_closed(), 2.0)

    async def _dispatch(self, request: Request, reader: asyncio.StreamReader,
                        writer: asyncio.StreamWriter) -> bool:
        """Serve one request; True when the connection must not be reused."""
        segments = request.path_segments
        head = segments[0] if segments else ""
        try:
            if head == "healthz" and len(segments) == 1:
                await respond(writer, 200, b"ok")
                return False
            if segments == ["metrics", "resource"]:
                await respond(writer, 200, self._stats.resource_metrics().encode(),
                              content_type="text/plain; version=0.0.4; charset=utf-8")
                return False
            if segments == ["stats", "summary"]:
                body = json.dumps(self._stats.summary(), indent=2).encode()
                await respond(writer, 200, body, content_type="application/json")
                return False
            if head == "containerLogs":
                return await self._logs(request, writer)
            if head in ("exec", "attach"):
                return await self._remote_command(head, request, reader, writer)
            if head == "portForward":
                return await self._port_forward(request, reader, writer)
            await respond_error(writer, 404, "404 page not found")
            return False
        except HttpError as e:
            await respond_error(writer, e.status, e.message)
            return False

    # -- logs -------------------------------------------------------------------------------

    async def _logs(self, request: Request, writer: asyncio.StreamWriter) -> bool:
        if request.method != "GET":
            raise HttpError(405, "Method Not Allowed")
        if len(request.path_segments) != 4:
            raise HttpError(404, "404 page not found")
        _, namespace, pod_name, container = request.path_segments
        try:
            opts = parse_log_options(request.query, time.time_ns())
        except LogOptionsError as e:
            raise HttpError(e.status, str(e)) from None
        ref = self._container(namespace, pod_name, container)
        path = ref.previous_log_path if opts.previous else ref.log_path
        if not path or not os.path.exists(path):
            if opts.previous:
                raise HttpError(400, f'previous terminated container "{container}" in pod '
                                     f'"{pod_name}" not found')
            raise HttpError(400, f'container "{container}" in pod "{pod_name}" is waiting '
                                 "to start")
        body = ChunkedWriter(writer)
        await body.start()

        def running() -> bool:
            if opts.previous:
                return False
            now = self.runtime.container(namespace, pod_name, container)
            return now is not None and now.running and now.container_id == ref.container_id

        await stream_log(path, opts, body.write, running=running)
        await body.end()
        return False

    def _container(self, namespace: str, pod_name: str, container: str) -> ContainerRef:
        ref = self.runtime.container(namespace, pod_name, container)
        if ref is None:
            if self.runtime.pod(namespace, pod_name) is None:
                raise HttpError(404, f'pod "{pod_name}" does not exist')
            raise HttpError(404, f'container "{container}" not found in pod "{pod_name}"')
        return ref

    # -- exec and attach --------------------------------------------------------------------

    async def _remote_command(self, kind: str, request: Request, reader: asyncio.StreamReader,
                              writer: asyncio.StreamWriter) -> bool:
        if request.method not in ("GET", "POST"):
            raise HttpError(405, "Method Not Allowed")
        segments = request.path_segments
        if len(segments) not in (4, 5):
            raise HttpError(404, "404 page not found")
        namespace, pod_name, container = segments[1], segments[2], segments[-1]
        opts = stream_options(request.query)
        command = request.query.get("command", [])
        if kind == "exec" and not command:
            raise HttpError(400, "you must specify a command")
        if self.runtime.pod(namespace, pod_name) is None:
            raise HttpError(404, "pod does not exist")
        ref = self._container(namespace, pod_name, container)
        if not ref.running or not ref.container_id:
            raise HttpError(400, f'container "{container}" in pod "{pod_name}" is not running')
        upgraded = await self._upgrade_command(request, writer, reader, opts)
        if upgraded is None:
            return True
        connection, streams = upgraded
        try:
            if kind == "exec":
                try:
                    code = await exec_in_container(self.runtime.runc_command(),
                                                   ref.container_id, command, streams)
                    status = success_status() if code == 0 else exit_code_status(code, command)
                except ExecError as e:
                    status = internal_error_status(f"error executing command in container: {e}")
            else:
                try:
                    await attach_container(ref, streams)
                    status = success_status()
                except AttachError as e:
                    status = internal_error_status(f"error attaching to container: {e}")
            await streams.write_status(status)
        finally:
            await streams.close()
            await connection.finish()
        return True

    async def _upgrade_command(self, request: Request, writer: asyncio.StreamWriter,
                               reader: asyncio.StreamReader, opts: StreamOptions
                               ) -> tuple[_Upgraded, CommandStreams] | None:
        if is_websocket_request(request.headers):
            ws = await self._websocket(request, reader, writer, REMOTE_COMMAND_PROTOCOLS)
            if ws is None:
                return None
            return _Upgraded(), await ws_streams.command_streams(ws, opts)
        protocol = await self._spdy_handshake(request, writer,
                                              spdy_streams.REMOTE_COMMAND_PROTOCOLS)
        if protocol is None:
            return None
        read, write = stream_reader_writer(reader, writer)
        connection = _Upgraded(session=SpdySession(read, write, server=True))
        assert connection.session is not None
        try:
            streams = await spdy_streams.command_streams(connection.session,
                                                         protocol or spdy_streams.V1, opts)
        except spdy_streams.StreamsMissing:
            await connection.finish()
            return None
        return connection, streams

    async def _websocket(self, request: Request, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter, supported: list[str]
                         ) -> WebSocket | None:
        try:
            protocol, headers = server_handshake(request.headers, supported)
        except HandshakeError as e:
            await respond_error(writer, 400, f"unable to upgrade websocket connection: {e}",
                                close=True)
            return None
        writer.write(response_head(101, headers))
        await writer.drain()
        read, write = stream_reader_writer(reader, writer)
        return WebSocket(read, write, client=False, protocol=protocol)

    async def _spdy_handshake(self, request: Request, writer: asyncio.StreamWriter,
                              supported: list[str]) -> str | None:
        """The negotiated protocol ("" if the client named none) after the 101, else None."""
        headers = request.headers
        if not is_spdy_upgrade(headers.get("connection"), headers.get("upgrade")):
            await respond_error(writer, 400, "Upgrade request required", close=True)
            return None
        requested = split_protocols([headers.get("x-stream-protocol-version", "")])
        protocol = ""
        if requested:
            chosen = negotiate_protocol(requested, supported)
            if chosen is None:
                body = (f"unable to upgrade: unable to negotiate protocol: client supports "
                        f"{requested}, server supports {supported}\n").encode()
                await respond(writer, 403, body, close=True, headers=[
                    (HEADER_ACCEPTED_PROTOCOL_VERSIONS, p) for p in supported])
                return None
            protocol = chosen
        writer.write(response_head(101, upgrade_response_headers(protocol or None)))
        await writer.drain()
        return protocol

    # -- port-forward -----------------------------------------------------------------------

    async def _port_forward(self, request: Request, reader: asyncio.StreamReader,
                            writer: asyncio.StreamWriter) -> bool:
        if request.method not in ("GET", "POST"):
            raise HttpError(405, "Method Not Allowed")
        segments = request.path_segments
        if len(segments) not in (3, 4):
            raise HttpError(404, "404 page not found")
        pod = self.runtime.pod(segments[1], segments[2])
        if pod is None:
            raise HttpError(404, "pod does not exist")
        if is_websocket_request(request.headers):
            return await self._port_forward_websocket(request, reader, writer, pod)
        protocol = await self._spdy_handshake(request, writer, [PORT_FORWARD_PROTOCOL])
        if protocol is None:
            return True
        read, write = stream_reader_writer(reader, writer)
        connection = _Upgraded(session=SpdySession(read, write, server=True))
        assert connection.session is not None
        try:
            await serve_spdy(connection.session, pod)
        finally:
            await connection.finish()
        return True

    async def _port_forward_websocket(self, request: Request, reader: asyncio.StreamReader,
                                      writer: asyncio.StreamWriter, pod: PodRef) -> bool:
        tunnel = SPDY_TUNNEL_PROTOCOL in requested_protocols(request.headers)
        ports: list[int] = []
        if not tunnel:
            ports = parse_ports(request.query)
        ws = await self._websocket(request, reader, writer,
                                   [SPDY_TUNNEL_PROTOCOL] if tunnel else PORT_FORWARD_PROTOCOLS)
        if ws is None:
            return True
        if not tunnel:
            await serve_websocket(ws, pod, ports)
            return True
        read, write = _tunnel(ws)
        connection = _Upgraded(session=SpdySession(read, write, server=True))
        assert connection.session is not None
        try:
            await serve_spdy(connection.session, pod)
        finally:
            await connection.finish()
            with contextlib.suppress(ConnectionError, OSError):
                await ws.close()
        return True
