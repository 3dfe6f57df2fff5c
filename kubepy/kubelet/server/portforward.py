"""Port-forward: TCP connections to 127.0.0.1:<port> inside a pod's network namespace.

``dial`` creates the socket in the pod's netns: a fresh OS thread joins the namespace with
setns(2) (only that thread changes namespace, and it ends afterwards), creates and connects
the socket, and hands it back; the socket stays in the namespace it was made in and is then
used from asyncio. hostNetwork pods (no netns path) connect on the host. As containerd,
IPv4 loopback is tried first, then IPv6.

Transports: SPDY streams in pairs (data + error) matched by the ``requestID`` header (or, for
clients too old to send one, by stream ids); WebSocket channels 2n (data) and 2n+1 (error)
for the n-th port of the query, each starting with the port as 2 bytes little endian.
A failure is written to the pair's error stream as "error forwarding port <p> to pod <name>,
uid <uid>: <reason>".
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import socket
import struct
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from kubepy.kubelet.server.http import HttpError
from kubepy.kubelet.server.runtime import PodRef
from kubepy.kubelet.server.streams import ByteSink, ByteSource
from kubepy.kubelet.server.ws_streams import ChannelDemux, ChannelSink
from kubepy.streaming.spdy import SpdySession, SpdyStream
from kubepy.streaming.websocket_channels import codec_for, encode
from kubepy.streaming.websocket_conn import WebSocket

CLONE_NEWNET = 0x40000000
DIAL_TIMEOUT = 10.0
PORT_FORWARD_PROTOCOL = "portforward.k8s.io"

_libc = ctypes.CDLL(None, use_errno=True)


def parse_ports(query: Mapping[str, list[str]]) -> list[int]:
    """The ``port`` query values (each may be a comma-separated list). ``ports``, the
    apiserver's own name of the parameter, is accepted when ``port`` is absent."""
    values = query.get("port") or query.get("ports", [])
    if not values:
        raise HttpError(400, 'query parameter "port" is required')
    ports = []
    for value in values:
        if not value:
            raise HttpError(400, 'query parameter "port" cannot be empty')
        for item in value.split(","):
            if not item.isdigit() or int(item) > 65535:
                raise HttpError(400, f'unable to parse "{value}" as a port')
            if int(item) < 1:
                raise HttpError(400, f'port "{value}" must be > 0')
            ports.append(int(item))
    return ports


def _dial_blocking(netns_path: str | None, port: int) -> socket.socket:
    if netns_path:
        fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            if _libc.setns(fd, CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"setns {netns_path}: {os.strerror(err)}")
        finally:
            os.close(fd)
    last: OSError | None = None
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        sock = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        sock.settimeout(DIAL_TIMEOUT)
        try:
            sock.connect((host, port))
            sock.setblocking(False)
            return sock
        except OSError as e:
            sock.close()
            last = last or e
    assert last is not None
    raise last


def _fail(future: "asyncio.Future[socket.socket]", error: Exception) -> None:
    if not future.done():
        future.set_exception(error)


def _deliver(future: "asyncio.Future[socket.socket]", sock: socket.socket) -> None:
    if future.done():  # the caller gave up
        sock.close()
    else:
        future.set_result(sock)


async def dial(netns_path: str | None, port: int) -> socket.socket:
    """A connected socket to localhost:port in the namespace (on a thread of its own)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[socket.socket] = loop.create_future()

    def run() -> None:
        try:
            result = _dial_blocking(netns_path, port)
        except Exception as e:  # noqa: BLE001 - handed to the waiting coroutine
            loop.call_soon_threadsafe(_fail, future, e)
            return
        loop.call_soon_threadsafe(_deliver, future, result)

    threading.Thread(target=run, name=f"portforward-dial-{port}", daemon=True).start()
    return await future


async def forward(pod: PodRef, port: int, data_in: ByteSource, data_out: ByteSink) -> None:
    """Copy both ways between a client stream and the pod's port until both ends are done."""
    sock = await dial(pod.netns_path, port)
    reader, writer = await asyncio.open_connection(sock=sock)

    async def upstream() -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await data_in.read():
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()

    async def downstream() -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(64 * 1024):
                await data_out.write(data)
        await data_out.close()

    up = asyncio.create_task(upstream())
    try:
        await downstream()
        # the pod closed its side: what the client still sends has nowhere to go
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(up), 1.0)
    finally:
        up.cancel()
        writer.close()


def error_message(port: int, pod: PodRef, err: BaseException) -> str:
    reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
    if isinstance(err, OSError) and err.errno is not None:
        reason = f"dial tcp4 127.0.0.1:{port}: connect: {reason.lower()}"
    return f"error forwarding port {port} to pod {pod.name}, uid {pod.uid}: {reason}"


async def _forward_pair(pod: PodRef, port: int, data_in: ByteSource, data_out: ByteSink,
                        error_out: ByteSink) -> None:
    try:
        await forward(pod, port, data_in, data_out)
    except Exception as e:  # noqa: BLE001 - reported to the client
        with contextlib.suppress(Exception):
            await error_out.write(error_message(port, pod, e).encode())
        await data_out.close()
    finally:
        await error_out.close()


# ---- SPDY ------------------------------------------------------------------------------

class _StreamSink:
    def __init__(self, stream: SpdyStream) -> None:
        self.stream = stream

    async def write(self, data: bytes) -> None:
        await self.stream.write(data)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.stream.close()


@dataclass
class _Pair:
    data: SpdyStream | None = None
    error: SpdyStream | None = None


def _request_id(stream: SpdyStream) -> str:
    request_id = stream.headers.get("requestid", "")
    if request_id:
        return request_id
    # old clients: data and error streams of one connection have consecutive odd ids
    if stream.headers.get("streamtype") == "error":
        return str(stream.id)
    return str(stream.id - 2)


async def serve_spdy(session: SpdySession, pod: PodRef) -> None:
    """Forward every (data, error) pair the client opens until the session ends."""
    pairs: dict[str, _Pair] = {}
    tasks: set[asyncio.Task[None]] = set()
    while (stream := await session.accept()) is not None:
        port_text = stream.headers.get("port", "")
        kind = stream.headers.get("streamtype", "")
        if not port_text.isdigit() or not 0 < int(port_text) < 65536 or \
                kind not in ("data", "error"):
            await stream.reset()
            continue
        await stream.reply()
        request_id = _request_id(stream)
        pair = pairs.setdefault(request_id, _Pair())
        if getattr(pair, kind) is not None:
            if pair.error is not None:
                with contextlib.suppress(Exception):
                    await pair.error.write(
                        f"error processing stream for request {request_id}: "
                        f"{kind} stream already assigned".encode())
            await stream.reset()
            continue
        setattr(pair, kind, stream)
        if pair.data is not None and pair.error is not None:
            del pairs[request_id]
            task = asyncio.create_task(_forward_pair(
                pod, int(pair.data.headers["port"]), pair.data, _StreamSink(pair.data),
                _StreamSink(pair.error)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
    for task in list(tasks):
        task.cancel()


# ---- WebSocket ---------------------------------------------------------------------------

async def serve_websocket(ws: WebSocket, pod: PodRef, ports: list[int]) -> None:
    """One connection per requested port over channels 2n / 2n+1, then the socket closes."""
    codec = codec_for(ws.protocol)
    demux = ChannelDemux(ws, codec, [2 * i for i in range(len(ports))])
    reader = asyncio.create_task(demux.run())
    try:
        for i, port in enumerate(ports):
            prefix = struct.pack("<H", port)
            await ws.send(encode(codec, 2 * i, prefix))
            await ws.send(encode(codec, 2 * i + 1, prefix))
        await asyncio.gather(*(
            _forward_pair(pod, port, demux.sources[2 * i], ChannelSink(ws, codec, 2 * i),
                          ChannelSink(ws, codec, 2 * i + 1))
            for i, port in enumerate(ports)))
    finally:
        with contextlib.suppress(ConnectionError, OSError):
            await ws.close()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(reader), 1.0)
        reader.cancel()

