"""``ConmonRunner._spawn`` under uvloop (the loop ``kubepy agent`` runs on) returns once
conmon's first process has exited and the sync pipe said the pid, even while a daemonized
process still holds conmon's stderr (as conmon's daemon does under uvloop), and reports
conmon's own failure with its stderr. A bash script stands in for conmon."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import uvloop

from kubepy.kubelet.runtime.conmon import ConmonError, ConmonRunner, ContainerMeta
from kubepy.kubelet.runtime.runc import Runc

DAEMONIZING = """#!/bin/bash
( exec sleep 5 ) &                    # the monitor: keeps stderr open
echo '{"pid": 4242}' >&$_OCI_SYNCPIPE
exit 0
"""
FAILING = """#!/bin/bash
echo "conmon: bad option" >&2
exit 1
"""


def _spawn(tmp: Path, script: str) -> int:
    fake = tmp / "conmon"
    fake.write_text(script)
    fake.chmod(0o755)
    runner = ConmonRunner(Runc(str(tmp / "runc")), str(tmp / "state"), conmon=str(fake))
    meta = ContainerMeta(bundle=str(tmp), log_path=str(tmp / "log"), cgroups_path="",
                         stdin=False, stdin_once=False, tty=False)
    return uvloop.run(asyncio.wait_for(runner._spawn("c1", meta), 4))


def test_returns_while_a_daemon_holds_stderr(tmp_path: Path) -> None:
    started = time.monotonic()
    assert _spawn(tmp_path, DAEMONIZING) == 4242
    assert time.monotonic() - started < 3


def test_conmon_failure_carries_its_stderr(tmp_path: Path) -> None:
    with pytest.raises(ConmonError, match="conmon exited 1: conmon: bad option"):
        _spawn(tmp_path, FAILING)
