"""/stats/summary (kubelet stats/v1alpha1 Summary) and /metrics/resource (what
metrics-server scrapes), minimal but well-formed.

Only the node is reported: CPU from the root cgroup's cpu.stat (cgroup v2) with usage
nano-cores over the interval since the previous call, memory from /proc/meminfo
(workingSet = total - available, as free(1) counts used). Pods are not listed: the
StreamingRuntime knows pods by name only (``pods`` is an empty list, which consumers such as
metrics-server accept).
"""

from __future__ import annotations

import datetime
import time
from typing import Any


def _rfc3339(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def parse_cpu_stat(text: str) -> int | None:
    """usage_usec of a cgroup v2 cpu.stat, in nanoseconds."""
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "usage_usec" and value.strip().isdigit():
            return int(value) * 1000
    return None


def parse_meminfo(text: str) -> dict[str, int]:
    """/proc/meminfo in bytes."""
    out = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            out[key] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    return out


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


class StatsProvider:
    def __init__(self, node_name: str, cgroup_root: str = "/sys/fs/cgroup") -> None:
        self.node_name = node_name
        self._cgroup_root = cgroup_root
        self._started = time.time()
        self._last: tuple[float, int] | None = None

    def summary(self) -> dict[str, Any]:
        now = time.time()
        stamp = _rfc3339(now)
        cpu: dict[str, Any] = {"time": stamp}
        usage = parse_cpu_stat(_read(f"{self._cgroup_root}/cpu.stat"))
        if usage is None:  # the root cgroup has no cpu.stat: sum /proc/stat instead
            fields = _read("/proc/stat").split("\n", 1)[0].split()[1:]
            if fields:
                ticks = sum(int(v) for i, v in enumerate(fields) if i not in (3, 4))
                usage = ticks * 10_000_000  # USER_HZ = 100
        if usage is not None:
            cpu["usageCoreNanoSeconds"] = usage
            if self._last is not None and now > self._last[0]:
                cpu["usageNanoCores"] = max(0, int((usage - self._last[1]) /
                                                   (now - self._last[0])))
            self._last = (now, usage)
        mem = parse_meminfo(_read("/proc/meminfo"))
        memory: dict[str, Any] = {"time": stamp}
        if "MemTotal" in mem and "MemAvailable" in mem:
            used = mem["MemTotal"] - mem["MemAvailable"]
            memory.update(availableBytes=mem["MemAvailable"], usageBytes=used,
                          workingSetBytes=used)
        return {"node": {"nodeName": self.node_name, "startTime": _rfc3339(self._started),
                         "cpu": cpu, "memory": memory, "systemContainers": []},
                "pods": []}

    def resource_metrics(self) -> str:
        """/metrics/resource in the Prometheus text format (node series only)."""
        summary = self.summary()["node"]
        ms = int(time.time() * 1000)
        lines = []
        usage = summary["cpu"].get("usageCoreNanoSeconds")
        if usage is not None:
            lines += ["# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time "
                      "consumed by the node in core-seconds",
                      "# TYPE node_cpu_usage_seconds_total counter",
                      f"node_cpu_usage_seconds_total {usage / 1e9} {ms}"]
        working_set = summary["memory"].get("workingSetBytes")
        if working_set is not None:
            lines += ["# HELP node_memory_working_set_bytes [STABLE] Current working set of "
                      "the node in bytes",
                      "# TYPE node_memory_working_set_bytes gauge",
                      f"node_memory_working_set_bytes {working_set} {ms}"]
        lines += ["# HELP resource_scrape_error [STABLE] 1 if there was an error while getting "
                  "container metrics, 0 otherwise",
                  "# TYPE resource_scrape_error gauge",
                  f"resource_scrape_error {0 if lines else 1}"]
        return "\n".join(lines) + "\n"
