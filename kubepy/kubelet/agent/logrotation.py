"""Container log rotation, as the kubelet's container log manager does it (pure decision).

Every ``MONITOR_INTERVAL`` s the kubelet looks at the log of each *running* container; one
past ``containerLogMaxSize`` (default 10Mi) is renamed to ``<log>.<YYYYmmdd-HHMMSS>``, the
runtime reopens the log path (CRI ReopenContainerLog; conmon's ``rotate_log`` does both) and
the oldest rotated files are removed so that at most ``containerLogMaxFiles`` (default 5)
files remain, the live one included. The kubelet requires at least 2 files for rotation;
fewer, or a max size of 0, turns it off. ``logs_to_rotate`` decides; the agent stats the
logs and calls conmon.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

DEFAULT_MAX_SIZE = 10 * 1024 * 1024      # containerLogMaxSize 10Mi
DEFAULT_MAX_FILES = 5                    # containerLogMaxFiles
MONITOR_INTERVAL = 10.0                  # containerLogMonitorInterval 10s


@dataclass(frozen=True)
class LiveLog:
    """The current log file of a running container."""

    container_id: str
    path: str
    size: int


def rotation_enabled(max_size: int, max_files: int) -> bool:
    return max_size > 0 and max_files >= 2


def logs_to_rotate(logs: Iterable[LiveLog], *, max_size: int, max_files: int) -> list[str]:
    """The ids of the running containers whose log is past *max_size* bytes (none when
    rotation is off), in the order given."""
    if not rotation_enabled(max_size, max_files):
        return []
    return [entry.container_id for entry in logs if entry.size > max_size]


__all__ = ["DEFAULT_MAX_FILES", "DEFAULT_MAX_SIZE", "LiveLog", "MONITOR_INTERVAL",
           "logs_to_rotate", "rotation_enabled"]
