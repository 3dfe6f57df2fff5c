"""The default profile's plugins, in kube-scheduler's order, and their score weights.

Filter order (which decides a node's reason when several plugins would reject it):
NodeUnschedulable, NodeName, TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit,
VolumeRestrictions, VolumeBinding, PodTopologySpread, InterPodAffinity.
Score weights: TaintToleration 3, NodeAffinity 2, PodTopologySpread 2, InterPodAffinity 2,
NodeResourcesFit (LeastAllocated) 1, NodeResourcesBalancedAllocation 1, ImageLocality 1.
"""

from __future__ import annotations

from typing import Any

from kubepy.scheduler.plugins.image_locality import ImageLocality
from kubepy.scheduler.plugins.inter_pod_affinity import InterPodAffinity
from kubepy.scheduler.plugins.node_affinity import NodeAffinity
from kubepy.scheduler.plugins.node_name import NodeName
from kubepy.scheduler.plugins.node_ports import NodePorts
from kubepy.scheduler.plugins.node_resources_fit import BalancedAllocation, NodeResourcesFit
from kubepy.scheduler.plugins.node_unschedulable import NodeUnschedulable
from kubepy.scheduler.plugins.pod_topology_spread import DefaultSelector, PodTopologySpread
from kubepy.scheduler.plugins.taint_toleration import TaintToleration
from kubepy.scheduler.plugins.volumes import VolumeBinding, VolumeListers, VolumeRestrictions

DEFAULT_WEIGHTS: dict[str, int] = {
    "TaintToleration": 3, "NodeAffinity": 2, "PodTopologySpread": 2, "InterPodAffinity": 2,
    "NodeResourcesFit": 1, "NodeResourcesBalancedAllocation": 1, "ImageLocality": 1,
}


def default_plugins(*, volume_listers: VolumeListers | None = None,
                    default_selector: DefaultSelector | None = None) -> list[Any]:
    return [
        NodeUnschedulable(), NodeName(), TaintToleration(), NodeAffinity(), NodePorts(),
        NodeResourcesFit(), VolumeRestrictions(volume_listers), VolumeBinding(volume_listers),
        PodTopologySpread(default_selector), InterPodAffinity(), BalancedAllocation(),
        ImageLocality(),
    ]


__all__ = ["DEFAULT_WEIGHTS", "default_plugins", "VolumeListers"]
