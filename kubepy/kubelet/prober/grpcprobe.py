"""grpc probe (pkg/probe/grpc): grpc.health.v1.Health/Check on podIP:port, plaintext.

The ``service`` field is sent as written ("" = the server as a whole); only SERVING is a
success. Every problem is a failure, never an error (as grpc_health_probe), worded as the
kubelet words it: 'timeout: failed to connect service "10.42.0.5:9000" within 1s: context
deadline exceeded', 'service unhealthy (responded with "NOT_SERVING")', 'error: this server
does not implement the grpc health protocol (grpc.health.v1.Health): ...'.
"""

from __future__ import annotations

import asyncio

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kubepy.kubelet.prober.common import KUBE_VERSION, go_duration, go_quote, join_host_port
from kubepy.kubelet.prober.types import Outcome, ProbeResult


def _go_code(code: grpc.StatusCode) -> str:
    """grpc-go's code names: NOT_FOUND -> NotFound."""
    return "".join(w.capitalize() for w in code.name.split("_"))


async def probe_grpc(host: str, port: int, service: str, timeout: float | None) -> Outcome:
    addr = join_host_port(host, port)
    limit = 1.0 if timeout is None else timeout
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    options = [("grpc.primary_user_agent", f"kube-probe/{KUBE_VERSION}"),
               ("grpc.enable_retries", 0)]
    async with grpc.aio.insecure_channel(addr, options=options) as channel:
        try:
            await asyncio.wait_for(channel.channel_ready(), limit)
        except (TimeoutError, asyncio.TimeoutError):
            return Outcome(ProbeResult.FAILURE,
                           f"timeout: failed to connect service {go_quote(addr)} within "
                           f"{go_duration(limit)}: context deadline exceeded")
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            # types-grpcio-health-checking's HealthStub omits the generated Check attribute
            resp = await stub.Check(health_pb2.HealthCheckRequest(service=service),  # type: ignore[attr-defined]
                                    timeout=max(0.001, deadline - loop.time()))
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
            if code == grpc.StatusCode.UNIMPLEMENTED:
                return Outcome(ProbeResult.FAILURE,
                               "error: this server does not implement the grpc health protocol "
                               f"(grpc.health.v1.Health): {exc.details()}")
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                return Outcome(ProbeResult.FAILURE, "timeout: health rpc did not complete "
                               f"within {go_duration(limit)}")
            return Outcome(ProbeResult.FAILURE, "error: health rpc probe failed: rpc error: "
                           f"code = {_go_code(code)} desc = {exc.details()}")
    if resp.status != health_pb2.HealthCheckResponse.SERVING:
        name = health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)
        return Outcome(ProbeResult.FAILURE, f"service unhealthy (responded with {go_quote(name)})")
    return Outcome(ProbeResult.SUCCESS, "service healthy")
