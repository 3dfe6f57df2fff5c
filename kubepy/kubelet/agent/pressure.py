"""The node's pressure conditions (MemoryPressure, DiskPressure, PIDPressure) from the
kubelet's eviction signals and hard thresholds. Pure, but for ``observe`` (I/O).

Signals, as the kubelet's eviction manager names them, each an (available, capacity) pair:
``memory.available`` (MemAvailable of /proc/meminfo: the kernel's estimate of what can be had
without swapping, where the kubelet subtracts the root cgroup's working set from capacity),
``nodefs.available`` / ``nodefs.inodesFree`` (statvfs of the data dir), ``imagefs.available``
/ ``imagefs.inodesFree`` (statvfs of the image store; the same filesystem as nodefs unless it
is mounted apart, and then measured against its own thresholds all the same, as the kubelet
does) and ``pid.available`` (min(pid_max, threads-max) less the tasks that exist, from
/proc/loadavg, as the kubelet's sysinfo ``procs``).

A threshold (``--eviction-hard`` syntax, ``memory.available<100Mi,nodefs.available<10%``) is
met when the available amount is below the quantity or the percentage of the capacity.
``DEFAULT_EVICTION_HARD`` is the kubelet's Linux default: it has no ``pid.available`` entry,
so PIDPressure only follows pids when a threshold for it is configured.

A condition is True while one of its signals meets a threshold and for the
``eviction-pressure-transition-period`` (5 minutes) after the last time one did, so that it
does not flap (``pressured``). Reasons and messages are the kubelet's (nodestatus setters).
The ``node.kubernetes.io/{memory,disk,pid}-pressure`` NoSchedule taints follow these
conditions in the node lifecycle controller (``kubepy.controllers.nodelifecycle.taints``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Collection, Mapping

from kubepy.api.quantity import quantity_to_int
from kubepy.kubelet.simulated.nodes import rfc3339

Obj = dict[str, Any]

DEFAULT_EVICTION_HARD = ("memory.available<100Mi,nodefs.available<10%,"
                         "nodefs.inodesFree<5%,imagefs.available<15%")
PRESSURE_TRANSITION_PERIOD = 300.0       # --eviction-pressure-transition-period=5m0s

SIGNAL_CONDITION = {
    "memory.available": "MemoryPressure",
    "nodefs.available": "DiskPressure", "nodefs.inodesFree": "DiskPressure",
    "imagefs.available": "DiskPressure", "imagefs.inodesFree": "DiskPressure",
    "pid.available": "PIDPressure",
}
# condition -> (reason, message) when False, when True
CONDITION_TEXT = {
    "MemoryPressure": (("KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                       ("KubeletHasInsufficientMemory",
                        "kubelet has insufficient memory available")),
    "DiskPressure": (("KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                     ("KubeletHasDiskPressure", "kubelet has disk pressure")),
    "PIDPressure": (("KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                    ("KubeletHasInsufficientPID", "kubelet has insufficient PID available")),
}


@dataclass(frozen=True)
class Threshold:
    signal: str
    quantity: int | None = None          # met below this amount (bytes, inodes, pids)
    percentage: float | None = None      # or below this fraction of the capacity


def parse_thresholds(text: str) -> list[Threshold]:
    """``--eviction-hard`` (``signal<quantity`` or ``signal<N%``, comma-separated); raises
    ValueError for an unknown signal, another operator or a bad value."""
    out: list[Threshold] = []
    for item in filter(None, (p.strip() for p in text.split(","))):
        signal, op, value = item.partition("<")
        signal, value = signal.strip(), value.strip()
        if not op or signal not in SIGNAL_CONDITION or not value:
            raise ValueError(f"invalid eviction threshold {item!r}")
        if value.endswith("%"):
            percent = float(value[:-1])
            if not 0 <= percent <= 100:
                raise ValueError(f"eviction percentage {value} out of range")
            out.append(Threshold(signal, percentage=percent / 100))
        else:
            out.append(Threshold(signal, quantity=quantity_to_int(value)))
    return out


def met(signals: Mapping[str, tuple[int, int]], thresholds: Collection[Threshold]) -> set[str]:
    """The signals (of *signals*: name -> (available, capacity)) below a threshold; a
    signal that was not observed, or has no capacity (a filesystem without inode counts),
    meets none."""
    out: set[str] = set()
    for t in thresholds:
        observed = signals.get(t.signal)
        if observed is None or observed[1] <= 0:
            continue
        available, capacity = observed
        limit = t.quantity if t.quantity is not None else capacity * (t.percentage or 0.0)
        if available < limit:
            out.add(t.signal)
    return out


def pressured(met_signals: Collection[str], last_observed: Mapping[str, float], now: float,
              period: float = PRESSURE_TRANSITION_PERIOD) -> tuple[set[str], dict[str, float]]:
    """The conditions under pressure now, and the new "last observed" times: a condition is
    observed whenever one of its signals meets a threshold, and stays True until *period*
    seconds have passed since (the kubelet's nodeConditionsObservedSince)."""
    seen = dict(last_observed)
    for signal in met_signals:
        seen[SIGNAL_CONDITION[signal]] = now
    seen = {c: t for c, t in seen.items() if now - t < period}
    return set(seen), seen


def conditions(under_pressure: Collection[str], old: list[Obj], now: datetime) -> list[Obj]:
    """The three pressure conditions with the kubelet's reasons and messages, heartbeat
    *now*, ``lastTransitionTime`` kept from *old* while the status is unchanged."""
    stamp = rfc3339(now)
    previous = {c.get("type"): c for c in old}
    out: list[Obj] = []
    for type_, texts in CONDITION_TEXT.items():
        pressure = type_ in under_pressure
        status = "True" if pressure else "False"
        reason, message = texts[pressure]
        prev = previous.get(type_) or {}
        same = prev.get("status") == status and prev.get("lastTransitionTime")
        out.append({"type": type_, "status": status, "reason": reason, "message": message,
                    "lastHeartbeatTime": stamp,
                    "lastTransitionTime": prev["lastTransitionTime"] if same else stamp})
    return out


def with_pressure(node_conditions: list[Obj], under_pressure: Collection[str],
                  old: list[Obj], now: datetime) -> list[Obj]:
    """*node_conditions* (the kubelet's list, in its order) with the pressure conditions
    replaced by ``conditions(under_pressure, old, now)``."""
    replaced = {c["type"]: c for c in conditions(under_pressure, old, now)}
    return [replaced.get(c.get("type"), c) for c in node_conditions]


# ---------------------------------------------------------------------------- I/O

def parse_meminfo(text: str) -> tuple[int, int]:
    """(MemAvailable, MemTotal) in bytes from /proc/meminfo."""
    fields = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts:
            fields[key] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    return fields["MemAvailable"], fields["MemTotal"]


def parse_loadavg_tasks(text: str) -> int:
    """The number of tasks that exist (the denominator of /proc/loadavg's 4th field)."""
    return int(text.split()[3].split("/")[1])


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _fs(prefix: str, path: str) -> dict[str, tuple[int, int]]:
    st = os.statvfs(path)
    return {f"{prefix}.available": (st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize),
            f"{prefix}.inodesFree": (st.f_favail, st.f_files)}


def observe(nodefs: str, imagefs: str) -> dict[str, tuple[int, int]]:
    """This machine's signals: name -> (available, capacity); a signal that cannot be
    read is left out."""
    signals: dict[str, tuple[int, int]] = {}
    try:
        signals["memory.available"] = parse_meminfo(_read("/proc/meminfo"))
    except (OSError, KeyError, ValueError):
        pass
    for prefix, path in (("nodefs", nodefs), ("imagefs", imagefs)):
        try:
            signals.update(_fs(prefix, path))
        except OSError:
            pass
    try:
        max_pid = min(int(_read("/proc/sys/kernel/pid_max")),
                      int(_read("/proc/sys/kernel/threads-max")))
        signals["pid.available"] = (max_pid - parse_loadavg_tasks(_read("/proc/loadavg")),
                                    max_pid)
    except (OSError, ValueError, IndexError):
        pass
    return signals
