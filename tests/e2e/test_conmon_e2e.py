"""Containers under real conmon over real runc (root): CRI logs, exit files, survival of the
process that created them, stdin through the attach socket, a terminal, exec, OOM kills,
stopping, and nothing left behind.

Needs root, conmon, runc and busybox-static (Debian packages ``conmon``, ``runc``,
``busybox-static``); fails, not skips, when they are missing. Every test works under its own
temp dir (runc root, conmon state dir, bundles, logs) and cgroup parent
``kubepy-conmon-<random>``; the fixture removes every container and cgroup it created and
checks that no conmon process, runc state, mount or cgroup is left, also when the test fails.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from kubepy.kubelet.runtime import cgroups
from kubepy.kubelet.runtime.bundle import mounts_under
from kubepy.kubelet.runtime.conmon import ConmonRunner, ExitStatus
from kubepy.kubelet.runtime.runc import ExecError, Runc
from kubepy.kubelet.runtime.sandbox import BUSYBOX
from tests.bundles import ROOT_PASSWD, busybox_rootfs, container_bundle
from tests.bundles import sh_container as sh

Obj = dict[str, Any]
ROOT = Path(__file__).resolve().parent.parent.parent
CRI_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(?:Z|[+-]\d\d:\d\d)) "
                      r"(stdout|stderr) ([PF]) (.*)$")


def _require() -> None:
    if os.geteuid() != 0:
        pytest.fail("e2e conmon tests need root")
    for tool in ("conmon", "runc"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is not installed (Debian package {tool})")
    if not os.path.exists(BUSYBOX):
        pytest.fail("busybox-static is not installed")


@dataclass
class Env:
    tmp: str
    runc: Runc
    state_dir: str
    cgroup_parent: str
    rootfs: str
    pod: Obj

    def runner(self, **kw: Any) -> ConmonRunner:
        return ConmonRunner(self.runc, self.state_dir, **kw)

    def bundle(self, container: Obj, *, tty: bool = False) -> tuple[str, str]:
        """Write the container's bundle; returns (container id, bundle dir)."""
        cid, bundle, _ = container_bundle(os.path.join(self.tmp, "bundles"), self.pod,
                                          container, rootfs=self.rootfs,
                                          cgroup_parent=self.cgroup_parent, tty=tty,
                                          exist_ok=True)
        return cid, bundle

    def log_path(self, cid: str) -> str:
        return os.path.join(self.tmp, "logs", cid, "0.log")

    async def run(self, runner: ConmonRunner, container: Obj, **kw: Any) -> str:
        """Create and start; returns the container id."""
        cid, bundle = self.bundle(container, tty=kw.get("tty", False))
        await runner.create(cid, bundle, log_path=self.log_path(cid), **kw)
        await runner.start(cid)
        return cid


def cri_lines(path: str) -> list[tuple[str, str, str]]:
    """(stream, tag, text) of each line of a CRI log, checking the format of every line."""
    out = []
    for line in Path(path).read_text().splitlines():
        m = CRI_LINE.match(line)
        assert m, line
        out.append((m.group(2), m.group(3), m.group(4)))
    return out


def conmon_processes(marker: str) -> list[int]:
    """Pids of conmon processes whose command line mentions *marker*."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            argv = Path(f"/proc/{name}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and os.path.basename(argv[0]) == b"conmon" and \
                any(marker.encode() in a for a in argv):
            found.append(int(name))
    return found


async def _cleanup(env: Env) -> list[str]:
    problems: list[str] = []
    runner = env.runner()
    for cid in runner.known():
        try:
            await runner.stop(cid, 0)
            await runner.remove(cid)
        except Exception as e:  # noqa: BLE001 - collected and reported below
            problems.append(f"{cid}: {e}")
    for state in await env.runc.list():
        problems.append(f"runc container left: {state.id}")
        await env.runc.delete(state.id, force=True)
    for pid in conmon_processes(env.tmp):
        problems.append(f"conmon {pid} left")
        os.kill(pid, 9)
    problems += cgroups.remove_cgroup(env.cgroup_parent)
    return problems


@pytest.fixture
def env() -> Iterator[Env]:
    _require()
    tmp = tempfile.mkdtemp(prefix="kubepy-conmon-")
    uid = uuid.uuid4().hex[:12]
    e = Env(tmp=tmp, runc=Runc(os.path.join(tmp, "runc")),
            state_dir=os.path.join(tmp, "state"), cgroup_parent=f"kubepy-conmon-{uid}",
            rootfs=busybox_rootfs(os.path.join(tmp, "rootfs"),
                                  dirs=("bin", "etc", "tmp", "dev", "proc", "sys"),
                                  passwd=ROOT_PASSWD, group=None),
            pod={"metadata": {"name": "web-0", "namespace": "default", "uid": uid},
                 "spec": {"containers": []}})
    try:
        yield e
    finally:
        problems = asyncio.run(_cleanup(e))
        left_runc = asyncio.run(e.runc.list())
        left_conmon = conmon_processes(tmp)
        left_mounts = mounts_under(tmp)
        left_state = os.listdir(os.path.join(e.state_dir, "containers")) \
            if os.path.isdir(e.state_dir) else []
        shutil.rmtree(tmp, ignore_errors=True)
        assert not problems, problems
        assert not left_runc and not left_conmon and not left_mounts and not left_state
        assert not cgroups.existing(e.cgroup_parent)


def test_cri_log_and_exit_code(env: Env) -> None:
    runner = env.runner()

    async def main() -> tuple[ExitStatus, str]:
        cid = await env.run(runner, sh("app", "echo hello; printf 'no newline'; "
                                              "echo oops >&2; exit 3"))
        status = await asyncio.wait_for(runner.wait(cid), 10)
        assert runner.exit_status(cid) == status
        await runner.remove(cid)
        assert runner.exit_status(cid) is None and cid not in runner.known()
        return status, cid

    t0 = time.time()
    status, cid = asyncio.run(main())
    assert (status.exit_code, status.oom_killed) == (3, False)
    assert t0 <= status.finished_at <= time.time()
    assert cri_lines(env.log_path(cid)) == [
        ("stdout", "F", "hello"), ("stdout", "P", "no newline"), ("stderr", "F", "oops")]


def test_create_returns_promptly_under_uvloop(env: Env) -> None:
    """``kubepy agent`` runs on uvloop, whose children keep a copy of their stdio socket: a
    create that read conmon's stderr to its end would wait for the container's exit."""
    import uvloop
    runner = env.runner()

    async def main() -> tuple[float, ExitStatus | None]:
        cid, bundle = env.bundle(sh("app", "sleep 30"))
        t0 = time.monotonic()
        await asyncio.wait_for(runner.create(cid, bundle, log_path=env.log_path(cid)), 10)
        await runner.start(cid)
        elapsed = time.monotonic() - t0
        running = runner.exit_status(cid)
        await runner.stop(cid, 0)
        await runner.remove(cid)
        return elapsed, running

    elapsed, running = uvloop.run(main())
    assert running is None and elapsed < 5


def test_log_started_afresh_past_log_size_max(env: Env) -> None:
    runner = env.runner(log_size_max=4096)

    async def main() -> str:
        cid = await env.run(runner, sh("chatty", "i=0; while [ $i -lt 400 ]; do "
                                                 "echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxx; "
                                                 "i=$((i+1)); done"))
        assert (await asyncio.wait_for(runner.wait(cid), 10)).exit_code == 0
        await runner.remove(cid)
        return cid

    cid = asyncio.run(main())
    lines = cri_lines(env.log_path(cid))
    assert os.path.getsize(env.log_path(cid)) <= 4096
    assert lines[-1] == ("stdout", "F", "line-399-xxxxxxxxxxxxxxxxxxxxxxxx")
    assert len(lines) < 400


CREATE_AND_EXIT = """
import asyncio, os, signal, sys
from kubepy.kubelet.runtime.conmon import ConmonRunner
from kubepy.kubelet.runtime.runc import Runc
runc_root, state_dir, cid, bundle, log = sys.argv[1:]
async def main():
    runner = ConmonRunner(Runc(runc_root), state_dir)
    print(await runner.create(cid, bundle, log_path=log), flush=True)
    await runner.start(cid)
asyncio.run(main())
os.kill(os.getpid(), signal.SIGKILL)    # the agent dies hard
"""


@pytest.mark.parametrize("script,signal_to_stop,expected_code", [
    ("echo started; sleep 0.5; exit 7", None, 7),
    ("trap 'echo bye; exit 0' TERM; echo started; while true; do sleep 0.1; done", 5.0, 0),
], ids=["exits-while-unwatched", "running-then-stopped"])
def test_container_outlives_its_creator(env: Env, script: str, signal_to_stop: float | None,
                                        expected_code: int) -> None:
    """The creating process is killed; a new runner on the same state dir finds the container
    (known), its conmon still running, and gets its exit code and log."""
    cid, bundle = env.bundle(sh("app", script))
    proc = subprocess.run([sys.executable, "-c", CREATE_AND_EXIT, env.runc.root_dir,
                           env.state_dir, cid, bundle, env.log_path(cid)],
                          capture_output=True, text=True, timeout=30, cwd=ROOT)
    assert proc.returncode == -9, proc.stderr
    init_pid = int(proc.stdout.strip())
    assert os.path.exists(f"/proc/{init_pid}")

    async def main() -> ExitStatus:
        runner = env.runner()
        assert runner.known() == [cid]
        assert len(conmon_processes(env.tmp)) == 1
        assert (await env.runc.state(cid)).status == "running"
        if signal_to_stop is None:
            assert runner.exit_status(cid) is None
            status = await asyncio.wait_for(runner.wait(cid), 10)
        else:
            await asyncio.sleep(0.3)
            status = await runner.stop(cid, signal_to_stop)
        assert status is not None
        assert env.runner().exit_status(cid) == status    # yet another runner reads it too
        await runner.remove(cid)
        return status

    status = asyncio.run(main())
    assert status.exit_code == expected_code
    texts = [text for _stream, _tag, text in cri_lines(env.log_path(cid))]
    assert texts[0] == "started" and (signal_to_stop is None or texts[-1] == "bye")


def _attach(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    sock.settimeout(10)
    sock.connect(path)
    return sock


def _read_stream(sock: socket.socket, want: bytes) -> dict[int, bytes]:
    """Packets from conmon's attach socket, by stream byte, until stdout holds *want*."""
    got: dict[int, bytes] = {}
    while want not in got.get(2, b""):
        packet = sock.recv(32768)
        if not packet:
            break
        got[packet[0]] = got.get(packet[0], b"") + packet[1:]
    return got


def test_stdin_through_attach_socket(env: Env) -> None:
    runner = env.runner()

    async def main() -> tuple[str, ExitStatus, dict[int, bytes]]:
        cid = await env.run(runner, sh("cat", "cat; echo done >&2"), stdin=True,
                            stdin_once=True)
        loop = asyncio.get_running_loop()
        sock = await loop.run_in_executor(None, _attach, runner.attach_socket(cid))
        try:
            sock.send(b"hello from stdin\n")
            got = await loop.run_in_executor(None, _read_stream, sock, b"hello from stdin\n")
        finally:
            sock.close()                     # stdin_once: conmon closes the container's stdin
        status = await asyncio.wait_for(runner.wait(cid), 10)
        await runner.remove(cid)
        return cid, status, got

    cid, status, got = asyncio.run(main())
    assert got[2] == b"hello from stdin\n"
    assert status.exit_code == 0
    assert cri_lines(env.log_path(cid)) == [("stdout", "F", "hello from stdin"),
                                            ("stderr", "F", "done")]


def test_terminal_and_resize(env: Env) -> None:
    runner = env.runner()

    async def main() -> str:
        cid, bundle = env.bundle(sh("tty", "sleep 0.5; tty; stty size"), tty=True)
        await runner.create(cid, bundle, log_path=env.log_path(cid), tty=True)
        with open(runner.ctl_path(cid), "w") as ctl:
            ctl.write("1 33 101\n")
        await runner.start(cid)
        assert (await asyncio.wait_for(runner.wait(cid), 10)).exit_code == 0
        await runner.remove(cid)
        return cid

    cid = asyncio.run(main())
    texts = [text.rstrip("\r") for stream, _tag, text in cri_lines(env.log_path(cid))]
    assert texts == ["/dev/pts/0", "33 101"]


def test_terminal_input_through_attach_socket(env: Env) -> None:
    runner = env.runner()

    async def main() -> tuple[dict[int, bytes], ExitStatus]:
        cid = await env.run(runner, sh("tty", "read line; echo got:$line"), tty=True,
                            stdin=True)
        loop = asyncio.get_running_loop()
        sock = await loop.run_in_executor(None, _attach, runner.attach_socket(cid))
        try:
            sock.send(b"abc\r")
            got = await loop.run_in_executor(None, _read_stream, sock, b"got:abc\r\n")
        finally:
            sock.close()
        status = await asyncio.wait_for(runner.wait(cid), 10)
        await runner.remove(cid)
        return got, status

    got, status = asyncio.run(main())
    assert status.exit_code == 0
    assert got == {2: b"abc\r\ngot:abc\r\n"}       # the pty echoes, one stream (stdout)


@pytest.mark.parametrize("argv,timeout,expected", [
    (["sh", "-c", "echo out; echo err >&2; exit 4"], 5.0, (4, b"out\n", b"err\n")),
    (["cat", "/etc/passwd"], None, (0, b"root:x:0:0:root:/root:/bin/sh\n", b"")),
    (["sh", "-c", "kill -9 $$"], 5.0, (137, b"", b"")),
    (["sh", "-c", "echo $HOME $GREETING; pwd"], 5.0, (0, b"/root hi\n/tmp\n", b"")),
], ids=["exit-code-and-streams", "no-timeout", "killed-by-signal", "container-env-and-cwd"])
def test_exec_sync(env: Env, argv: list[str], timeout: float | None,
                   expected: tuple[int, bytes, bytes]) -> None:
    runner = env.runner()

    async def main() -> tuple[int, bytes, bytes]:
        cid = await env.run(runner, sh("app", "sleep 60", workingDir="/tmp",
                                       env=[{"name": "GREETING", "value": "hi"}]))
        try:
            return await runner.exec_sync(cid, argv, timeout=timeout)
        finally:
            await runner.stop(cid, 0)
            await runner.remove(cid)

    assert asyncio.run(main()) == expected


def test_exec_sync_timeout_and_errors(env: Env) -> None:
    runner = env.runner()

    async def main() -> None:
        cid = await env.run(runner, sh("app", "sleep 60"))
        t0 = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await runner.exec_sync(cid, ["sh", "-c", "echo $$ > /tmp/exec.pid; sleep 30"],
                                   timeout=0.5)
        assert time.monotonic() - t0 < 3
        code, out, _ = await runner.exec_sync(cid, ["sh", "-c", "ps -o pid,args"], timeout=5)
        assert code == 0 and b"sleep 30" not in out, out     # the timed-out exec was killed
        with pytest.raises(ExecError, match="no-such-binary"):
            await runner.exec_sync(cid, ["no-such-binary"], timeout=5)
        await runner.stop(cid, 0)
        with pytest.raises(ExecError):
            await runner.exec_sync(cid, ["true"], timeout=5)
        await runner.remove(cid)

    asyncio.run(main())


SUBREAPER_EXEC_TIMEOUT = """
import asyncio, sys
from kubepy.kubelet.runtime.conmon import ConmonRunner
from kubepy.kubelet.runtime.runc import Runc, set_child_subreaper
runc_root, state_dir, cid, bundle, log = sys.argv[1:]
set_child_subreaper()           # as the agent (runc.ExitWatcher): orphans become ours
async def main():
    runner = ConmonRunner(Runc(runc_root), state_dir)
    await runner.create(cid, bundle, log_path=log)
    await runner.start(cid)
    try:
        await runner.exec_sync(cid, ["sh", "-c", "sleep 30"], timeout=0.3)
    except asyncio.TimeoutError:
        print("timed out")
    status = await runner.stop(cid, 0)
    print(status.exit_code if status else None)
    await runner.remove(cid)
asyncio.run(main())
"""


def test_exec_timeout_under_child_subreaper(env: Env) -> None:
    """A runc killed on an exec timeout orphans the exec'd process to a subreaper agent,
    which must reap it, or the container's PID namespace (and its init) never goes."""
    cid, bundle = env.bundle(sh("app", "sleep 60"))
    proc = subprocess.run([sys.executable, "-c", SUBREAPER_EXEC_TIMEOUT, env.runc.root_dir,
                           env.state_dir, cid, bundle, env.log_path(cid)],
                          capture_output=True, text=True, timeout=40, cwd=ROOT)
    assert (proc.returncode, proc.stdout.split()) == (0, ["timed", "out", "137"]), proc.stderr


def test_oom_killed_under_memory_limit(env: Env) -> None:
    runner = env.runner()

    async def main() -> ExitStatus:
        cid = await env.run(runner, sh("hog", "tail /dev/zero",
                                       resources={"limits": {"memory": "16Mi"}}))
        status = await asyncio.wait_for(runner.wait(cid), 20)
        assert os.path.exists(os.path.join(env.state_dir, "containers", cid, "oom")), \
            "conmon's oom file"
        await runner.remove(cid)
        return status

    status = asyncio.run(main())
    assert (status.exit_code, status.oom_killed) == (137, True)


@pytest.mark.parametrize("script,grace,expected_code,min_s,max_s", [
    ("trap 'exit 0' TERM; sleep 60 & wait", 5.0, 0, 0.0, 2.0),
    ("trap '' TERM; sleep 60 & wait; sleep 60", 0.5, 137, 0.5, 3.0),
    ("sleep 60", 0.0, 137, 0.0, 2.0),
], ids=["term-honoured", "term-ignored-then-kill", "grace-0"])
def test_stop(env: Env, script: str, grace: float, expected_code: int, min_s: float,
              max_s: float) -> None:
    runner = env.runner()

    async def main() -> tuple[ExitStatus | None, float]:
        cid = await env.run(runner, sh("app", script))
        await asyncio.sleep(0.2)
        assert (await env.runc.state(cid)).status == "running"
        t0 = time.monotonic()
        status = await runner.stop(cid, grace)
        elapsed = time.monotonic() - t0
        assert (await env.runc.state(cid)).status == "stopped"
        await runner.remove(cid)
        return status, elapsed

    status, elapsed = asyncio.run(main())
    assert status is not None and status.exit_code == expected_code
    assert min_s <= elapsed <= max_s


def test_conmon_killed_exit_code_255(env: Env) -> None:
    """Without its monitor the exit code is lost: reported as 255 (as CRI-O does), once runc
    sees the container stopped."""
    runner = env.runner()

    async def main() -> ExitStatus | None:
        cid = await env.run(runner, sh("app", "sleep 60"))
        [conmon] = conmon_processes(env.tmp)
        os.kill(conmon, 9)
        await asyncio.sleep(0.2)
        status = await runner.stop(cid, 0)
        await runner.remove(cid)
        return status

    status = asyncio.run(main())
    assert status is not None and (status.exit_code, status.oom_killed) == (255, False)


def test_stop_created_not_started(env: Env) -> None:
    runner = env.runner()

    async def main() -> ExitStatus | None:
        cid, bundle = env.bundle(sh("app", "echo never"))
        await runner.create(cid, bundle, log_path=env.log_path(cid))
        assert (await env.runc.state(cid)).status == "created"
        status = await runner.stop(cid, 0)
        await runner.remove(cid)
        return status

    status = asyncio.run(main())
    assert status is not None and status.exit_code == 137


def test_remove_running_container_leaves_nothing(env: Env) -> None:
    runner = env.runner()

    async def main() -> tuple[str, str]:
        cid = await env.run(runner, sh("app", "sleep 60"), stdin=True)
        bundle = json.loads(Path(env.state_dir, "containers", cid, "meta.json").read_text())[
            "bundle"]
        assert os.path.exists(runner.attach_socket(cid))
        assert conmon_processes(env.tmp)
        await runner.remove(cid)
        return cid, bundle

    cid, bundle = asyncio.run(main())
    assert conmon_processes(env.tmp) == []
    assert sorted(os.listdir(bundle)) == ["config.json"]
    assert os.listdir(os.path.join(env.state_dir, "exits")) == []
    assert os.listdir(os.path.join(env.state_dir, "sockets")) == []
    assert os.listdir(os.path.join(env.state_dir, "containers")) == []
    assert asyncio.run(env.runc.list()) == []


def test_create_failure_leaves_nothing(env: Env) -> None:
    runner = env.runner()
    container = {"name": "bad", "image": "busybox", "command": ["/no/such/binary"]}

    async def main() -> None:
        cid, bundle = env.bundle(container)
        with pytest.raises(Exception, match="no/such/binary"):
            await runner.create(cid, bundle, log_path=env.log_path(cid))
        assert runner.known() == [] and await env.runc.list() == []
        assert conmon_processes(env.tmp) == []

    asyncio.run(main())


def test_create_refuses_an_id_runc_already_has(env: Env) -> None:
    """A failed create must not take the other container with it."""
    runner = env.runner()

    async def main() -> None:
        cid = await env.run(runner, sh("app", "sleep 60"))
        other = env.runner()
        os.rename(os.path.join(env.state_dir, "containers", cid),
                  os.path.join(env.tmp, "moved-state"))       # as if the state were lost
        _, bundle = env.bundle(sh("app", "sleep 60"))
        with pytest.raises(Exception, match="already exists"):
            await other.create(cid, bundle, log_path=env.log_path(cid) + ".2")
        assert (await env.runc.state(cid)).status == "running"
        os.rename(os.path.join(env.tmp, "moved-state"),
                  os.path.join(env.state_dir, "containers", cid))
        assert (await runner.stop(cid, 0) or ExitStatus(-1, 0, False)).exit_code == 137
        await runner.remove(cid)

    asyncio.run(main())


def test_log_rotation_as_the_kubelet_does(env: Env) -> None:
    runner = env.runner()

    async def main() -> tuple[str, list[bool]]:
        cid = await env.run(runner, sh("chatty", "i=0; while true; do echo line-$i; "
                                                 "i=$((i+1)); sleep 0.005; done"))
        log = env.log_path(cid)
        rotated = [await runner.rotate_log(cid, max_size=1 << 20, max_files=2)]
        for _ in range(2):
            while os.path.getsize(log) < 2000:
                await asyncio.sleep(0.02)
            rotated.append(await runner.rotate_log(cid, max_size=1000, max_files=2))
            await asyncio.sleep(1.05)              # rotated names have second resolution
        await runner.stop(cid, 0)
        await runner.remove(cid)
        return log, rotated

    log, rotated = asyncio.run(main())
    assert rotated == [False, True, True]
    backups = sorted(p for p in os.listdir(os.path.dirname(log)) if p != "0.log")
    assert len(backups) == 1 and re.fullmatch(r"0\.log\.\d{8}-\d{6}", backups[0]), backups
    numbers = [int(text.split("-")[1]) for path in (backups[0], "0.log")
               for _s, _t, text in cri_lines(os.path.join(os.path.dirname(log), path))]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))   # nothing lost
