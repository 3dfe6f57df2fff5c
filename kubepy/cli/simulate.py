"""``kubepy simulate --nodes N``: register N simulated nodes and run their pods without
containers until SIGINT/SIGTERM (then their Leases lapse: the nodes go NotReady as lost
machines do)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from dataclasses import replace

from kubepy.cli.common import (add_kubeconfig_flag, resolve_kubeconfig, run_until_signalled,
                               setup_logging)
from kubepy.client.rest import ApiClient
from kubepy.kubelet.simulated import NodeSimulator, NodeTemplate, SimConfig

log = logging.getLogger("kubepy.cli.simulate")


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("simulate", help="run simulated nodes (no containers) for tests and "
                       "benchmarks")
    p.add_argument("--nodes", type=int, required=True, help="how many nodes")
    p.add_argument("--cpu", default="4")
    p.add_argument("--memory", default="32Gi")
    p.add_argument("--pods", default="110")
    p.add_argument("--ephemeral-storage", default="100Gi")
    p.add_argument("--instance-type", default=None,
                   help="node.kubernetes.io/instance-type label value")
    p.add_argument("--name-prefix", default="sim-")
    p.add_argument("--start-index", type=int, default=0,
                   help="first node index (names are <prefix><index>)")
    p.add_argument("--node-labels", default="",
                   help="extra labels, key=value[,key=value...]")
    p.add_argument("--register-with-taints", default="",
                   help="taints, key[=value]:Effect[,...] (as the kubelet flag)")
    p.add_argument("--node-status-update-frequency", type=float, default=300.0,
                   help="seconds between node status posts when nothing changed (the "
                        "kubelet's nodeStatusReportFrequency); the Lease is the heartbeat, "
                        "renewed every 10 s")
    p.add_argument("--node-lease-duration-seconds", type=int, default=40,
                   help="the nodes' Lease duration (renewed every quarter of it)")
    p.add_argument("--workers", type=int, default=16)
    add_kubeconfig_flag(p)
    p.add_argument("--log-level", default="INFO")


def parse_labels(spec: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    for item in filter(None, (s.strip() for s in spec.split(","))):
        key, _, value = item.partition("=")
        labels[key] = value
    return labels


def parse_taints(spec: str) -> tuple[dict[str, str], ...]:
    taints = []
    for item in filter(None, (s.strip() for s in spec.split(","))):
        kv, _, effect = item.rpartition(":")
        if not kv or effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            raise SystemExit(f"bad taint {item!r}: want key[=value]:Effect")
        key, _, value = kv.partition("=")
        taint = {"key": key, "effect": effect}
        if value:
            taint["value"] = value
        taints.append(taint)
    return tuple(taints)


def run(args: argparse.Namespace) -> int:
    setup_logging(args.log_level)
    kubeconfig = resolve_kubeconfig(args.kubeconfig)
    template = NodeTemplate(cpu=args.cpu, memory=args.memory, pods=args.pods,
                            ephemeral_storage=args.ephemeral_storage,
                            instance_type=args.instance_type,
                            labels=parse_labels(args.node_labels),
                            taints=parse_taints(args.register_with_taints))
    config = SimConfig(count=args.nodes, prefix=args.name_prefix, start_index=args.start_index,
                       template=template,
                       node_status_frequency=args.node_status_update_frequency,
                       lease_duration=args.node_lease_duration_seconds,
                       workers=args.workers)

    async def main(stop: asyncio.Event) -> None:
        started = time.monotonic()
        async with ApiClient.from_kubeconfig(kubeconfig, user_agent="kubepy-simulate",
                                             connection_limit=4 * args.workers) as client:
            try:  # kubelets report the version of the control plane they join
                version = (await client.request("GET", "/version")).get("gitVersion")
                if version:
                    config.template = replace(config.template, kubelet_version=version)
            except Exception as e:  # noqa: BLE001 - the default version will do
                log.warning("could not read the server version: %r", e)
            sim = NodeSimulator(client, config)
            registering = asyncio.ensure_future(sim.start())
            waiter = asyncio.ensure_future(stop.wait())
            await asyncio.wait({registering, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if registering.done() and registering.exception() is None:
                print(f"kubepy simulate: {sim.registered_nodes()} nodes registered "
                      f"({time.monotonic() - started:.1f}s); Ctrl-C stops them", flush=True)
                await stop.wait()
            registering.cancel()
            waiter.cancel()
            print("kubepy simulate: stopping (the nodes' leases will lapse)", flush=True)
            await sim.stop()

    run_until_signalled(main)
    return 0
