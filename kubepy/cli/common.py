"""Helpers every ``kubepy`` subcommand shares: logging, the event loop, signals, and
finding a kubeconfig."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from pathlib import Path
from typing import Awaitable, Callable


def default_data_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/kubepy")
    return Path.home() / ".local" / "share" / "kubepy"


def setup_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def install_uvloop() -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass


def add_kubeconfig_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kubeconfig", type=Path, default=None,
                   help="kubeconfig to reach the API server (default: $KUBECONFIG, else the "
                        "admin kubeconfig of the default data dir)")


def resolve_kubeconfig(path: Path | None) -> Path:
    if path is not None:
        return path
    env = os.environ.get("KUBECONFIG")
    if env:
        return Path(env.split(os.pathsep)[0])
    return default_data_dir() / "admin.kubeconfig"


def run_until_signalled(main: Callable[[asyncio.Event], Awaitable[None]], *,
                        uvloop: bool = True) -> None:
    """Run ``main(stop)`` on a fresh event loop (uvloop's unless *uvloop* is False);
    SIGINT/SIGTERM set ``stop``."""
    if uvloop:
        install_uvloop()

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    asyncio.run(runner())


async def until_stopped(stop: asyncio.Event, work: Awaitable[object]) -> None:
    """Run ``work`` until it ends or ``stop`` is set (then cancel it); its result is dropped."""
    task = asyncio.ensure_future(work)
    waiter = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        if not task.done():
            task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
