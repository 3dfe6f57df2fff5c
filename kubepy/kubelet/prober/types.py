"""Shared vocabulary of the prober: the result of one probe or hook run, and the exec hook.

``ExecSync`` runs an argv inside one container (the caller binds it to the container
instance) with an optional timeout in seconds, returning ``(exit_code, stdout, stderr)``; on
timeout it raises ``asyncio.TimeoutError`` (``TimeoutError``), which the prober reports as a
failed probe.
"""

from __future__ import annotations

import enum
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
        return self.value[0].lower() + self.value[1:] + "Probe"
