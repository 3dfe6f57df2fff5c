"""The disruption controller (PodDisruptionBudget status) and its pure logic."""

from kubepy.controllers.disruption.controller import DisruptionController, new_controllers

__all__ = ["DisruptionController", "new_controllers"]
