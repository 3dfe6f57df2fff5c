"""Benchmark of the SQLite store: single-key creates/s from concurrent asyncio callers (each
caller awaits its create before the next: group commit has to come from concurrency), range
of 10,000 keys, point gets, and create-to-watch-event latency.

Usage: .venv/bin/python bench/store_sqlite.py [--keys 10000] [--dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time

from kubepy.storage.sqlite import SQLiteStore

VALUE = b"x" * 1000  # about the size of a small pod manifest


async def creates(store: SQLiteStore, total: int, callers: int, tag: str) -> float:
    per_caller = total // callers

    async def caller(c: int) -> None:
        for i in range(per_caller):
            await store.create(f"/registry/bench-{tag}/ns{c % 10}/obj-{c}-{i}", VALUE)

    start = time.perf_counter()
    await asyncio.gather(*(caller(c) for c in range(callers)))
    return per_caller * callers / (time.perf_counter() - start)


async def bench(directory: str, keys: int) -> None:
    store = SQLiteStore(os.path.join(directory, "state.db"))
    try:
        for callers in (1, 10, 100, 500):
            total = min(keys, 2000) if callers == 1 else keys
            rate = await creates(store, total, callers, f"c{callers}")
            print(f"create, {callers:>3} concurrent callers: {rate:8.0f} creates/s ({total} keys)")

        prefix = f"/registry/bench-c100/"
        for label, limit in (("all", 0), ("limit 500", 500)):
            times = []
            for _ in range(5):
                start = time.perf_counter()
                result = await store.range(prefix, limit=limit)
                times.append(time.perf_counter() - start)
            print(f"range {label} of {await store.count(prefix)} keys: "
                  f"{statistics.median(times) * 1000:7.1f} ms median -> {len(result.kvs)} kvs")

        start = time.perf_counter()
        n = 2000
        for i in range(n):
            await store.get(f"/registry/bench-c100/ns0/obj-0-{i % 50}")
        print(f"get, sequential: {(time.perf_counter() - start) / n * 1e6:7.0f} us per get")

        watcher = store.watch("/registry/bench-watch/", start_revision=0)
        latencies = []
        for i in range(200):
            start = time.perf_counter()
            await store.create(f"/registry/bench-watch/k{i}", VALUE)
            await anext(watcher)
            latencies.append(time.perf_counter() - start)
        await watcher.aclose()
        print(f"create + watch event: {statistics.median(latencies) * 1e6:7.0f} us median")
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--dir", default=None, help="where to put the database (default: tmp)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as directory:
        asyncio.run(bench(directory, args.keys))


if __name__ == "__main__":
    main()
