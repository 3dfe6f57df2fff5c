"""Run a command in a container with ``runc exec`` and connect it to the client's streams.

Without a tty the command's stdio are pipes (runc passes them through to the process).
With a tty, runc runs in the foreground on a pseudo-terminal of ours: runc makes it raw,
allocates the container's own terminal and copies between the two, and on SIGWINCH copies
our terminal's size to the container's. So a resize is TIOCSWINSZ on our terminal plus
SIGWINCH to runc, and runc's exit status is the command's (128+n for a signal). (runc's
--console-socket hands over the container terminal only with --detach, which would lose
the exit status to whoever reaps the orphan.) The client's end of stdin closes the pipe,
or sends ^D (EOF for a canonical-mode reader) on a tty.

Output still held by the command's orphans after it exits is read for at most
``DRAIN_GRACE`` seconds, then the streams are ended. When the client goes away first, the
command is killed (as containerd and CRI-O do). A command runc could not start (runc exits
255 without writing the pid file; its error is in the JSON log we give it) is an ExecError,
reported as an InternalError Status, not as exit code 255.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import signal
import struct
import tempfile
import termios
import tty as ttys

from kubepy.kubelet.server.streams import ByteSink, ByteSource, CommandStreams

DRAIN_GRACE = 2.0


class ExecError(Exception):
    pass


async def _pump_out(read: "asyncio.StreamReader", sink: ByteSink | None) -> None:
    while data := await read.read(32 * 1024):
        if sink is not None:
            with contextlib.suppress(Exception):
                await sink.write(data)


async def _pump_stdin(source: ByteSource, proc: asyncio.subprocess.Process) -> None:
    assert proc.stdin is not None
    try:
        while data := await source.read():
            proc.stdin.write(data)
            await proc.stdin.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            proc.stdin.close()


def _kill_command(pid_file: str) -> None:
    try:
        with open(pid_file) as f:
            os.kill(int(f.read().strip()), signal.SIGKILL)
    except (OSError, ValueError):
        pass


async def _finish(proc: asyncio.subprocess.Process, tasks: list[asyncio.Task[None]],
                  gone: asyncio.Event, pid_file: str) -> int:
    waiting = asyncio.ensure_future(proc.wait())
    leaving = asyncio.ensure_future(gone.wait())
    try:
        await asyncio.wait({waiting, leaving}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:  # the server is stopping
        _kill_command(pid_file)
        leaving.cancel()
        raise
    if not waiting.done():
        # the client went away: the command is killed, as containerd and CRI-O do when
        # the streaming request ends (runc cannot forward SIGKILL, so it goes to the
        # command's own pid, from runc's --pid-file)
        _kill_command(pid_file)
    code = await waiting
    leaving.cancel()
    failure = start_failure(pid_file, code)
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), DRAIN_GRACE)
    for task in tasks:
        task.cancel()
    if failure is not None:
        raise ExecError(f"OCI runtime exec failed: {failure}")
    return code


async def exec_pipes(runc: list[str], container_id: str, argv: list[str],
                     streams: CommandStreams) -> int:
    pipe = asyncio.subprocess.PIPE
    devnull = asyncio.subprocess.DEVNULL
    pid_file = _pid_file()
    try:
        proc = await asyncio.create_subprocess_exec(
            *runc, "--log", _log_file(pid_file), "--log-format", "json", "exec",
            "--pid-file", pid_file, container_id, *argv,
            stdin=pipe if streams.stdin else devnull,
            stdout=pipe if streams.stdout else devnull,
            stderr=pipe if streams.stderr else devnull, start_new_session=True)
    except OSError as e:
        raise ExecError(f"starting runc: {e}") from e
    tasks: list[asyncio.Task[None]] = []
    if proc.stdout is not None:
        tasks.append(asyncio.create_task(_pump_out(proc.stdout, streams.stdout)))
    if proc.stderr is not None:
        tasks.append(asyncio.create_task(_pump_out(proc.stderr, streams.stderr)))
    feeder = None
    if streams.stdin is not None:
        feeder = asyncio.create_task(_pump_stdin(streams.stdin, proc))
    try:
        return await _finish(proc, tasks, streams.gone, pid_file)
    finally:
        if feeder is not None:
            feeder.cancel()
        _unlink(pid_file)


def _log_file(pid_file: str) -> str:
    return os.path.join(os.path.dirname(pid_file), "runc.log")


def start_failure(pid_file: str, code: int) -> str | None:
    """runc's error when it could not start the command (exit 255, no pid written)."""
    if code != 255 or os.path.exists(pid_file):
        return None
    message = None
    with contextlib.suppress(OSError):
        with open(_log_file(pid_file)) as f:
            for line in f:
                with contextlib.suppress(ValueError, AttributeError):
                    entry = json.loads(line)
                    if entry.get("level") in ("error", "fatal"):
                        message = str(entry.get("msg", ""))
    return message


def _pid_file() -> str:
    """Where runc writes the command's pid: a file in a private temporary directory."""
    return os.path.join(tempfile.mkdtemp(prefix="kubepy-exec-"), "pid")


def _unlink(pid_file: str) -> None:
    for path in (pid_file, _log_file(pid_file)):
        with contextlib.suppress(OSError):
            os.unlink(path)
    with contextlib.suppress(OSError):
        os.rmdir(os.path.dirname(pid_file))


def set_window_size(fd: int, width: int, height: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


class _Terminal:
    """Our side (the master) of a pseudo-terminal, read and written from asyncio."""

    def __init__(self, master: int) -> None:
        self.fd = master
        os.set_blocking(master, False)
        self._loop = asyncio.get_running_loop()

    async def read(self) -> bytes:
        while True:
            try:
                return os.read(self.fd, 32 * 1024)
            except BlockingIOError:
                await self._wait(self._loop.add_reader, self._loop.remove_reader)
            except OSError:  # EIO: every process holding the other side has gone
                return b""

    async def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self.fd, view):]
            except BlockingIOError:
                await self._wait(self._loop.add_writer, self._loop.remove_writer)

    async def _wait(self, add: object, remove: object) -> None:
        future = self._loop.create_future()
        add(self.fd, future.set_result, None)  # type: ignore[operator]
        try:
            await future
        finally:
            remove(self.fd)  # type: ignore[operator]


async def exec_tty(runc: list[str], container_id: str, argv: list[str],
                   streams: CommandStreams) -> int:
    master, slave = os.openpty()
    ttys.setraw(slave)
    set_window_size(slave, 80, 24)
    pid_file = _pid_file()
    try:
        proc = await asyncio.create_subprocess_exec(
            *runc, "--log", _log_file(pid_file), "--log-format", "json", "exec", "--tty",
            "--pid-file", pid_file, container_id, *argv, stdin=slave, stdout=slave,
            stderr=slave, start_new_session=True)
    except OSError as e:
        os.close(master)
        raise ExecError(f"starting runc: {e}") from e
    finally:
        os.close(slave)
    terminal = _Terminal(master)

    async def output() -> None:
        while data := await terminal.read():
            if streams.stdout is not None:
                with contextlib.suppress(Exception):
                    await streams.stdout.write(data)

    async def stdin() -> None:
        assert streams.stdin is not None
        with contextlib.suppress(OSError):
            while data := await streams.stdin.read():
                await terminal.write(data)
            await terminal.write(b"\x04")

    async def resize() -> None:
        assert streams.resize is not None
        while (size := await streams.resize.get()) is not None:
            width, height = size
            if width > 0 and height > 0:
                set_window_size(master, width, height)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGWINCH)

    helpers = [asyncio.create_task(resize())] if streams.resize is not None else []
    if streams.stdin is not None:
        helpers.append(asyncio.create_task(stdin()))
    try:
        return await _finish(proc, [asyncio.create_task(output())], streams.gone, pid_file)
    finally:
        for task in helpers:
            task.cancel()
        os.close(master)
        _unlink(pid_file)


async def exec_in_container(runc: list[str], container_id: str, argv: list[str],
                            streams: CommandStreams) -> int:
    """Run ``argv`` in the container; its exit code (ExecError if it could not start)."""
    if streams.options.tty:
        return await exec_tty(runc, container_id, argv, streams)
    return await exec_pipes(runc, container_id, argv, streams)
