"""Remote-command streams over one WebSocket with Kubernetes channels (wsstream.Conn).

A reader task demultiplexes the client's messages: stdin (0) and resize (4) go to bounded
queues (a slow consumer holds the reader back, as Go's io.Pipe does); the v5 close signal
on stdin ends it; the end of the WebSocket ends both and sets ``gone``. Writes go out as
one message per write on the channel's number. Right after the upgrade an empty message
is sent on the lowest writable channel (stdout, else stderr, else error), which clients
take as "the connection is established".
"""

from __future__ import annotations

import asyncio
import contextlib

from kubepy.kubelet.server.streams import (CommandStreams, ResizeDecoder, Status,
                                           StreamOptions, status_bytes)
from kubepy.streaming.websocket_channels import (ERROR, RESIZE, STDERR, STDIN, STDOUT,
                                                 ChannelClosed, ChannelCodec,
                                                 ChannelProtocolError, codec_for, decode,
                                                 encode)
from kubepy.streaming.websocket_conn import WebSocket


class ChannelSource:
    """Data of one channel; b"" (the end) after a close signal or the connection's end."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=16)
        self.eof = False  # no more data will be queued
        self._done = False  # the reader has seen the end

    def finish(self) -> None:
        self.eof = True
        if self.queue.empty():
            self.queue.put_nowait(b"")

    async def read(self) -> bytes:
        if self._done or (self.eof and self.queue.empty()):
            self._done = True
            return b""
        data = await self.queue.get()
        self._done = not data
        return data


class ChannelSink:
    def __init__(self, ws: WebSocket, codec: ChannelCodec, channel: int) -> None:
        self._ws, self._codec, self._channel = ws, codec, channel

    async def write(self, data: bytes) -> None:
        await self._ws.send(encode(self._codec, self._channel, data))

    async def close(self) -> None:
        pass  # as wsstream: a channel's end is the connection's end


class ChannelDemux:
    """Routes received channel messages to sources; the readable channels are fixed."""

    def __init__(self, ws: WebSocket, codec: ChannelCodec, channels: list[int]) -> None:
        self.ws, self.codec = ws, codec
        self.sources = {c: ChannelSource() for c in channels}
        self.gone = asyncio.Event()

    async def run(self) -> None:
        try:
            while (message := await self.ws.recv()) is not None:
                try:
                    item = decode(self.codec, message)
                except ChannelProtocolError:
                    continue
                if item is None or item.channel not in self.sources:
                    continue
                source = self.sources[item.channel]
                if isinstance(item, ChannelClosed):
                    source.finish()
                elif item.data and not source.eof:
                    await source.queue.put(item.data)
        finally:
            self.gone.set()
            for source in self.sources.values():
                source.finish()


async def command_streams(ws: WebSocket, opts: StreamOptions) -> CommandStreams:
    codec = codec_for(ws.protocol)
    readable = [RESIZE] + ([STDIN] if opts.stdin else [])
    demux = ChannelDemux(ws, codec, readable)
    task = asyncio.create_task(demux.run())
    resize_queue: asyncio.Queue[tuple[int, int] | None] = asyncio.Queue()

    async def pump_resize() -> None:
        decoder = ResizeDecoder()
        source = demux.sources[RESIZE]
        while data := await source.read():
            for size in decoder.feed(data):
                resize_queue.put_nowait(size)
        resize_queue.put_nowait(None)

    resizer = asyncio.create_task(pump_resize())
    first = STDOUT if opts.stdout else STDERR if opts.stderr else ERROR
    await ws.send(encode(codec, first, b""))

    async def write_status(status: Status) -> None:
        data = status_bytes(status, as_json=codec.status_json)
        if data is not None:
            with contextlib.suppress(ConnectionError, OSError):
                await ws.send(encode(codec, ERROR, data))

    async def close() -> None:
        with contextlib.suppress(ConnectionError, OSError):
            await ws.close()
        # give the client a moment to answer our close, then stop reading
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), 1.0)
        task.cancel()
        resizer.cancel()

    streams = CommandStreams(
        options=opts, stdin=demux.sources[STDIN] if opts.stdin else None,
        stdout=ChannelSink(ws, codec, STDOUT) if opts.stdout else None,
        stderr=ChannelSink(ws, codec, STDERR) if opts.stderr else None,
        resize=resize_queue if opts.tty else None, write_status=write_status, close=close,
        gone=demux.gone)
    return streams
