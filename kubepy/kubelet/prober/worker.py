"""The probes of one container instance: one asyncio task per probe kind (worker.go).

Schedule (deterministic, on the injected clock): a kind's first probe runs when
``initialDelaySeconds`` have passed since the container started (``started_at``, epoch
seconds), then every ``periodSeconds`` on a fixed ticker (a probe that overruns skips the
ticks it missed). The kubelet's random first-run jitter is left out.

Gating: while a startupProbe has not succeeded, liveness and readiness ticks pass without
probing; the startup worker stops once it succeeded, and readiness is then run at once (the
kubelet's manual trigger for a started, not-ready container); liveness waits for its tick.
A liveness or startup failure that reaches failureThreshold puts that worker on hold until
the instance is replaced.

Each probe run is retried up to 3 times while it errors (UNKNOWN); an errored run is thrown
away. Every failed run is an ("Warning", "Unhealthy", "<Kind> probe failed: <msg>") event,
an errored one "<Kind> probe errored and resulted in unknown state: <msg>", a redirect not
followed ("Warning", "ProbeWarning", "<Kind> probe warning: <msg>").
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable

from kubepy.client.clock import Clock
from kubepy.kubelet.prober.handlers import run_probe_action
from kubepy.kubelet.prober.results import ProbeState, ProbeTiming
from kubepy.kubelet.prober.types import ExecSync, Obj, Outcome, ProbeKind, ProbeResult

log = logging.getLogger(__name__)

MAX_PROBE_RETRIES = 3

Event = tuple[str, str, str, str]   # (pod_uid, type, reason, message)


class ContainerProbes:
    """Probe state and workers of one container instance; owned by the ProbeManager."""

    def __init__(self, pod: Obj, container: Obj, *, container_id: str, started_at: float,
                 pod_ip: str, exec_sync: ExecSync, clock: Clock,
                 on_change: Callable[[str, str], None],
                 emit: Callable[[Event], None]) -> None:
        self.pod = pod
        self.container = container
        self.container_id = container_id
        self.started_at = started_at
        self.pod_ip = pod_ip
        self.exec_sync = exec_sync
        self._clock = clock
        self._on_change = on_change
        self._emit = emit
        self.pod_uid = str((pod.get("metadata") or {}).get("uid", ""))
        self.name = str(container.get("name", ""))
        self.states: dict[ProbeKind, ProbeState] = {}
        self.specs: dict[ProbeKind, Obj] = {}
        for kind in ProbeKind:
            spec = container.get(kind.field)
            if spec:
                self.specs[kind] = spec
                self.states[kind] = ProbeState(kind, ProbeTiming.of(spec))
        self.failure_message: str | None = None
        self._triggers = {kind: asyncio.Event() for kind in self.states}
        self._tasks: list[asyncio.Task[None]] = []

    # -- answers -----------------------------------------------------------------------
    def started(self) -> bool:
        state = self.states.get(ProbeKind.STARTUP)
        return state is None or state.result is ProbeResult.SUCCESS

    def ready(self) -> bool:
        if not self.started():
            return False
        state = self.states.get(ProbeKind.READINESS)
        return state is None or state.result is ProbeResult.SUCCESS

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        loop = asyncio.get_running_loop()
        for kind in self.states:
            self._tasks.append(loop.create_task(
                self._run(kind), name=f"probe {kind.value} {self.pod_uid}/{self.name}"))

    def cancel(self) -> list[asyncio.Task[None]]:
        for task in self._tasks:
            task.cancel()
        tasks, self._tasks = self._tasks, []
        return tasks

    # -- the loop ----------------------------------------------------------------------
    async def _run(self, kind: ProbeKind) -> None:
        state = self.states[kind]
        timing = state.timing
        elapsed = self._clock.now().timestamp() - self.started_at
        delay = min(float(timing.initial_delay), max(0.0, timing.initial_delay - elapsed))
        if delay > 0:
            await self._clock.sleep(delay)
        next_tick = self._clock.monotonic()
        while True:
            self._triggers[kind].clear()
            if not state.on_hold and (kind is ProbeKind.STARTUP or self.started()):
                await self._probe(kind, state)
                if kind is ProbeKind.STARTUP and self.started():
                    return
            now = self._clock.monotonic()
            while next_tick <= now:
                next_tick += timing.period
            await self._wait(kind, next_tick - now)

    async def _wait(self, kind: ProbeKind, seconds: float) -> None:
        sleeper = asyncio.ensure_future(self._clock.sleep(seconds))
        trigger = asyncio.ensure_future(self._triggers[kind].wait())
        try:
            await asyncio.wait({sleeper, trigger}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            trigger.cancel()

    async def _run_once(self, kind: ProbeKind, timeout: float) -> Outcome:
        outcome = Outcome(ProbeResult.UNKNOWN, "")
        for _ in range(MAX_PROBE_RETRIES):
            try:
                outcome = await run_probe_action(self.specs[kind], pod=self.pod,
                                                 container=self.container, pod_ip=self.pod_ip,
                                                 exec_sync=self.exec_sync, timeout=timeout)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug must not end the worker (HandleCrash)
                log.exception("%s probe of %s/%s crashed", kind.value, self.pod_uid, self.name)
                outcome = Outcome(ProbeResult.UNKNOWN, str(exc) or type(exc).__name__)
            if outcome.result is not ProbeResult.UNKNOWN:
                break
        return outcome

    async def _probe(self, kind: ProbeKind, state: ProbeState) -> None:
        outcome = await self._run_once(kind, float(state.timing.timeout))
        if outcome.result is ProbeResult.UNKNOWN:
            self._emit((self.pod_uid, "Warning", "Unhealthy",
                        f"{kind.value} probe errored and resulted in unknown state: "
                        f"{outcome.message}"))
            return
        if outcome.warning:
            self._emit((self.pod_uid, "Warning", "ProbeWarning",
                        f"{kind.value} probe warning: {outcome.message}"))
        elif outcome.result is ProbeResult.FAILURE:
            self._emit((self.pod_uid, "Warning", "Unhealthy",
                        f"{kind.value} probe failed: {outcome.message}"))
        reached, changed = state.record(outcome.result)
        if reached and state.on_hold and self.failure_message is None:
            self.failure_message = f"Container {self.name} failed {kind.value.lower()} probe"
        if not changed:
            return
        if kind is ProbeKind.STARTUP and outcome.result is ProbeResult.SUCCESS:
            if ProbeKind.READINESS in self._triggers:
                self._triggers[ProbeKind.READINESS].set()
        self._on_change(self.pod_uid, self.name)
