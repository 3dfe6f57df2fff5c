"""The kubelet's HTTPS API: logs, exec, attach, port-forward, healthz, stats.

    runtime.py       StreamingRuntime, ContainerRef, PodRef: what the agent tells the server
    server.py        KubeletServer: TLS, client-certificate check, routes, upgrades
    http.py          the small HTTP/1.1 it speaks (101 hands the socket to a stream)
    tls.py           self-signed serving certificate in cert_dir, client CA verification
    streams.py       CommandStreams (transport-independent stdio + resize), Status objects
    ws_streams.py    CommandStreams over WebSocket channels (channel/base64/v4/v5)
    spdy_streams.py  CommandStreams over SPDY streams (v1..v4), via kubepy.streaming.spdy
    exec.py          runc exec with pipes or a pseudo-terminal
    attach.py        conmon's attach socket and ctl FIFO
    portforward.py   sockets made in the pod's netns; WebSocket, SPDY and tunnelled SPDY
    logs.py          CRI log files with the kubelet's options
    stats.py         /stats/summary and /metrics/resource (node only)
"""

from kubepy.kubelet.server.runtime import (ContainerRef, PodLister, PodRef, PodStatsRef,
                                           StreamingRuntime)
from kubepy.kubelet.server.server import KubeletServer

__all__ = ["ContainerRef", "KubeletServer", "PodLister", "PodRef", "PodStatsRef",
           "StreamingRuntime"]
