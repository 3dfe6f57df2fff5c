"""The controller-manager: every controller module of ``CONTROLLER_MODULES`` in one
process, active only while it holds the Lease ``kube-system/kube-controller-manager``.

Startup imports each module (``kubepy.controllers.<name>``); a module that does not exist
is reported in the log as not started (never skipped silently), and one that fails to
import or to build its controllers is logged with its error — the others still run.

Each leadership term builds a fresh ``ControllerContext`` (``ctx_factory``: new informers,
new event recorders), calls every module's ``new_controllers(ctx)``, starts the informers,
waits for their caches and runs every controller's workers. Losing the Lease cancels the
term (workers, informers, recorders are stopped) and the manager campaigns again, so a
standby never writes anything but its Lease reads; a leader that cannot renew within the
renew deadline stops before any standby may take over (see ``LeaderElector``).

``run_leader_elected`` is the same loop for any component (the scheduler uses it on
``kube-system/kube-scheduler``).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import socket
import uuid
from dataclasses import dataclass, field
from types import ModuleType
from typing import Awaitable, Callable, Iterable

from kubepy.client import gcpolicy
from kubepy.client.clock import REAL_CLOCK, Clock
from kubepy.client.controller import Controller
from kubepy.client.events import EventRecorder
from kubepy.client.factory import SharedInformerFactory
from kubepy.client.leaderelection import LeaderElector
from kubepy.client.rest import ApiClient
from kubepy.controllers.context import CONTROLLER_MODULES, ControllerConfig, ControllerContext

log = logging.getLogger("kubepy.controllers.manager")

CONTROLLER_MANAGER_LEASE = "kube-controller-manager"
SCHEDULER_LEASE = "kube-scheduler"
PACKAGE = "kubepy.controllers"
RESTART_DELAY = 5.0


@dataclass(frozen=True)
class LeaderElection:
    """kube-controller-manager's ``--leader-elect*`` flags (same defaults)."""
    enabled: bool = True
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    namespace: str = "kube-system"


@dataclass
class LoadedModules:
    modules: dict[str, ModuleType] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def default_identity() -> str:
    """``<hostname>_<uuid>``, as kube-controller-manager names its Lease holder."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


def load_controller_modules(names: Iterable[str] = CONTROLLER_MODULES,
                            package: str = PACKAGE) -> LoadedModules:
    """Import ``<package>.<name>`` for each name; sort them into loaded, missing, failed."""
    loaded = LoadedModules()
    for name in names:
        qualified = f"{package}.{name}"
        try:
            module = importlib.import_module(qualified)
        except ModuleNotFoundError as e:
            if e.name == qualified:
                loaded.missing.append(name)
            else:
                loaded.failed[name] = repr(e)
            continue
        except Exception as e:  # noqa: BLE001 - one broken module must not stop the rest
            loaded.failed[name] = repr(e)
            continue
        if not callable(getattr(module, "new_controllers", None)):
            loaded.failed[name] = f"{qualified} has no new_controllers(ctx)"
            continue
        loaded.modules[name] = module
    return loaded


def report_modules(loaded: LoadedModules) -> None:
    if loaded.modules:
        log.info("controller modules: %s", ", ".join(loaded.modules))
    for name in loaded.missing:
        log.warning("controller module %s.%s does not exist: the %s controller is not "
                    "started", PACKAGE, name, name)
    for name, error in loaded.failed.items():
        log.error("controller module %s.%s could not be loaded: %s", PACKAGE, name, error)


class Recorders:
    """``recorder_for(component)``: one EventRecorder per component, closed together."""

    def __init__(self, client: ApiClient, clock: Clock, host: str | None = None) -> None:
        self.client = client
        self.clock = clock
        self.host = host or socket.gethostname()
        self._recorders: dict[str, EventRecorder] = {}

    def __call__(self, component: str) -> EventRecorder:
        recorder = self._recorders.get(component)
        if recorder is None:
            recorder = EventRecorder(self.client, component, host=self.host, clock=self.clock)
            self._recorders[component] = recorder
        return recorder

    async def close(self) -> None:
        for recorder in self._recorders.values():
            try:
                await recorder.close()
            except Exception:  # noqa: BLE001 - shutting down
                log.exception("closing the %s event recorder failed", recorder)
        self._recorders.clear()


def new_context(client: ApiClient, *, config: ControllerConfig | None = None,
                clock: Clock | None = None) -> ControllerContext:
    clock = clock or REAL_CLOCK
    return ControllerContext(client=client, informers=SharedInformerFactory(client, clock=clock),
                             clock=clock, config=config or ControllerConfig(),
                             recorder_for=Recorders(client, clock))


async def close_context(ctx: ControllerContext) -> None:
    await ctx.informers.stop()
    close = getattr(ctx.recorder_for, "close", None)
    if close is not None:
        await close()


def build_controllers(ctx: ControllerContext, modules: dict[str, ModuleType]) -> list[Controller]:
    controllers: list[Controller] = []
    for name, module in modules.items():
        try:
            made = list(module.new_controllers(ctx))
        except Exception:  # noqa: BLE001 - the other controllers still run
            log.exception("controller module %s: new_controllers failed; not started", name)
            continue
        controllers.extend(made)
    return controllers


async def run_controllers(ctx: ControllerContext, controllers: list[Controller], *,
                          sync_timeout: float | None = None) -> None:
    """Start the informers, wait for their caches, run every controller until cancelled."""
    ctx.informers.start()
    if not await ctx.informers.wait_for_cache_sync(sync_timeout):
        log.warning("informer caches not synced after %ss; starting anyway", sync_timeout)
    else:
        gcpolicy.freeze()  # the listed objects stay out of the collector's scans
    log.info("caches synced; starting %d controllers: %s", len(controllers),
             ", ".join(c.name for c in controllers))
    tasks = [asyncio.create_task(c.run(), name=f"controller {c.name}") for c in controllers]
    try:
        if tasks:
            await asyncio.gather(*tasks)
        else:
            await asyncio.Event().wait()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for c in controllers:
            await c.shutdown()


async def run_leader_elected(client: ApiClient, lease_name: str,
                             work: Callable[[], Awaitable[None]], *,
                             election: LeaderElection = LeaderElection(),
                             identity: str | None = None, clock: Clock | None = None) -> None:
    """Run ``work`` while holding ``lease_name``; campaign again after losing it (or just
    run it when leader election is disabled). Returns only when cancelled."""
    if not election.enabled:
        await work()
        return
    identity = identity or default_identity()
    # the Lease is renewed on connections of its own: a component busy with hundreds of
    # requests in flight (binds, creates, events) must not miss its renew deadline waiting
    # for a pooled connection, and lose its term (and its informers' caches) for it
    derive = getattr(client, "derived", None)
    lease_client = derive(user_agent=f"{client.user_agent}/leader-election",
                          connection_limit=2) if derive is not None else client
    try:
        while True:
            elector = LeaderElector(lease_client, lease_name, identity=identity,
                                    namespace=election.namespace,
                                    lease_duration=election.lease_duration,
                                    renew_deadline=election.renew_deadline,
                                    retry_period=election.retry_period, clock=clock)
            log.info("%s: %s is campaigning for the lease %s/%s", lease_name, identity,
                     election.namespace, lease_name)
            await elector.run(work, lambda: log.warning("%s: %s lost the lease; stopped",
                                                        lease_name, identity))
    finally:
        if lease_client is not client:
            await lease_client.close()


async def run_controller_manager(client: ApiClient,
                                 ctx_factory: Callable[[], ControllerContext] | None = None, *,
                                 config: ControllerConfig | None = None,
                                 clock: Clock | None = None,
                                 election: LeaderElection = LeaderElection(),
                                 identity: str | None = None,
                                 modules: Iterable[str] = CONTROLLER_MODULES) -> None:
    """The controller-manager: runs until cancelled. ``client`` holds the Lease;
    ``ctx_factory`` (default: ``new_context(client, config=config, clock=clock)``) gives
    each leadership term its own context."""
    gcpolicy.tune()  # this process keeps large informer caches
    loaded = load_controller_modules(modules)
    report_modules(loaded)
    factory = ctx_factory or (lambda: new_context(client, config=config, clock=clock))

    async def lead() -> None:
        while True:  # the term's work must not end while the Lease is held
            ctx = factory()
            try:
                await run_controllers(ctx, build_controllers(ctx, loaded.modules))
            except Exception:  # noqa: BLE001 - rebuilt from a fresh context
                log.exception("the controllers failed; restarting them in %ss", RESTART_DELAY)
            finally:
                await close_context(ctx)
            await (clock or REAL_CLOCK).sleep(RESTART_DELAY)

    await run_leader_elected(client, CONTROLLER_MANAGER_LEASE, lead, election=election,
                             identity=identity, clock=clock)
