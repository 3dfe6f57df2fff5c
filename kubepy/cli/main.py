"""The ``kubepy`` command: ``server``, ``agent``, ``killall``, ``simulate``,
``controller-manager``, ``scheduler``, ``components``, ``dns`` and ``images``. Each subcommand lives in its own
module of ``kubepy.cli``.

Flags follow k3s (and the Kubernetes components) where they have one.
"""

from __future__ import annotations

import argparse
import sys

from kubepy.cli import agent, components, dns, killall, server, simulate
from kubepy.cli.common import default_data_dir

__all__ = ["main", "default_data_dir"]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["images"]:  # `kubepy images import|ls|rm`: its own parser
        import asyncio

        from kubepy.kubelet.images import cli as images_cli

        return asyncio.run(images_cli.main(argv[1:]))
    parser = argparse.ArgumentParser(prog="kubepy", description="A Kubernetes-compatible "
                                     "orchestrator written in Python")
    sub = parser.add_subparsers(dest="command", required=True)
    server.add_parser(sub)
    agent.add_parser(sub)
    killall.add_parser(sub)
    simulate.add_parser(sub)
    components.add_parsers(sub)
    dns.add_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "server":
        return server.run(args)
    if args.command == "agent":
        return agent.run(args)
    if args.command == "killall":
        return killall.run(args)
    if args.command == "dns":
        return dns.run(args)
    if args.command == "simulate":
        return simulate.run(args)
    if args.command in ("controller-manager", "scheduler", "components"):
        return components.run(args)
    parser.error(f"unknown command {args.command}")  # exits with status 2


if __name__ == "__main__":
    sys.exit(main())
