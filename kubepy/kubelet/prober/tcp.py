"""tcpSocket probe (pkg/probe/tcp): success when a TCP connection opens within the timeout.

The connection is closed at once; nothing is written. Failures carry Go's dial error text:
'dial tcp 10.42.0.5:8080: connect: connection refused', 'dial tcp 10.0.0.1:80: i/o timeout'.
"""

from __future__ import annotations

import asyncio

from kubepy.kubelet.prober.common import join_host_port, os_error_text
from kubepy.kubelet.prober.types import Outcome, ProbeResult


async def probe_tcp(host: str, port: int, timeout: float) -> Outcome:
    addr = join_host_port(host, port)
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(host, port)
    except TimeoutError:
        return Outcome(ProbeResult.FAILURE, f"dial tcp {addr}: i/o timeout")
    except OSError as exc:
        return Outcome(ProbeResult.FAILURE, f"dial tcp {addr}: connect: {os_error_text(exc)}")
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass
    return Outcome(ProbeResult.SUCCESS, "")
