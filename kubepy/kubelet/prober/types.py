"""Shared vocabulary of the prober: the result of one probe or hook run, and the exec hook.

``ExecSync`` runs an argv inside one container (the caller binds it to the container
instance) with an optional timeout in seconds, returning ``(exit_code, stdout, stderr)``; on
timeout it raises ``asyncio.TimeoutError`` (``TimeoutError``), which the prober reports as a
failed probe; any other exception is an error (the probe could not be run).

``Outcome`` is the inside form of a result (pkg/probe's Result): ``warning`` marks the
kubelet's ``probe.Warning`` (a success that is reported with a ProbeWarning event, e.g. an
HTTP redirect to another host that was not followed). ``ProbeResult.UNKNOWN`` is the
kubelet's ``err != nil``: the probe could not be run, its result is thrown away.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

Obj = dict[str, Any]

ExecSync = Callable[[list[str], "float | None"], Awaitable[tuple[int, bytes, bytes]]]


class ProbeResult(enum.Enum):
    """pkg/probe Result: success, failure, or unknown (the probe could not be run)."""

    SUCCESS = "success"
    FAILURE = "failure"
    UNKNOWN = "unknown"


class ProbeKind(enum.Enum):
    """The three probes of a container, named as the kubelet words them in events."""

    LIVENESS = "Liveness"
    READINESS = "Readiness"
    STARTUP = "Startup"

    @property
    def field(self) -> str:
        """The container field holding this probe: livenessProbe, readinessProbe, ..."""
        return self.value.lower() + "Probe"


@dataclass(frozen=True)
class Outcome:
    result: ProbeResult
    message: str
    warning: bool = False
