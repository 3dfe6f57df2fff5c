"""run_handler: run one probe or lifecycle handler (exec, httpGet, tcpSocket, grpc, sleep).

The kubelet's prober.go / lifecycle/handlers.go dispatch: exactly one action of the handler
object is run against the container; the answer is a ``ProbeResult`` and the message the
kubelet would put in its event ("HTTP probe failed with statuscode: 500", the command output,
'dial tcp ...: connect: connection refused').
"""

from __future__ import annotations

from kubepy.kubelet.prober.types import ExecSync, Obj, ProbeResult


async def run_handler(handler: Obj, *, pod: Obj, container: Obj, pod_ip: str,
                      exec_sync: ExecSync, timeout: float | None) -> tuple[ProbeResult, str]:
    raise NotImplementedError
