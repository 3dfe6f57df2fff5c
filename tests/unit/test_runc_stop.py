"""``runtime.runc.stop`` on a container without a process (runc reports pid 0 once it has
stopped): nothing is signalled or waited for; pidfd_open(0) would fail with EINVAL."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kubepy.kubelet.runtime import runc


class _RecordingRunc:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    async def kill(self, container_id: str, sig: int, *, all: bool = False) -> None:
        self.calls.append(("kill", container_id, sig, all))


@pytest.mark.parametrize("pid", [0, -1], ids=["stopped", "unknown"])
@pytest.mark.parametrize("grace", [0.0, 5.0], ids=["forced", "graceful"])
def test_stop_without_a_process(pid: int, grace: float) -> None:
    fake = _RecordingRunc()
    assert asyncio.run(runc.stop(fake, "c1", pid, grace=grace)) is True  # type: ignore[arg-type]
    assert fake.calls == []
