"""Tables for the node's pressure conditions: eviction thresholds parsed and met, the
transition period, the kubelet's reasons and messages in the posted Node status, and the
signals read from this machine."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from kubepy.kubelet.agent import node, pressure
from kubepy.kubelet.agent.pressure import Threshold

Obj = dict[str, Any]
Mi, Gi = 1024 ** 2, 1024 ** 3
NOW = datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)
EARLIER = "2024-05-01T09:00:00Z"
DEFAULT = pressure.parse_thresholds(pressure.DEFAULT_EVICTION_HARD)
FACTS = node.MachineFacts(cpus=2, memory_ki=4 * 1024 * 1024, storage_ki=100 * 1024 * 1024,
                          kernel="6.1.0", os_image="Debian", architecture="amd64",
                          machine_id="m" * 32, system_uuid="u", boot_id="b", hostname="h",
                          runtime_version="1.1.5")


def test_default_thresholds_are_the_kubelets() -> None:
    assert DEFAULT == [Threshold("memory.available", quantity=100 * Mi),
                       Threshold("nodefs.available", percentage=0.10),
                       Threshold("nodefs.inodesFree", percentage=0.05),
                       Threshold("imagefs.available", percentage=0.15)]


@pytest.mark.parametrize("text,want", [
    ("pid.available<1k", [Threshold("pid.available", quantity=1000)]),
    (" memory.available<1Gi , ", [Threshold("memory.available", quantity=Gi)]),
    ("", []),
], ids=["pid", "spaces", "none"])
def test_parse_thresholds(text: str, want: list[Threshold]) -> None:
    assert pressure.parse_thresholds(text) == want


@pytest.mark.parametrize("text", ["memory.available>1Gi", "cpu.available<1", "nodefs.available<",
                                  "nodefs.available<120%", "memory.available<lots"],
                         ids=["operator", "signal", "empty", "percent", "quantity"])
def test_parse_thresholds_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        pressure.parse_thresholds(text)


HEALTHY = {"memory.available": (2 * Gi, 4 * Gi), "nodefs.available": (50 * Gi, 100 * Gi),
           "nodefs.inodesFree": (900, 1000), "imagefs.available": (50 * Gi, 100 * Gi),
           "imagefs.inodesFree": (900, 1000), "pid.available": (30000, 32768)}


@pytest.mark.parametrize("changes,thresholds,want", [
    ({}, DEFAULT, set()),
    ({"memory.available": (99 * Mi, 4 * Gi)}, DEFAULT, {"memory.available"}),
    ({"memory.available": (100 * Mi, 4 * Gi)}, DEFAULT, set()),
    ({"nodefs.available": (9 * Gi, 100 * Gi), "imagefs.available": (9 * Gi, 100 * Gi)},
     DEFAULT, {"nodefs.available", "imagefs.available"}),
    ({"imagefs.available": (14 * Gi, 100 * Gi)}, DEFAULT, {"imagefs.available"}),
    ({"nodefs.inodesFree": (49, 1000)}, DEFAULT, {"nodefs.inodesFree"}),
    ({"nodefs.inodesFree": (0, 0)}, DEFAULT, set()),
    ({"pid.available": (10, 32768)}, DEFAULT, set()),
    ({"pid.available": (999, 32768)}, [Threshold("pid.available", quantity=1000)],
     {"pid.available"}),
    ({"pid.available": (3000, 32768)}, [Threshold("pid.available", percentage=0.10)],
     {"pid.available"}),
], ids=["healthy", "memory-low", "memory-at-threshold", "disk-low", "imagefs-15-percent",
        "inodes-low", "no-inode-counts", "pid-no-default-threshold", "pid-quantity",
        "pid-percentage"])
def test_met(changes: dict[str, tuple[int, int]], thresholds: list[Threshold],
             want: set[str]) -> None:
    assert pressure.met({**HEALTHY, **changes}, thresholds) == want


def test_unobserved_signal_meets_nothing() -> None:
    assert pressure.met({}, DEFAULT) == set()


@pytest.mark.parametrize("met,seen,now,want,want_seen", [
    (set(), {}, 1000.0, set(), {}),
    ({"memory.available"}, {}, 1000.0, {"MemoryPressure"}, {"MemoryPressure": 1000.0}),
    ({"nodefs.available", "imagefs.inodesFree"}, {}, 5.0, {"DiskPressure"},
     {"DiskPressure": 5.0}),
    (set(), {"MemoryPressure": 1000.0}, 1299.0, {"MemoryPressure"}, {"MemoryPressure": 1000.0}),
    (set(), {"MemoryPressure": 1000.0}, 1300.0, set(), {}),
    ({"pid.available"}, {"PIDPressure": 10.0}, 400.0, {"PIDPressure"}, {"PIDPressure": 400.0}),
], ids=["none", "memory", "disk-two-signals", "held-in-transition-period", "released-after",
        "observed-again"])
def test_pressured(met: set[str], seen: dict[str, float], now: float, want: set[str],
                   want_seen: dict[str, float]) -> None:
    assert pressure.pressured(met, seen, now) == (want, want_seen)


def _by_type(conditions: list[Obj]) -> dict[str, Obj]:
    return {c["type"]: c for c in conditions}


@pytest.mark.parametrize("under,want", [
    (set(), {"MemoryPressure": ("False", "KubeletHasSufficientMemory",
                                "kubelet has sufficient memory available"),
             "DiskPressure": ("False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
             "PIDPressure": ("False", "KubeletHasSufficientPID",
                             "kubelet has sufficient PID available")}),
    ({"MemoryPressure", "DiskPressure", "PIDPressure"},
     {"MemoryPressure": ("True", "KubeletHasInsufficientMemory",
                         "kubelet has insufficient memory available"),
      "DiskPressure": ("True", "KubeletHasDiskPressure", "kubelet has disk pressure"),
      "PIDPressure": ("True", "KubeletHasInsufficientPID",
                      "kubelet has insufficient PID available")}),
], ids=["none", "all"])
def test_conditions_words(under: set[str], want: dict[str, tuple[str, str, str]]) -> None:
    got = _by_type(pressure.conditions(under, [], NOW))
    assert {t: (c["status"], c["reason"], c["message"]) for t, c in got.items()} == want


def test_node_status_follows_pressure_and_keeps_transition_times() -> None:
    old = node.node_status("n", FACTS, "192.0.2.1", "v1.32.0", None, NOW)["conditions"]
    old = [{**c, "lastTransitionTime": EARLIER} for c in old]
    status = node.node_status("n", FACTS, "192.0.2.1", "v1.32.0", {"conditions": old}, NOW,
                              pressure={"DiskPressure"})
    assert [c["type"] for c in status["conditions"]] == [c["type"] for c in old]
    got = _by_type(status["conditions"])
    stamp = "2024-05-01T10:00:00Z"
    assert (got["DiskPressure"]["status"], got["DiskPressure"]["reason"],
            got["DiskPressure"]["lastTransitionTime"]) == ("True", "KubeletHasDiskPressure", stamp)
    assert (got["MemoryPressure"]["status"], got["MemoryPressure"]["lastTransitionTime"]) == \
        ("False", EARLIER)
    assert got["Ready"]["status"] == "True"
    assert all(c["lastHeartbeatTime"] == stamp for c in got.values()
               if c["type"] != "NetworkUnavailable")


@pytest.mark.parametrize("text,want", [
    ("MemTotal:  4000 kB\nMemFree: 10 kB\nMemAvailable:   1500 kB\n", (1500 * 1024, 4000 * 1024)),
], ids=["kB"])
def test_parse_meminfo(text: str, want: tuple[int, int]) -> None:
    assert pressure.parse_meminfo(text) == want
    with pytest.raises(KeyError):
        pressure.parse_meminfo("MemTotal: 4000 kB\n")


def test_parse_loadavg_tasks() -> None:
    assert pressure.parse_loadavg_tasks("0.52 0.58 0.59 3/912 12345\n") == 912


def test_observe_this_machine(tmp_path: Any) -> None:
    signals = pressure.observe(str(tmp_path), str(tmp_path))
    assert set(signals) == set(pressure.SIGNAL_CONDITION)
    for name, (available, capacity) in signals.items():
        assert 0 <= available <= capacity, name
    assert signals["nodefs.available"][1] == signals["imagefs.available"][1]   # one fs


def test_agent_reports_pressure_through_its_transition_period(tmp_path: Any) -> None:
    """The agent's wiring: its configured thresholds, this machine's signals, its clock."""
    from kubepy.client.clock import FakeClock
    from kubepy.client.rest import ApiClient
    from kubepy.kubelet.agent.kubelet import Agent, AgentConfig

    clock = FakeClock()
    agent = Agent(ApiClient("http://127.0.0.1:9"), AgentConfig(
        node_name="n1", data_dir=tmp_path, eviction_hard="memory.available<1Ei"), clock=clock)
    assert agent._pressure() == {"MemoryPressure"}          # no machine has an exbibyte free
    agent.eviction_thresholds = DEFAULT
    clock.advance(299)
    assert agent._pressure() == {"MemoryPressure"}
    clock.advance(1)
    assert agent._pressure() == set()
    assert AgentConfig(node_name="n1", data_dir=tmp_path).eviction_hard == \
        pressure.DEFAULT_EVICTION_HARD
