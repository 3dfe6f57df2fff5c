"""The StatefulSet controller (``controller``) and its pure decisions (``logic``)."""

from kubepy.controllers.statefulset.controller import StatefulSetController, new_controllers

__all__ = ["StatefulSetController", "new_controllers"]
