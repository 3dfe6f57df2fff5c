"""ConmonRunner without conmon: the command line it builds (CRI-O's flags per stdio mode),
what it reads back from a state dir (exit files, oom files, known containers) — the part a
restarted agent relies on — and the sync-pipe reader. Real conmon runs in
tests/e2e/test_conmon_e2e.py."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from kubepy.kubelet.runtime.conmon import (UNKNOWN_EXIT_CODE, ConmonError, ConmonRunner,
                                           ContainerMeta, ExitStatus, _read_line)
from kubepy.kubelet.runtime.runc import ContainerNotFound, Runc


def meta(tmp: Path, **kw: bool) -> ContainerMeta:
    return ContainerMeta(bundle=str(tmp / "bundle"), log_path=str(tmp / "logs/0.log"),
                         cgroups_path="", stdin=kw.get("stdin", False),
                         stdin_once=kw.get("stdin_once", False), tty=kw.get("tty", False))


def flags_after(argv: list[str], flag: str) -> str | None:
    return argv[argv.index(flag) + 1] if flag in argv else None


@pytest.mark.parametrize("stdio,log_size_max,present,absent", [
    ({}, 1024, ["--log-size-max"], ["-i", "-t", "--leave-stdin-open"]),
    ({"stdin": True}, 1024, ["-i", "--leave-stdin-open"], ["-t"]),
    ({"stdin": True, "stdin_once": True}, 1024, ["-i"], ["-t", "--leave-stdin-open"]),
    ({"tty": True, "stdin": True}, 1024, ["-t"], ["-i", "--leave-stdin-open"]),
    ({}, 0, [], ["--log-size-max"]),
], ids=["no-stdin", "stdin", "stdin-once", "tty", "no-log-limit"])
def test_command(tmp_path: Path, stdio: dict[str, bool], log_size_max: int,
                 present: list[str], absent: list[str]) -> None:
    runner = ConmonRunner(Runc(str(tmp_path / "runc"), binary="runc"), str(tmp_path / "state"),
                          conmon="/usr/bin/conmon", log_size_max=log_size_max)
    argv = runner.command("c1", meta(tmp_path, **stdio))
    assert argv[0] == "/usr/bin/conmon"
    for flag in present:
        assert flag in argv, flag
    for flag in absent:
        assert flag not in argv, flag
    state = str(tmp_path / "state")
    assert (flags_after(argv, "-c"), flags_after(argv, "-u")) == ("c1", "c1")
    assert flags_after(argv, "-b") == str(tmp_path / "bundle")
    assert flags_after(argv, "-l") == f"k8s-file:{tmp_path / 'logs/0.log'}"
    assert flags_after(argv, "--exit-dir") == f"{state}/exits"
    assert flags_after(argv, "--persist-dir") == f"{state}/containers/c1"
    assert flags_after(argv, "--socket-dir-path") == f"{state}/sockets"
    assert os.path.isabs(flags_after(argv, "-r") or "")        # conmon execv()s the runtime
    runtime_args = [b for a, b in zip(argv, argv[1:]) if a == "--runtime-arg"]
    assert runtime_args == ["--root", str(tmp_path / "runc")]
    assert flags_after(argv, "--log-size-max") == (str(log_size_max) if log_size_max else None)


def write_state(state: Path, cid: str, *, exit_code: str | None = None, oom: bool = False,
                mtime: float = 1_700_000_000.5) -> None:
    cdir = state / "containers" / cid
    cdir.mkdir(parents=True)
    (cdir / "meta.json").write_text(json.dumps(
        {"bundle": "/b", "log_path": "/l", "cgroups_path": "", "stdin": False,
         "stdin_once": False, "tty": False}))
    (state / "exits").mkdir(exist_ok=True)
    if exit_code is not None:
        (state / "exits" / cid).write_text(exit_code)
        os.utime(state / "exits" / cid, (mtime, mtime))
    if oom:
        (cdir / "oom").write_text("")


@pytest.mark.parametrize("exit_code,oom,expected", [
    (None, False, None),
    ("0", False, ExitStatus(0, 1_700_000_000.5, False)),
    ("3", False, ExitStatus(3, 1_700_000_000.5, False)),
    ("137", True, ExitStatus(137, 1_700_000_000.5, True)),
    ("garbage", False, ExitStatus(UNKNOWN_EXIT_CODE, 1_700_000_000.5, False)),
], ids=["running", "succeeded", "failed", "oom-killed", "unreadable"])
def test_exit_status_read_by_a_new_runner(tmp_path: Path, exit_code: str | None, oom: bool,
                                          expected: ExitStatus | None) -> None:
    write_state(tmp_path / "state", "c1", exit_code=exit_code, oom=oom)
    runner = ConmonRunner(Runc(str(tmp_path / "runc")), str(tmp_path / "state"))
    assert runner.known() == ["c1"]
    assert runner.exit_status("c1") == expected
    if expected is not None:
        assert asyncio.run(asyncio.wait_for(runner.wait("c1"), 2)) == expected


def test_known_and_paths(tmp_path: Path) -> None:
    state = tmp_path / "state"
    for cid in ("b", "a"):
        write_state(state, cid)
    (state / "containers" / "half-created").mkdir()           # no meta.json: not known
    runner = ConmonRunner(Runc(str(tmp_path / "runc")), str(state))
    assert runner.known() == ["a", "b"]
    assert runner.attach_socket("a") == f"{state}/sockets/a/attach"
    assert runner.ctl_path("a") == "/b/ctl"
    with pytest.raises(ValueError):
        runner.exit_status("../etc")


@pytest.mark.parametrize("terminal,tty", [(False, True), (True, False)],
                         ids=["tty-without-terminal", "terminal-without-tty"])
def test_create_refuses_tty_mismatch(tmp_path: Path, terminal: bool, tty: bool) -> None:
    """runc hands a pty to conmon only for process.terminal; a mismatch is refused before
    conmon runs, leaving nothing."""
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "config.json").write_text(json.dumps({"process": {"terminal": terminal}}))
    runner = ConmonRunner(Runc(str(tmp_path / "runc")), str(tmp_path / "state"),
                          conmon="/nonexistent/conmon")
    with pytest.raises(ConmonError, match="process.terminal"):
        asyncio.run(runner.create("c1", str(bundle), log_path=str(tmp_path / "0.log"), tty=tty))
    assert runner.known() == [] and os.listdir(runner.containers_dir) == []


def test_wait_unknown_container(tmp_path: Path) -> None:
    runner = ConmonRunner(Runc(str(tmp_path / "runc")), str(tmp_path / "state"))
    with pytest.raises(ContainerNotFound):
        asyncio.run(runner.wait("nope"))


@pytest.mark.parametrize("chunks,expected", [
    ([b'{"pid": 42}\n'], b'{"pid": 42}'),
    ([b'{"pid": -1, "mess', b'age": "boom"}\n', b"ignored"], b'{"pid": -1, "message": "boom"}'),
    ([], b""),
], ids=["one-line", "split-line", "eof"])
def test_read_sync_line(chunks: list[bytes], expected: bytes) -> None:
    async def main() -> bytes:
        r, w = os.pipe()
        reader = asyncio.ensure_future(_read_line(r, timeout=5))
        for chunk in chunks:
            os.write(w, chunk)
            await asyncio.sleep(0.01)
        os.close(w)
        try:
            return await reader
        finally:
            os.close(r)

    assert asyncio.run(main()) == expected
