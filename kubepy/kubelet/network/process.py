"""Running a short-lived helper program (a CNI plugin, ``iptables``) and collecting its output.

Why not ``asyncio.create_subprocess_exec``: ``kubepy agent`` runs on uvloop, whose spawn forks
the whole agent (about 70 MB resident) in the event loop's thread and waits there until the
child has exec'd: about 4 ms of CPU and 10 ms of a stalled loop per exec on this 2-core
machine, and the kubelet's pod path execs a dozen programs per pod. ``subprocess`` uses
``vfork`` (0.3-0.5 ms of CPU); it runs here in a small thread pool of its own, so the loop
never waits and other users of the default executor (aiohttp's DNS lookups) are not starved.

A cancelled caller does not stop the program: it runs to its end (or its timeout) in the
pool. On timeout the program is killed and ``asyncio.TimeoutError`` raised.
"""

from __future__ import annotations

import asyncio
import subprocess
from concurrent.futures import ThreadPoolExecutor
from typing import Mapping

MAX_THREADS = 16
_pool: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=MAX_THREADS, thread_name_prefix="kubepy-exec")
    return _pool


async def run_process(argv: list[str], *, stdin: bytes | None = None,
                      env: Mapping[str, str] | None = None,
                      timeout: float | None = None) -> tuple[int, bytes, bytes]:
    """Run *argv* (stdin from *stdin*, else /dev/null); ``(exit code, stdout, stderr)``.
    Raises ``asyncio.TimeoutError`` (the program killed) and ``OSError`` (not started)."""
    def run() -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(argv, input=stdin,
                              stdin=None if stdin is not None else subprocess.DEVNULL,
                              capture_output=True, env=env, timeout=timeout)

    try:
        done = await asyncio.get_running_loop().run_in_executor(_executor(), run)
    except subprocess.TimeoutExpired as e:
        raise asyncio.TimeoutError(f"{argv[0]} timed out after {timeout}s") from e
    return done.returncode, done.stdout, done.stderr
