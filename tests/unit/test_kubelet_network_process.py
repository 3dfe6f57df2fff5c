"""``network.process.run_process``: output, exit codes, stdin, timeouts, on both event loops
the agent may run (asyncio's and uvloop), without stalling the loop."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable

import pytest
import uvloop

from kubepy.kubelet.network.process import run_process

LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}


def _run(loop_kind: str, coro: Any) -> Any:
    loop = LOOPS[loop_kind]()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


@pytest.mark.parametrize("loop_kind", sorted(LOOPS))
@pytest.mark.parametrize("argv,stdin,env,want", [
    (["sh", "-c", "echo out; echo err >&2; exit 3"], None, None, (3, b"out\n", b"err\n")),
    (["cat"], b"conf on stdin", None, (0, b"conf on stdin", b"")),
    (["cat"], None, None, (0, b"", b"")),                      # /dev/null, no hang
    (["sh", "-c", "echo $CNI_COMMAND"], None, {"CNI_COMMAND": "ADD", "PATH": "/usr/bin:/bin"},
     (0, b"ADD\n", b"")),
], ids=["exit-code-and-streams", "stdin", "no-stdin", "env-replaced"])
def test_run_process(loop_kind: str, argv: list[str], stdin: bytes | None,
                     env: dict[str, str] | None, want: tuple[int, bytes, bytes]) -> None:
    assert _run(loop_kind, run_process(argv, stdin=stdin, env=env)) == want


@pytest.mark.parametrize("loop_kind", sorted(LOOPS))
def test_timeout_kills(loop_kind: str, tmp_path: Any) -> None:
    marker = tmp_path / "survived"
    started = time.monotonic()
    with pytest.raises(asyncio.TimeoutError):
        _run(loop_kind, run_process(["sh", "-c", f"sleep 1; touch {marker}"], timeout=0.2))
    assert time.monotonic() - started < 0.9
    time.sleep(1.2)
    assert not marker.exists()


@pytest.mark.parametrize("loop_kind", sorted(LOOPS))
def test_missing_program(loop_kind: str) -> None:
    with pytest.raises(OSError):
        _run(loop_kind, run_process(["/nonexistent/kubepy-plugin"]))


@pytest.mark.parametrize("loop_kind", sorted(LOOPS))
def test_loop_keeps_running(loop_kind: str) -> None:
    """Ten programs of 0.2 s at once finish together while a 10 ms ticker keeps ticking."""
    async def main() -> tuple[float, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1
        t = asyncio.ensure_future(ticker())
        started = time.monotonic()
        results = await asyncio.gather(*(run_process(["sleep", "0.2"]) for _ in range(10)))
        elapsed = time.monotonic() - started
        t.cancel()
        assert all(r[0] == 0 for r in results)
        return elapsed, ticks
    elapsed, ticks = _run(loop_kind, main())
    assert elapsed < 1.5
    assert ticks >= 5
