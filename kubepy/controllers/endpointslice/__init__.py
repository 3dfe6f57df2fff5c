"""The EndpointSlice controller (``controller``) and its pure slice planning (``logic``)."""

from kubepy.controllers.endpointslice.controller import EndpointSliceController, new_controllers

__all__ = ["EndpointSliceController", "new_controllers"]
