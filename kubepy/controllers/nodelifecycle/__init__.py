"""Node lifecycle: node health, condition taints and NoExecute tainting (``controller``),
the NoExecute taint manager that evicts pods (``tainteviction``), and their pure parts
(``health``, ``taints``)."""

from __future__ import annotations

from kubepy.client.controller import Controller
from kubepy.controllers.context import ControllerContext
from kubepy.controllers.nodelifecycle.controller import NodeLifecycleController
from kubepy.controllers.nodelifecycle.tainteviction import TaintEvictionController

__all__ = ["NodeLifecycleController", "TaintEvictionController", "new_controllers"]


def new_controllers(ctx: ControllerContext) -> list[Controller]:
    return [NodeLifecycleController(ctx), TaintEvictionController(ctx)]
