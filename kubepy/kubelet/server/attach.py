"""Attach to a running container through its conmon (CRI-O's protocol).

conmon listens on a SOCK_SEQPACKET unix socket ("attach"): every packet it sends is one
read of the container's output prefixed by one byte naming the pipe (2 stdout, 3 stderr);
whatever we send is written to the container's stdin. Shutting down our sending side ends
the container's stdin when the container has stdinOnce (conmon runs without
--leave-stdin-open then). Terminal resizes are lines "1 <height> <width>\n" written to
conmon's ctl FIFO. The attach ends when conmon closes the socket (the container exited)
or the client goes away.

unix socket paths are limited to 107 bytes; a longer path is reached through
/proc/self/fd/<dir fd>/<name>, as conmon binds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket

from kubepy.kubelet.server.runtime import ContainerRef
from kubepy.kubelet.server.streams import CommandStreams

STDOUT_PIPE, STDERR_PIPE = 2, 3
WIN_RESIZE_EVENT = 1
PACKET = 32 * 1024 + 1


class AttachError(Exception):
    pass


async def _connect(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    sock.setblocking(False)
    dir_fd = None
    try:
        target = path
        if len(path.encode()) > 107:
            dir_fd = os.open(os.path.dirname(path), os.O_PATH | os.O_CLOEXEC)
            target = f"/proc/self/fd/{dir_fd}/{os.path.basename(path)}"
        await asyncio.get_running_loop().sock_connect(sock, target)
        return sock
    except OSError as e:
        sock.close()
        raise AttachError(f"failed to connect to container attach socket {path}: {e}") from e
    finally:
        if dir_fd is not None:
            os.close(dir_fd)


def write_resize(ctl_path: str, width: int, height: int) -> None:
    fd = os.open(ctl_path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        os.write(fd, f"{WIN_RESIZE_EVENT} {height} {width}\n".encode())
    finally:
        os.close(fd)


async def attach_container(ref: ContainerRef, streams: CommandStreams) -> None:
    if not ref.attach_socket:
        raise AttachError(f"container {ref.container_name} has no attach socket")
    sock = await _connect(ref.attach_socket)
    loop = asyncio.get_running_loop()

    async def output() -> None:
        while True:
            try:
                packet = await loop.sock_recv(sock, PACKET)
            except OSError:
                return
            if not packet:
                return
            sink = streams.stderr if packet[0] == STDERR_PIPE else streams.stdout
            if sink is not None and len(packet) > 1:
                with contextlib.suppress(Exception):
                    await sink.write(packet[1:])

    async def stdin() -> None:
        assert streams.stdin is not None
        with contextlib.suppress(OSError):
            while data := await streams.stdin.read():
                for i in range(0, len(data), PACKET - 1):
                    await loop.sock_sendall(sock, data[i:i + PACKET - 1])
            if ref.stdin_once:
                sock.shutdown(socket.SHUT_WR)

    async def resize() -> None:
        assert streams.resize is not None
        while (size := await streams.resize.get()) is not None:
            if ref.ctl_path and size[0] > 0 and size[1] > 0:
                with contextlib.suppress(OSError):
                    write_resize(ref.ctl_path, *size)

    helpers = []
    if streams.stdin is not None and ref.stdin:
        helpers.append(asyncio.create_task(stdin()))
    if streams.resize is not None:
        helpers.append(asyncio.create_task(resize()))
    reading = asyncio.create_task(output())
    leaving = asyncio.create_task(streams.gone.wait())
    try:
        await asyncio.wait({reading, leaving}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in [reading, leaving, *helpers]:
            task.cancel()
        sock.close()
