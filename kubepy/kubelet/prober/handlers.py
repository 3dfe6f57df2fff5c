"""run_handler: run one probe or lifecycle handler (exec, httpGet, tcpSocket, grpc, sleep).

The kubelet's dispatch (prober.go runProbe, lifecycle/handlers.go Run): exactly one action of
the handler object runs against the container and the answer is ``(ProbeResult, message)``
with the message the kubelet would put in its event.

Probe semantics (``hook=None``): SUCCESS / FAILURE as pkg/probe decides; UNKNOWN when the
probe could not be run at all (an unresolvable port, no action, an exec the runtime could not
start) — the kubelet's 'errored' probe whose result is thrown away. The probe's own timeout
is the ``timeout`` argument (the caller passes ``timeoutSeconds``).

Hook semantics (``hook="PostStart"`` or ``"PreStop"``, used by ``run_post_start`` /
``run_pre_stop``): exec fails on a non-zero exit, httpGet only on transport errors, sleep
sleeps on ``clock``; a tcpSocket hook is refused as the kubelet refuses it. ``timeout`` bounds
the whole hook on ``clock`` (None: no bound); a hook cut short is UNKNOWN with a message
saying so (the kubelet records no event for that).
"""

from __future__ import annotations

import asyncio

from kubepy.client.clock import REAL_CLOCK, Clock, with_deadline
from kubepy.kubelet.prober.common import (PortError, go_duration, pod_full_name,
                                          resolve_container_port)
from kubepy.kubelet.prober.execprobe import hook_exec, probe_exec
from kubepy.kubelet.prober.grpcprobe import probe_grpc
from kubepy.kubelet.prober.httpget import hook_http, probe_http
from kubepy.kubelet.prober.tcp import probe_tcp
from kubepy.kubelet.prober.types import ExecSync, Obj, Outcome, ProbeResult


async def run_probe_action(handler: Obj, *, pod: Obj, container: Obj, pod_ip: str,
                           exec_sync: ExecSync, timeout: float | None) -> Outcome:
    """One run of a probe's action, with the warning flag kept (see types.Outcome)."""
    if handler.get("exec") is not None:
        return await probe_exec(list((handler["exec"] or {}).get("command") or []), container,
                                exec_sync, timeout)
    if handler.get("httpGet") is not None:
        return await probe_http(handler["httpGet"], container, pod_ip, timeout)
    if handler.get("tcpSocket") is not None:
        action = handler["tcpSocket"]
        try:
            port = resolve_container_port(action.get("port"), container)
        except PortError as exc:
            return Outcome(ProbeResult.UNKNOWN, str(exc))
        return await probe_tcp(action.get("host") or pod_ip, port,
                               1.0 if timeout is None else timeout)
    if handler.get("grpc") is not None:
        action = handler["grpc"]
        return await probe_grpc(pod_ip, int(action.get("port") or 0),
                                str(action.get("service") or ""), timeout)
    if handler.get("sleep") is not None:
        return await _sleep(handler["sleep"], REAL_CLOCK)
    return Outcome(ProbeResult.UNKNOWN,
                   f"missing probe handler for {pod_full_name(pod)}:{container.get('name', '')}")


async def _sleep(action: Obj, clock: Clock) -> Outcome:
    await clock.sleep(float(action.get("seconds") or 0))
    return Outcome(ProbeResult.SUCCESS, "")


async def run_hook_action(handler: Obj, *, pod: Obj, container: Obj, pod_ip: str,
                          exec_sync: ExecSync, clock: Clock) -> Outcome:
    if handler.get("exec") is not None:
        return await hook_exec(list((handler["exec"] or {}).get("command") or []), pod=pod,
                               container=container, exec_sync=exec_sync, timeout=None)
    if handler.get("httpGet") is not None:
        return await hook_http(handler["httpGet"], pod=pod, container=container, pod_ip=pod_ip,
                               timeout=None)
    if handler.get("sleep") is not None:
        return await _sleep(handler["sleep"], clock)
    return Outcome(ProbeResult.FAILURE, f"Cannot run handler: invalid handler: {handler}")


async def run_handler(handler: Obj, *, pod: Obj, container: Obj, pod_ip: str,
                      exec_sync: ExecSync, timeout: float | None,
                      hook: str | None = None,
                      clock: Clock | None = None) -> tuple[ProbeResult, str]:
    """Run ``handler`` once: probe semantics, or hook semantics when ``hook`` names one."""
    if hook is None:
        outcome = await run_probe_action(handler, pod=pod, container=container, pod_ip=pod_ip,
                                         exec_sync=exec_sync, timeout=timeout)
        return outcome.result, outcome.message
    clk = clock or REAL_CLOCK
    work = run_hook_action(handler, pod=pod, container=container, pod_ip=pod_ip,
                           exec_sync=exec_sync, clock=clk)
    if timeout is None:
        outcome = await work
    else:
        try:
            outcome = await with_deadline(clk, work, timeout)
        except (TimeoutError, asyncio.TimeoutError):
            return (ProbeResult.UNKNOWN, f"{hook} hook for Container {container.get('name', '')!s} "
                    f"in Pod {pod_full_name(pod)} not completed within {go_duration(timeout)}")
    return outcome.result, outcome.message
