"""Node IPAM (CidrSet, RangeAllocator), node health (heartbeats, Unknown conditions, zones,
token buckets), condition taints, tolerations and NoExecute eviction decisions."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from kubepy.controllers.nodeipam.cidrset import CidrSet, CIDRRangeNoCIDRsRemaining, cidr_sets
from kubepy.controllers.nodeipam.controller import RangeAllocator, node_pod_cidrs
from kubepy.controllers.nodelifecycle import health as hl
from kubepy.controllers.nodelifecycle import taints as tn
from kubepy.controllers.nodelifecycle.controller import pod_not_ready, pods_to_mark_not_ready
from kubepy.controllers.nodelifecycle.tainteviction import eviction_decision

Obj = dict[str, Any]

# ---------------------------------------------------------------------------- IPAM


def test_cidrset_hands_out_each_subnet_once_then_exhausts() -> None:
    cs = CidrSet("10.42.0.0/22", 24)
    got = [cs.allocate_next() for _ in range(4)]
    assert got == ["10.42.0.0/24", "10.42.1.0/24", "10.42.2.0/24", "10.42.3.0/24"]
    with pytest.raises(CIDRRangeNoCIDRsRemaining, match="no remaining CIDRs left"):
        cs.allocate_next()
    cs.release("10.42.1.0/24")
    assert cs.allocate_next() == "10.42.1.0/24"


def test_cidrset_rotates_past_a_just_released_subnet() -> None:
    cs = CidrSet("10.42.0.0/16", 24)
    first, second = cs.allocate_next(), cs.allocate_next()
    cs.release(first)
    assert cs.allocate_next() == "10.42.2.0/24"
    assert second == "10.42.1.0/24"


@pytest.mark.parametrize("occupied, expected_next", [
    (["10.42.0.0/24"], "10.42.1.0/24"),
    (["10.42.0.0/23"], "10.42.2.0/24"),
    (["10.42.0.0/24", "10.42.1.0/24", "10.42.3.0/24"], "10.42.2.0/24"),
], ids=["one", "wider-cidr-covers-two", "gap"])
def test_cidrset_occupy(occupied: list[str], expected_next: str) -> None:
    cs = CidrSet("10.42.0.0/16", 24)
    for c in occupied:
        cs.occupy(c)
    assert cs.allocate_next() == expected_next


@pytest.mark.parametrize("cluster, mask, error", [
    ("10.42.0.0/16", 8, "larger than the cluster"),
    ("10.0.0.0/8", 26, "too big"),
], ids=["mask-wider-than-cluster", "too-many-subnets"])
def test_cidrset_rejects_bad_configuration(cluster: str, mask: int, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        CidrSet(cluster, mask)


def test_cidrset_out_of_range() -> None:
    cs = CidrSet("10.42.0.0/16", 24)
    assert not cs.contains("10.43.0.0/24")
    with pytest.raises(ValueError, match="out of the range"):
        cs.occupy("10.43.0.0/24")


def test_dual_stack_sets_and_allocator() -> None:
    sets = cidr_sets("10.42.0.0/16, fd00:10:42::/56", 24)
    assert [(s.family, s.mask_size) for s in sets] == [("IPv4", 24), ("IPv6", 64)]
    alloc = RangeAllocator(sets)
    assert alloc.allocate("n1") == ["10.42.0.0/24", "fd00:10:42::/64"]
    assert alloc.allocate("n1") == ["10.42.0.0/24", "fd00:10:42::/64"]  # stable
    assert alloc.allocate("n2") == ["10.42.1.0/24", "fd00:10:42:1::/64"]


def test_allocator_occupy_release_and_no_duplicates() -> None:
    alloc = RangeAllocator(cidr_sets("10.42.0.0/23", 24))
    alloc.occupy("old", ["10.42.0.0/24", "192.168.0.0/24"])
    assert alloc.by_node["old"] == ["10.42.0.0/24"]
    assert alloc.allocate("new") == ["10.42.1.0/24"]
    with pytest.raises(CIDRRangeNoCIDRsRemaining):
        alloc.allocate("third")
    assert "third" not in alloc.by_node
    assert alloc.release("old") == ["10.42.0.0/24"]
    assert alloc.allocate("third") == ["10.42.0.0/24"]


@pytest.mark.parametrize("spec, expected", [
    ({}, []), ({"podCIDR": "10.42.0.0/24"}, ["10.42.0.0/24"]),
    ({"podCIDR": "10.42.0.0/24", "podCIDRs": ["10.42.0.0/24", "fd00::/64"]},
     ["10.42.0.0/24", "fd00::/64"])], ids=["none", "legacy-single", "dual"])
def test_node_pod_cidrs(spec: Obj, expected: list[str]) -> None:
    assert node_pod_cidrs({"spec": spec}) == expected


# ---------------------------------------------------------------------------- health

def node(ready: str | None = "True", heartbeat: str = "2026-01-01T00:00:00Z", *,
         labels: Obj | None = None, unschedulable: bool = False, taints: list[Obj] | None = None,
         extra: list[Obj] | None = None) -> Obj:
    conditions = list(extra or [])
    if ready is not None:
        conditions.append({"type": "Ready", "status": ready, "lastHeartbeatTime": heartbeat,
                           "lastTransitionTime": "2026-01-01T00:00:00Z",
                           "reason": "KubeletReady", "message": "kubelet is posting ready status"})
    spec: Obj = {}
    if unschedulable:
        spec["unschedulable"] = True
    if taints:
        spec["taints"] = taints
    return {"metadata": {"name": "n1", "labels": labels or {},
                         "creationTimestamp": "2025-12-31T00:00:00Z"},
            "spec": spec, "status": {"conditions": conditions}}


def lease(renew: str) -> Obj:
    return {"spec": {"renewTime": renew}}


OBSERVE_CASES = [
    # (id, heartbeat 2nd, lease 1st, lease 2nd, probe stays at 0?)
    ("nothing-moves", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00.000000Z",
     "2026-01-01T00:00:00.000000Z", True),
    ("heartbeat-moves", "2026-01-01T00:01:00Z", None, None, False),
    ("lease-renewed", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00.000000Z",
     "2026-01-01T00:00:10.000000Z", False),
    ("lease-goes-back", "2026-01-01T00:00:00Z", "2026-01-01T00:00:10.000000Z",
     "2026-01-01T00:00:00.000000Z", True),
]


@pytest.mark.parametrize("heartbeat, lease1, lease2, stays", [c[1:] for c in OBSERVE_CASES],
                         ids=[c[0] for c in OBSERVE_CASES])
def test_observe_stamps_probe_on_heartbeat_or_lease(heartbeat: str, lease1: str | None,
                                                    lease2: str | None, stays: bool) -> None:
    h0 = hl.observe(None, node(), lease(lease1) if lease1 else None, 0.0)
    assert h0.probe_timestamp == 0.0
    h1 = hl.observe(h0, node(heartbeat=heartbeat), lease(lease2) if lease2 else None, 30.0)
    assert (h1.probe_timestamp == 0.0) is stays


@pytest.mark.parametrize("ready, elapsed, stale", [
    ("True", 40.0, False), ("True", 40.5, True), (None, 50.0, False), (None, 61.0, True)],
    ids=["within-grace", "past-grace", "never-posted-startup-grace", "never-posted-past"])
def test_staleness(ready: str | None, elapsed: float, stale: bool) -> None:
    n = node(ready)
    h = hl.observe(None, n, None, 0.0)
    assert hl.is_stale(h, n, elapsed, 40.0) is stale


def test_unknown_conditions() -> None:
    n = node("True", extra=[{"type": "MemoryPressure", "status": "False",
                             "lastHeartbeatTime": "x", "lastTransitionTime": "x"}])
    conds = {c["type"]: c for c in hl.unknown_conditions(n, "2026-01-01T00:05:00Z")}
    assert conds["Ready"] == {"type": "Ready", "status": "Unknown",
                              "lastHeartbeatTime": "2026-01-01T00:00:00Z",
                              "lastTransitionTime": "2026-01-01T00:05:00Z",
                              "reason": "NodeStatusUnknown",
                              "message": "Kubelet stopped posting node status."}
    assert conds["MemoryPressure"]["reason"] == "NodeStatusUnknown"
    assert conds["DiskPressure"] == {"type": "DiskPressure", "status": "Unknown",
                                     "lastHeartbeatTime": "2025-12-31T00:00:00Z",
                                     "lastTransitionTime": "2026-01-01T00:05:00Z",
                                     "reason": "NodeStatusNeverUpdated",
                                     "message": "Kubelet never posted node status."}
    again = {**n, "status": {"conditions": list(conds.values())}}
    assert hl.unknown_conditions(again, "2026-01-01T00:06:00Z") is None


@pytest.mark.parametrize("statuses, expected", [
    (["True", "True"], hl.ZoneState.NORMAL),
    (["False", "Unknown"], hl.ZoneState.FULL_DISRUPTION),
    (["True", "False"], hl.ZoneState.NORMAL),
    (["True", "False", "False", "Unknown"], hl.ZoneState.PARTIAL_DISRUPTION),
    (["True", "True", "False", "False", "Unknown"], hl.ZoneState.PARTIAL_DISRUPTION),
    (["True", "True", "True", "False", "False", "Unknown"], hl.ZoneState.NORMAL),
    ([], hl.ZoneState.NORMAL),
], ids=["healthy", "all-down", "one-of-two", "three-of-four", "three-of-five",
        "three-of-six", "empty"])
def test_zone_state(statuses: list[str], expected: hl.ZoneState) -> None:
    assert hl.zone_state(statuses) is expected


@pytest.mark.parametrize("state, size, qps", [
    (hl.ZoneState.NORMAL, 3, 0.1), (hl.ZoneState.FULL_DISRUPTION, 3, 0.1),
    (hl.ZoneState.PARTIAL_DISRUPTION, 10, 0.0), (hl.ZoneState.PARTIAL_DISRUPTION, 51, 0.01)],
    ids=["normal", "full", "partial-small", "partial-large"])
def test_eviction_qps(state: hl.ZoneState, size: int, qps: float) -> None:
    assert hl.eviction_qps(state, size) == qps


def test_zone_key() -> None:
    assert hl.zone_key(node(labels={hl.REGION_LABEL: "r", hl.ZONE_LABEL: "z"})) == "r:\x00:z"
    assert hl.zone_key(node()) == ""


def test_token_bucket() -> None:
    b = hl.TokenBucket(0.1, 0.0)
    assert b.try_accept(0.0) and not b.try_accept(0.0)
    assert b.wait_time(5.0) == pytest.approx(5.0)
    assert b.try_accept(10.0)
    b.set_qps(0.0, 10.0)
    assert b.wait_time(100.0) is None and not b.try_accept(1000.0)


# ---------------------------------------------------------------------------- taints

CONDITION_TAINT_CASES = [
    ("ready", node("True"), []),
    ("not-ready", node("False"), [tn.NOT_READY]),
    ("unknown", node("Unknown"), [tn.UNREACHABLE]),
    ("cordoned", node("True", unschedulable=True), [tn.UNSCHEDULABLE]),
    ("pressure", node("True", extra=[{"type": "DiskPressure", "status": "True"},
                                     {"type": "PIDPressure", "status": "False"}]),
     [tn.DISK_PRESSURE]),
]


@pytest.mark.parametrize("n, keys", [c[1:] for c in CONDITION_TAINT_CASES],
                         ids=[c[0] for c in CONDITION_TAINT_CASES])
def test_condition_taints(n: Obj, keys: list[str]) -> None:
    assert tn.condition_taints(n) == [{"key": k, "effect": "NoSchedule"} for k in keys]


def test_with_taints_touches_only_managed_ones() -> None:
    user = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
    old_ne = {"key": tn.UNREACHABLE, "effect": "NoExecute", "timeAdded": "t0"}
    current = [user, old_ne]
    assert tn.with_taints(current, tn.NO_EXECUTE_MANAGED,
                          [{"key": tn.UNREACHABLE, "effect": "NoExecute", "timeAdded": "t1"}]) \
        is None  # already there: timeAdded kept
    swapped = tn.with_taints(current, tn.NO_EXECUTE_MANAGED,
                             [{"key": tn.NOT_READY, "effect": "NoExecute", "timeAdded": "t1"}])
    assert swapped == [user, {"key": tn.NOT_READY, "effect": "NoExecute", "timeAdded": "t1"}]
    assert tn.with_taints(current, tn.NO_EXECUTE_MANAGED, []) == [user]
    assert tn.with_taints(current, tn.NO_SCHEDULE_MANAGED,
                          [{"key": tn.UNSCHEDULABLE, "effect": "NoSchedule"}]) == [
        user, old_ne, {"key": tn.UNSCHEDULABLE, "effect": "NoSchedule"}]


@pytest.mark.parametrize("ready, key", [("True", None), ("False", tn.NOT_READY),
                                        ("Unknown", tn.UNREACHABLE), (None, tn.UNREACHABLE)],
                         ids=["ready", "false", "unknown", "absent"])
def test_no_execute_taint_for(ready: str | None, key: str | None) -> None:
    assert tn.no_execute_taint_for(ready) == key


UNREACHABLE_NE = {"key": tn.UNREACHABLE, "effect": "NoExecute"}
NOT_READY_NE = {"key": tn.NOT_READY, "effect": "NoExecute"}
DEFAULT_TOLERATIONS = [
    {"key": tn.NOT_READY, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    {"key": tn.UNREACHABLE, "operator": "Exists", "effect": "NoExecute",
     "tolerationSeconds": 300}]

TOLERATION_CASES = [
    ("exists-any-key", {"operator": "Exists"}, {"key": "a", "value": "b", "effect": "NoExecute"},
     True),
    ("equal-value", {"key": "a", "value": "b", "effect": "NoExecute"},
     {"key": "a", "value": "b", "effect": "NoExecute"}, True),
    ("equal-other-value", {"key": "a", "value": "c"}, {"key": "a", "value": "b",
                                                       "effect": "NoExecute"}, False),
    ("other-effect", {"key": "a", "operator": "Exists", "effect": "NoSchedule"},
     {"key": "a", "effect": "NoExecute"}, False),
    ("other-key", {"key": "b", "operator": "Exists"}, {"key": "a", "effect": "NoExecute"},
     False),
]


@pytest.mark.parametrize("toleration, taint, expected", [c[1:] for c in TOLERATION_CASES],
                         ids=[c[0] for c in TOLERATION_CASES])
def test_tolerates(toleration: Obj, taint: Obj, expected: bool) -> None:
    assert tn.tolerates(toleration, taint) is expected


EVICTION_CASES = [
    ("no-tolerations", [], [UNREACHABLE_NE], 0.0),
    ("default-300s", DEFAULT_TOLERATIONS, [UNREACHABLE_NE], 300.0),
    ("forever", [{"key": tn.UNREACHABLE, "operator": "Exists", "effect": "NoExecute"}],
     [UNREACHABLE_NE], None),
    ("one-taint-untolerated", [DEFAULT_TOLERATIONS[1]], [UNREACHABLE_NE, NOT_READY_NE], 0.0),
    ("min-of-used", [{"key": tn.UNREACHABLE, "operator": "Exists", "tolerationSeconds": 60},
                     {"operator": "Exists"}], [UNREACHABLE_NE, NOT_READY_NE], 60.0),
    ("negative-is-zero", [{"operator": "Exists", "tolerationSeconds": -5}], [UNREACHABLE_NE],
     0.0),
    ("no-taints", [], [], None),
]


@pytest.mark.parametrize("tolerations, taints, expected", [c[1:] for c in EVICTION_CASES],
                         ids=[c[0] for c in EVICTION_CASES])
def test_eviction_delay(tolerations: list[Obj], taints: list[Obj],
                        expected: float | None) -> None:
    assert tn.eviction_delay({"spec": {"tolerations": tolerations}}, taints) == expected


def pod(node_name: str = "n1", *, ready: bool = True, phase: str = "Running",
        tolerations: list[Obj] | None = None, deleting: bool = False) -> Obj:
    meta: Obj = {"name": "p", "namespace": "ns"}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta,
            "spec": {"nodeName": node_name, "tolerations": tolerations or []},
            "status": {"phase": phase, "conditions": [
                {"type": "Ready", "status": "True" if ready else "False",
                 "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}


DECISION_CASES = [
    ("no-taints", pod(), node("True"), None, 0.0, ("none", None)),
    ("untolerated", pod(), node("Unknown", taints=[UNREACHABLE_NE]), None, 0.0,
     ("evict", None)),
    ("countdown-starts", pod(tolerations=DEFAULT_TOLERATIONS),
     node("Unknown", taints=[UNREACHABLE_NE]), None, 10.0, ("wait", 300.0)),
    ("countdown-continues", pod(tolerations=DEFAULT_TOLERATIONS),
     node("Unknown", taints=[UNREACHABLE_NE]), 10.0, 200.0, ("wait", 110.0)),
    ("countdown-over", pod(tolerations=DEFAULT_TOLERATIONS),
     node("Unknown", taints=[UNREACHABLE_NE]), 10.0, 310.0, ("evict", None)),
    ("terminating", pod(deleting=True), node("Unknown", taints=[UNREACHABLE_NE]), None, 0.0,
     ("none", None)),
    ("finished", pod(phase="Succeeded"), node("Unknown", taints=[UNREACHABLE_NE]), None, 0.0,
     ("none", None)),
    ("node-gone", pod(), None, 5.0, 10.0, ("none", None)),
]


@pytest.mark.parametrize("p, n, started, now, expected", [c[1:] for c in DECISION_CASES],
                         ids=[c[0] for c in DECISION_CASES])
def test_eviction_decision(p: Obj, n: Obj | None, started: float | None, now: float,
                           expected: tuple[str, float | None]) -> None:
    assert eviction_decision(p, n, started, now) == expected


def test_mark_pods_not_ready() -> None:
    pods = [pod(), pod(ready=False), pod(phase="Succeeded"), pod("n2")]
    assert pods_to_mark_not_ready(pods, "n1") == [pods[0]]
    marked = pod_not_ready(pods[0], "2026-01-01T00:10:00Z")
    assert marked["status"]["conditions"] == [
        {"type": "Ready", "status": "False", "lastTransitionTime": "2026-01-01T00:10:00Z"}]
    assert pods[0]["status"]["conditions"][0]["status"] == "True"  # not mutated


def test_format_time() -> None:
    assert hl.format_time(datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)) \
        == "2026-01-02T03:04:05Z"
