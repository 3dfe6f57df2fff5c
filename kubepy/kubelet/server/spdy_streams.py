"""Remote-command streams over a SPDY/3.1 session (pkg/kubelet/cri/streaming/remotecommand).

The client opens one SPDY stream per stdio stream, named by the ``streamType`` header
(error, stdin, stdout, stderr, resize); the server replies to each and starts once it has
all it expects: error + the requested stdio + resize for a tty (v3 and v4 only), within
the stream-creation timeout. Protocol versions differ in the error stream only: v4 writes
a metav1 Status as JSON, v1-v3 a failure's message. Ending: every stream is half-closed
and the session goes away.
"""

from __future__ import annotations

import asyncio
import contextlib

from kubepy.kubelet.server.streams import (CommandStreams, ResizeDecoder, Status,
                                           StreamOptions, status_bytes)
from kubepy.streaming.spdy import SpdySession, SpdyStream

V4, V3, V2, V1 = "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"
REMOTE_COMMAND_PROTOCOLS = [V4, V3, V2, V1]
STREAM_CREATION_TIMEOUT = 30.0


class StreamsMissing(Exception):
    pass


class SpdySink:
    def __init__(self, stream: SpdyStream) -> None:
        self.stream = stream

    async def write(self, data: bytes) -> None:
        if data:
            await self.stream.write(data)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.stream.close()


async def accept_streams(session: SpdySession, expected: int,
                         timeout: float) -> dict[str, SpdyStream]:
    """Streams by type until ``expected`` arrived; StreamsMissing on timeout or session end."""
    streams: dict[str, SpdyStream] = {}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len(streams) < expected:
        try:
            stream = await asyncio.wait_for(session.accept(), deadline - loop.time())
        except asyncio.TimeoutError:
            raise StreamsMissing("timed out waiting for client to create streams") from None
        if stream is None:
            raise StreamsMissing("connection closed before the client created its streams")
        kind = stream.headers.get("streamtype", "")
        if kind not in ("error", "stdin", "stdout", "stderr", "resize") or kind in streams:
            await stream.reset()
            continue
        await stream.reply()
        streams[kind] = stream
    return streams


async def command_streams(session: SpdySession, protocol: str, opts: StreamOptions, *,
                          timeout: float = STREAM_CREATION_TIMEOUT) -> CommandStreams:
    resizable = opts.tty and protocol in (V4, V3)
    expected = 1 + opts.stdin + opts.stdout + opts.stderr + resizable
    streams = await accept_streams(session, expected, timeout)
    gone = asyncio.Event()
    resize_queue: asyncio.Queue[tuple[int, int] | None] = asyncio.Queue()
    tasks: list[asyncio.Task[None]] = []

    async def pump_resize(stream: SpdyStream) -> None:
        decoder = ResizeDecoder()
        while data := await stream.read():
            for size in decoder.feed(data):
                resize_queue.put_nowait(size)
        resize_queue.put_nowait(None)

    if "resize" in streams:
        tasks.append(asyncio.create_task(pump_resize(streams["resize"])))

    error = streams["error"]

    async def watch_session() -> None:
        # the session's end is the client's going away; a stream read ends with it
        while await error.read():
            pass
        while not session.ended:
            await asyncio.sleep(0.5)
        gone.set()

    tasks.append(asyncio.create_task(watch_session()))

    async def write_status(status: Status) -> None:
        data = status_bytes(status, as_json=protocol == V4)
        if data is not None:
            with contextlib.suppress(Exception):
                await error.write(data)

    async def close() -> None:
        for stream in streams.values():
            with contextlib.suppress(Exception):
                await stream.close()
        for task in tasks:
            task.cancel()
        await session.close()

    return CommandStreams(
        options=opts, stdin=streams.get("stdin") if opts.stdin else None,
        stdout=SpdySink(streams["stdout"]) if "stdout" in streams else None,
        stderr=SpdySink(streams["stderr"]) if "stderr" in streams else None,
        resize=resize_queue if opts.tty else None, write_status=write_status, close=close,
        gone=gone)
