"""Container logs from CRI log files, with the kubelet's query options.

A CRI log line (conmon ``k8s-file``) is ``<RFC3339Nano time> <stdout|stderr> <P|F> <text>\n``:
``F`` ends a line, ``P`` is a fragment of a longer one (its newline is conmon's, not the
container's, and is dropped). What is served follows pkg/kubelet/kuberuntime/logs:
  tailLines   start at the n-th last complete line of the file (fragments count as lines);
  sinceTime / sinceSeconds   skip lines older than the later of the two;
  timestamps  prefix each line with its time as RFC3339 with 9 fraction digits;
  limitBytes  stop after that many bytes (the last line cut);
  follow      at the end of the file wait for more while the container runs, then drain.
Options parsing and line handling are pure; ``stream_log`` does the file I/O.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import BinaryIO

_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}
_TS = re.compile(r"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?"
                 r"(?:([Zz])|([+-])(\d\d):(\d\d))$")


class LogOptionsError(ValueError):
    """A query the kubelet refuses: ``status`` is 400 (undecodable) or 422 (invalid)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class LogOptions:
    tail: int = -1  # -1: all lines
    limit_bytes: int = -1  # -1: no limit
    since_ns: int = 0  # epoch nanoseconds; 0: from the start
    follow: bool = False
    timestamps: bool = False
    previous: bool = False


@dataclass(frozen=True)
class LogLine:
    timestamp_ns: int
    stream: str  # "stdout" or "stderr"
    content: bytes  # the text as served (a full line keeps its "\n", a fragment has none)


def _bool(query: Mapping[str, list[str]], name: str) -> bool:
    values = query.get(name)
    if not values or values[0] == "":
        return False
    if values[0] in _TRUE:
        return True
    if values[0] in _FALSE:
        return False
    raise LogOptionsError(400, '{"message": "Unable to decode query."}')


def _int(query: Mapping[str, list[str]], name: str) -> int | None:
    values = query.get(name)
    if not values or values[0] == "":
        return None
    try:
        return int(values[0])
    except ValueError:
        raise LogOptionsError(400, '{"message": "Unable to decode query."}') from None


def parse_log_options(query: Mapping[str, list[str]], now_ns: int) -> LogOptions:
    """PodLogOptions from a kubelet /containerLogs query (``tail`` is the legacy tailLines)."""
    query = dict(query)
    if query.get("tail"):
        tail = query.pop("tail")[0]
        if tail == "all":  # the same as no tail at all
            query.pop("tailLines", None)
        else:
            query["tailLines"] = [tail]
    tail_lines = _int(query, "tailLines")
    limit = _int(query, "limitBytes")
    since_seconds = _int(query, "sinceSeconds")
    since_time = None
    if query.get("sinceTime") and query["sinceTime"][0]:
        try:
            since_time = parse_timestamp(query["sinceTime"][0])
        except ValueError:
            raise LogOptionsError(400, '{"message": "Unable to decode query."}') from None
    invalid = LogOptionsError(422, '{"message": "Invalid request."}')
    if (tail_lines is not None and tail_lines < 0) or (limit is not None and limit < 1) or \
            (since_seconds is not None and since_seconds < 1) or \
            (since_seconds is not None and since_time is not None):
        raise invalid
    since = 0
    if since_seconds is not None:
        since = now_ns - since_seconds * 1_000_000_000
    if since_time is not None and since_time > since:
        since = since_time
    return LogOptions(tail=-1 if tail_lines is None else tail_lines,
                      limit_bytes=-1 if limit is None else limit, since_ns=since,
                      follow=_bool(query, "follow"), timestamps=_bool(query, "timestamps"),
                      previous=_bool(query, "previous"))


def parse_timestamp(text: str) -> int:
    """RFC 3339 (any fraction up to nanoseconds, any offset) -> epoch nanoseconds."""
    m = _TS.match(text)
    if not m:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    fraction = int((m.group(7) or "0").ljust(9, "0"))
    offset = 0
    if m.group(9):
        offset = (int(m.group(10)) * 60 + int(m.group(11))) * 60
        offset = -offset if m.group(9) == "-" else offset
    base = datetime.datetime(year, month, day, hour, minute, second,
                             tzinfo=datetime.timezone.utc)
    return (int(base.timestamp()) - offset) * 1_000_000_000 + fraction


def format_timestamp(ns: int) -> str:
    """Go's RFC3339NanoFixed in UTC: 2006-01-02T15:04:05.000000000Z."""
    seconds, fraction = divmod(ns, 1_000_000_000)
    base = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return base.strftime("%Y-%m-%dT%H:%M:%S") + f".{fraction:09d}Z"


def parse_cri_line(line: bytes) -> LogLine:
    """One line of a CRI log file (with or without its final newline); ValueError if bad."""
    parts = line.split(b" ", 3)
    if len(parts) < 4:
        if len(parts) == 3 and parts[2].rstrip(b"\n") in (b"P", b"F"):
            parts.append(b"\n" if parts[2].endswith(b"\n") else b"")
            parts[2] = parts[2].rstrip(b"\n")
        else:
            raise ValueError(f"not a CRI log line: {line[:80]!r}")
    stamp, stream, tag, content = parts
    if stream not in (b"stdout", b"stderr"):
        raise ValueError(f"unexpected stream type {stream!r}")
    timestamp = parse_timestamp(stamp.decode("ascii", "replace"))
    if tag.split(b":")[0] == b"P" and content.endswith(b"\n"):
        content = content[:-1]
    return LogLine(timestamp, stream.decode(), content)


class LogWriter:
    """Applies since, timestamps and limitBytes; ``write`` says whether to go on."""

    def __init__(self, opts: LogOptions, out: Callable[[bytes], Awaitable[None]]) -> None:
        self._opts = opts
        self._out = out
        self.remaining = opts.limit_bytes if opts.limit_bytes >= 0 else -1

    def render(self, line: LogLine) -> bytes | None:
        if line.timestamp_ns < self._opts.since_ns:
            return None
        data = line.content
        if self._opts.timestamps:
            data = format_timestamp(line.timestamp_ns).encode() + b" " + data
        if self.remaining >= 0:
            data = data[:self.remaining]
            self.remaining -= len(data)
        return data

    async def write(self, line: LogLine) -> bool:
        data = self.render(line)
        if data:
            await self._out(data)
        return self.remaining != 0


def tail_start(fd: int, n: int, size: int) -> int:
    """Offset where the n-th last complete line of the file starts (n < 0: the beginning).

    A line is complete when it ends with a newline, so the start is just after the
    (n+1)-th newline counted from the end; an incomplete last line is not counted.
    """
    if n < 0:
        return 0
    wanted = n + 1
    pos = size
    while pos > 0:
        start = max(0, pos - 64 * 1024)
        chunk = os.pread(fd, pos - start, start)
        idx = len(chunk)
        while (idx := chunk.rfind(b"\n", 0, idx)) >= 0:
            wanted -= 1
            if wanted == 0:
                return start + idx + 1
        pos = start
    return 0


async def stream_log(path: str, opts: LogOptions, out: Callable[[bytes], Awaitable[None]], *,
                     running: Callable[[], bool], poll: float = 0.25) -> None:
    """Serve one CRI log file to ``out``; with ``follow``, until the container has stopped."""
    writer = LogWriter(opts, out)
    f: BinaryIO = open(path, "rb")
    try:
        size = os.fstat(f.fileno()).st_size
        f.seek(tail_start(f.fileno(), opts.tail, size))
        counted = opts.tail if opts.tail >= 0 and not opts.follow else -1
        pending = b""
        stopping = False
        while True:
            chunk = f.read(64 * 1024)
            if chunk:
                lines = (pending + chunk).split(b"\n")
                pending = lines.pop()
                for raw in lines:
                    if counted == 0:
                        return
                    try:
                        line = parse_cri_line(raw + b"\n")
                    except ValueError:
                        continue
                    if not await writer.write(line):
                        return
                    if counted > 0:
                        counted -= 1
                continue
            # at the end of the file
            if not opts.follow or stopping:
                if pending and counted != 0:
                    try:
                        await writer.write(parse_cri_line(pending))
                    except ValueError:
                        pass
                return
            if not running():
                stopping = True  # read what was written before it stopped, then finish
                continue
            await asyncio.sleep(poll)
            f = _reopen_if_rotated(path, f)
    finally:
        f.close()


def _reopen_if_rotated(path: str, f: BinaryIO) -> BinaryIO:
    """conmon rotates by writing a new file over the path: follow the new one from its start."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return f
    mine = os.fstat(f.fileno())
    if st.st_ino != mine.st_ino or st.st_size < f.tell():
        f.close()
        return open(path, "rb")
    return f
