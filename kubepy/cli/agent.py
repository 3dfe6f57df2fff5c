"""``kubepy agent --server URL --kubeconfig F``: the kubelet of this machine as a node of the
cluster at URL, until SIGINT/SIGTERM (pods keep running then, as with a kubelet).

The agent keeps its state in ``<data-dir>/agent`` (images, runc state, CNI results, pods,
logs), the image store ``kubepy images`` manages. ``--token`` authenticates with a bearer
token instead of the kubeconfig's credentials (the kubeconfig still gives the CA).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
from pathlib import Path
from urllib.parse import urlparse

from kubepy.cli.common import default_data_dir, run_until_signalled, setup_logging

log = logging.getLogger("kubepy.cli.agent")


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("agent", help="run the node agent (kubelet) against a server")
    p.add_argument("--server", "-s", required=True, help="the API server URL")
    p.add_argument("--kubeconfig", type=Path, required=True,
                   help="kubeconfig with the cluster CA and the node's credentials")
    p.add_argument("--token", "-t", default=None,
                   help="bearer token to authenticate with (instead of the kubeconfig's)")
    p.add_argument("--node-name", default=None, help="default: the hostname")
    p.add_argument("--node-ip", default=None,
                   help="InternalIP (default: the address of the default route)")
    p.add_argument("--node-label", action="append", default=[],
                   help="key=value label to register with (repeatable)")
    p.add_argument("--data-dir", "-d", type=Path, default=None)
    p.add_argument("--cluster-dns", default="10.43.0.10")
    p.add_argument("--cluster-domain", default="cluster.local")
    p.add_argument("--cni-bin-dir", default="/usr/lib/cni")
    p.add_argument("--bridge", default="kubepy0", help="the pods' Linux bridge")
    p.add_argument("--cni-network-name", default="kubepy")
    p.add_argument("--netns-dir", default="/run/kubepy/netns")
    p.add_argument("--cgroup-parent", default="kubepy")
    p.add_argument("--insecure-registry", action="append", default=[],
                   help="registry host[:port] reached over plain HTTP (repeatable)")
    p.add_argument("--node-status-update-frequency", type=float, default=10.0)
    p.add_argument("--log-level", default="INFO")


def run(args: argparse.Namespace) -> int:
    from kubepy.client.kubeconfig import load_kubeconfig
    from kubepy.client.rest import ApiClient
    from kubepy.kubelet.agent.kubelet import Agent, AgentConfig, node_name_default
    from kubepy.kubelet.agent.node import default_node_ip

    setup_logging(args.log_level)
    data_dir = (args.data_dir or default_data_dir()).resolve() / "agent"
    server_host = urlparse(args.server).hostname or "127.0.0.1"
    node_ip = args.node_ip or default_node_ip(socket.gethostbyname(server_host))
    labels = dict(item.partition("=")[::2] for item in args.node_label)
    config = AgentConfig(
        node_name=args.node_name or node_name_default(), data_dir=data_dir, node_ip=node_ip,
        cni_bin_dir=args.cni_bin_dir, bridge=args.bridge, network_name=args.cni_network_name,
        netns_dir=args.netns_dir, cgroup_parent=args.cgroup_parent,
        cluster_dns=[s for s in args.cluster_dns.split(",") if s],
        cluster_domain=args.cluster_domain, node_labels=labels,
        insecure_registries=args.insecure_registry,
        status_frequency=args.node_status_update_frequency)
    kube = load_kubeconfig(args.kubeconfig)

    async def main(stop: asyncio.Event) -> None:
        client = ApiClient(args.server, kube.ssl_context, args.token or kube.token,
                           user_agent=f"kubepy-agent/{config.node_name}")
        async with client:
            agent = Agent(client, config)
            starting = asyncio.ensure_future(agent.start())
            waiter = asyncio.ensure_future(stop.wait())
            await asyncio.wait({starting, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if starting.done() and starting.exception() is not None:
                waiter.cancel()
                await agent.stop()
                raise SystemExit(f"kubepy agent: {starting.exception()}")
            if starting.done():
                print(f"kubepy agent: node {config.node_name} ready (podCIDR "
                      f"{agent.pod_cidr}, InternalIP {node_ip})", flush=True)
                await stop.wait()
            starting.cancel()
            waiter.cancel()
            print("kubepy agent: stopping (pods keep running)", flush=True)
            await agent.stop()

    run_until_signalled(main)
    return 0
