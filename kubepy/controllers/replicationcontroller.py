"""The ReplicationController controller: the ReplicaSet controller's logic over
``v1/replicationcontrollers`` (as kube-controller-manager runs it), with the RC's
map-shaped selector, ``v1`` controller ownerReferences on its pods and Events from
``replication-controller``."""

from __future__ import annotations

from kubepy.api.registry import Registry, ResourceType
from kubepy.client.controller import Controller
from kubepy.controllers.context import ControllerContext
from kubepy.controllers.replicaset import ReplicaSetController, WorkloadKind, rc_selector

REPLICATIONCONTROLLERS: ResourceType = Registry().get(  # type: ignore[assignment]
    "", "v1", "replicationcontrollers")

REPLICATION_CONTROLLER = WorkloadKind(REPLICATIONCONTROLLERS, "replication-controller",
                                      rc_selector)


def new_controllers(ctx: ControllerContext) -> list[Controller]:
    return [ReplicaSetController(ctx, REPLICATION_CONTROLLER)]
