"""Tables for the agent's pure parts: the Node from machine facts, and a pod's status and
conditions from the runtime's part."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from kubepy.kubelet.agent import node, podstatus

Obj = dict[str, Any]
NOW = "2024-05-01T10:00:00Z"
LATER = "2024-05-01T10:05:00Z"
FACTS = node.MachineFacts(cpus=8, memory_ki=16 * 1024 * 1024, storage_ki=100 * 1024 * 1024,
                          kernel="6.1.0-18-amd64", os_image="Debian GNU/Linux 12 (bookworm)",
                          architecture="amd64", machine_id="m" * 32, system_uuid="u",
                          boot_id="b", hostname="h", runtime_version="1.1.5+ds1")


@pytest.mark.parametrize("text,want", [
    ("runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1\nspec: 1.0.2-dev\n", "1.1.5+ds1"),
    ("", ""), ("something else\n", "")], ids=["debian", "empty", "garbage"])
def test_parse_runc_version(text: str, want: str) -> None:
    assert node.parse_runc_version(text) == want


@pytest.mark.parametrize("text,want", [
    ('NAME="Debian"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n',
     "Debian GNU/Linux 12 (bookworm)"),
    ("PRETTY_NAME=Alpine\n", "Alpine"), ("ID=x\n", "Linux")],
    ids=["quoted", "bare", "missing"])
def test_parse_os_release(text: str, want: str) -> None:
    assert node.parse_os_release(text) == want


@pytest.mark.parametrize("machine,want", [("x86_64", "amd64"), ("aarch64", "arm64"),
                                          ("mips", "mips")], ids=["amd64", "arm64", "other"])
def test_go_arch(machine: str, want: str) -> None:
    assert node.go_arch(machine) == want


def test_meminfo() -> None:
    assert node.parse_meminfo_total_ki("MemTotal:       16305228 kB\nMemFree: 1 kB\n") \
        == 16305228
    with pytest.raises(ValueError):
        node.parse_meminfo_total_ki("MemFree: 1 kB\n")


@pytest.mark.parametrize("key,capacity,allocatable", [
    ("cpu", "8", "8"),
    ("memory", "16777216Ki", f"{16777216 - 102400}Ki"),
    ("pods", "110", "110"),
    ("ephemeral-storage", "104857600Ki", str(104857600 * 1024 * 9 // 10)),
    ("hugepages-2Mi", "0", "0")], ids=["cpu", "memory", "pods", "storage", "hugepages"])
def test_capacity_and_allocatable(key: str, capacity: str, allocatable: str) -> None:
    assert node.capacity(FACTS)[key] == capacity
    assert node.allocatable(FACTS)[key] == allocatable


def test_new_node() -> None:
    now = datetime(2024, 5, 1, 10, tzinfo=timezone.utc)
    n = node.new_node("n1", FACTS, "192.0.2.7", "v1.32.0", now, labels={"a": "b"})
    labels = n["metadata"]["labels"]
    assert labels["kubernetes.io/hostname"] == "n1" and labels["a"] == "b"
    assert labels["kubernetes.io/arch"] == "amd64"
    st = n["status"]
    assert st["nodeInfo"]["containerRuntimeVersion"] == "runc://1.1.5+ds1"
    assert st["nodeInfo"]["kernelVersion"] == "6.1.0-18-amd64"
    assert st["nodeInfo"]["kubeletVersion"] == "v1.32.0"
    assert st["addresses"] == [{"type": "InternalIP", "address": "192.0.2.7"},
                               {"type": "Hostname", "address": "n1"}]
    ready = {c["type"]: c for c in st["conditions"]}["Ready"]
    assert (ready["status"], ready["reason"]) == ("True", "KubeletReady")
    assert "taints" not in n["spec"]


def _cs(name: str, state: Obj, ready: bool) -> Obj:
    return {"name": name, "state": state, "ready": ready}


RUNNING = {"running": {"startedAt": NOW}}
DONE = {"terminated": {"exitCode": 0, "reason": "Completed"}}
FAILED = {"terminated": {"exitCode": 1, "reason": "Error"}}
WAIT = {"waiting": {"reason": "PodInitializing"}}


@pytest.mark.parametrize("runtime,sandbox,want", [
    ({"phase": "Running", "containerStatuses": [_cs("a", RUNNING, True)]}, True,
     {"PodReadyToStartContainers": ("True", None), "Initialized": ("True", None),
      "Ready": ("True", None), "ContainersReady": ("True", None),
      "PodScheduled": ("True", None)}),
    ({"phase": "Pending", "initContainerStatuses": [_cs("i", RUNNING, False)],
      "containerStatuses": [_cs("a", WAIT, False)]}, True,
     {"PodReadyToStartContainers": ("True", None),
      "Initialized": ("False", "ContainersNotInitialized"),
      "Ready": ("False", "ContainersNotReady"), "ContainersReady": ("False", "ContainersNotReady"),
      "PodScheduled": ("True", None)}),
    ({"phase": "Succeeded", "containerStatuses": [_cs("a", DONE, False)]}, False,
     {"PodReadyToStartContainers": ("False", None), "Initialized": ("True", "PodCompleted"),
      "Ready": ("False", "PodCompleted"), "ContainersReady": ("False", "PodCompleted"),
      "PodScheduled": ("True", None)}),
    ({"phase": "Failed", "initContainerStatuses": [_cs("i", FAILED, False)],
      "containerStatuses": [_cs("a", WAIT, False)]}, False,
     {"PodReadyToStartContainers": ("False", None), "Initialized": ("True", "PodCompleted"),
      "Ready": ("False", "PodCompleted"), "ContainersReady": ("False", "PodCompleted"),
      "PodScheduled": ("True", None)}),
    ({"phase": "Pending", "containerStatuses": [_cs("a", RUNNING, True),
                                                _cs("b", {"waiting": {}}, False)]}, True,
     {"PodReadyToStartContainers": ("True", None), "Initialized": ("True", None),
      "Ready": ("False", "ContainersNotReady"), "ContainersReady": ("False", "ContainersNotReady"),
      "PodScheduled": ("True", None)}),
], ids=["running", "initializing", "succeeded", "init-failed", "one-unready"])
def test_conditions(runtime: Obj, sandbox: bool, want: dict[str, tuple[str, str | None]]) -> None:
    conds = podstatus.pod_conditions({"spec": {}}, runtime, NOW, sandbox_ready=sandbox)
    assert [c["type"] for c in conds] == list(podstatus.KUBELET_CONDITIONS)
    assert {c["type"]: (c["status"], c.get("reason")) for c in conds} == want


def test_unready_message_names_containers() -> None:
    runtime = {"phase": "Pending", "containerStatuses": [_cs("a", WAIT, False),
                                                         _cs("b", WAIT, False)]}
    conds = {c["type"]: c for c in podstatus.pod_conditions({}, runtime, NOW,
                                                            sandbox_ready=True)}
    assert conds["Ready"]["message"] == "containers with unready status: [a b]"


@pytest.mark.parametrize("gate_status,want", [
    (None, ("False", "ReadinessGatesNotReady")), ("False", ("False", "ReadinessGatesNotReady")),
    ("True", ("True", None))], ids=["missing", "false", "true"])
def test_readiness_gates(gate_status: str | None, want: tuple[str, str | None]) -> None:
    pod: Obj = {"spec": {"readinessGates": [{"conditionType": "example.com/lb"}]},
                "status": {"conditions": [] if gate_status is None else [
                    {"type": "example.com/lb", "status": gate_status}]}}
    runtime = {"phase": "Running", "containerStatuses": [_cs("a", RUNNING, True)]}
    conds = {c["type"]: c for c in podstatus.pod_conditions(pod, runtime, NOW,
                                                            sandbox_ready=True)}
    assert (conds["Ready"]["status"], conds["Ready"].get("reason")) == want
    assert conds["ContainersReady"]["status"] == "True"
    if gate_status is not None:
        assert conds["example.com/lb"]["status"] == gate_status  # others' conditions kept


def test_pod_status_is_stable_and_keeps_other_fields() -> None:
    pod: Obj = {"spec": {}, "status": {"phase": "Pending", "qosClass": "BestEffort",
                                       "conditions": [{"type": "PodScheduled",
                                                       "status": "True",
                                                       "lastTransitionTime": "t0"}]}}
    runtime = {"phase": "Running", "podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}],
               "containerStatuses": [_cs("a", RUNNING, True)]}
    first = podstatus.pod_status(pod, runtime, NOW, sandbox_ready=True)
    assert first["qosClass"] == "BestEffort" and first["podIP"] == "10.0.0.5"
    scheduled = {c["type"]: c for c in first["conditions"]}["PodScheduled"]
    assert scheduled["lastTransitionTime"] == "t0"
    again = podstatus.pod_status({**pod, "status": first}, runtime, LATER, sandbox_ready=True)
    assert again == first  # unchanged runtime: nothing to write


def test_waiting_status() -> None:
    pod = {"spec": {"initContainers": [{"name": "i", "image": "x"}],
                    "containers": [{"name": "a", "image": "y"}]}}
    st = podstatus.waiting_status(pod, "192.0.2.1", NOW, "ContainerCreating", "no net")
    assert st["phase"] == "Pending" and st["message"] == "no net"
    assert st["hostIPs"] == [{"ip": "192.0.2.1"}]
    assert [s["state"] for s in st["initContainerStatuses"] + st["containerStatuses"]] == \
        [{"waiting": {"reason": "ContainerCreating"}}] * 2
