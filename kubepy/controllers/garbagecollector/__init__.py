"""The garbage collector: ownerReferences with background, foreground and orphan
propagation (``controller``), over a pure owner/dependent graph (``graph``)."""

from kubepy.controllers.garbagecollector.controller import GarbageCollector, new_controllers

__all__ = ["GarbageCollector", "new_controllers"]
