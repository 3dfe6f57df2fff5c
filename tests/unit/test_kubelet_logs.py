"""CRI log parsing and the kubelet's log options (pkg/kubelet/kuberuntime/logs behaviour)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from kubepy.kubelet.server.logs import (LogLine, LogOptions, LogOptionsError, format_timestamp,
                                        parse_cri_line, parse_log_options, parse_timestamp,
                                        stream_log, tail_start)

T0 = 1_700_000_000 * 1_000_000_000  # 2023-11-14T22:13:20Z
S = 1_000_000_000


@pytest.mark.parametrize("text,ns", [
    ("2023-11-14T22:13:20Z", T0),
    ("2023-11-14T22:13:20.5Z", T0 + S // 2),
    ("2023-11-14T22:13:20.000000001Z", T0 + 1),
    ("2023-11-14T23:13:20.123456789+01:00", T0 + 123456789),
    ("2023-11-14T21:13:20-01:00", T0),
])
def test_parse_timestamp(text: str, ns: int) -> None:
    assert parse_timestamp(text) == ns


@pytest.mark.parametrize("ns,text", [
    (T0, "2023-11-14T22:13:20.000000000Z"),
    (T0 + 1, "2023-11-14T22:13:20.000000001Z"),
    (T0 + 120_000_000, "2023-11-14T22:13:20.120000000Z"),
])
def test_format_timestamp_fixed_width(ns: int, text: str) -> None:
    assert format_timestamp(ns) == text


CRI_LINES = [
    ("full", b"2023-11-14T22:13:20.000000000+00:00 stdout F hello world\n",
     LogLine(T0, "stdout", b"hello world\n")),
    ("partial", b"2023-11-14T22:13:20Z stderr P part of a\n",
     LogLine(T0, "stderr", b"part of a")),
    ("empty-line", b"2023-11-14T22:13:20Z stdout F \n", LogLine(T0, "stdout", b"\n")),
    ("empty-no-space", b"2023-11-14T22:13:20Z stdout F\n", LogLine(T0, "stdout", b"\n")),
    ("spaces-kept", b"2023-11-14T22:13:20Z stdout F  a  b \n",
     LogLine(T0, "stdout", b" a  b \n")),
    ("tag-with-extra", b"2023-11-14T22:13:20Z stdout F:x y\n", LogLine(T0, "stdout", b"y\n")),
    ("no-newline", b"2023-11-14T22:13:20Z stdout F last", LogLine(T0, "stdout", b"last")),
]


@pytest.mark.parametrize("raw,line", [c[1:] for c in CRI_LINES], ids=[c[0] for c in CRI_LINES])
def test_parse_cri_line(raw: bytes, line: LogLine) -> None:
    assert parse_cri_line(raw) == line


@pytest.mark.parametrize("raw", [b"garbage\n", b"2023-11-14T22:13:20Z stdin F x\n",
                                 b"yesterday stdout F x\n"])
def test_parse_cri_line_refuses(raw: bytes) -> None:
    with pytest.raises(ValueError):
        parse_cri_line(raw)


NOW = T0 + 100 * S
OPTIONS = [
    ("none", {}, LogOptions()),
    ("all", {"follow": ["true"], "timestamps": ["1"], "previous": ["True"],
             "tailLines": ["3"], "limitBytes": ["10"]},
     LogOptions(tail=3, limit_bytes=10, follow=True, timestamps=True, previous=True)),
    ("legacy-tail", {"tail": ["5"]}, LogOptions(tail=5)),
    ("legacy-tail-all", {"tail": ["all"], "tailLines": ["2"]}, LogOptions()),
    ("since-seconds", {"sinceSeconds": ["10"]}, LogOptions(since_ns=NOW - 10 * S)),
    ("since-time", {"sinceTime": ["2023-11-14T22:13:30Z"]}, LogOptions(since_ns=T0 + 10 * S)),
    ("false-flags", {"follow": ["false"], "timestamps": ["0"]}, LogOptions()),
    ("tail-zero", {"tailLines": ["0"]}, LogOptions(tail=0)),
]


@pytest.mark.parametrize("query,opts", [o[1:] for o in OPTIONS], ids=[o[0] for o in OPTIONS])
def test_parse_log_options(query: dict[str, list[str]], opts: LogOptions) -> None:
    assert parse_log_options(query, NOW) == opts


@pytest.mark.parametrize("query,status", [
    ({"tailLines": ["x"]}, 400),
    ({"follow": ["maybe"]}, 400),
    ({"sinceTime": ["yesterday"]}, 400),
    ({"tailLines": ["-1"]}, 422),
    ({"limitBytes": ["0"]}, 422),
    ({"sinceSeconds": ["0"]}, 422),
    ({"sinceSeconds": ["5"], "sinceTime": ["2023-11-14T22:13:30Z"]}, 422),
])
def test_parse_log_options_refuses(query: dict[str, list[str]], status: int) -> None:
    with pytest.raises(LogOptionsError) as e:
        parse_log_options(query, NOW)
    assert e.value.status == status


def cri(offset_s: int, stream: str, tag: str, text: str) -> bytes:
    return f"{format_timestamp(T0 + offset_s * S)} {stream} {tag} {text}\n".encode()


LOG = b"".join([cri(0, "stdout", "F", "one"), cri(1, "stderr", "F", "two"),
                cri(2, "stdout", "P", "thr"), cri(2, "stdout", "F", "ee"),
                cri(3, "stdout", "F", "four")])


@pytest.mark.parametrize("content,n,start", [
    (b"a\nb\nc\n", 0, 6), (b"a\nb\nc\n", 1, 4), (b"a\nb\nc\n", 2, 2), (b"a\nb\nc\n", 3, 0),
    (b"a\nb\nc\n", 10, 0), (b"a\nb\nc", 1, 2), (b"a\nb\nc", -1, 0), (b"", 2, 0),
])
def test_tail_start(tmp_path: Path, content: bytes, n: int, start: int) -> None:
    path = tmp_path / "log"
    path.write_bytes(content)
    with open(path, "rb") as f:
        assert tail_start(f.fileno(), n, len(content)) == start


def test_tail_start_across_blocks(tmp_path: Path) -> None:
    lines = [f"{i:06d}\n".encode() * 1 for i in range(30000)]  # 210 KB, several blocks
    path = tmp_path / "log"
    path.write_bytes(b"".join(lines))
    with open(path, "rb") as f:
        start = tail_start(f.fileno(), 12345, path.stat().st_size)
    assert path.read_bytes()[start:] == b"".join(lines[-12345:])


SERVED = [
    ("all", LogOptions(), b"one\ntwo\nthree\nfour\n"),
    ("tail-2", LogOptions(tail=2), b"ee\nfour\n"),
    ("tail-0", LogOptions(tail=0), b""),
    ("since", LogOptions(since_ns=T0 + 2 * S), b"three\nfour\n"),
    ("limit", LogOptions(limit_bytes=6), b"one\ntw"),
    ("timestamps-tail", LogOptions(tail=1, timestamps=True),
     b"2023-11-14T22:13:23.000000000Z four\n"),
    ("timestamps-partial", LogOptions(tail=2, timestamps=True, limit_bytes=40),
     b"2023-11-14T22:13:22.000000000Z ee\n2023-1"),
]


@pytest.mark.parametrize("opts,expected", [s[1:] for s in SERVED], ids=[s[0] for s in SERVED])
def test_stream_log(tmp_path: Path, opts: LogOptions, expected: bytes) -> None:
    path = tmp_path / "log"
    path.write_bytes(b"not a cri line\n" + LOG)
    out: list[bytes] = []

    async def write(data: bytes) -> None:
        out.append(data)

    asyncio.run(stream_log(str(path), opts, write, running=lambda: False))
    assert b"".join(out) == expected


def test_follow_until_stopped_and_rotation(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes(cri(0, "stdout", "F", "first"))
    running = True
    out: list[bytes] = []

    async def write(data: bytes) -> None:
        out.append(data)

    async def main() -> None:
        nonlocal running
        task = asyncio.create_task(stream_log(str(path), LogOptions(follow=True, tail=1), write,
                                              running=lambda: running, poll=0.01))
        await asyncio.sleep(0.05)
        with open(path, "ab") as f:
            f.write(cri(1, "stdout", "P", "sec"))
        await asyncio.sleep(0.05)
        with open(path, "ab") as f:
            f.write(cri(1, "stdout", "F", "ond"))
        await asyncio.sleep(0.05)
        assert b"".join(out) == b"first\nsecond\n" and not task.done()
        # conmon rotation: a new file over the path; follow reads it from its start
        tmp = tmp_path / "log.new"
        tmp.write_bytes(cri(2, "stderr", "F", "rotated"))
        os.replace(tmp, path)
        await asyncio.sleep(0.05)
        with open(path, "ab") as f:
            f.write(cri(3, "stdout", "F", "last words"))
        running = False
        await asyncio.wait_for(task, 2)

    asyncio.run(main())
    assert b"".join(out) == b"first\nsecond\nrotated\nlast words\n"
