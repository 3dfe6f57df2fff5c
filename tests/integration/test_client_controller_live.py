"""The controller pattern end to end on a real ``kubepy server``: informer handlers enqueue
keys, workers reconcile (with retries), and the EventRecorder's Events — aggregated — are
what the API serves back, as ``kubectl describe`` would show them."""

from __future__ import annotations

import asyncio
import copy
import uuid
from typing import Any

from kubepy import errors
from kubepy.api.registry import Registry
from kubepy.client.controller import Controller
from kubepy.client.events import EVENTS, EventRecorder
from kubepy.client.informer import Informer
from kubepy.client.rest import ApiClient
from kubepy.client.store import split_key
from tests.conftest import ServerProcess

REG = Registry()
CM = REG.get("", "v1", "configmaps")
NS = REG.get("", "v1", "namespaces")


class MirrorController(Controller):
    """For each ConfigMap "x" labelled mirror=yes, keep a ConfigMap "x-mirror" with the
    same data. The first reconcile of every key fails once, to exercise the retry."""

    name = "mirror-controller"

    def __init__(self, client: ApiClient, informer: Informer, recorder: EventRecorder) -> None:
        super().__init__(workers=2, informers=[informer])
        self.client, self.informer, self.recorder = client, informer, recorder
        self.failed_once: set[str] = set()
        informer.add_event_handler(*self.handlers())

    async def reconcile(self, key: str) -> None:
        source = self.informer.store.get(key)
        if source is None or source["metadata"].get("labels", {}).get("mirror") != "yes":
            return
        if key not in self.failed_once:
            self.failed_once.add(key)
            raise RuntimeError("transient failure")
        ns, name = split_key(key)
        mirror = {"metadata": {"name": f"{name}-mirror"}, "data": copy.deepcopy(source.get("data", {}))}
        try:
            await self.client.create(CM, mirror, ns)
            self.recorder.event(source, "Normal", "Mirrored", f"Created mirror {name}-mirror")
        except errors.AlreadyExists:
            current = await self.client.get(CM, f"{name}-mirror", ns)
            if current.get("data") != mirror["data"]:
                await self.client.patch(CM, f"{name}-mirror", {"data": mirror["data"]},
                                        namespace=ns)
                self.recorder.event(source, "Normal", "Mirrored", f"Updated mirror {name}-mirror")


def test_reconcile_loop_and_events(kubepy_server: ServerProcess) -> None:
    async def go() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        async with ApiClient.from_kubeconfig(kubepy_server.kubeconfig) as c:
            ns = f"ctl-{uuid.uuid4().hex[:8]}"
            await c.create(NS, {"metadata": {"name": ns}})
            await c.create(CM, {"metadata": {"name": "a", "labels": {"mirror": "yes"}},
                                "data": {"k": "1"}}, ns)
            informer = Informer(c, CM, namespace=ns)
            recorder = EventRecorder(c, "mirror-controller", host="test-host")
            ctl = MirrorController(c, informer, recorder)
            informer.start()
            runner = asyncio.ensure_future(ctl.run())

            async def mirror_data() -> dict[str, str] | None:
                for _ in range(250):
                    try:
                        return (await c.get(CM, "a-mirror", ns)).get("data")
                    except errors.NotFound:
                        await asyncio.sleep(0.02)
                return None
            assert await mirror_data() == {"k": "1"}
            for value in ("2", "3"):
                await c.patch(CM, "a", {"data": {"k": value}}, namespace=ns)
                for _ in range(250):
                    if await mirror_data() == {"k": value}:
                        break
                    await asyncio.sleep(0.02)
            await c.patch(CM, "a", {"data": {"k": "2"}}, namespace=ns)  # a repeat message
            for _ in range(250):
                if await mirror_data() == {"k": "2"}:
                    break
                await asyncio.sleep(0.02)
            await recorder.flush()
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
            await informer.stop()
            await recorder.close()
            source = await c.get(CM, "a", ns)
            events = await c.list(EVENTS, ns, field_selector="involvedObject.name=a")
            return source, events["items"]
    source, events = asyncio.run(asyncio.wait_for(go(), 30))
    by_message = {e["message"]: e for e in events}
    assert sorted(by_message) == ["Created mirror a-mirror", "Updated mirror a-mirror"]
    updated = by_message["Updated mirror a-mirror"]
    assert updated["count"] == 3  # k=2, k=3, k=2 again: one Event, aggregated
    assert updated["involvedObject"]["uid"] == source["metadata"]["uid"]
    assert updated["involvedObject"]["kind"] == "ConfigMap"
    assert updated["source"] == {"component": "mirror-controller", "host": "test-host"}
    assert updated["reportingComponent"] == "mirror-controller"
    assert updated["lastTimestamp"] >= updated["firstTimestamp"]
    assert updated["metadata"]["name"].startswith("a.")
    assert len(updated["metadata"]["name"]) == len("a.") + 16
