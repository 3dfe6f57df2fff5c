"""``SharedInformerFactory``: one informer per (resource, namespace, selectors), shared by
every controller that asks, so a process keeps one cache and one watch per resource
(client-go's ``SharedInformerFactory``).

``informer(...)`` before ``start()`` only creates; ``start()`` starts every informer not yet
running; an informer first requested after ``start()`` is started at once.
``wait_for_cache_sync()`` waits until every started informer has listed once.
"""

from __future__ import annotations

import asyncio

from kubepy.api.registry import ResourceType
from kubepy.client.clock import REAL_CLOCK, Clock
from kubepy.client.informer import Informer, ListWatcher

InformerKey = tuple[str, str, str, str | None, str | None, str | None]


class SharedInformerFactory:
    def __init__(self, client: ListWatcher, *, clock: Clock | None = None,
                 resync_period: float = 0.0, namespace: str | None = None,
                 **informer_options: object) -> None:
        """``namespace`` limits every informer to one namespace (None: all);
        ``informer_options`` go to each ``Informer`` (page_size, watch_timeout, back-off)."""
        self.client = client
        self.clock: Clock = clock or REAL_CLOCK
        self.resync_period = resync_period
        self.namespace = namespace
        self.informer_options = informer_options
        self._informers: dict[InformerKey, Informer] = {}
        self._started = False

    def informer(self, rt: ResourceType, *, namespace: str | None = None,
                 label_selector: str | None = None, field_selector: str | None = None,
                 resync_period: float | None = None) -> Informer:
        """The shared informer for this resource and filter (created on first request;
        ``resync_period`` only counts on creation)."""
        ns = namespace if namespace is not None else self.namespace
        if not rt.namespaced:
            ns = None
        key: InformerKey = (rt.group, rt.version, rt.plural, ns, label_selector or None,
                            field_selector or None)
        inf = self._informers.get(key)
        if inf is None:
            inf = Informer(self.client, rt, namespace=ns, label_selector=label_selector,
                           field_selector=field_selector,
                           resync_period=self.resync_period if resync_period is None
                           else resync_period,
                           clock=self.clock, **self.informer_options)  # type: ignore[arg-type]
            self._informers[key] = inf
            if self._started:
                inf.start()
        return inf

    @property
    def informers(self) -> list[Informer]:
        return list(self._informers.values())

    def start(self) -> None:
        self._started = True
        for inf in self._informers.values():
            inf.start()

    async def wait_for_cache_sync(self, timeout: float | None = None) -> bool:
        """True once every informer has synced; False if ``timeout`` (real seconds) passed."""
        waits = [inf.has_synced.wait() for inf in self._informers.values()]
        try:
            await asyncio.wait_for(asyncio.gather(*waits), timeout)
            return True
        except TimeoutError:
            return False

    async def stop(self) -> None:
        self._started = False
        await asyncio.gather(*(inf.stop() for inf in self._informers.values()))
