"""Probes and lifecycle hooks of the kubelet.

* ``run_handler(handler, *, pod, container, pod_ip, exec_sync, timeout, hook=None,
  clock=None)`` — run one probe (``hook=None``) or lifecycle handler (``hook="PostStart"`` /
  ``"PreStop"``): exec, httpGet, tcpSocket, grpc, sleep; answers ``(ProbeResult, message)``
  with the kubelet's wording (handlers.py).
* ``run_post_start`` / ``run_pre_stop`` — the container's lifecycle hooks (lifecycle.py).
* ``ProbeManager`` — one asyncio worker per (pod uid, container, probe kind) on an injected
  ``Clock``: thresholds, initial delay, startup gating, ``on_change`` on every stored-result
  change, Unhealthy / ProbeWarning events drained by ``events()`` (manager.py, worker.py,
  results.py).

Layout: one module per probe mechanism (execprobe, httpget, tcp, grpcprobe), Go text forms
in common.py; everything but the mechanisms' sockets is plain logic.
"""

from kubepy.kubelet.prober.handlers import run_handler
from kubepy.kubelet.prober.lifecycle import run_post_start, run_pre_stop
from kubepy.kubelet.prober.manager import ProbeManager
from kubepy.kubelet.prober.types import ExecSync, ProbeKind, ProbeResult

__all__ = ["ExecSync", "ProbeKind", "ProbeManager", "ProbeResult", "run_handler",
           "run_post_start", "run_pre_stop"]
