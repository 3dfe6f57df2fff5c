"""Two LeaderElectors on one Lease of a real ``kubepy server``: only one leads; the other
takes over after the first stops (at once when it releases the lease, after the lease
duration when it just disappears)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from kubepy.client.leaderelection import LEASE, LeaderElector
from kubepy.client.rest import ApiClient
from tests.conftest import ServerProcess


@pytest.mark.parametrize("release", [True, False], ids=["released on stop", "crashed: lease expires"])
def test_one_leader_then_takeover(kubepy_server: ServerProcess, release: bool) -> None:
    async def go() -> dict[str, Any]:
        lease_name = f"le-{uuid.uuid4().hex[:8]}"
        async with ApiClient.from_kubeconfig(kubepy_server.kubeconfig) as c:
            loop = asyncio.get_running_loop()
            leading: dict[str, float] = {}
            stopped: dict[str, float] = {}

            def elector(identity: str) -> LeaderElector:
                return LeaderElector(c, lease_name, identity=identity, namespace="default",
                                     lease_duration=2, renew_deadline=1.5, retry_period=0.1,
                                     release_on_cancel=release)

            def callbacks(identity: str) -> tuple[Any, Any]:
                async def started() -> None:
                    leading[identity] = loop.time()
                    await asyncio.Event().wait()
                return started, lambda: stopped.setdefault(identity, loop.time())
            a, b = elector("a"), elector("b")
            run_a = asyncio.ensure_future(a.run(*callbacks("a")))
            while "a" not in leading:
                await asyncio.sleep(0.02)
            run_b = asyncio.ensure_future(b.run(*callbacks("b")))
            await asyncio.sleep(1.0)  # several renewals and several attempts by b
            both = (a.is_leader, b.is_leader, b.leader)
            lease = await c.get(LEASE, lease_name, "default")
            stop_at = loop.time()
            run_a.cancel()
            while "b" not in leading:
                await asyncio.sleep(0.02)
            after = await c.get(LEASE, lease_name, "default")
            run_b.cancel()
            await asyncio.gather(run_a, run_b, return_exceptions=True)
            return {"both": both, "spec": lease["spec"], "after": after["spec"],
                    "takeover": leading["b"] - stop_at, "a_stopped": "a" in stopped}
    out = asyncio.run(asyncio.wait_for(go(), 20))
    assert out["both"] == (True, False, "a")
    assert out["spec"]["holderIdentity"] == "a" and out["spec"]["leaseDurationSeconds"] == 2
    assert out["spec"]["renewTime"].endswith("Z") and len(out["spec"]["renewTime"]) == 27
    assert out["after"]["holderIdentity"] == "b" and out["after"]["leaseTransitions"] == 1
    assert out["a_stopped"]
    if release:
        assert out["takeover"] < 0.5
    else:
        assert 1.5 < out["takeover"] < 3.5
