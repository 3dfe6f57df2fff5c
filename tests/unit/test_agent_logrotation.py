"""The agent's container log rotation decision (the kubelet's container log manager)."""

from __future__ import annotations

import pytest

from kubepy.kubelet.agent.logrotation import DEFAULT_MAX_FILES, DEFAULT_MAX_SIZE, LiveLog, \
    logs_to_rotate

MI = 1024 * 1024
LOGS = [LiveLog("a", "/l/a/0.log", 10 * MI + 1), LiveLog("b", "/l/b/2.log", 10 * MI),
        LiveLog("c", "/l/c/0.log", 0), LiveLog("d", "/l/d/1.log", 50 * MI)]

CASES = [
    ("defaults", DEFAULT_MAX_SIZE, DEFAULT_MAX_FILES, ["a", "d"]),
    ("exactly-the-limit-stays", 10 * MI, 5, ["a", "d"]),
    ("small-limit", 1, 5, ["a", "b", "d"]),
    ("large-limit", 64 * MI, 5, []),
    ("two-files-is-enough", DEFAULT_MAX_SIZE, 2, ["a", "d"]),
    ("one-file-is-off", DEFAULT_MAX_SIZE, 1, []),
    ("size-zero-is-off", 0, 5, []),
]


@pytest.mark.parametrize("max_size,max_files,expected", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_logs_to_rotate(max_size: int, max_files: int, expected: list[str]) -> None:
    assert logs_to_rotate(LOGS, max_size=max_size, max_files=max_files) == expected


def test_kubelet_defaults() -> None:
    assert (DEFAULT_MAX_SIZE, DEFAULT_MAX_FILES) == (10 * MI, 5)
