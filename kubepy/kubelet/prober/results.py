"""The result of one probe kind for one container instance, with thresholds (worker.go's
doProbe bookkeeping and results_manager.go's stored value). Pure: no I/O, no time.

Invariants, as the kubelet keeps them:
- the stored result starts at the kind's initial value: readiness FAILURE, liveness
  SUCCESS, startup UNKNOWN (not yet started);
- ``run`` counts consecutive equal observations; the stored result changes only once
  ``run`` reaches successThreshold (for SUCCESS) or failureThreshold (for FAILURE);
- a liveness or startup FAILURE that reaches the threshold puts the probe on hold (no more
  probing of this instance: it is going to be killed) and resets ``run``;
- an UNKNOWN observation (the probe could not run) is thrown away by the caller and never
  recorded here.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubepy.kubelet.prober.types import Obj, ProbeKind, ProbeResult

INITIAL = {ProbeKind.READINESS: ProbeResult.FAILURE, ProbeKind.LIVENESS: ProbeResult.SUCCESS,
           ProbeKind.STARTUP: ProbeResult.UNKNOWN}


def _positive(probe: Obj, field: str, default: int) -> int:
    value = probe.get(field)
    return int(value) if isinstance(value, int) and value > 0 else default


@dataclass(frozen=True)
class ProbeTiming:
    """A probe's numbers with the API defaults (0 or absent means the default)."""

    initial_delay: int = 0
    period: int = 10
    timeout: int = 1
    success_threshold: int = 1
    failure_threshold: int = 3

    @classmethod
    def of(cls, probe: Obj) -> "ProbeTiming":
        delay = probe.get("initialDelaySeconds")
        return cls(initial_delay=int(delay) if isinstance(delay, int) and delay > 0 else 0,
                   period=_positive(probe, "periodSeconds", 10),
                   timeout=_positive(probe, "timeoutSeconds", 1),
                   success_threshold=_positive(probe, "successThreshold", 1),
                   failure_threshold=_positive(probe, "failureThreshold", 3))


class ProbeState:
    def __init__(self, kind: ProbeKind, timing: ProbeTiming) -> None:
        self.kind = kind
        self.timing = timing
        self.result: ProbeResult = INITIAL[kind]
        self.last: ProbeResult | None = None
        self.run = 0
        self.on_hold = False

    def record(self, observed: ProbeResult) -> tuple[bool, bool]:
        """Count one SUCCESS or FAILURE observation.

        Returns ``(reached, changed)``: whether the observation reached its threshold (and
        was stored), and whether the stored result changed by it."""
        if observed is ProbeResult.UNKNOWN:
            raise ValueError("an unknown result is thrown away, never recorded")
        if self.last is observed:
            self.run += 1
        else:
            self.last, self.run = observed, 1
        threshold = (self.timing.failure_threshold if observed is ProbeResult.FAILURE
                     else self.timing.success_threshold)
        if self.run < threshold:
            return False, False
        changed = self.result is not observed
        self.result = observed
        if observed is ProbeResult.FAILURE and self.kind in (ProbeKind.LIVENESS,
                                                             ProbeKind.STARTUP):
            self.on_hold = True
            self.run = 0
        return True, changed
