"""The SQLite store across processes: acknowledged writes survive kill -9, and a second
process writing to the same file is seen by the first one's watchers."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kubepy.storage.interface import EventType
from kubepy.storage.sqlite import SQLiteStore

REPO = Path(__file__).resolve().parents[2]

# A writer process: ``callers`` concurrent tasks create keys until killed (or ``total`` is
# reached) and print "ack <key> <revision>" for each acknowledged create.
WRITER = textwrap.dedent("""
    import asyncio, sys
    from kubepy.storage.sqlite import SQLiteStore

    async def main(path, prefix, callers, total):
        store = SQLiteStore(path)
        counter = iter(range(total))
        print("ready", flush=True)

        async def caller():
            for i in counter:
                kv = await store.create(f"{prefix}{i:06d}", b"value-%d" % i)
                sys.stdout.write(f"ack {kv.key} {kv.mod_revision}\\n")
                sys.stdout.flush()

        await asyncio.gather(*(caller() for _ in range(callers)))
        await store.close()

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
""")


def start_writer(db: Path, prefix: str, callers: int, total: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(db), prefix, str(callers),
                              str(total)], stdout=subprocess.PIPE, text=True, env=env)
    assert child.stdout is not None and child.stdout.readline() == "ready\n"
    return child


def parse_acks(lines: list[str]) -> dict[str, int]:
    acks = {}
    for line in lines:
        if line.startswith("ack ") and line.endswith("\n"):  # a torn last line is no ack
            _, key, revision = line.split()
            acks[key] = int(revision)
    return acks


@pytest.mark.parametrize("callers", [1, 50], ids=["sequential", "concurrent"])
def test_acknowledged_writes_survive_kill_9(tmp_path: Path, callers: int) -> None:
    db = tmp_path / "state.db"
    child = start_writer(db, "/registry/configmaps/default/cm-", callers, 1_000_000)
    assert child.stdout is not None
    lines = []
    while len(lines) < 500:
        line = child.stdout.readline()
        assert line, "writer exited early"
        lines.append(line)
    os.kill(child.pid, signal.SIGKILL)  # mid-stream: more writes are in flight
    lines.extend(child.stdout.readlines())
    child.wait()
    assert child.returncode == -signal.SIGKILL
    acks = parse_acks(lines)
    assert len(acks) >= 500

    async def check() -> None:
        store = SQLiteStore(str(db))
        try:
            for key, revision in acks.items():
                kv = await store.get(key)
                assert kv is not None, f"acknowledged {key} lost"
                assert kv.mod_revision == revision
                assert kv.value == b"value-%d" % int(key.rsplit("-", 1)[1])
            stored = await store.range("/registry/configmaps/")
            assert await store.current_revision() >= max(acks.values())
            # Every stored write is a prefix of the stream: revisions 2..N with no holes.
            assert sorted(k.mod_revision for k in stored.kvs) == list(
                range(2, len(stored.kvs) + 2))
            kv = await store.create("/after-restart", b"x")  # still writable
            assert kv.mod_revision == len(stored.kvs) + 2
        finally:
            await store.close()
    asyncio.run(check())


def test_second_process_writes_are_watched(tmp_path: Path) -> None:
    """Process A watches while it and process B write concurrently: A's watcher sees both
    processes' writes, every revision exactly once, in order."""
    db = tmp_path / "state.db"

    async def scenario() -> None:
        store = SQLiteStore(str(db), poll_interval=0.05)
        try:
            start = await store.current_revision() + 1
            watch = store.watch("/registry/", start_revision=start)

            async def collect() -> list:
                return [await anext(watch) for _ in range(600)]
            collector = asyncio.create_task(collect())  # registered live before the writes
            other = await asyncio.to_thread(start_writer, db, "/registry/secrets/b/s-", 10, 300)
            results = []

            async def caller(c: int) -> None:  # sequential creates, so the processes interleave
                for i in range(30):
                    results.append(await store.create(f"/registry/secrets/a/s-{c}-{i}", b"a"))
            await asyncio.gather(*(caller(c) for c in range(10)))
            assert other.stdout is not None
            out = await asyncio.to_thread(other.stdout.read)
            assert await asyncio.to_thread(other.wait) == 0
            acks = parse_acks(out.splitlines(keepends=True))
            assert len(acks) == 300
            events = await asyncio.wait_for(collector, 10)
            assert [e.revision for e in events] == list(range(start, start + 600))
            assert all(e.type is EventType.PUT and e.prev is None for e in events)
            seen = {e.kv.key: e.revision for e in events}
            assert seen == {**acks, **{kv.key: kv.mod_revision for kv in results}}
            # Live after the storm: B's next write arrives through polling.
            late = await asyncio.to_thread(start_writer, db, "/registry/late/", 1, 1)
            assert late.stdout is not None
            await asyncio.to_thread(late.stdout.read)
            event = await asyncio.wait_for(anext(watch), 5)
            assert event.kv.key == "/registry/late/000000"
            assert event.revision == start + 600
        finally:
            await store.close()
    asyncio.run(scenario())
