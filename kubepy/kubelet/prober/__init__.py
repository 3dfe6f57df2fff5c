"""Probes and lifecycle hooks of the kubelet (contract C2).

* ``run_handler`` — run one probe / lifecycle handler (exec, httpGet, tcpSocket, grpc, sleep)
  and say ``(ProbeResult, message)``.
* ``ProbeManager`` — one asyncio worker per (pod uid, container, probe kind), results with
  success/failure thresholds, ``on_change`` on every change, Unhealthy events drained by
  ``events()``. Time comes from an injected ``Clock``.
* ``run_post_start`` / ``run_pre_stop`` — the container's lifecycle hooks.
"""

from kubepy.kubelet.prober.handlers import run_handler
from kubepy.kubelet.prober.lifecycle import run_post_start, run_pre_stop
from kubepy.kubelet.prober.manager import ProbeManager
from kubepy.kubelet.prober.types import ExecSync, ProbeKind, ProbeResult

__all__ = ["ExecSync", "ProbeKind", "ProbeManager", "ProbeResult", "run_handler",
           "run_post_start", "run_pre_stop"]
