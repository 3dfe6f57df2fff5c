"""``kubepy server``: the API server in this process, and (unless disabled) the
controller-manager and scheduler in one child process (``kubepy components``), started once
the API server is ready, restarted if it dies, stopped on shutdown.

Flags follow k3s where k3s has one (``--disable-scheduler``, ``--disable-controller-manager``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from kubepy.cli.common import default_data_dir, run_until_signalled, setup_logging


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("server", help="run the control plane (and, later, the node agent)")
    p.add_argument("--data-dir", "-d", type=Path, default=None,
                   help="state directory (default /var/lib/kubepy as root, else "
                        "~/.local/share/kubepy)")
    p.add_argument("--https-listen-port", type=int, default=6443)
    p.add_argument("--bind-address", default="0.0.0.0")
    p.add_argument("--write-kubeconfig", "-o", type=Path, default=None,
                   help="also write the admin kubeconfig here")
    p.add_argument("--datastore-endpoint", default="",
                   help="store endpoint (default: sqlite file in the data dir)")
    p.add_argument("--disable-agent", action="store_true",
                   help="control plane only (no kubelet on this machine)")
    p.add_argument("--disable-controller-manager", action="store_true",
                   help="do not run the controller-manager")
    p.add_argument("--disable-scheduler", action="store_true",
                   help="do not run the scheduler")
    p.add_argument("--service-cidr", default="10.43.0.0/16")
    p.add_argument("--cluster-cidr", default="10.42.0.0/16")
    p.add_argument("--cluster-domain", default="cluster.local")
    p.add_argument("--cluster-dns", default="10.43.0.10")
    p.add_argument("--node-name", default=None)
    p.add_argument("--token", default=None, help="shared secret agents join with")
    p.add_argument("--token-auth-file", default=None,
                   help='static bearer tokens, CSV lines: token,user,uid[,"group1,group2"]')
    p.add_argument("--apiserver-workers", type=int, default=1,
                   help="API server processes sharing the port and the store (more cores "
                        "for requests, one watch cache each)")
    p.add_argument("--worker-id", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--log-level", default="INFO")


def component_args(args: argparse.Namespace, kubeconfig: Path) -> list[str]:
    out = ["--kubeconfig", str(kubeconfig), "--cluster-cidr", args.cluster_cidr,
           "--service-cidr", args.service_cidr, "--log-level", args.log_level]
    if args.disable_controller_manager:
        out.append("--disable-controller-manager")
    if args.disable_scheduler:
        out.append("--disable-scheduler")
    return out


def run(args: argparse.Namespace) -> int:
    from kubepy.apiserver.server import ApiServer, ServerConfig
    from kubepy.cli.supervisor import ComponentSupervisor, write_components_kubeconfig

    started = time.monotonic()
    setup_logging(args.log_level)
    config = ServerConfig(
        data_dir=(args.data_dir or default_data_dir()).resolve(),
        bind_address=args.bind_address, port=args.https_listen_port,
        datastore_endpoint=args.datastore_endpoint, service_cidr=args.service_cidr,
        cluster_cidr=args.cluster_cidr, cluster_domain=args.cluster_domain,
        write_kubeconfig=args.write_kubeconfig,
        workers=max(1, args.apiserver_workers), worker_id=args.worker_id)
    if args.token_auth_file:
        from kubepy.apiserver.auth import load_token_file

        config.tokens.update(load_token_file(args.token_auth_file))
    server = ApiServer(config)

    async def worker(stop: asyncio.Event) -> None:
        await server.start()
        try:
            await stop.wait()
        finally:
            await server.stop()

    if args.worker_id > 0:  # an extra API server process, started by worker 0
        run_until_signalled(worker)
        return 0

    async def main(stop: asyncio.Event) -> None:
        await server.start()
        workers = [ComponentSupervisor([*sys.argv[2:], "--worker-id", str(i)],
                                       subcommand="server")
                   for i in range(1, config.workers)]
        for w in workers:
            w.start()
        kubeconfig = config.write_kubeconfig or (config.data_dir / "admin.kubeconfig")
        print(f"kubepy: apiserver ready at {server.server_url()} "
              f"({time.monotonic() - started:.2f}s)", flush=True)
        print(f"kubepy: kubeconfig written to {kubeconfig}", flush=True)
        print(f"kubepy: use it with:  export KUBECONFIG={kubeconfig}; kubectl get nodes",
              flush=True)
        components: ComponentSupervisor | None = None
        if not (args.disable_controller_manager and args.disable_scheduler):
            assert server.pki is not None
            path = write_components_kubeconfig(config.data_dir, server.server_url(),
                                               server.pki.ca)
            components = ComponentSupervisor(component_args(args, path))
            components.start()
        if not args.disable_agent:
            print("kubepy: note: the node agent (kubelet) is not built yet; running the "
                  "control plane only", flush=True)
        try:
            await stop.wait()
        finally:
            print("kubepy: shutting down", flush=True)
            if components is not None:
                await components.stop()
            for w in workers:
                await w.stop()
            await server.stop()

    run_until_signalled(main)
    return 0
