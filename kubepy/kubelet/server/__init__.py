"""The kubelet's HTTPS API (contract C4): logs, exec, attach, port-forward, healthz, stats."""

from kubepy.kubelet.server.runtime import ContainerRef, PodRef, StreamingRuntime

__all__ = ["ContainerRef", "PodRef", "StreamingRuntime"]
