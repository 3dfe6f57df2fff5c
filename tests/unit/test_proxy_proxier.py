"""ServiceProxy against a fake list/watch source and a recording rule writer: the first sync
follows the cache sync, bursts of events are batched into one sync per min_sync_period, a
failed write is retried, and stopping writes nothing (the rules stay)."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

import pytest

from kubepy.api.registry import ResourceType
from kubepy.client.factory import SharedInformerFactory
from kubepy.proxy import rules
from kubepy.proxy.proxier import ServiceProxy


def _svc(name: str, ip: str) -> dict[str, Any]:
    return {"metadata": {"namespace": "default", "name": name, "resourceVersion": "1"},
            "spec": {"type": "ClusterIP", "clusterIP": ip, "ports": [{"port": 80}]}}


class FakeSource:
    def __init__(self, services: list[dict[str, Any]]) -> None:
        self.items: dict[str, list[dict[str, Any]]] = {"services": services,
                                                       "endpointslices": []}
        self.events: dict[str, asyncio.Queue[dict[str, Any]]] = {}

    async def list(self, rt: ResourceType, namespace: str | None = None,
                   **_: Any) -> dict[str, Any]:
        return {"items": list(self.items[rt.plural]), "metadata": {"resourceVersion": "1"}}

    async def watch(self, rt: ResourceType, namespace: str | None = None,
                    **_: Any) -> AsyncIterator[dict[str, Any]]:
        queue = self.events.setdefault(rt.plural, asyncio.Queue())
        while True:
            yield await queue.get()

    def add(self, plural: str, obj: dict[str, Any]) -> None:
        self.events.setdefault(plural, asyncio.Queue()).put_nowait(
            {"type": "ADDED", "object": obj})


class Writer:
    def __init__(self, failures: int = 0) -> None:
        self.written: list[rules.Ruleset] = []
        self.failures = failures

    async def __call__(self, ruleset: rules.Ruleset) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("iptables-restore failed")
        self.written.append(ruleset)


async def _until(cond: Any, timeout: float = 3.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if cond():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


def _cluster_ips(rs: rules.Ruleset) -> list[str]:
    return [r[r.index("-d") + 1] for r in rs.nat[rules.SERVICES] if "cluster IP" in r[3]]


@pytest.mark.parametrize("failures", [0, 2], ids=["writes-ok", "two-failed-writes-retried"])
def test_sync_batching_and_retry(failures: int) -> None:
    async def main() -> None:
        source = FakeSource([_svc("a", "10.43.0.1")])
        writer = Writer(failures)
        factory = SharedInformerFactory(source)
        proxy = ServiceProxy(source, factory, node_name="n", node_ips=["192.168.0.2"],
                             cluster_cidr="10.42.0.0/16", writer=writer,
                             min_sync_period=0.2, retry_period=0.05)
        proxy.start()
        try:
            await _until(lambda: len(writer.written) == 1)
            # the service has no endpoints: REJECT in filter, nothing in nat
            assert _cluster_ips(writer.written[0]) == []
            assert any("10.43.0.1" in r for r in writer.written[0].filter[rules.SERVICES])
            for i in range(2, 12):
                source.add("services", _svc(f"s{i}", f"10.43.0.{i}"))
            await _until(lambda: len(proxy.services.store.list()) == 11)
            await _until(lambda: len(writer.written) >= 2)
            await asyncio.sleep(0.3)
            assert len(writer.written) == 2  # ten events, one batched sync
            rejected = [r for r in writer.written[1].filter[rules.SERVICES]]
            assert len(rejected) == 11
        finally:
            await proxy.stop()
            await factory.stop()
        count = len(writer.written)
        await asyncio.sleep(0.1)
        assert len(writer.written) == count  # stopping writes nothing: the rules stay

    asyncio.run(main())
