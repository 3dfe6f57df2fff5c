"""``kubepy agent --server URL --token TOKEN`` (or ``--kubeconfig F``): the kubelet of this machine as a node of the
cluster at URL, and beside it the service proxy (``kubepy.proxy.ServiceProxy``, kube-proxy's
iptables mode; ``--disable-kube-proxy`` leaves it out), until SIGINT/SIGTERM (pods keep
running then, as with a kubelet, and the proxy's rules stay so traffic keeps flowing;
``kubepy killall`` removes both).

With ``--token`` alone the agent joins as k3s agents do (kubepy.cli.jointoken): it fetches
the cluster CA from ``URL/cacerts`` without verification, refuses it unless its SHA-256 is
the one a secure token (``K10<hash>::server:<secret>``) names (a short token, the secret
alone, trusts it with a warning), then verifies the server with that CA and sends the
secret as its bearer token. With ``--kubeconfig`` the kubeconfig gives the CA and the
credentials, and ``--token`` (either form) only replaces the credentials.

The kubelet API listens on ``--kubelet-port`` and accepts client certificates signed by the
cluster CA. Node ports answer on ``--node-ip`` and 127.0.0.1; pod traffic
leaving ``--cluster-cidr`` is masqueraded.

The agent keeps its state in ``<data-dir>/agent`` (images, runc state, CNI results, pods,
logs), the image store ``kubepy images`` manages.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import logging
import os
import socket
import ssl
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from kubepy.cli import jointoken
from kubepy.cli.common import default_data_dir, run_until_signalled, setup_logging

log = logging.getLogger("kubepy.cli.agent")


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("agent", help="run the node agent (kubelet) against a server")
    p.add_argument("--server", "-s", required=True, help="the API server URL")
    p.add_argument("--kubeconfig", type=Path, default=None,
                   help="kubeconfig with the cluster CA and the node's credentials "
                        "(instead of joining with --token alone)")
    p.add_argument("--token", "-t", default=None,
                   help="join token (K10<ca-hash>::server:<secret> as the server's "
                        "<data-dir>/token, or the secret alone); with --kubeconfig it only "
                        "replaces the kubeconfig's credentials")
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
    p.add_argument("--container-log-max-size", default="10Mi",
                   help="rotate a container's log past this size (kubelet default 10Mi)")
    p.add_argument("--container-log-max-files", type=int, default=5,
                   help="log files kept per container, the live one included (default 5)")
    p.add_argument("--image-gc-high-threshold", type=int, default=85,
                   help="disk usage percent of the image store's filesystem that starts "
                        "image garbage collection (default 85)")
    p.add_argument("--image-gc-low-threshold", type=int, default=80,
                   help="disk usage percent image garbage collection frees down to "
                        "(default 80)")
    p.add_argument("--eviction-hard", default=None,
                   help="the kubelet's hard eviction thresholds for the node pressure "
                        "conditions, e.g. 'memory.available<100Mi,nodefs.available<10%%' "
                        "(default: the kubelet's)")
    p.add_argument("--kubelet-port", type=int, default=10250,
                   help="the kubelet API port (0: any free port)")
    p.add_argument("--cluster-cidr", default="10.42.0.0/16",
                   help="the pod network: traffic leaving it is masqueraded")
    p.add_argument("--disable-kube-proxy", action="store_true",
                   help="do not run the service proxy")
    p.add_argument("--log-level", default="INFO")
    p.add_argument("--watch-parent", action="store_true", help=argparse.SUPPRESS)


def kubeconfig_ca_pem(path: Path) -> bytes:
    """The cluster CA (PEM) of the kubeconfig's current context, b"" when it has none."""
    doc: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
    context_name = doc.get("current-context")
    context = next((c.get("context") or {} for c in doc.get("contexts") or []
                    if c.get("name") == context_name), {})
    cluster = next((c.get("cluster") or {} for c in doc.get("clusters") or []
                    if c.get("name") == context.get("cluster")), {})
    if cluster.get("certificate-authority-data"):
        return base64.b64decode(cluster["certificate-authority-data"])
    if cluster.get("certificate-authority"):
        ca_file: str = cluster["certificate-authority"]
        return (path.parent / os.path.expanduser(ca_file)).read_bytes()
    return b""


def fetch_cacerts(server: str, timeout: float = 10.0) -> bytes:
    """``GET <server>/cacerts`` without verifying the server (the caller checks the CA)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with urllib.request.urlopen(server.rstrip("/") + "/cacerts", context=ctx,
                                timeout=timeout) as response:
        body: bytes = response.read()
        return body


def join_with_token(server: str, raw_token: str) -> tuple[bytes, str]:
    """The cluster CA (checked against a secure token) and the bearer token to send;
    SystemExit with the reason when the token is malformed, the server unreachable or its
    CA not the token's."""
    try:
        token = jointoken.parse(raw_token)
    except jointoken.JoinTokenError as e:
        raise SystemExit(f"kubepy agent: --token: {e}") from None
    try:
        ca_bundle = fetch_cacerts(server)
    except (OSError, ValueError) as e:
        raise SystemExit(f"kubepy agent: cannot fetch {server}/cacerts: {e}") from None
    try:
        jointoken.check_ca(token, ca_bundle)
    except jointoken.JoinTokenError as e:
        raise SystemExit(f"kubepy agent: refusing to join {server}: {e}") from None
    if not token.secure:
        log.warning("the token names no CA hash (short form): trusting the CA %s/cacerts "
                    "sent without checking it; use the K10 token of the server's "
                    "<data-dir>/token to verify the cluster", server)
    return ca_bundle, token.password


def api_credentials(args: argparse.Namespace) -> tuple[ssl.SSLContext | None, str | None, bytes]:
    """The TLS context, bearer token and cluster CA the agent talks to the server with."""
    if args.kubeconfig is not None:
        from kubepy.client.kubeconfig import load_kubeconfig

        kube = load_kubeconfig(args.kubeconfig)
        token = kube.token
        if args.token:
            try:
                token = jointoken.parse(args.token).password
            except jointoken.JoinTokenError as e:
                raise SystemExit(f"kubepy agent: --token: {e}") from None
        return kube.ssl_context, token, kubeconfig_ca_pem(args.kubeconfig)
    if not args.token:
        raise SystemExit("kubepy agent: --token or --kubeconfig is required")
    ca_bundle, bearer = join_with_token(args.server, args.token)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies, checks hostnames
    ctx.load_verify_locations(cadata=ca_bundle.decode("ascii"))
    return ctx, bearer, ca_bundle


def run(args: argparse.Namespace) -> int:
    from kubepy.api.quantity import quantity_to_int
    from kubepy.client.factory import SharedInformerFactory
    from kubepy.client.rest import ApiClient
    from kubepy.kubelet.agent.kubelet import Agent, AgentConfig, node_name_default
    from kubepy.kubelet.agent.node import default_node_ip
    from kubepy.proxy.proxier import ServiceProxy

    setup_logging(args.log_level)
    ssl_context, bearer, ca_bundle = api_credentials(args)
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
        status_frequency=args.node_status_update_frequency,
        kubelet_port=args.kubelet_port, client_ca_pem=ca_bundle)
    if args.eviction_hard is not None:
        config.eviction_hard = args.eviction_hard
    config.container_log_max_size = quantity_to_int(args.container_log_max_size)
    config.container_log_max_files = args.container_log_max_files
    config.image_gc_high_threshold = args.image_gc_high_threshold
    config.image_gc_low_threshold = args.image_gc_low_threshold
    parent = os.getppid() if args.watch_parent else None

    async def main(stop: asyncio.Event) -> None:
        client = ApiClient(args.server, ssl_context, bearer,
                           user_agent=f"kubepy-agent/{config.node_name}")
        async with client:
            proxy: ServiceProxy | None = None
            if not args.disable_kube_proxy:
                proxy = ServiceProxy(client, SharedInformerFactory(client),
                                     node_name=config.node_name, node_ips=[node_ip],
                                     cluster_cidr=args.cluster_cidr)
                proxy.start()
            watcher = (asyncio.ensure_future(_watch_parent(parent, stop))
                       if parent is not None else None)
            try:
                await _run_agent(Agent(client, config), stop, node_ip)
            finally:
                if proxy is not None:  # the rules stay: traffic keeps flowing
                    await proxy.stop()
                    await proxy.informers.stop()
                if watcher is not None:
                    watcher.cancel()

    # asyncio's own loop, not uvloop: uvloop starts every program (runc, conmon, CNI
    # plugins, iptables) by forking the whole agent on the event loop (1.4-3.3 ms of CPU and
    # a 4-16 ms stall each), asyncio's by vfork; measured with bench/kubelet_pods.py: burst
    # p99 2.4-3.1 s instead of 5.1-5.2 s, ~35 % less agent CPU
    run_until_signalled(main, uvloop=False)
    return 0


async def _run_agent(agent: Any, stop: asyncio.Event, node_ip: str) -> None:
    starting = asyncio.ensure_future(agent.start())
    waiter = asyncio.ensure_future(stop.wait())
    await asyncio.wait({starting, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if starting.done() and starting.exception() is not None:
        waiter.cancel()
        await agent.stop()
        raise SystemExit(f"kubepy agent: {starting.exception()}")
    if starting.done():
        print(f"kubepy agent: node {agent.config.node_name} ready (podCIDR "
              f"{agent.pod_cidr}, InternalIP {node_ip})", flush=True)
        await stop.wait()
    starting.cancel()
    waiter.cancel()
    print("kubepy agent: stopping (pods keep running)", flush=True)
    await agent.stop()


async def _watch_parent(parent: int, stop: asyncio.Event) -> None:
    """The agent ``kubepy server`` runs stops when its parent is gone (even after kill -9)."""
    while not stop.is_set():
        await asyncio.sleep(1.0)
        if os.getppid() != parent:
            log.warning("kubepy server (pid %d) is gone; stopping", parent)
            stop.set()
