"""The DaemonSet controller (``controller``) and its pure decisions (``logic``)."""

from kubepy.controllers.daemonset.controller import DaemonSetController, new_controllers

__all__ = ["DaemonSetController", "new_controllers"]
