"""Containers under conmon (CRI-O's container monitor) over runc. I/O.

Each container gets its own ``conmon`` process, started as CRI-O starts it: conmon forks
(the parent exits at once, so the monitor is no child of ours), calls ``runc create`` with
the container's stdio on pipes it owns, reports the container's init pid (or runc's error)
as one JSON line on the sync pipe (``_OCI_SYNCPIPE``), and then stays until the container
exits, writing its output to ``log_path`` in the CRI format (``<RFC3339Nano> stdout|stderr
P|F <text>``, P for a chunk without its newline; the file is started afresh past
``log_size_max`` bytes) and its exit code to the exit file. So containers, their logs and
their exit codes outlive the process that created them; a later ``ConmonRunner`` on the
same ``state_dir`` reads everything from disk, nothing is kept in memory.

Layout of ``state_dir``::

    exits/<id>                 conmon's exit file (``--exit-dir``): the exit code, written
                               when the container exits (128 + signal for a signal); its
                               mtime is the finish time
    sockets/<id> -> <bundle>   conmon's symlink (``--socket-dir-path``), keeping the attach
                               socket path short; removed by conmon when it exits
    containers/<id>/           the persist dir (``--persist-dir``): meta.json (bundle, log
                               path, cgroup, stdio flags), conmon.pid, init.pid, and conmon's
                               ``oom`` file when the memory cgroup saw an OOM kill

conmon creates in the bundle directory the attach socket (``attach``: SOCK_SEQPACKET; a
client's packets go to the container's stdin, each packet from conmon starts with one byte
naming the stream, 2 stdout, 3 stderr), the ``ctl`` FIFO (lines ``"1 <height> <width>\\n"``
resize the terminal, ``"2 0 0\\n"`` reopens the log file: ``rotate_log`` renames the log as
the kubelet's log manager does and has conmon start a new one) and ``winsz``.

A container with ``tty`` needs ``process.terminal: true`` in its config.json (runc then hands
the pty to conmon through its console socket). OOM: conmon's ``oom`` file, else the
``oom_kill`` counter of the container's memory cgroup (readable until ``remove``).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal as signals
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from kubepy.kubelet.runtime import cgroups
from kubepy.kubelet.runtime.runc import ContainerNotFound, Runc, RuncError, wait_pid

UNKNOWN_EXIT_CODE = 255   # conmon gone without an exit file (CRI-O reports 255 too)
BUNDLE_FILES = ("attach", "ctl", "winsz")
POLL_S = 0.05


class ConmonError(RuncError):
    """conmon could not create the container; the message is conmon's or runc's."""

    def __init__(self, container_id: str, message: str) -> None:
        RuncError.__init__(self, ["create", container_id], -1, message)


@dataclass(frozen=True)
class ExitStatus:
    exit_code: int
    finished_at: float        # epoch seconds (exit file mtime)
    oom_killed: bool          # conmon's "oom" file in the persist dir, or the memory cgroup


@dataclass(frozen=True)
class ContainerMeta:
    """What a runner keeps of a container on disk (``containers/<id>/meta.json``)."""

    bundle: str
    log_path: str
    cgroups_path: str
    stdin: bool
    stdin_once: bool
    tty: bool


class ConmonRunner:
    def __init__(self, runc: Runc, state_dir: str, *, conmon: str = "conmon",
                 log_size_max: int = 10 * 1024 * 1024) -> None:
        self.runc, self.state_dir = runc, os.path.abspath(state_dir)
        self.conmon, self.log_size_max = conmon, log_size_max
        self.exit_dir = os.path.join(self.state_dir, "exits")
        self.socket_dir = os.path.join(self.state_dir, "sockets")
        self.containers_dir = os.path.join(self.state_dir, "containers")
        for d in (self.exit_dir, self.socket_dir, self.containers_dir):
            os.makedirs(d, exist_ok=True)

    # paths -------------------------------------------------------------------------------

    def _dir(self, container_id: str) -> str:
        return os.path.join(self.containers_dir, _checked(container_id))

    def _exit_file(self, container_id: str) -> str:
        return os.path.join(self.exit_dir, _checked(container_id))

    def attach_socket(self, container_id: str) -> str:
        """conmon's attach socket (through the short symlink in ``sockets/``)."""
        return os.path.join(self.socket_dir, _checked(container_id), "attach")

    def ctl_path(self, container_id: str) -> str:
        """conmon's control FIFO in the bundle (write ``"1 <rows> <cols>\\n"`` to resize)."""
        try:
            return os.path.join(self._meta(container_id).bundle, "ctl")
        except (OSError, ValueError, TypeError):
            return os.path.join(self.socket_dir, container_id, "ctl")

    def known(self) -> list[str]:
        """The ids of the containers with a state dir (created and not removed)."""
        return sorted(n for n in os.listdir(self.containers_dir)
                      if os.path.exists(os.path.join(self.containers_dir, n, "meta.json")))

    def _meta(self, container_id: str) -> ContainerMeta:
        with open(os.path.join(self._dir(container_id), "meta.json")) as f:
            return ContainerMeta(**json.load(f))

    def _conmon_pid(self, container_id: str) -> int | None:
        return _read_int(os.path.join(self._dir(container_id), "conmon.pid"))

    # create / start ----------------------------------------------------------------------

    async def create(self, container_id: str, bundle: str, *, log_path: str,
                     stdin: bool = False, stdin_once: bool = False,
                     tty: bool = False) -> int:
        """Start conmon, which runs ``runc create``; returns the container's init pid (the
        container is created, not started). On failure nothing is left behind."""
        bundle = os.path.abspath(bundle)
        with open(os.path.join(bundle, "config.json")) as f:
            spec = json.load(f)
        if bool(spec.get("process", {}).get("terminal")) != tty:
            raise ConmonError(container_id, f"tty={tty} but the bundle's process.terminal is "
                              f"{spec.get('process', {}).get('terminal')}")
        cdir = self._dir(container_id)
        if os.path.exists(os.path.join(cdir, "meta.json")):
            raise ConmonError(container_id, f"container {container_id} already exists")
        os.makedirs(cdir, exist_ok=True)
        meta = ContainerMeta(bundle=bundle, log_path=os.path.abspath(log_path),
                             cgroups_path=spec.get("linux", {}).get("cgroupsPath", ""),
                             stdin=stdin, stdin_once=stdin_once, tty=tty)
        _write_json(os.path.join(cdir, "meta.json"), meta.__dict__)
        for stale in (self._exit_file(container_id), os.path.join(cdir, "oom")):
            _unlink(stale)
        os.makedirs(os.path.dirname(meta.log_path), exist_ok=True)
        try:
            return await self._spawn(container_id, meta)
        except ConmonError as e:
            # runc refuses an id it already has: that container is not ours to delete
            await self._cleanup_failed(container_id, runc_too="already exists" not in str(e))
            raise
        except BaseException:
            await self._cleanup_failed(container_id, runc_too=True)
            raise

    def command(self, container_id: str, meta: ContainerMeta) -> list[str]:
        """conmon's command line for the container, as CRI-O builds it: ``-i`` for stdin
        (``--leave-stdin-open`` unless stdinOnce), ``-t`` for a terminal (stdin then comes
        through the pty), runc's ``--root`` passed through."""
        cdir = self._dir(container_id)
        runtime = shutil.which(self.runc.binary) or self.runc.binary
        argv = [self.conmon, "-b", meta.bundle, "-c", container_id, "-u", container_id,
                "-n", container_id, "-r", runtime,
                "--runtime-arg", "--root", "--runtime-arg", self.runc.root_dir,
                "-p", os.path.join(cdir, "init.pid"), "-P", os.path.join(cdir, "conmon.pid"),
                "--persist-dir", cdir, "--exit-dir", self.exit_dir,
                "--socket-dir-path", self.socket_dir,
                "-l", f"k8s-file:{meta.log_path}", "--log-level", "error"]
        if self.log_size_max > 0:
            argv += ["--log-size-max", str(self.log_size_max)]
        if meta.tty:
            argv.append("-t")
        elif meta.stdin:
            argv.append("-i")
            if not meta.stdin_once:
                argv.append("--leave-stdin-open")
        return argv

    async def _spawn(self, container_id: str, meta: ContainerMeta) -> int:
        """Run conmon and read the init pid from the sync pipe. conmon's stderr goes to a
        file, not a pipe: the daemonized monitor keeps a copy of its stderr (under uvloop a
        socketpair libuv leaves open in the child), so reading a pipe to its end would wait
        for the container's exit. The first conmon process exits once it has forked."""
        sync_r, sync_w = os.pipe()
        try:
            with tempfile.TemporaryFile() as err_file:
                env = dict(os.environ, _OCI_SYNCPIPE=str(sync_w))
                proc = await asyncio.create_subprocess_exec(
                    *self.command(container_id, meta), cwd=meta.bundle, env=env,
                    pass_fds=(sync_w,),
                    stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                    stderr=err_file, start_new_session=True)
                os.close(sync_w)
                sync_w = -1
                await proc.wait()
                if proc.returncode != 0:
                    err_file.seek(0)
                    err = err_file.read(64 * 1024).decode(errors="replace").strip()
                    raise ConmonError(container_id, f"conmon exited {proc.returncode}: {err}")
            line = await _read_line(sync_r, timeout=60)
        finally:
            os.close(sync_r)
            if sync_w >= 0:
                os.close(sync_w)
        try:
            msg = json.loads(line) if line.strip() else {}
        except ValueError:
            msg = {}
        pid = int(msg.get("pid", msg.get("data", -1)))
        if pid <= 0:
            raise ConmonError(container_id, str(msg.get("message") or
                                                "conmon exited without reporting a pid"))
        return pid

    async def _cleanup_failed(self, container_id: str, *, runc_too: bool) -> None:
        try:
            if runc_too:
                await self.remove(container_id)
            else:
                _unlink(self._exit_file(container_id))
                shutil.rmtree(self._dir(container_id), ignore_errors=True)
        except Exception:
            pass

    async def start(self, container_id: str) -> None:
        await self.runc.start(container_id)

    # exit --------------------------------------------------------------------------------

    def exit_status(self, container_id: str) -> ExitStatus | None:
        """The container's exit, once conmon has written its exit file; None before."""
        path = self._exit_file(container_id)
        try:
            with open(path) as f:
                text = f.read().strip()
            finished = os.stat(path).st_mtime
        except FileNotFoundError:
            return None
        try:
            code = int(text)
        except ValueError:
            code = UNKNOWN_EXIT_CODE
        return ExitStatus(exit_code=code, finished_at=finished,
                          oom_killed=self._oom_killed(container_id))

    def _oom_killed(self, container_id: str) -> bool:
        cdir = self._dir(container_id)
        if os.path.exists(os.path.join(cdir, "oom")):
            return True
        try:
            cgroups_path = self._meta(container_id).cgroups_path
        except (OSError, ValueError, TypeError):
            return False
        return bool(cgroups_path) and cgroups.oom_kill_count(cgroups_path) > 0

    async def wait(self, container_id: str) -> ExitStatus:
        """Wait for the container's exit (also one created by an earlier process): conmon's
        own exit is awaited on a pidfd (it writes the exit file just before), the exit file
        re-checked at least every second. If conmon died without writing it, waits for runc
        to see the container stopped and writes exit code 255 in its place. Raises
        ContainerNotFound for an id this runner does not know."""
        while True:
            status = self.exit_status(container_id)
            if status is not None:
                self._reap_conmon(container_id)
                return status
            if not os.path.exists(os.path.join(self._dir(container_id), "meta.json")):
                raise ContainerNotFound(["wait", container_id], 1,
                                        f"container {container_id} does not exist")
            pid = self._conmon_pid(container_id)
            if pid is not None and self._conmon_alive(container_id):
                await wait_pid(pid, 1.0)
                continue
            await asyncio.sleep(POLL_S)          # conmon writes the file, then exits
            if self.exit_status(container_id) is None:
                await self._wait_runc_stopped(container_id)
                if self.exit_status(container_id) is None:
                    _write_text(self._exit_file(container_id), str(UNKNOWN_EXIT_CODE))

    def _conmon_alive(self, container_id: str) -> bool:
        """Whether this container's conmon still runs (its recorded pid, checked against the
        command line so that a reused pid is not taken for it)."""
        pid = self._conmon_pid(container_id)
        if pid is None:
            return False
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            with open(f"/proc/{pid}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        cid = container_id.encode()
        return state != b"Z" and self.exit_dir.encode() in argv and any(
            a == b"-c" and b == cid for a, b in zip(argv, argv[1:]))

    def _reap_conmon(self, container_id: str, *, init_too: bool = False) -> None:
        """conmon is our child when this process is a child subreaper (runc.ExitWatcher), and
        so is the container's init once its conmon died."""
        pids = [self._conmon_pid(container_id)]
        if init_too:
            pids.append(_read_int(os.path.join(self._dir(container_id), "init.pid")))
        for pid in pids:
            if pid:
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass

    async def _wait_runc_stopped(self, container_id: str) -> None:
        while True:
            try:
                state = await self.runc.state(container_id)
            except ContainerNotFound:
                return
            if state.status == "stopped":
                return
            await asyncio.sleep(0.5)

    async def _wait_exit(self, container_id: str, timeout: float) -> ExitStatus | None:
        try:
            return await asyncio.wait_for(self.wait(container_id), timeout)
        except asyncio.TimeoutError:
            return None

    async def stop(self, container_id: str, grace: float) -> ExitStatus | None:
        """SIGTERM to the container's init, SIGKILL to all its processes after *grace*
        seconds (at once for 0); returns the exit (None if it did not come within 10 s of
        the SIGKILL)."""
        status = self.exit_status(container_id)
        if status is not None:
            return status
        if grace > 0:
            try:
                await self.runc.kill(container_id, signals.SIGTERM)
            except RuncError:
                pass
            status = await self._wait_exit(container_id, grace)
            if status is not None:
                return status
        try:
            await self.runc.kill(container_id, signals.SIGKILL, all=True)
        except RuncError:
            pass
        return await self._wait_exit(container_id, 10)

    # remove / exec -----------------------------------------------------------------------

    async def remove(self, container_id: str) -> None:
        """Kill what is left, ``runc delete --force``, wait for conmon to go, and remove the
        state dir, the exit file and conmon's files in the bundle."""
        try:
            await self.runc.delete(container_id, force=True)
        except ContainerNotFound:
            pass
        await self._wait_conmon_gone(container_id, 5.0)
        self._reap_conmon(container_id, init_too=True)
        self._remove_files(container_id)

    def _remove_files(self, container_id: str) -> None:
        cdir = self._dir(container_id)
        try:
            meta: ContainerMeta | None = self._meta(container_id)
        except (OSError, ValueError, TypeError):
            meta = None
        _unlink(self._exit_file(container_id))
        link = os.path.join(self.socket_dir, container_id)
        if os.path.islink(link):
            _unlink(link)
        if meta is not None:
            for name in BUNDLE_FILES:
                _unlink(os.path.join(meta.bundle, name))
        shutil.rmtree(cdir, ignore_errors=True)

    async def _wait_conmon_gone(self, container_id: str, timeout: float) -> None:
        pid = self._conmon_pid(container_id)
        if pid is None or not self._conmon_alive(container_id):
            return
        if not await wait_pid(pid, timeout):
            try:
                os.kill(pid, signals.SIGKILL)
            except ProcessLookupError:
                pass
            await wait_pid(pid, 2.0)

    async def reopen_log(self, container_id: str, *, timeout: float = 2.0) -> None:
        """Make conmon write to a fresh file at the log path (CRI ReopenContainerLog: "2 0 0"
        on the ctl FIFO), waiting until the file is there. OSError when conmon is gone."""
        log_path = self._meta(container_id).log_path
        fd = os.open(self.ctl_path(container_id), os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, b"2 0 0\n")
        finally:
            os.close(fd)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not os.path.exists(log_path):
            if loop.time() >= deadline:
                raise TimeoutError(f"{log_path} not reopened by conmon")
            await asyncio.sleep(0.01)

    async def rotate_log(self, container_id: str, *, max_size: int, max_files: int) -> bool:
        """The kubelet's container log rotation: once the running container's log is past
        *max_size* bytes it is renamed to ``<log>.<YYYYmmdd-HHMMSS>``, conmon reopens the
        log path, and the oldest rotated files beyond ``max_files - 1`` are removed.
        True when rotated."""
        log_path = self._meta(container_id).log_path
        try:
            if os.path.getsize(log_path) <= max_size or not self._conmon_alive(container_id):
                return False
        except FileNotFoundError:
            return False
        os.replace(log_path, f"{log_path}.{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}")
        await self.reopen_log(container_id)
        prefix = os.path.basename(log_path) + "."
        directory = os.path.dirname(log_path)
        rotated = sorted(n for n in os.listdir(directory)
                         if n.startswith(prefix) and n[len(prefix):].replace("-", "").isdigit())
        for name in rotated[:max(0, len(rotated) - max(max_files - 1, 0))]:
            _unlink(os.path.join(directory, name))
        return True

    async def exec_sync(self, container_id: str, argv: list[str], *,
                        timeout: float | None) -> tuple[int, bytes, bytes]:
        """Run *argv* in the running container (``runc exec``); (exit code, stdout,
        stderr). A timeout kills the process and raises ``asyncio.TimeoutError``; a
        process that cannot be started raises ``runc.ExecError``."""
        return await self.runc.exec_sync(container_id, argv, timeout=timeout,
                                         pid_dir=self._dir(container_id))


def _checked(container_id: str) -> str:
    """A container id usable as a file name (runc's ids are [\\w+-.]+)."""
    if not container_id or "/" in container_id or container_id.startswith("."):
        raise ValueError(f"invalid container id {container_id!r}")
    return container_id


async def _read_line(fd: int, *, timeout: float) -> bytes:
    """One line (or everything up to EOF) from a pipe, without blocking the loop."""
    os.set_blocking(fd, False)
    loop = asyncio.get_running_loop()
    buf = bytearray()
    done: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            return
        buf.extend(chunk)
        if (not chunk or b"\n" in buf) and not done.done():
            done.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await asyncio.wait_for(done, timeout)
    finally:
        loop.remove_reader(fd)
    return bytes(buf).split(b"\n", 1)[0]


def _read_int(path: str) -> int | None:
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def _write_json(path: str, obj: Any) -> None:
    _write_text(path, json.dumps(obj))


def _write_text(path: str, text: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
