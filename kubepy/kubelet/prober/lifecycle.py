"""postStart and preStop hooks: run_handler on the container's lifecycle handler."""

from __future__ import annotations

from kubepy.kubelet.prober.types import ExecSync, Obj, ProbeResult


async def run_post_start(pod: Obj, container: Obj, *, pod_ip: str, exec_sync: ExecSync,
                         timeout: float | None = None) -> tuple[ProbeResult, str]:
    raise NotImplementedError


async def run_pre_stop(pod: Obj, container: Obj, *, pod_ip: str, exec_sync: ExecSync,
                       timeout: float | None = None) -> tuple[ProbeResult, str]:
    raise NotImplementedError
