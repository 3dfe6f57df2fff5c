"""The Deployment controller: rolls a Deployment's pod template out through ReplicaSets
named ``<deployment>-<pod-template-hash>``.

Pure parts: ``util`` (revisions, annotations, fenceposts, proportions, hashing),
``rollout`` (what to scale or delete), ``status`` (status and conditions); I/O:
``controller``.
"""

from kubepy.controllers.deployment.controller import DeploymentController, new_controllers

__all__ = ["DeploymentController", "new_controllers"]
