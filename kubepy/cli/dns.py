"""``kubepy dns``: the cluster DNS server (``kubepy.dns``, CoreDNS's role) as a process of its
own, which ``kubepy server`` supervises (unless ``--disable coredns``).

It listens on ``--listen HOST:PORT`` (UDP and TCP; port 0 picks a free one) and publishes
``--advertise-address`` (default: the listen host) and the bound port as the Endpoints and
EndpointSlice of kube-system/kube-dns, again every ``--publish-period`` seconds (repairing
edits), so the service proxy sends the cluster DNS IP (``--cluster-dns``) to it. Names
outside the cluster zone go to ``--upstream`` servers (default: /etc/resolv.conf's).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from pathlib import Path

from kubepy.cli.common import (add_kubeconfig_flag, resolve_kubeconfig, run_until_signalled,
                               setup_logging)

log = logging.getLogger("kubepy.cli.dns")


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("dns", help="run the cluster DNS server (what `kubepy server` starts)")
    add_kubeconfig_flag(p)
    p.add_argument("--listen", default="0.0.0.0:10053", help="HOST:PORT (UDP and TCP)")
    p.add_argument("--advertise-address", default="",
                   help="the address published as kube-dns's endpoint (default: the listen "
                        "host)")
    p.add_argument("--node-name", default="", help="nodeName of the published endpoint")
    p.add_argument("--cluster-domain", default="cluster.local")
    p.add_argument("--cluster-dns", default="10.43.0.10", help="the kube-dns Service IP")
    p.add_argument("--upstream", action="append", default=[],
                   help="HOST[:PORT] of a resolver for other names (repeatable)")
    p.add_argument("--publish-period", type=float, default=30.0)
    p.add_argument("--log-level", default="INFO")
    p.add_argument("--watch-parent", action="store_true", help=argparse.SUPPRESS)


def _upstream(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    return (host, int(port)) if sep and port.isdigit() else (value, 53)


def run(args: argparse.Namespace) -> int:
    from kubepy.client.factory import SharedInformerFactory
    from kubepy.client.rest import ApiClient
    from kubepy.dns import publish
    from kubepy.dns.server import new_dns_server

    setup_logging(args.log_level)
    kubeconfig: Path = resolve_kubeconfig(args.kubeconfig)
    parent = os.getppid() if args.watch_parent else None

    async def main(stop: asyncio.Event) -> None:
        client = ApiClient.from_kubeconfig(kubeconfig, user_agent="kubepy-dns")
        informers = SharedInformerFactory(client)
        server = new_dns_server(
            client, informers, listen=args.listen, cluster_domain=args.cluster_domain,
            upstreams=[_upstream(u) for u in args.upstream] or None,
            dns_ips=tuple(s for s in args.cluster_dns.split(",") if s))
        await server.start()
        address = args.advertise_address or server.listen[0]
        print(f"kubepy dns: serving {args.cluster_domain} on {server.listen[0]}:"
              f"{server.port} (published as {address}:{server.port})", flush=True)
        try:
            while not stop.is_set():
                try:
                    await publish.publish(client, address, server.port,
                                          node_name=args.node_name)
                except Exception as e:  # noqa: BLE001 - the API may be restarting: retry
                    log.warning("publishing kube-dns endpoints failed: %r", e)
                    await _wait(stop, 1.0)
                    continue
                await _wait(stop, args.publish_period, parent=parent)
        finally:
            await server.stop()
            await informers.stop()
            await client.close()

    run_until_signalled(main)
    return 0


async def _wait(stop: asyncio.Event, seconds: float, *, parent: int | None = None) -> None:
    """Sleep until ``stop`` or ``seconds``; a child of ``kubepy server`` (PR_SET_PDEATHSIG
    aside) also stops when its parent is gone."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not stop.is_set() and asyncio.get_running_loop().time() < deadline:
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except TimeoutError:
            pass
        if parent is not None and os.getppid() != parent:
            stop.set()
