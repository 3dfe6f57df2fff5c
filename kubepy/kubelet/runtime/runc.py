"""The runc command line, and the exit statuses of the containers it starts. I/O.

``Runc(root_dir)`` runs ``runc --root <root_dir> ...`` so kubepy's containers live in their
own state directory, apart from anything else on the machine. Containers run detached in
runc's pass-through mode: ``create`` starts ``runc create`` with stdin from /dev/null and
stdout/stderr appended to the given files, which the container's process inherits (no
terminal, no console socket). runc's own messages go to ``<bundle>/runc.log`` (JSON lines);
a failing ``runc create`` also prints its error to stderr, i.e. into the stderr file.

``Runc.exec_sync`` runs a command in a running container (``runc exec``: the process takes
the container's env, cwd, user and capabilities from its config.json, as CRI-O's exec process
spec does) and collects its exit code and output. Containers under conmon use the same call
(``conmon.ConmonRunner.exec_sync``).

Exit codes: only a process's parent can read its exit status, and the parent of a detached
container's init (``runc create``) exits at once. ``ExitWatcher`` makes this process a child
subreaper (``PR_SET_CHILD_SUBREAPER``), so the inits of the containers it creates become its
children; ``wait(pid)`` then waits on a pidfd and reaps the status (128+signal for a signal,
as Kubernetes reports it). For a process that is not our child (created by an earlier
kubelet process) the status is lost and ``wait`` returns None once it has exited.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import signal as signals
from dataclasses import dataclass, field
from typing import Any

PR_SET_CHILD_SUBREAPER = 36


class RuncError(Exception):
    """A runc command failed; ``stderr`` holds what runc said."""

    def __init__(self, args: list[str], returncode: int, stderr: str) -> None:
        super().__init__(f"runc {' '.join(args)}: exit {returncode}: {stderr.strip()}")
        self.args_, self.returncode, self.stderr = args, returncode, stderr


class ContainerNotFound(RuncError):
    pass


class ExecError(RuncError):
    """``runc exec`` could not start the process (container not running, executable not
    found); ``stderr`` holds runc's message, as the CRI reports it (an error, not an exit
    code)."""


@dataclass(frozen=True)
class ContainerState:
    """``runc state``: status is creating, created, running, paused or stopped."""

    id: str
    pid: int
    status: str
    bundle: str
    created: str = ""
    annotations: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> "ContainerState":
        return cls(id=obj["id"], pid=int(obj.get("pid") or 0), status=obj.get("status", ""),
                   bundle=obj.get("bundle", ""), created=obj.get("created", ""),
                   annotations=dict(obj.get("annotations") or {}))


class Runc:
    def __init__(self, root_dir: str, *, binary: str = "runc") -> None:
        self.root_dir, self.binary = root_dir, binary

    async def _run(self, *args: str, stdout: Any = asyncio.subprocess.PIPE,
                   stderr: Any = asyncio.subprocess.PIPE, log: str | None = None) -> bytes:
        argv = [self.binary, "--root", self.root_dir]
        if log:
            argv += ["--log", log, "--log-format", "json"]
        proc = await asyncio.create_subprocess_exec(
            *argv, *args, stdin=asyncio.subprocess.DEVNULL, stdout=stdout, stderr=stderr)
        out, err = await proc.communicate()
        if proc.returncode != 0:
            text = (err or b"").decode(errors="replace")
            if log and not text:
                text = _last_log_error(log)
            cls = ContainerNotFound if "does not exist" in text else RuncError
            raise cls(list(args), proc.returncode or 0, text)
        return out or b""

    async def create(self, container_id: str, bundle: str, *, stdout_path: str,
                     stderr_path: str) -> int:
        """``runc create``; returns the container's init pid (waiting for ``start``)."""
        pid_file = os.path.join(bundle, "init.pid")
        with open(stdout_path, "ab") as out, open(stderr_path, "ab") as err:
            await self._run("create", "--bundle", bundle, "--pid-file", pid_file,
                            container_id, stdout=out, stderr=err,
                            log=os.path.join(bundle, "runc.log"))
        with open(pid_file) as f:
            return int(f.read().strip())

    async def start(self, container_id: str) -> None:
        await self._run("start", container_id)

    async def state(self, container_id: str) -> ContainerState:
        """Raises ContainerNotFound for an unknown id."""
        return ContainerState.from_json(json.loads(await self._run("state", container_id)))

    async def kill(self, container_id: str, sig: int = signals.SIGTERM, *,
                   all: bool = False) -> None:
        await self._run("kill", *(["--all"] if all else []), container_id, str(int(sig)))

    async def delete(self, container_id: str, *, force: bool = False) -> None:
        await self._run("delete", *(["--force"] if force else []), container_id)

    async def exec_sync(self, container_id: str, argv: list[str], *,
                        timeout: float | None, pid_dir: str = "/tmp") -> tuple[int, bytes, bytes]:
        """Run *argv* in the container; returns (exit code, stdout, stderr), the exit code
        as Kubernetes reports it (128 + signal). On *timeout* the process (and its process
        group) is killed and ``asyncio.TimeoutError`` raised. Raises ``ExecError`` when
        the process could not be started."""
        pid_file = os.path.join(pid_dir, f".exec-{os.urandom(6).hex()}.pid")
        proc = await asyncio.create_subprocess_exec(
            self.binary, "--root", self.root_dir, "exec", "--pid-file", pid_file,
            container_id, *argv, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            try:
                out, err = await asyncio.wait_for(proc.communicate(), timeout)
            except BaseException:                  # timeout or cancellation
                await _abort_exec(proc, pid_file)
                raise
            started = os.path.exists(pid_file)
        finally:
            try:
                os.unlink(pid_file)
            except FileNotFoundError:
                pass
        code = proc.returncode or 0
        if not started:
            text = err.decode(errors="replace")
            cls = ContainerNotFound if "does not exist" in text else ExecError
            raise cls(["exec", container_id, *argv], code, text)
        return (128 - code if code < 0 else code), out, err

    async def list(self) -> list[ContainerState]:
        out = await self._run("list", "--format", "json")
        return [ContainerState.from_json(o) for o in json.loads(out or b"null") or []]


async def _abort_exec(proc: asyncio.subprocess.Process, pid_file: str) -> None:
    """Kill an exec'd process (and its process group: runc makes it a session leader, as
    conmon kills it on a timeout), let ``runc exec`` reap it and exit, killing runc too if
    it does not. A grandchild still holding the pipes cannot keep us waiting."""
    pid = _read_pid(pid_file)
    for _ in range(100):             # runc writes the pid file once the process is started
        if pid > 1 or proc.returncode is not None:
            break
        await asyncio.sleep(0.01)
        pid = _read_pid(pid_file)
    if pid > 1:
        try:
            if os.getpgid(pid) == pid:
                os.killpg(pid, signals.SIGKILL)
            else:
                os.kill(pid, signals.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        await asyncio.wait_for(proc.wait(), 2)
    except asyncio.TimeoutError:
        if proc.returncode is None:
            proc.kill()
        try:
            await asyncio.wait_for(proc.wait(), 2)
        except asyncio.TimeoutError:
            pass
    transport = getattr(proc, "_transport", None)
    if transport is not None:
        transport.close()
    if pid > 1:
        # Orphaned by a killed runc, the process is ours when we are a child subreaper; an
        # unreaped zombie would keep the container's PID namespace (and its init) alive.
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


def _read_pid(path: str) -> int:
    try:
        with open(path) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def _last_log_error(path: str) -> str:
    try:
        with open(path) as f:
            lines = [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError):
        return ""
    errors = [ln.get("msg", "") for ln in lines if ln.get("level") in ("error", "fatal")]
    return errors[-1] if errors else ""


def set_child_subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def exit_code(status: int) -> int:
    """A wait status as Kubernetes reports it: the exit code, or 128 + the signal."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


async def wait_pid(pid: int, timeout: float | None = None) -> bool:
    """Wait until *pid* has exited (any process); False on timeout."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def exited() -> None:
        if not done.done():
            done.set_result(None)

    loop.add_reader(fd, exited)
    try:
        await asyncio.wait_for(done, timeout)
        return True
    except asyncio.TimeoutError:
        return False
    finally:
        loop.remove_reader(fd)
        os.close(fd)


class ExitWatcher:
    """Exit statuses of container inits (see the module docstring). Create one per process,
    before the first ``runc create``."""

    def __init__(self) -> None:
        set_child_subreaper()

    async def wait(self, pid: int) -> int | None:
        """The exit code of container init *pid*, once it exits; None when unknowable."""
        await wait_pid(pid)
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            return None
        return exit_code(status)


async def stop(runc: Runc, container_id: str, pid: int, *, grace: float) -> bool:
    """Stop a container: SIGTERM to its init, then, after *grace* seconds (at once for 0),
    SIGKILL to every process in it. Only waits for the exit (pidfd); reaping the status is
    the ``ExitWatcher.wait`` of whoever started the container. True once the init exited;
    a container without a process (pid <= 0: runc reports 0 for a stopped one) is stopped."""
    if pid <= 0:
        return True
    if grace > 0:
        try:
            await runc.kill(container_id, signals.SIGTERM)
        except RuncError:
            pass
        if await wait_pid(pid, grace):
            return True
    try:
        await runc.kill(container_id, signals.SIGKILL, all=True)
    except RuncError:
        pass
    return await wait_pid(pid, 10)


CAP_SYS_RESOURCE = 24


def oom_score_adj_floor() -> int:
    """The lowest oomScoreAdj runc can give a container from this process: -1000 with
    CAP_SYS_RESOURCE, else this process's own value (lowering it needs the capability)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapEff:"):
                if int(line.split()[1], 16) >> CAP_SYS_RESOURCE & 1:
                    return -1000
    with open("/proc/self/oom_score_adj") as f:
        return int(f.read().strip())
