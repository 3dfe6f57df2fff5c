"""Simulated Node and Lease objects, fake addresses and pod IP allocation
(kubepy.kubelet.simulated.nodes)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from kubepy.kubelet.simulated.nodes import (NodeTemplate, PodIPAllocator, fallback_pod_cidr,
                                            new_lease, new_node, node_conditions,
                                            node_is_healthy, node_ip, renewed_lease)

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("index,ip", [(0, "10.250.0.1"), (253, "10.250.0.254"),
                                      (254, "10.250.1.1"), (4999, "10.250.19.174")],
                         ids=["first", "last-of-first-24", "second-24", "5000th"])
def test_node_ip(index: int, ip: str) -> None:
    assert node_ip(index) == ip


@pytest.mark.parametrize("index,cidr", [(0, "10.42.0.0/24"), (255, "10.42.255.0/24"),
                                        (256, "10.128.0.0/24"), (4999, "10.146.135.0/24")],
                         ids=["first", "last-in-10.42", "overflow", "5000th"])
def test_fallback_pod_cidr(index: int, cidr: str) -> None:
    assert fallback_pod_cidr(index) == cidr


def test_new_node_shape() -> None:
    template = NodeTemplate(cpu="8", memory="64Gi", pods="50", instance_type="sim.large",
                            taints=({"key": "gpu", "effect": "NoSchedule"},))
    node = new_node("sim-7", 7, template, NOW)
    labels = node["metadata"]["labels"]
    assert labels["kubernetes.io/hostname"] == "sim-7"
    assert labels["kubernetes.io/os"] == "linux" and labels["kubernetes.io/arch"] == "amd64"
    assert labels["node.kubernetes.io/instance-type"] == "sim.large"
    assert labels["sim.kubepy.io/node"] == "true"
    status = node["status"]
    assert status["capacity"]["cpu"] == "8" and status["allocatable"]["pods"] == "50"
    assert status["capacity"]["ephemeral-storage"] == "100Gi"
    assert status["addresses"] == [{"type": "InternalIP", "address": "10.250.0.8"},
                                   {"type": "Hostname", "address": "sim-7"}]
    assert [(c["type"], c["status"]) for c in status["conditions"]] == [
        ("NetworkUnavailable", "False"), ("MemoryPressure", "False"), ("DiskPressure", "False"),
        ("PIDPressure", "False"), ("Ready", "True")]
    assert status["nodeInfo"]["operatingSystem"] == "linux"
    assert node["spec"]["taints"] == [{"key": "gpu", "effect": "NoSchedule"}]
    assert node_is_healthy(node)


def test_heartbeat_keeps_transition_times() -> None:
    first = node_conditions([], NOW)
    later = NOW + timedelta(seconds=60)
    again = node_conditions(first, later)
    ready = next(c for c in again if c["type"] == "Ready")
    assert ready["lastHeartbeatTime"] == "2026-11-23T10:01:00Z"
    assert ready["lastTransitionTime"] == "2026-11-23T10:00:00Z"
    # after the node lifecycle controller marked it Unknown, Ready transitions again
    unknown = [dict(c, status="Unknown", reason="NodeStatusUnknown") if c["type"] == "Ready"
               else c for c in first]
    ready = next(c for c in node_conditions(unknown, later) if c["type"] == "Ready")
    assert ready["lastTransitionTime"] == "2026-11-23T10:01:00Z"


@pytest.mark.parametrize("status,reason,healthy", [("True", "KubeletReady", True),
                                                   ("Unknown", "NodeStatusUnknown", False),
                                                   ("False", "KubeletNotReady", False)],
                         ids=["ours", "lifecycle-unknown", "not-ready"])
def test_node_is_healthy(status: str, reason: str, healthy: bool) -> None:
    node = {"status": {"conditions": [{"type": "Ready", "status": status, "reason": reason}]}}
    assert node_is_healthy(node) is healthy


def test_lease() -> None:
    lease = new_lease("sim-0", "uid-0", NOW)
    assert lease["metadata"]["namespace"] == "kube-node-lease"
    assert lease["metadata"]["ownerReferences"][0] == {"apiVersion": "v1", "kind": "Node",
                                                       "name": "sim-0", "uid": "uid-0"}
    assert lease["spec"] == {"holderIdentity": "sim-0", "leaseDurationSeconds": 40,
                             "renewTime": "2026-11-23T10:00:00.000000Z"}
    renewed = renewed_lease({**lease, "metadata": {**lease["metadata"], "resourceVersion": "9"}},
                            "sim-0", NOW + timedelta(seconds=10))
    assert renewed["spec"]["renewTime"] == "2026-11-23T10:00:10.000000Z"
    assert renewed["metadata"]["resourceVersion"] == "9"


def test_pod_ip_allocator_round_robin_and_exhaustion() -> None:
    alloc = PodIPAllocator("10.42.5.0/29")  # hosts .2 .. .6 for pods
    ips = [alloc.allocate() for _ in range(5)]
    assert ips == [f"10.42.5.{i}" for i in range(2, 7)]
    assert alloc.allocate() is None
    alloc.release("10.42.5.3")
    assert alloc.allocate() == "10.42.5.3"
    alloc.release("10.42.5.2")
    alloc.release("10.42.5.4")
    assert alloc.allocate() == "10.42.5.4"  # round robin: after the last one handed out
    assert alloc.reserve("10.42.5.2") and not alloc.reserve("10.43.0.1")
    assert alloc.allocate() is None and len(alloc) == 5
