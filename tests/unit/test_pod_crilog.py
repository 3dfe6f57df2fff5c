"""The termination message taken from the end of a CRI log (FallbackToLogsOnError)."""

from __future__ import annotations

import pytest

from kubepy.kubelet.pods.crilog import log_tail, log_text

TS = "2024-05-01T10:00:00.123456789Z"


@pytest.mark.parametrize("raw,want", [
    (f"{TS} stdout F hello\n{TS} stderr F oops\n", "hello\noops\n"),
    (f"{TS} stdout P hel\n{TS} stdout F lo\n", "hello\n"),
    (f"{TS} stdout F \n", "\n"),
    (f"garbage\n{TS} stdout F ok\n{TS} weird F x\n", "ok\n"),
    ("", ""),
], ids=["full-lines", "partial-joined", "empty-line", "garbage-skipped", "empty"])
def test_log_text(raw: str, want: str) -> None:
    assert log_text(raw) == want


def test_tail_keeps_the_last_lines_and_bytes() -> None:
    raw = "".join(f"{TS} stdout F line {i}\n" for i in range(100))
    assert log_tail(raw).splitlines()[0] == "line 20"
    assert log_tail(raw, max_lines=2) == "line 98\nline 99\n"
    assert log_tail(raw, max_bytes=9) == "\nline 99\n"
