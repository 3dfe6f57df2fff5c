"""ProbeManager transcripts in virtual time (FakeClock): when probes run, what the stored
results are, which changes are reported and which events are queued.

The container's probes are exec probes whose answers come from a scripted ExecSync: each
probe runs a one-word command ("live", "ready", "boot") and exits with the code the script
holds for that word at that moment."""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

import pytest

from kubepy.client.clock import FakeClock
from kubepy.kubelet.prober import ProbeManager
from kubepy.kubelet.prober.results import ProbeState, ProbeTiming
from kubepy.kubelet.prober.types import ProbeKind, ProbeResult

UID = "uid-1"


def pod(*containers: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "web", "namespace": "default", "uid": UID},
            "spec": {"containers": list(containers)}}


def probe(word: str, **numbers: int) -> dict[str, Any]:
    return {"exec": {"command": [word]}, **numbers}


class Script:
    """The fake ExecSync: exit code per command word, calls recorded with their time."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.codes: dict[str, int | Exception] = {}
        self.calls: list[tuple[float, str, float | None]] = []

    async def __call__(self, argv: list[str], timeout: float | None) -> tuple[int, bytes, bytes]:
        self.calls.append((self.clock.monotonic(), argv[0], timeout))
        code = self.codes.get(argv[0], 0)
        if isinstance(code, Exception):
            raise code
        return code, f"{argv[0]} exit {code}".encode(), b""

    def times(self, word: str) -> list[float]:
        return [t for t, w, _ in self.calls if w == word]


class Harness:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.script = Script(self.clock)
        self.changes: list[tuple[float, str, str]] = []
        self.manager = ProbeManager(clock=self.clock, on_change=self._changed)

    def _changed(self, pod_uid: str, name: str) -> None:
        self.changes.append((self.clock.monotonic(), pod_uid, name))

    def add(self, container: dict[str, Any], *, container_id: str = "c1",
            started_ago: float = 0.0) -> None:
        self.manager.add_container(pod(container), container, container_id=container_id,
                                   started_at=self.clock.now().timestamp() - started_ago,
                                   pod_ip="10.42.0.5", exec_sync=self.script)

    def state(self, name: str = "app") -> tuple[bool, bool, str | None]:
        m = self.manager
        return m.started(UID, name), m.ready(UID, name), m.liveness_failed(UID, name)


def run(body: Callable[[Harness], Awaitable[None]]) -> None:
    async def main() -> None:
        h = Harness()
        try:
            await body(h)
        finally:
            await h.manager.close()
        assert h.clock.sleepers == 0, "close() left a worker sleeping"
    asyncio.run(main())


# -- the pure threshold bookkeeping ------------------------------------------------------

S, F = ProbeResult.SUCCESS, ProbeResult.FAILURE
THRESHOLDS = [
    # (id, kind, successThreshold, failureThreshold, observations, stored results after each)
    ("readiness starts failed, one success flips", ProbeKind.READINESS, 1, 3, [S, F, F, F, S],
     [S, S, S, F, S]),
    ("readiness needs two successes in a row", ProbeKind.READINESS, 2, 1, [S, F, S, S, F],
     [F, F, F, S, F]),
    ("liveness stays success below the failure threshold", ProbeKind.LIVENESS, 1, 3,
     [F, F, S, F, F, F], [S, S, S, S, S, F]),
    ("startup succeeds at once", ProbeKind.STARTUP, 1, 3, [S], [S]),
]


@pytest.mark.parametrize("kind,succ,fail,observed,stored", [t[1:] for t in THRESHOLDS],
                         ids=[t[0] for t in THRESHOLDS])
def test_thresholds(kind: ProbeKind, succ: int, fail: int, observed: list[ProbeResult],
                    stored: list[ProbeResult]) -> None:
    state = ProbeState(kind, ProbeTiming(success_threshold=succ, failure_threshold=fail))
    seen = []
    for result in observed:
        state.record(result)
        seen.append(state.result)
    assert seen == stored


def test_liveness_failure_puts_the_probe_on_hold() -> None:
    state = ProbeState(ProbeKind.LIVENESS, ProbeTiming(failure_threshold=2))
    assert state.record(F) == (False, False)
    assert state.record(F) == (True, True)
    assert state.on_hold and state.run == 0
    with pytest.raises(ValueError):
        state.record(ProbeResult.UNKNOWN)


TIMINGS = [
    ("defaults", {}, ProbeTiming(0, 10, 1, 1, 3)),
    ("given", {"initialDelaySeconds": 5, "periodSeconds": 2, "timeoutSeconds": 3,
               "successThreshold": 2, "failureThreshold": 7}, ProbeTiming(5, 2, 3, 2, 7)),
    ("zeros mean defaults", {"periodSeconds": 0, "timeoutSeconds": 0, "failureThreshold": 0},
     ProbeTiming(0, 10, 1, 1, 3)),
]


@pytest.mark.parametrize("spec,timing", [t[1:] for t in TIMINGS], ids=[t[0] for t in TIMINGS])
def test_timing_defaults(spec: dict[str, Any], timing: ProbeTiming) -> None:
    assert ProbeTiming.of(spec) == timing


# -- transcripts -------------------------------------------------------------------------

def test_readiness_flips_back_and_forth() -> None:
    async def body(h: Harness) -> None:
        h.add({"name": "app", "readinessProbe": probe("ready", initialDelaySeconds=5,
                                                      periodSeconds=10)})
        assert h.state() == (True, False, None)          # readiness starts as failure
        await h.clock.tick(4)
        assert h.script.calls == []                      # initial delay
        await h.clock.tick(1)
        assert h.script.times("ready") == [5] and h.state() == (True, True, None)
        assert h.changes == [(5, UID, "app")]
        h.script.codes["ready"] = 1
        await h.clock.tick(20)                           # failures at 15, 25: below threshold
        assert h.script.times("ready") == [5, 15, 25] and h.state()[1] is True
        await h.clock.tick(10)                           # third failure at 35
        assert h.state()[1] is False and h.changes[-1] == (35, UID, "app")
        assert h.manager.events() == [(UID, "Warning", "Unhealthy",
                                       "Readiness probe failed: ready exit 1")] * 3
        h.script.codes["ready"] = 0
        await h.clock.tick(10)
        assert h.state()[1] is True and [c[0] for c in h.changes] == [5, 35, 45]
        assert h.manager.events() == []
        assert {t for _, _, t in h.script.calls} == {1.0}   # timeoutSeconds passed on
    run(body)


def test_liveness_failure_reported_once_per_instance_and_cleared_by_a_new_one() -> None:
    async def body(h: Harness) -> None:
        spec = {"name": "app", "livenessProbe": probe("live", periodSeconds=10,
                                                      failureThreshold=3)}
        h.add(spec)
        h.script.codes["live"] = 1
        await h.clock.tick(19)
        assert h.script.times("live") == [0, 10] and h.state() == (True, True, None)
        await h.clock.tick(1)
        assert h.state() == (True, True, "Container app failed liveness probe")
        assert h.changes == [(20, UID, "app")]
        await h.clock.tick(100)                          # on hold: no more probes
        assert h.script.times("live") == [0, 10, 20] and len(h.changes) == 1
        assert [e[3] for e in h.manager.events()] == ["Liveness probe failed: live exit 1"] * 3
        h.add(spec, container_id="c1")                   # same instance again: nothing changes
        await h.clock.tick(10)
        assert h.script.times("live") == [0, 10, 20]
        h.script.codes["live"] = 0
        h.add(spec, container_id="c2")                   # the restarted container
        assert h.state() == (True, True, None)
        await h.clock.tick(0)
        assert h.script.times("live") == [0, 10, 20, 130]
    run(body)


def test_startup_gates_liveness_and_readiness() -> None:
    async def body(h: Harness) -> None:
        h.add({"name": "app",
               "startupProbe": probe("boot", periodSeconds=2, failureThreshold=10),
               "livenessProbe": probe("live", periodSeconds=10),
               "readinessProbe": probe("ready", periodSeconds=10)})
        h.script.codes["boot"] = 1
        await h.clock.tick(5)
        assert h.script.times("boot") == [0, 2, 4]
        assert h.script.times("live") == h.script.times("ready") == []
        assert h.state() == (False, False, None)
        h.script.codes["boot"] = 0
        await h.clock.tick(1)                            # startup succeeds at 6
        assert h.state() == (True, True, None)
        assert h.script.times("boot") == [0, 2, 4, 6]
        assert h.script.times("ready") == [6]            # run at once when started
        assert h.script.times("live") == []              # liveness waits for its tick
        await h.clock.tick(30)
        assert h.script.times("boot") == [0, 2, 4, 6]    # startup stops once succeeded
        assert h.script.times("live") == [10, 20, 30]
        assert h.script.times("ready") == [6, 10, 20, 30]
        assert [c[0] for c in h.changes] == [6, 6]       # started, then ready
        assert [e[3] for e in h.manager.events()] == ["Startup probe failed: boot exit 1"] * 3
    run(body)


def test_startup_failure_reaches_threshold() -> None:
    async def body(h: Harness) -> None:
        h.add({"name": "app", "startupProbe": probe("boot", periodSeconds=1, failureThreshold=3),
               "livenessProbe": probe("live")})
        h.script.codes["boot"] = 1
        await h.clock.tick(10)
        assert h.script.times("boot") == [0, 1, 2] and h.script.times("live") == []
        assert h.state() == (False, False, "Container app failed startup probe")
        assert h.changes == [(2, UID, "app")]
    run(body)


def test_initial_delay_counts_from_the_container_start() -> None:
    async def body(h: Harness) -> None:
        h.add({"name": "app", "livenessProbe": probe("live", initialDelaySeconds=5,
                                                     periodSeconds=3)}, started_ago=3)
        await h.clock.tick(9)
        assert h.script.times("live") == [2, 5, 8]
    run(body)


def test_errored_probe_is_retried_and_thrown_away() -> None:
    async def body(h: Harness) -> None:
        h.add({"name": "app", "readinessProbe": probe("ready", failureThreshold=1)})
        h.script.codes["ready"] = RuntimeError("container not running")
        await h.clock.tick(0)
        assert h.script.times("ready") == [0, 0, 0]      # three tries within one run
        assert h.manager.events() == [(UID, "Warning", "Unhealthy",
                                       "Readiness probe errored and resulted in unknown state: "
                                       "container not running")]
        assert h.changes == [] and h.state() == (True, False, None)
    run(body)


def test_exec_timeout_is_a_failure() -> None:
    async def body(h: Harness) -> None:
        h.add({"name": "app", "readinessProbe": probe("ready", initialDelaySeconds=1)})
        await h.clock.tick(1)
        h.script.codes["ready"] = TimeoutError()
        await h.clock.tick(10)
        assert h.manager.events() == [(UID, "Warning", "Unhealthy",
                                       'Readiness probe failed: command "ready" timed out')]
        assert h.script.times("ready") == [1, 11]
    run(body)


def test_remove_and_close_cancel_the_workers() -> None:
    async def body(h: Harness) -> None:
        h.add({"name": "app", "livenessProbe": probe("live"), "readinessProbe": probe("ready")})
        h.add({"name": "side", "livenessProbe": probe("side")})
        await h.clock.tick(0)
        assert h.clock.sleepers == 3
        h.manager.remove_container(UID, "side")
        await h.clock.tick(10)
        assert h.script.times("side") == [0] and h.script.times("live") == [0, 10]
        assert h.state("side") == (True, True, None)     # no workers: nothing holds it back
        h.manager.remove_pod(UID)
        await h.clock.tick(30)
        assert h.clock.sleepers == 0 and h.script.times("live") == [0, 10]
        h.add({"name": "app", "livenessProbe": probe("live")}, container_id="c9")
        await h.clock.tick(0)
        assert h.clock.sleepers == 1                      # close() (in run) cancels this one
    run(body)


def test_container_without_probes() -> None:
    async def body(h: Harness) -> None:
        h.add({"name": "app"})
        await h.clock.tick(60)
        assert h.state() == (True, True, None) and h.clock.sleepers == 0
        assert h.script.calls == [] and h.changes == []
    run(body)


def test_http_readiness_through_the_manager() -> None:
    """The workers' wiring with a real HTTP probe: the pod IP as host, the container's named
    port, the failure event, and the flip when the server turns healthy."""
    from aiohttp import web

    async def main() -> None:
        status = {"code": 500}

        async def healthz(request: web.Request) -> web.Response:
            return web.Response(status=status["code"], text="body")

        app = web.Application()
        app.router.add_get("/healthz", healthz)
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        port = runner.addresses[0][1]
        clock = FakeClock()
        changes: list[str] = []
        manager = ProbeManager(clock=clock, on_change=lambda uid, name: changes.append(name))
        container = {"name": "app", "ports": [{"name": "http", "containerPort": port}],
                     "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"},
                                        "periodSeconds": 5, "failureThreshold": 1}}

        async def never(argv: list[str], timeout: float | None) -> tuple[int, bytes, bytes]:
            raise AssertionError("no exec expected")

        async def until(predicate: Callable[[], bool]) -> None:
            for _ in range(500):
                if predicate():
                    return
                await asyncio.sleep(0.01)
            raise AssertionError("condition not reached")

        try:
            manager.add_container(pod(container), container, container_id="c1",
                                  started_at=clock.now().timestamp(), pod_ip="127.0.0.1",
                                  exec_sync=never)
            events: list[tuple[str, str, str, str]] = []
            await until(lambda: bool(events.extend(manager.events()) or events))
            assert events == [(UID, "Warning", "Unhealthy",
                               "Readiness probe failed: HTTP probe failed with statuscode: 500")]
            assert not manager.ready(UID, "app") and changes == []
            status["code"] = 200
            await until(lambda: clock.sleepers == 1)
            await clock.tick(5)
            await until(lambda: changes == ["app"])
            assert manager.ready(UID, "app") and manager.events() == []
        finally:
            await manager.close()
            await runner.cleanup()
    asyncio.run(main())
