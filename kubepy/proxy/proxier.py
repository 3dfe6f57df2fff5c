"""``ServiceProxy``: keeps this node's iptables rules in step with Services and EndpointSlices.

Level-triggered like kube-proxy: informer events only mark the state dirty; one loop rebuilds
the complete ruleset from the caches and writes it with one restore. Syncs are batched: at
most one per ``min_sync_period`` (events arriving meanwhile are folded into the next), and one
every ``sync_period`` regardless. As kube-proxy's partial restores: the first sync, the one
after a failure and one every ``full_sync_period`` (kube-proxy: an hour) are full (every
chain written, stale chains found from iptables-save, jumps checked: this repairs rules
changed behind our back; with 1,000 services a full restore takes seconds on the nf_tables
backend); the others write only the chains that differ from the last write. A failed sync is retried after
``retry_period``. Stopping the proxy leaves the rules in place, so traffic
keeps flowing across restarts; ``apply.cleanup`` is what removes them. Before the first
sync the kernel is asked once whether SCTP rules load; if not, SCTP service ports are left
out with a warning (once per port), so the other services keep working.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol, Sequence

from kubepy.api.registry import Registry, ResourceType
from kubepy.client.clock import REAL_CLOCK, Clock
from kubepy.client.factory import SharedInformerFactory
from kubepy.proxy import apply, model, rules

log = logging.getLogger(__name__)
_REG = Registry()


def _rt(group: str, version: str, plural: str) -> ResourceType:
    rt = _REG.get(group, version, plural)
    assert rt is not None, plural
    return rt


SERVICES = _rt("", "v1", "services")
ENDPOINT_SLICES = _rt("discovery.k8s.io", "v1", "endpointslices")


class RuleWriter(Protocol):
    async def __call__(self, ruleset: rules.Ruleset) -> None: ...


class ServiceProxy:
    def __init__(self, client: Any, informers: SharedInformerFactory, *, node_name: str,
                 node_ips: Sequence[str], cluster_cidr: str | None,
                 localhost_nodeports: bool = True, iptables: apply.Iptables | None = None,
                 writer: RuleWriter | None = None, min_sync_period: float = 0.1,
                 sync_period: float = 30.0, retry_period: float = 1.0,
                 full_sync_period: float = 3600.0, sctp: bool | None = None,
                 clock: Clock | None = None) -> None:
        """``writer`` replaces the iptables I/O (tests); by default rules go through
        ``apply.sync`` on ``iptables`` (the host's unless given a prefixed runner).
        ``sctp``: whether SCTP rules load; None asks iptables before the first sync (with
        a ``writer``, None means supported)."""
        self.client = client
        self.node = rules.NodeConfig(node_name=node_name, node_ips=tuple(node_ips),
                                     cluster_cidr=cluster_cidr,
                                     localhost_nodeports=localhost_nodeports)
        self.iptables = iptables or apply.Iptables()
        self._writer = writer
        self.min_sync_period = min_sync_period
        self.sync_period = sync_period
        self.retry_period = retry_period
        self.full_sync_period = full_sync_period
        self.clock = clock or REAL_CLOCK
        self.sctp = sctp if sctp is not None else (True if writer is not None else None)
        self._warned_unsupported: set[tuple[str, str, str]] = set()
        self.services = informers.informer(SERVICES)
        self.endpoint_slices = informers.informer(ENDPOINT_SLICES)
        self.informers = informers
        self.sync_count = 0
        self.last_ruleset: rules.Ruleset | None = None
        self._dirty = asyncio.Event()
        self._last_sync: float | None = None
        self._last_full: float | None = None  # None: the next sync is a full one
        self.full_sync_count = 0
        self._tasks: list[asyncio.Task[None]] = []
        for inf in (self.services, self.endpoint_slices):
            inf.add_event_handler(lambda o: self.mark_dirty(), lambda o, n: self.mark_dirty(),
                                  lambda o: self.mark_dirty())

    def mark_dirty(self) -> None:
        self._dirty.set()

    def ruleset(self) -> rules.Ruleset:
        """The rules the caches call for now (pure apart from reading the caches)."""
        ports = model.service_ports(self.services.store.list(),
                                    self.endpoint_slices.store.list())
        protocols = frozenset({"TCP", "UDP", "SCTP"} if self.sctp is not False
                              else {"TCP", "UDP"})
        ports, left_out = model.split_supported(ports, protocols)
        for sp in left_out:
            key = (sp.namespace, sp.name, sp.port_name)
            if key not in self._warned_unsupported:
                self._warned_unsupported.add(key)
                log.warning("service %s: protocol %s is not supported by this kernel's "
                            "iptables; port left out", sp.port_name_string, sp.protocol)
        return rules.build(ports, self.node)

    def full_sync_due(self) -> bool:
        return (self.last_ruleset is None or self._last_full is None
                or self.clock.monotonic() - self._last_full >= self.full_sync_period)

    async def sync_once(self) -> None:
        if self.sctp is None:
            self.sctp = await apply.sctp_supported(self.iptables)
            if not self.sctp:
                log.warning("iptables cannot load SCTP rules here: SCTP services are left out")
        rs = self.ruleset()
        try:
            if self._writer is not None:
                await self._writer(rs)
            elif self.full_sync_due():
                await apply.sync(self.iptables, rs, route_localnet=(
                    self.node.localhost_nodeports and self.full_sync_count == 0))
                self._last_full = self.clock.monotonic()
                self.full_sync_count += 1
            else:
                assert self.last_ruleset is not None
                text = rules.render_changes(rs, self.last_ruleset)
                if text:
                    await self.iptables.restore(text)
        except BaseException:
            self._last_full = None  # what the kernel holds is unknown: rewrite everything
            raise
        self.last_ruleset = rs
        self.sync_count += 1

    async def run(self) -> None:
        """Sync until cancelled (the informers are started by the caller's factory)."""
        for inf in (self.services, self.endpoint_slices):
            await inf.wait_for_sync()
        self._dirty.set()
        while True:
            await self._dirty.wait()
            if self._last_sync is not None:
                wait = self._last_sync + self.min_sync_period - self.clock.monotonic()
                if wait > 0:
                    await self.clock.sleep(wait)
            self._dirty.clear()
            self._last_sync = self.clock.monotonic()
            try:
                await self.sync_once()
            except Exception:  # noqa: BLE001 - any failure: log, keep the old rules, retry
                log.exception("service proxy sync failed; retrying in %ss", self.retry_period)
                self._tasks = [t for t in self._tasks if not t.done()]
                self._tasks.append(asyncio.get_running_loop().create_task(
                    self._mark_after(self.retry_period)))

    async def _mark_after(self, seconds: float) -> None:
        await self.clock.sleep(seconds)
        self.mark_dirty()

    async def _periodic(self) -> None:
        while True:
            await self.clock.sleep(self.sync_period)
            self.mark_dirty()

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.informers.start()
        self._tasks = [loop.create_task(self.run(), name="service proxy"),
                       loop.create_task(self._periodic(), name="service proxy resync")]

    async def stop(self) -> None:
        """Stop syncing; the rules stay (cleanup is ``apply.cleanup``)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        self._tasks = []
