"""The ``kubepy`` command: ``kubepy server`` (and, as they land, agent, simulate, killall).

Flags follow k3s where k3s has one.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from pathlib import Path


def default_data_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/kubepy")
    return Path.home() / ".local" / "share" / "kubepy"


def _server_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
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
    p.add_argument("--service-cidr", default="10.43.0.0/16")
    p.add_argument("--cluster-cidr", default="10.42.0.0/16")
    p.add_argument("--cluster-domain", default="cluster.local")
    p.add_argument("--cluster-dns", default="10.43.0.10")
    p.add_argument("--node-name", default=None)
    p.add_argument("--token", default=None, help="shared secret agents join with")
    p.add_argument("--token-auth-file", default=None,
                   help='static bearer tokens, CSV lines: token,user,uid[,"group1,group2"]')
    p.add_argument("--log-level", default="INFO")


def _run_server(args: argparse.Namespace) -> int:
    from kubepy.apiserver.server import ApiServer, ServerConfig

    started = time.monotonic()
    logging.basicConfig(level=getattr(logging, args.log_level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = ServerConfig(
        data_dir=(args.data_dir or default_data_dir()).resolve(),
        bind_address=args.bind_address, port=args.https_listen_port,
        datastore_endpoint=args.datastore_endpoint, service_cidr=args.service_cidr,
        cluster_cidr=args.cluster_cidr, cluster_domain=args.cluster_domain,
        write_kubeconfig=args.write_kubeconfig)
    if args.token_auth_file:
        from kubepy.apiserver.auth import load_token_file

        config.tokens.update(load_token_file(args.token_auth_file))
    server = ApiServer(config)

    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await server.start()
        kubeconfig = config.write_kubeconfig or (config.data_dir / "admin.kubeconfig")
        print(f"kubepy: apiserver ready at {server.server_url()} "
              f"({time.monotonic() - started:.2f}s)", flush=True)
        print(f"kubepy: kubeconfig written to {kubeconfig}", flush=True)
        print(f"kubepy: use it with:  export KUBECONFIG={kubeconfig}; kubectl get nodes",
              flush=True)
        if not args.disable_agent:
            print("kubepy: note: the node agent (kubelet) is not built yet; running the "
                  "control plane only", flush=True)
        try:
            await stop.wait()
        finally:
            print("kubepy: shutting down", flush=True)
            await server.stop()

    asyncio.run(main())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kubepy", description="A Kubernetes-compatible "
                                     "orchestrator written in Python")
    sub = parser.add_subparsers(dest="command", required=True)
    _server_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "server":
        return _run_server(args)
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
