"""``kubepy controller-manager``, ``kubepy scheduler`` and ``kubepy components`` (both in
one process: the child ``kubepy server`` starts so the API server keeps a core of its own).

Each runs under leader election on its Lease in kube-system (``--leader-elect`` and its
timing flags as kube-controller-manager and kube-scheduler spell them).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from typing import Any

from kubepy.cli.common import (add_kubeconfig_flag, resolve_kubeconfig, run_until_signalled,
                               setup_logging, until_stopped)
from kubepy.client.clock import REAL_CLOCK, Clock
from kubepy.client.factory import SharedInformerFactory
from kubepy.client.rest import ApiClient
from kubepy.controllers.context import ControllerConfig
from kubepy.controllers.manager import (SCHEDULER_LEASE, LeaderElection, Recorders,
                                        run_controller_manager, run_leader_elected)

log = logging.getLogger("kubepy.cli.components")


def _bool(value: str) -> bool:
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"not a boolean: {value}")


def _common_flags(p: argparse.ArgumentParser) -> None:
    add_kubeconfig_flag(p)
    p.add_argument("--leader-elect", type=_bool, nargs="?", const=True, default=True,
                   help="run under leader election (default true)")
    p.add_argument("--leader-elect-lease-duration", type=float, default=15.0)
    p.add_argument("--leader-elect-renew-deadline", type=float, default=10.0)
    p.add_argument("--leader-elect-retry-period", type=float, default=2.0)
    p.add_argument("--log-level", default="INFO")


def _controller_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cluster-cidr", default="10.42.0.0/16")
    p.add_argument("--service-cluster-ip-range", "--service-cidr", dest="service_cidr",
                   default="10.43.0.0/16")
    p.add_argument("--node-cidr-mask-size", type=int, default=24)
    p.add_argument("--node-monitor-grace-period", type=float, default=40.0)
    p.add_argument("--node-monitor-period", type=float, default=5.0)
    p.add_argument("--controllers", default="*",
                   help="comma-separated controller modules to run ('*': all; "
                        "'-name' disables one)")


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    cm = sub.add_parser("controller-manager", help="run the controller-manager")
    _common_flags(cm)
    _controller_flags(cm)
    sched = sub.add_parser("scheduler", help="run the scheduler")
    _common_flags(sched)
    both = sub.add_parser("components", help="run the controller-manager and the scheduler "
                          "in one process (what `kubepy server` starts)")
    _common_flags(both)
    _controller_flags(both)
    both.add_argument("--disable-controller-manager", action="store_true")
    both.add_argument("--disable-scheduler", action="store_true")


def election(args: argparse.Namespace) -> LeaderElection:
    return LeaderElection(enabled=args.leader_elect,
                          lease_duration=args.leader_elect_lease_duration,
                          renew_deadline=args.leader_elect_renew_deadline,
                          retry_period=args.leader_elect_retry_period)


def controller_config(args: argparse.Namespace) -> ControllerConfig:
    return ControllerConfig(cluster_cidr=args.cluster_cidr, service_cidr=args.service_cidr,
                            node_cidr_mask_size=args.node_cidr_mask_size,
                            node_monitor_period=args.node_monitor_period,
                            node_monitor_grace_period=args.node_monitor_grace_period)


def selected_modules(spec: str) -> tuple[str, ...]:
    """kube-controller-manager's ``--controllers``: ``*``, names, ``-name`` to disable."""
    from kubepy.controllers.context import CONTROLLER_MODULES

    items = [s.strip() for s in spec.split(",") if s.strip()]
    disabled = {s[1:] for s in items if s.startswith("-")}
    wanted = [s for s in items if not s.startswith("-")]
    base = list(CONTROLLER_MODULES) if "*" in wanted or not wanted else \
        [s for s in wanted if s != "*"]
    return tuple(m for m in base if m not in disabled)


def load_scheduler() -> Any:
    """``kubepy.scheduler.new_scheduler``, or None (logged) while it does not exist."""
    try:
        import kubepy.scheduler as scheduler_pkg
    except Exception:  # noqa: BLE001
        log.exception("the scheduler could not be imported: not started")
        return None
    factory = getattr(scheduler_pkg, "new_scheduler", None)
    if factory is None:
        log.warning("kubepy.scheduler has no new_scheduler(client, informers, clock, "
                    "recorder_for) yet: the scheduler is not started")
    return factory


async def run_scheduler(client: ApiClient, new_scheduler: Any, *, election: LeaderElection,
                        clock: Clock = REAL_CLOCK) -> None:
    """The scheduler, active while it holds kube-system/kube-scheduler."""

    async def lead() -> None:
        while True:
            informers = SharedInformerFactory(client, clock=clock)
            recorders = Recorders(client, clock)
            scheduler = new_scheduler(client, informers, clock, recorders)
            try:
                informers.start()
                await informers.wait_for_cache_sync()
                await scheduler.run()
                log.error("the scheduler returned; restarting it")
            except Exception:  # noqa: BLE001
                log.exception("the scheduler failed; restarting it")
            finally:
                try:
                    await scheduler.shutdown()
                except Exception:  # noqa: BLE001
                    log.exception("scheduler shutdown failed")
                await informers.stop()
                await recorders.close()
            await clock.sleep(5.0)

    await run_leader_elected(client, SCHEDULER_LEASE, lead, election=election, clock=clock)


def run(args: argparse.Namespace) -> int:
    setup_logging(args.log_level)
    kubeconfig = resolve_kubeconfig(args.kubeconfig)
    run_cm = args.command in ("controller-manager", "components") and \
        not getattr(args, "disable_controller_manager", False)
    run_sched = args.command in ("scheduler", "components") and \
        not getattr(args, "disable_scheduler", False)
    new_scheduler = load_scheduler() if run_sched else None
    if args.command == "scheduler" and new_scheduler is None:
        return 1
    parent = os.getppid()

    async def main(stop: asyncio.Event) -> None:
        client = ApiClient.from_kubeconfig(kubeconfig, user_agent=f"kubepy-{args.command}")
        work = []
        if run_cm:
            work.append(run_controller_manager(client, config=controller_config(args),
                                               election=election(args),
                                               modules=selected_modules(args.controllers)))
        if new_scheduler is not None:
            work.append(run_scheduler(client, new_scheduler, election=election(args)))
        if args.command == "components":
            work.append(_watch_parent(parent, stop))
        log.info("kubepy %s running against %s", args.command, client.server)
        try:
            await until_stopped(stop, asyncio.gather(*work))
        finally:
            await client.close()
            log.info("kubepy %s stopped", args.command)

    run_until_signalled(main)
    return 0


async def _watch_parent(parent: int, stop: asyncio.Event) -> None:
    """The child of ``kubepy server`` stops when its parent is gone (even after kill -9)."""
    while True:
        await asyncio.sleep(1.0)
        if os.getppid() != parent:
            log.warning("kubepy server (pid %d) is gone; stopping", parent)
            stop.set()
            return
