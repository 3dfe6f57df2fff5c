"""/stats/summary (kubelet stats/v1alpha1 Summary) and /metrics/resource (what
metrics-server scrapes), minimal but well-formed.

The node: CPU from the root cgroup's cpu.stat (cgroup v2) with usage nano-cores over the
interval since the previous call, memory from /proc/meminfo (workingSet = total - available,
as free(1) counts used). Pods, when the runtime lists them (``PodLister``): podRef, startTime,
cpu and memory of the pod's cgroup and of each running container's, read from cgroup v2
(cpu.stat usage_usec, memory.current, memory.stat inactive_file) or v1 (cpuacct.usage,
memory.usage_in_bytes, memory.stat total_inactive_file); workingSet = usage - inactive file,
as cAdvisor computes it; a cgroup that cannot be read reports no usage. /metrics/resource
carries the node, pod and container series metrics-server scrapes.
"""

from __future__ import annotations

import datetime
import os
import time
from typing import Any, Callable

from kubepy.kubelet.server.runtime import PodStatsRef


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


def parse_memory_stat(text: str) -> dict[str, int]:
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            out[key] = int(value)
    return out


def working_set(usage: int, memory_stat: dict[str, int]) -> int:
    """cAdvisor's working set: usage less inactive file pages (v2 name, else v1's)."""
    inactive = memory_stat.get("inactive_file", memory_stat.get("total_inactive_file", 0))
    return max(0, usage - inactive)


def cgroup_usage(root: str, rel: str) -> tuple[int | None, int | None, int | None]:
    """(cpu ns, memory usage bytes, working set bytes) of a cgroup; None what is unreadable."""
    rel = rel.strip("/")
    if os.path.exists(os.path.join(root, "cgroup.controllers")):   # v2
        base = os.path.join(root, rel)
        cpu = parse_cpu_stat(_read(os.path.join(base, "cpu.stat")))
        mem_text, stat_path = _read(os.path.join(base, "memory.current")), base
    else:
        raw = _read(os.path.join(root, "cpuacct", rel, "cpuacct.usage")).strip()
        cpu = int(raw) if raw.isdigit() else None
        stat_path = os.path.join(root, "memory", rel)
        mem_text = _read(os.path.join(stat_path, "memory.usage_in_bytes"))
    mem_text = mem_text.strip()
    if not mem_text.isdigit():
        return cpu, None, None
    usage = int(mem_text)
    return cpu, usage, working_set(usage, parse_memory_stat(
        _read(os.path.join(stat_path, "memory.stat"))))


class StatsProvider:
    def __init__(self, node_name: str, cgroup_root: str = "/sys/fs/cgroup",
                 pods: Callable[[], list[PodStatsRef]] | None = None) -> None:
        self.node_name = node_name
        self._cgroup_root = cgroup_root
        self._pods = pods
        self._started = time.time()
        self._last: tuple[float, int] | None = None
        self._last_cgroup: dict[str, tuple[float, int]] = {}

    def _usage(self, rel: str, now: float, stamp: str) -> tuple[dict[str, Any], dict[str, Any]]:
        rel = rel.strip("/")
        cpu_ns, usage, ws = cgroup_usage(self._cgroup_root, rel)
        cpu: dict[str, Any] = {"time": stamp}
        memory: dict[str, Any] = {"time": stamp}
        if cpu_ns is not None:
            cpu["usageCoreNanoSeconds"] = cpu_ns
            last = self._last_cgroup.get(rel)
            if last is not None and now > last[0]:
                cpu["usageNanoCores"] = max(0, int((cpu_ns - last[1]) / (now - last[0])))
            self._last_cgroup[rel] = (now, cpu_ns)
        if usage is not None:
            memory.update(usageBytes=usage, workingSetBytes=ws)
        return cpu, memory

    def pod_summaries(self, now: float) -> list[dict[str, Any]]:
        if self._pods is None:
            return []
        stamp = _rfc3339(now)
        out, seen = [], set()
        for ref in self._pods():
            cpu, memory = self._usage(ref.cgroup_path, now, stamp)
            seen.add(ref.cgroup_path.strip("/"))
            containers = []
            for name, started, path in ref.containers:
                c_cpu, c_memory = self._usage(path, now, stamp)
                seen.add(path.strip("/"))
                containers.append({"name": name, "startTime": _rfc3339(started),
                                   "cpu": c_cpu, "memory": c_memory})
            out.append({"podRef": {"name": ref.name, "namespace": ref.namespace,
                                   "uid": ref.uid},
                        "startTime": _rfc3339(ref.start_time), "containers": containers,
                        "cpu": cpu, "memory": memory})
        for rel in set(self._last_cgroup) - seen:   # pods gone
            del self._last_cgroup[rel]
        return out

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
                "pods": self.pod_summaries(now)}

    def resource_metrics(self) -> str:
        """/metrics/resource in the Prometheus text format (node, pod and container series)."""
        whole = self.summary()
        summary = whole["node"]
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
        lines += _pod_series(whole["pods"], ms)
        lines += ["# HELP resource_scrape_error [STABLE] 1 if there was an error while getting "
                  "container metrics, 0 otherwise",
                  "# TYPE resource_scrape_error gauge",
                  f"resource_scrape_error {0 if lines else 1}"]
        return "\n".join(lines) + "\n"


def _pod_series(pods: list[dict[str, Any]], ms: int) -> list[str]:
    """container_/pod_ cpu and memory series, as the kubelet's resource metrics name them."""
    series: dict[str, list[str]] = {
        "container_cpu_usage_seconds_total": [], "container_memory_working_set_bytes": [],
        "pod_cpu_usage_seconds_total": [], "pod_memory_working_set_bytes": []}
    for pod in pods:
        ref = pod["podRef"]
        labels = f'namespace="{ref["namespace"]}",pod="{ref["name"]}"'
        for kind, stats, lbl in [("pod", pod, labels)] + [
                ("container", c, f'container="{c["name"]}",{labels}')
                for c in pod["containers"]]:
            cpu = stats["cpu"].get("usageCoreNanoSeconds")
            if cpu is not None:
                series[f"{kind}_cpu_usage_seconds_total"].append(
                    f"{kind}_cpu_usage_seconds_total{{{lbl}}} {cpu / 1e9} {ms}")
            ws = stats["memory"].get("workingSetBytes")
            if ws is not None:
                series[f"{kind}_memory_working_set_bytes"].append(
                    f"{kind}_memory_working_set_bytes{{{lbl}}} {ws} {ms}")
    lines = []
    for name, samples in series.items():
        if samples:
            kind = "counter" if name.endswith("_total") else "gauge"
            lines += [f"# HELP {name} [STABLE] {name.replace('_', ' ')}",
                      f"# TYPE {name} {kind}", *samples]
    return lines
