"""The end of a CRI-format container log as text: the termination message of a container
whose ``terminationMessagePolicy`` is FallbackToLogsOnError. Pure.

A CRI log line is ``<RFC3339Nano> <stdout|stderr> <P|F> <text>``: F ends a line, P is a
chunk whose line goes on in the next entry. ``log_tail`` joins the entries back into the
container's output and keeps its last ``max_lines`` lines and ``max_bytes`` bytes, as the
kubelet does (80 lines, 2048 bytes).
"""

from __future__ import annotations

MAX_LINES = 80
MAX_BYTES = 2048


def log_text(raw: str) -> str:
    """The container's output recorded in *raw* (unparsable lines are skipped)."""
    out: list[str] = []
    for line in raw.splitlines():
        parts = line.split(" ", 3)
        if len(parts) < 3 or parts[1] not in ("stdout", "stderr") or parts[2] not in "PF":
            continue
        text = parts[3] if len(parts) == 4 else ""
        out.append(text if parts[2] == "P" else text + "\n")
    return "".join(out)


def log_tail(raw: str, *, max_lines: int = MAX_LINES, max_bytes: int = MAX_BYTES) -> str:
    text = log_text(raw)
    lines = text.splitlines(keepends=True)[-max_lines:]
    data = "".join(lines).encode()
    return data[-max_bytes:].decode(errors="replace")
