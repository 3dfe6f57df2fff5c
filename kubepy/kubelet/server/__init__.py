"""The kubelet's HTTPS API (contract C4): logs, exec, attach, port-forward, healthz, stats."""

from kubepy.kubelet.server.runtime import ContainerRef, PodRef, StreamingRuntime
from kubepy.kubelet.server.server import KubeletServer

__all__ = ["ContainerRef", "KubeletServer", "PodRef", "StreamingRuntime"]
