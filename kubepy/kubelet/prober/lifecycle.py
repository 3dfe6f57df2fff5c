"""postStart and preStop hooks: ``run_handler`` with hook semantics on the container's
``lifecycle`` handler.

Both answer ``(SUCCESS, "")`` when the container has no such hook. On failure the message is
the kubelet's ('Exec lifecycle hook ([sh -c exit 1]) for Container "app" in Pod
"web_default(uid)" failed - error: ..., message: "..."'); the kubelet then records a
``FailedPostStartHook`` event with the fixed text "PostStartHook failed" and kills the
container, or a ``FailedPreStopHook`` event with this message. ``timeout`` (preStop: the
remaining grace period) bounds the hook on ``clock``; UNKNOWN means it did not finish in time.
"""

from __future__ import annotations

from kubepy.client.clock import Clock
from kubepy.kubelet.prober.handlers import run_handler
from kubepy.kubelet.prober.types import ExecSync, Obj, ProbeResult


async def _run(which: str, hook: str, pod: Obj, container: Obj, pod_ip: str,
               exec_sync: ExecSync, timeout: float | None,
               clock: Clock | None) -> tuple[ProbeResult, str]:
    handler = ((container.get("lifecycle") or {}).get(which))
    if not handler:
        return ProbeResult.SUCCESS, ""
    return await run_handler(handler, pod=pod, container=container, pod_ip=pod_ip,
                             exec_sync=exec_sync, timeout=timeout, hook=hook, clock=clock)


async def run_post_start(pod: Obj, container: Obj, *, pod_ip: str, exec_sync: ExecSync,
                         timeout: float | None = None,
                         clock: Clock | None = None) -> tuple[ProbeResult, str]:
    return await _run("postStart", "PostStart", pod, container, pod_ip, exec_sync, timeout, clock)


async def run_pre_stop(pod: Obj, container: Obj, *, pod_ip: str, exec_sync: ExecSync,
                       timeout: float | None = None,
                       clock: Clock | None = None) -> tuple[ProbeResult, str]:
    return await _run("preStop", "PreStop", pod, container, pod_ip, exec_sync, timeout, clock)
