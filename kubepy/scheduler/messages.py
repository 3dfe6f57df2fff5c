"""The texts a user reads in ``kubectl describe pod``: the FailedScheduling message built
like kube-scheduler's ``FitError.Error()``, and the Scheduled / Preempted event messages.

``0/<all nodes> nodes are available: <filter histogram>. <postfilter message>``, where the
histogram counts each reason over the rejected nodes ("3 Insufficient cpu") sorted as
strings, joined by ", "; when a PreFilter rejected the pod its message replaces the
histogram. Preemption's message (``preemption: 0/3 nodes are available: ...``) is built the
same way, with nodes preemption did not look at counted as "Preemption is not helpful for
scheduling".
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

from kubepy.scheduler.framework import Status

NO_NODES_AVAILABLE = "no nodes available to schedule pods"
PREEMPTION_NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_PREEMPTION_VICTIMS = "No preemption victims found for incoming pod"
NOT_ELIGIBLE_NEVER = "not eligible due to preemptionPolicy=Never."
NOT_ELIGIBLE_TERMINATING = "not eligible due to a terminating pod on the nominated node."


def reason_histogram(statuses: Iterable[Status], absent: int = 0,
                     absent_reasons: tuple[str, ...] = ()) -> str:
    counts: Counter[str] = Counter()
    for s in statuses:
        for r in s.reasons:
            counts[r] += 1
    if absent > 0:
        for r in absent_reasons:
            counts[r] += absent
    return ", ".join(sorted(f"{n} {r}" for r, n in counts.items()))


@dataclass
class FitError(Exception):
    """No node fits the pod. ``statuses`` maps each rejected node name to its Status."""

    pod_key: str
    num_all_nodes: int
    statuses: dict[str, Status] = field(default_factory=dict)
    pre_filter_msg: str = ""
    post_filter_msg: str = ""
    absent_reasons: tuple[str, ...] = ()

    @property
    def unschedulable_plugins(self) -> set[str]:
        return {s.plugin for s in self.statuses.values() if s.plugin}

    def message(self) -> str:
        msg = f"0/{self.num_all_nodes} nodes are available:"
        if self.pre_filter_msg:
            msg += f" {self.pre_filter_msg}."
        else:
            absent = self.num_all_nodes - len(self.statuses)
            hist = reason_histogram(self.statuses.values(), absent, self.absent_reasons)
            if hist:
                msg += f" {hist}."
        if self.post_filter_msg:
            msg += f" {self.post_filter_msg}"
        return msg

    def __str__(self) -> str:
        return self.message()


def scheduled_message(namespace: str, name: str, node: str) -> str:
    return f"Successfully assigned {namespace}/{name} to {node}"


def preempted_message(preemptor_uid: str, node: str) -> str:
    return f"Preempted by pod {preemptor_uid} on node {node}"


def disruption_message(profile: str) -> str:
    return f"{profile}: preempting to accommodate a higher priority pod"
