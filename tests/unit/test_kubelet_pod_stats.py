"""/stats/summary's pods: cgroup readings (v1 and v2 layouts), the agent's pod listing."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubepy.kubelet.agent.streaming import pod_stats_ref
from kubepy.kubelet.pods.status import ContainerPhase, ContainerRecord
from kubepy.kubelet.pods.worker import PodState, _Instance
from kubepy.kubelet.server.runtime import PodStatsRef
from kubepy.kubelet.server.stats import StatsProvider, cgroup_usage, working_set


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


V2 = {"cgroup.controllers": "cpu memory\n",
      "kp/podu1/cpu.stat": "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n",
      "kp/podu1/memory.current": "1048576\n",
      "kp/podu1/memory.stat": "anon 600000\nfile 400000\ninactive_file 48576\n"}
V1 = {"cpuacct/kp/podu1/cpuacct.usage": "2500000\n",
      "memory/kp/podu1/memory.usage_in_bytes": "1048576\n",
      "memory/kp/podu1/memory.stat": "cache 400000\ninactive_file 1\n"
                                     "total_inactive_file 48576\n"}


@pytest.mark.parametrize("files, rel, expected", [
    (V2, "/kp/podu1", (2_500_000, 1048576, 1_000_000)),
    (V1, "/kp/podu1", (2_500_000, 1048576, 1_048_575)),   # v1's own inactive_file first
    ({**V1, "memory/kp/podu1/memory.stat": "total_inactive_file 48576\n"}, "kp/podu1",
     (2_500_000, 1048576, 1_000_000)),
    (V2, "/kp/gone", (None, None, None)),
    (V1, "/kp/gone", (None, None, None)),
])
def test_cgroup_usage_table(tmp_path: Path, files: dict[str, str], rel: str,
                            expected: tuple[int | None, ...]) -> None:
    _write(tmp_path, files)
    assert cgroup_usage(str(tmp_path), rel) == expected


@pytest.mark.parametrize("usage, stat, ws", [
    (100, {}, 100), (100, {"inactive_file": 30}, 70), (100, {"total_inactive_file": 30}, 70),
    (10, {"inactive_file": 30}, 0),
])
def test_working_set_table(usage: int, stat: dict[str, int], ws: int) -> None:
    assert working_set(usage, stat) == ws


def test_summary_lists_pods_with_usage_and_rates(tmp_path: Path) -> None:
    _write(tmp_path, {**V2, "kp/podu1/c1/cpu.stat": "usage_usec 1000\n",
                      "kp/podu1/c1/memory.current": "4096\n"})
    pods = [PodStatsRef("u1", "ns", "web", 1_700_000_000.0, "/kp/podu1",
                        (("app", 1_700_000_001.0, "/kp/podu1/c1"),)),
            PodStatsRef("u2", "ns", "gone", 1_700_000_000.0, "/kp/podu2")]
    provider = StatsProvider("n1", cgroup_root=str(tmp_path), pods=lambda: pods)
    first = provider.summary()["pods"]
    assert [p["podRef"] for p in first] == [{"name": "web", "namespace": "ns", "uid": "u1"},
                                            {"name": "gone", "namespace": "ns", "uid": "u2"}]
    web = first[0]
    assert web["startTime"] == "2023-11-14T22:13:20Z"
    assert web["cpu"]["usageCoreNanoSeconds"] == 2_500_000 and "usageNanoCores" not in web["cpu"]
    assert web["memory"]["workingSetBytes"] == 1_000_000
    assert web["containers"][0]["name"] == "app"
    assert web["containers"][0]["memory"] == {"time": web["memory"]["time"],
                                              "usageBytes": 4096, "workingSetBytes": 4096}
    assert first[1]["cpu"].keys() == {"time"} and first[1]["memory"].keys() == {"time"}
    _write(tmp_path, {"kp/podu1/cpu.stat": "usage_usec 99999999\n"})
    second = provider.summary()["pods"][0]
    assert second["cpu"]["usageNanoCores"] > 0
    metrics = provider.resource_metrics()
    assert 'pod_memory_working_set_bytes{namespace="ns",pod="web"} 1000000 ' in metrics
    assert 'container_memory_working_set_bytes{container="app",namespace="ns",pod="web"} ' \
        '4096 ' in metrics
    assert "# TYPE container_cpu_usage_seconds_total counter" in metrics


def test_no_lister_no_pods(tmp_path: Path) -> None:
    assert StatsProvider("n1", cgroup_root=str(tmp_path)).summary()["pods"] == []


def test_pod_stats_ref_names_the_pod_and_running_containers_cgroups() -> None:
    pod = {"metadata": {"name": "web", "namespace": "ns", "uid": "u1"}}
    state = PodState(pod=pod, pod_dir="/x", started_at=100.0)
    state.containers = {
        "app": ContainerRecord("app", container_id="c1", phase=ContainerPhase.RUNNING,
                               started_at=105.0),
        "done": ContainerRecord("done", container_id="c2", phase=ContainerPhase.EXITED),
        "new": ContainerRecord("new")}
    state.instances = {cid: _Instance(cid, 1, "/b", f"/kp/podu1/{cid}", None,  # type: ignore[arg-type]
                                      name=name)
                       for cid, name in (("c1", "app"), ("c2", "done"))}
    assert pod_stats_ref(state, "/kp/") == PodStatsRef(
        "u1", "ns", "web", 100.0, "/kp/podu1", (("app", 105.0, "/kp/podu1/c1"),))
