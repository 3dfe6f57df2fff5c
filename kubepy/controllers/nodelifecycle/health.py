"""Node health as the node lifecycle controller judges it. Pure.

A node is alive while its kubelet posts heartbeats: the Ready condition's
``lastHeartbeatTime`` changes, or its Lease (``kube-node-lease/<node>``) ``renewTime`` does.
The controller does not trust the kubelet's clock: ``observe`` stamps *its own* clock
(``probe_timestamp``, monotonic) whenever it sees either move, and a node whose probe is
older than the grace period (``node_monitor_grace_period``; ``NODE_STARTUP_GRACE_PERIOD``
for a node that never posted Ready) is unknown: ``unknown_conditions`` turns Ready,
MemoryPressure, DiskPressure and PIDPressure into ``Unknown`` with reason
``NodeStatusUnknown`` and message ``Kubelet stopped posting node status.`` (conditions never
posted get ``NodeStatusNeverUpdated`` / ``Kubelet never posted node status.``).

Zones (``topology.kubernetes.io/region`` + ``zone`` labels) have a state from the Ready
conditions of their nodes (``zone_state``): FullDisruption when none is ready,
PartialDisruption when more than 2 and at least ``unhealthy_threshold`` (55 %) are not,
else Normal. ``eviction_qps`` gives the rate at which a zone's nodes may get NoExecute
taints in that state.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Iterable, Mapping

Obj = dict[str, Any]

NODE_STARTUP_GRACE_PERIOD = 60.0
UNKNOWN_REASON = "NodeStatusUnknown"
UNKNOWN_MESSAGE = "Kubelet stopped posting node status."
NEVER_UPDATED_REASON = "NodeStatusNeverUpdated"
NEVER_UPDATED_MESSAGE = "Kubelet never posted node status."
REMAINING_CONDITIONS = ("MemoryPressure", "DiskPressure", "PIDPressure")
ZONE_LABEL = "topology.kubernetes.io/zone"
REGION_LABEL = "topology.kubernetes.io/region"
LEGACY_ZONE_LABEL = "failure-domain.beta.kubernetes.io/zone"
LEGACY_REGION_LABEL = "failure-domain.beta.kubernetes.io/region"
# kube-controller-manager defaults
EVICTION_QPS = 0.1
SECONDARY_EVICTION_QPS = 0.01
LARGE_CLUSTER_SIZE = 50
UNHEALTHY_ZONE_THRESHOLD = 0.55


class ZoneState(str, Enum):
    INITIAL = "Initial"
    NORMAL = "Normal"
    FULL_DISRUPTION = "FullDisruption"
    PARTIAL_DISRUPTION = "PartialDisruption"


@dataclass(frozen=True)
class NodeHealth:
    """What the controller last saw of a node, stamped with its own monotonic clock."""
    probe_timestamp: float
    ready_transition_timestamp: float
    ready_condition: Obj | None
    lease_renew_time: str | None


def ready_condition(node: Mapping[str, Any]) -> Obj | None:
    conditions: list[Obj] = (node.get("status") or {}).get("conditions") or []
    for cond in conditions:
        if cond.get("type") == "Ready":
            return cond
    return None


def observe(saved: NodeHealth | None, node: Mapping[str, Any],
            lease: Mapping[str, Any] | None, now: float) -> NodeHealth:
    """The node's health after looking at it (and its Lease) at monotonic time ``now``."""
    ready = ready_condition(node)
    renew = ((lease or {}).get("spec") or {}).get("renewTime")
    if saved is None:
        return NodeHealth(now, now, copy.deepcopy(ready), renew)
    probe, transition = saved.probe_timestamp, saved.ready_transition_timestamp
    old = saved.ready_condition
    if ready is not None and (old is None or old.get("lastHeartbeatTime")
                              != ready.get("lastHeartbeatTime")):
        probe = now
    if ready is not None and old is not None and (
            old.get("lastTransitionTime") != ready.get("lastTransitionTime")):
        transition = now
    if renew and renew != saved.lease_renew_time and (
            saved.lease_renew_time is None or renew > saved.lease_renew_time):
        probe = now
    # informer objects are never mutated in place: an unchanged condition keeps its copy
    kept = old if old == ready else copy.deepcopy(ready)
    return NodeHealth(probe, transition, kept, renew or saved.lease_renew_time)


def grace_period(node: Mapping[str, Any], monitor_grace_period: float) -> float:
    return monitor_grace_period if ready_condition(node) is not None \
        else NODE_STARTUP_GRACE_PERIOD


def is_stale(health: NodeHealth, node: Mapping[str, Any], now: float,
             monitor_grace_period: float) -> bool:
    return now > health.probe_timestamp + grace_period(node, monitor_grace_period)


def unknown_conditions(node: Mapping[str, Any], now: str) -> list[Obj] | None:
    """The node's conditions with Ready and the pressure conditions made Unknown (wall time
    ``now`` as RFC 3339 for transitions), or None when they already are."""
    created = (node.get("metadata") or {}).get("creationTimestamp")
    conditions = [copy.deepcopy(c) for c in (node.get("status") or {}).get("conditions") or []]
    changed = False
    for type_ in ("Ready",) + REMAINING_CONDITIONS:
        cond = next((c for c in conditions if c.get("type") == type_), None)
        if cond is None:
            conditions.append({"type": type_, "status": "Unknown",
                               "lastHeartbeatTime": created, "lastTransitionTime": now,
                               "reason": NEVER_UPDATED_REASON,
                               "message": NEVER_UPDATED_MESSAGE})
            changed = True
        elif cond.get("status") != "Unknown":
            cond.update({"status": "Unknown", "lastTransitionTime": now,
                         "reason": UNKNOWN_REASON, "message": UNKNOWN_MESSAGE})
            changed = True
    return conditions if changed else None


def format_time(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------- zones

def zone_key(node: Mapping[str, Any]) -> str:
    labels = (node.get("metadata") or {}).get("labels") or {}
    region = labels.get(REGION_LABEL) or labels.get(LEGACY_REGION_LABEL) or ""
    zone = labels.get(ZONE_LABEL) or labels.get(LEGACY_ZONE_LABEL) or ""
    if not region and not zone:
        return ""
    return f"{region}:\x00:{zone}"


def zone_state(ready_statuses: Iterable[str | None],
               unhealthy_threshold: float = UNHEALTHY_ZONE_THRESHOLD) -> ZoneState:
    ready = not_ready = 0
    for status in ready_statuses:
        if status == "True":
            ready += 1
        else:
            not_ready += 1
    if ready == 0 and not_ready > 0:
        return ZoneState.FULL_DISRUPTION
    if not_ready > 2 and not_ready / (ready + not_ready) >= unhealthy_threshold:
        return ZoneState.PARTIAL_DISRUPTION
    return ZoneState.NORMAL


def eviction_qps(state: ZoneState, zone_size: int, *, qps: float = EVICTION_QPS,
                 secondary_qps: float = SECONDARY_EVICTION_QPS,
                 large_cluster_size: int = LARGE_CLUSTER_SIZE) -> float:
    if state is ZoneState.PARTIAL_DISRUPTION:
        return secondary_qps if zone_size > large_cluster_size else 0.0
    return qps


class TokenBucket:
    """A token bucket on a monotonic clock (burst 1 by default), as flowcontrol's
    rate limiter that paces NoExecute tainting per zone. qps 0 never grants."""

    def __init__(self, qps: float, now: float, burst: int = 1) -> None:
        self.qps = qps
        self.burst = burst
        self.tokens = float(burst)
        self.last = now

    def _refill(self, now: float) -> None:
        if self.qps > 0:
            self.tokens = min(float(self.burst), self.tokens + (now - self.last) * self.qps)
        self.last = now

    def try_accept(self, now: float) -> bool:
        self._refill(now)
        if self.qps > 0 and self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def wait_time(self, now: float) -> float | None:
        """Seconds until a token is available (None: never)."""
        self._refill(now)
        if self.qps <= 0:
            return None
        return max(0.0, (1.0 - self.tokens) / self.qps)

    def set_qps(self, qps: float, now: float) -> None:
        self._refill(now)
        self.qps = qps
