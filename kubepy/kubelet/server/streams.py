"""What exec and attach see of a client, whatever the transport (WebSocket channels or SPDY
streams), and the Status objects they report on the error stream. Pure apart from the
callables the transports supply.

The error stream of remotecommand v4/v5 carries a metav1.Status as JSON, written once at
the end: Success, NonZeroExitCode with an ExitCode cause, or InternalError. Older protocols
write only a failure's message as text and nothing on success.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from kubepy.kubelet.server.http import HttpError

Status = dict[str, Any]


class ByteSource(Protocol):
    async def read(self) -> bytes: ...  # b"" at the end


class ByteSink(Protocol):
    async def write(self, data: bytes) -> None: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class StreamOptions:
    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool


def _flag(query: Mapping[str, list[str]], name: str) -> bool:
    # the apiserver sends "1"; accept the spellings of Go's ParseBool "true" as well
    return (query.get(name) or [""])[0] in ("1", "true", "True", "TRUE", "t", "T")


def stream_options(query: Mapping[str, list[str]]) -> StreamOptions:
    """remotecommand NewOptions: tty drops stderr; at least one stream is required."""
    tty = _flag(query, "tty")
    opts = StreamOptions(stdin=_flag(query, "stdin"), stdout=_flag(query, "stdout"),
                         stderr=_flag(query, "stderr") and not tty, tty=tty)
    if not (opts.stdin or opts.stdout or opts.stderr):
        raise HttpError(400, "you must specify at least 1 of stdin, stdout, stderr")
    return opts


@dataclass
class CommandStreams:
    options: StreamOptions
    stdin: ByteSource | None
    stdout: ByteSink | None
    stderr: ByteSink | None
    resize: "asyncio.Queue[tuple[int, int] | None] | None"  # (width, height); None: no more
    write_status: Callable[[Status], Awaitable[None]]
    close: Callable[[], Awaitable[None]]
    gone: asyncio.Event = field(default_factory=asyncio.Event)  # the client went away


def success_status() -> Status:
    return {"metadata": {}, "status": "Success"}


def exit_code_status(code: int, argv: list[str]) -> Status:
    return {"metadata": {}, "status": "Failure",
            "message": "command terminated with non-zero exit code: error executing command "
                       f"[{' '.join(argv)}], exit code {code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def internal_error_status(message: str) -> Status:
    return {"metadata": {}, "status": "Failure",
            "message": f"Internal error occurred: {message}", "reason": "InternalError",
            "details": {"causes": [{"message": message}]}, "code": 500}


def status_bytes(status: Status, *, as_json: bool) -> bytes | None:
    """What goes on the error stream: the JSON (v4+), or a failure's message (v1-v3)."""
    if as_json:
        return json.dumps(status, separators=(",", ":")).encode()
    if status.get("status") == "Success":
        return None
    return str(status.get("message", "")).encode()


class ResizeDecoder:
    """The resize stream: a sequence of JSON TerminalSize objects {"Width":..,"Height":..}."""

    def __init__(self) -> None:
        self._buf = ""
        self._decoder = json.JSONDecoder()

    def feed(self, data: bytes) -> list[tuple[int, int]]:
        self._buf += data.decode("utf-8", "replace")
        sizes: list[tuple[int, int]] = []
        while True:
            text = self._buf.lstrip()
            if not text:
                self._buf = ""
                return sizes
            try:
                obj, end = self._decoder.raw_decode(text)
            except json.JSONDecodeError:
                self._buf = text
                return sizes
            self._buf = text[end:]
            if isinstance(obj, dict):
                fields = {k.lower(): v for k, v in obj.items()}
                width, height = fields.get("width", 0), fields.get("height", 0)
                if isinstance(width, int) and isinstance(height, int):
                    sizes.append((width, height))
