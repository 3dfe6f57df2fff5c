"""Run ``kubepy server`` with Python's cyclic garbage collector instrumented, to measure
the pauses it puts into request latency (a full collection walks every object in the watch
cache) and to try GC settings without editing the server.

Usage: .venv/bin/python bench/gc_pauses.py [--gc default|threshold|freeze] -- SERVER ARGS
  (the arguments after ``--`` are those of ``kubepy server``)

On SIGUSR1 (then it starts counting afresh) and on exit it prints to stderr one line per
generation: ``gc genN: C collections, total T ms, p99 P ms, max M ms``. ``--gc threshold`` raises the gen-0 threshold to 50,000
allocations and the gen-2 ratio to 100; ``--gc freeze`` calls ``gc.freeze()`` every 10 s,
which moves every object alive then into a permanent generation the collector never walks
again (the watch cache's objects are long-lived and acyclic, so this loses little).
"""

from __future__ import annotations

import argparse
import atexit
import gc
import signal
import sys
import threading
import time

_pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
_started: list[float] = [0.0]


def _callback(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _started[0] = time.perf_counter()
    else:
        _pauses[info["generation"]].append(time.perf_counter() - _started[0])


def _report(*_: object) -> None:
    lines = []
    for generation, pauses in _pauses.items():
        pauses = sorted(pauses)
        _pauses[generation] = []
        if not pauses:
            lines.append(f"gc gen{generation}: 0 collections, total 0 ms, p99 0 ms, max 0 ms")
            continue
        p99 = pauses[min(len(pauses) - 1, int(len(pauses) * 0.99))]
        lines.append(f"gc gen{generation}: {len(pauses)} collections, total "
                     f"{sum(pauses) * 1000:.0f} ms, p99 {p99 * 1000:.2f} ms, "
                     f"max {pauses[-1] * 1000:.1f} ms")
    print("\n".join(lines), file=sys.stderr, flush=True)


def _freeze_every(seconds: float) -> None:
    while True:
        time.sleep(seconds)
        gc.freeze()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gc", choices=("default", "threshold", "freeze"), default="default")
    parser.add_argument("server_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    server_args = [a for a in args.server_args if a != "--"]
    if args.gc == "threshold":
        gc.set_threshold(50_000, 10, 100)
    elif args.gc == "freeze":
        threading.Thread(target=_freeze_every, args=(10.0,), daemon=True).start()
    gc.callbacks.append(_callback)
    atexit.register(_report)
    signal.signal(signal.SIGUSR1, _report)
    from kubepy.cli.main import main as kubepy_main

    return kubepy_main(["server", *server_args])


if __name__ == "__main__":
    sys.exit(main())
